/// One TCP socket of this host, found by its two endpoints through the kernel's sock_diag netlink
/// interface: its state, inode and owner. Timewait sockets are found too (inode 0, no owner).
#pragma once

#include <cstdint>
#include <optional>

#include "common/endpoint.h"

namespace tcpdp {

struct DiagSocket {
  uint8_t state = 0;   // the kernel's TCP_* number (TCP_TIME_WAIT: 6)
  uint64_t inode = 0;  // 0 for a timewait or request socket
  uint32_t uid = 0;
};

/// The socket at `local` whose peer is `remote`, if the kernel has one.
std::optional<DiagSocket> find_tcp_socket(const Endpoint& local, const Endpoint& remote);

}  // namespace tcpdp
