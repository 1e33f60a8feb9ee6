/// The kernel's TCP state change tracepoint (sock:inet_sock_set_state, or tcp:tcp_set_state on
/// kernels before 4.16), read from a raw event with the field offsets of its format file.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "audit/event_format.h"
#include "common/endpoint.h"

namespace tcpdp::audit {

/// The kernel's TCP states (include/net/tcp_states.h), 1 to 12.
enum KernelTcpState : int {
  kTcpEstablished = 1,
  kTcpSynSent = 2,
  kTcpSynRecv = 3,
  kTcpFinWait1 = 4,
  kTcpFinWait2 = 5,
  kTcpTimeWait = 6,
  kTcpClose = 7,
  kTcpCloseWait = 8,
  kTcpLastAck = 9,
  kTcpListen = 10,
  kTcpClosing = 11,
  kTcpNewSynRecv = 12,
};
/// Their names as tcpdp writes every TCP state: ESTABLISHED, SYN-SENT, ..., NEW-SYN-RECV;
/// nullptr for a number that is none of them.
const char* kernel_tcp_state_name(int state);

struct KernelStateChange {
  uint64_t ts = 0;         // the instance's clock, nanoseconds
  int32_t pid_on_cpu = 0;  // the task on the CPU when the state changed (a thread id)
  uint64_t skaddr = 0;     // the kernel's address of the socket: the connection's id
  int old_state = 0;
  int new_state = 0;
  Endpoint src;  // the socket's own address and port
  Endpoint dst;  // its peer's
};

class TcpStateDecoder {
 public:
  /// The decoder for an event of this format; false and why when a field it needs is missing.
  bool init(const EventFormat& format, std::string& error);
  /// Whether data is a TCP state change of this event (other protocols, other events: false);
  /// fills out but for ts.
  bool decode(std::span<const uint8_t> data, KernelStateChange& out) const;

 private:
  int id_ = -1;
  FieldFormat type_, pid_, skaddr_, oldstate_, newstate_, sport_, dport_, saddr_, daddr_, saddr_v6_,
      daddr_v6_;
  FieldFormat family_, protocol_;  // absent (size 0) in tcp:tcp_set_state
};

}  // namespace tcpdp::audit
