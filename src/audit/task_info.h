/// Who a task is, from /proc while it runs: for the thread on the CPU when connect() moved a
/// socket to SYN-SENT, its process, parent, user and command. A task that is gone gives nothing;
/// its command name may still be in the kernel's own cache of names (saved_cmdlines), which is
/// what the trace's text output prints for it.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>

#include "tcptrack/process.h"

namespace tcpdp::audit {

/// The process of thread `tid`: its pid (the thread group), ppid, real uid, user name and
/// command name.
std::optional<ProcessInfo> task_info(int tid);

/// Command names by pid, from tracefs's saved_cmdlines: read again only when a pid is asked
/// that the last reading did not have, at most once per refresh().
class CommCache {
 public:
  explicit CommCache(std::string saved_cmdlines_path) : path_(std::move(saved_cmdlines_path)) {}
  /// The name the kernel saved for pid, or empty.
  const std::string& comm(int pid);
  /// Allows one more reading of the file (call once per batch of events).
  void refresh() { may_read_ = true; }

 private:
  void read();
  std::string path_;
  std::unordered_map<int, std::string> names_;
  bool may_read_ = true;
};

}  // namespace tcpdp::audit
