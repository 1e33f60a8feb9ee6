/// A tracefs instance of tcpdp's own (instances/tcpdp-<pid>): a ring buffer apart from the
/// system's and from other tracers', with the events tcpdp enables in it, removed when the
/// object goes. One left behind by a run that was killed is removed at the next start.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tcpdp::audit {

/// A file descriptor closed when it goes.
class OwnedFd {
 public:
  OwnedFd() = default;
  explicit OwnedFd(int fd) : fd_(fd) {}
  OwnedFd(OwnedFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  OwnedFd& operator=(OwnedFd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~OwnedFd() { reset(); }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  void reset();

 private:
  int fd_ = -1;
};

/// Where tracefs is mounted (/sys/kernel/tracing, or tracing/ under debugfs), or "" and a
/// sentence on what to do.
std::string find_tracefs(std::string& error);

/// Removes the instances named tcpdp-<pid> whose process is gone; returns their names.
std::vector<std::string> remove_stale_instances(const std::string& tracefs);

class TraceInstance {
 public:
  /// Makes instances/tcpdp-<pid of this process>; nullptr and why when it cannot.
  static std::unique_ptr<TraceInstance> create(const std::string& tracefs, std::string& error);
  ~TraceInstance();
  TraceInstance(const TraceInstance&) = delete;
  TraceInstance& operator=(const TraceInstance&) = delete;

  const std::string& path() const { return path_; }
  const std::string& tracefs() const { return tracefs_; }
  const std::string& name() const { return name_; }
  /// Writes value to a file of the instance (relative path); false and why.
  bool write(const std::string& file, const std::string& value, std::string& error) const;
  /// Reads a file of the instance, or of tracefs itself when the path starts with "/".
  bool read(const std::string& file, std::string& out, std::string& error) const;
  /// Enables an event ("sock/inet_sock_set_state"); it is disabled again at the end.
  bool enable(const std::string& event, std::string& error);
  /// The CPUs the instance has a buffer for (per_cpu/cpuN), in order.
  std::vector<int> cpus() const;
  /// per_cpu/cpuN/trace_pipe_raw, opened for reading without blocking.
  OwnedFd open_raw(int cpu, std::string& error) const;

 private:
  TraceInstance(std::string tracefs, std::string name)
      : tracefs_(std::move(tracefs)),
        name_(std::move(name)),
        path_(tracefs_ + "/instances/" + name_) {}
  std::string tracefs_;
  std::string name_;
  std::string path_;
  std::vector<std::string> enabled_;
};

}  // namespace tcpdp::audit
