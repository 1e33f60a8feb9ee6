/// Which process on this host owns a TCP socket: the kernel's sock_diag netlink interface names
/// the socket's inode and user (an exact lookup by its two endpoints), and the inode leads to the
/// process through /proc/PID/fd. Costs are bounded: the inode-to-(process, fd) table is rebuilt
/// from /proc only when an inode is missing from it, and then at most once every
/// `rescan_interval`; a hit costs one netlink request and one readlink to check the fd still
/// holds the socket.
/// A socket that is gone, or a process that exited or whose fds cannot be read, gives nothing:
/// never a guess.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/endpoint.h"

namespace tcpdp {

struct ProcessInfo {
  int pid = 0;
  int ppid = 0;
  std::string comm;  // /proc/PID/comm
  uint32_t uid = 0;  // the socket's owner
  std::string user;  // the user name of uid, or empty when it has none
};

class Record;
/// client_pid, client_ppid, client_comm, client_uid, client_user (server_... for the server):
/// null when the process is not known, but for the command name when only that is
/// (`comm_when_gone`: a process that exited, named by the kernel's cache).
void add_process(Record& r, bool client, const std::optional<ProcessInfo>& process,
                 std::string_view comm_when_gone = {});

class ProcessLookup {
 public:
  explicit ProcessLookup(std::chrono::milliseconds rescan_interval = std::chrono::seconds(1))
      : rescan_interval_(rescan_interval) {}

  /// The process owning the socket at `local` whose peer is `remote`, if it is on this host.
  std::optional<ProcessInfo> find(const Endpoint& local, const Endpoint& remote);

 private:
  struct Socket {
    uint64_t inode = 0;
    uint32_t uid = 0;
  };
  std::optional<Socket> diag(const Endpoint& local, const Endpoint& remote);
  void rescan();
  std::optional<ProcessInfo> describe(int pid, uint32_t uid) const;

  std::chrono::milliseconds rescan_interval_;
  std::chrono::steady_clock::time_point last_scan_{};
  bool scanned_ = false;
  struct Owner {
    int pid;
    int fd;
  };
  std::unordered_map<uint64_t, Owner> owner_;  // socket inode -> where the last scan found it
};

}  // namespace tcpdp
