/// Who a task is, from /proc while it runs: for the thread on the CPU when connect() or listen()
/// changed a socket's state, its process, parent, user and command. A task that is gone gives
/// nothing; its command name may still be in the kernel's own cache of names (saved_cmdlines),
/// which is what the trace's text output prints for it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <unordered_map>

#include "tcptrack/process.h"

namespace tcpdp::audit {

/// The processes of threads, read from /proc/TID/status: pid (the thread group), ppid, real uid,
/// user name and command name. A thread asked again within one reading of the kernel's events
/// is answered from memory (a busy client connects many times a reading); user names are kept
/// for a minute.
class TaskLookup {
 public:
  std::optional<ProcessInfo> find(int tid);
  /// Forgets the threads (call once per reading of the events).
  void new_batch() { tids_.clear(); }

 private:
  const std::string& user_name(uint32_t uid);
  std::unordered_map<int, std::optional<ProcessInfo>> tids_;
  std::unordered_map<uint32_t, std::string> users_;
  std::chrono::steady_clock::time_point users_since_ = std::chrono::steady_clock::now();
};

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
