/// The kernel's TCP state changes as they happen, from tcpdp's own tracefs instance: the
/// tracepoint enabled there, each CPU's raw buffer read without blocking, the events of a read
/// put in time order with the kernel's clock turned into wall-clock time, and the events the
/// kernel dropped counted.
#pragma once

#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "audit/ring_page.h"
#include "audit/tcp_state_event.h"
#include "audit/trace_instance.h"
#include "common/timestamp.h"

namespace tcpdp::audit {

struct KernelSourceOptions {
  size_t buffer_kb = 4096;  // each CPU's ring buffer
};

class KernelSource {
 public:
  /// Sets up the instance; nullptr and one sentence on what to do when it cannot. `notes` gets
  /// what a user should know (stale instances removed, the tracepoint used).
  static std::unique_ptr<KernelSource> open(const KernelSourceOptions& options,
                                            std::vector<std::string>& notes, std::string& error);

  using OnChange = std::function<void(const KernelStateChange&, Timestamp)>;
  /// Waits up to timeout_ms for events, then reads every CPU's buffer empty and hands over, in
  /// time order, the state changes made before the reading began (later ones wait for the next
  /// call, so that one still in another CPU's buffer is not passed). False and why on a read
  /// error.
  bool read(int timeout_ms, const OnChange& on_change, std::string& error);
  /// At the stop: reads the buffers once more and hands over everything held.
  void flush(const OnChange& on_change);
  /// Events the kernel could not keep (its buffers were full), as counted by the pages read
  /// and by the kernel's statistics.
  uint64_t lost();
  /// The tracepoint read ("sock:inet_sock_set_state").
  const std::string& event() const { return event_; }
  const std::string& instance() const { return instance_->path(); }
  /// The kernel's cache of command names by pid.
  std::string saved_cmdlines() const { return instance_->tracefs() + "/saved_cmdlines"; }
  /// Pages that did not follow the layout (none is expected; the rest of such a page is lost).
  uint64_t bad_pages() const { return bad_pages_; }

 private:
  KernelSource() = default;
  struct Cpu {
    int number = 0;
    OwnedFd fd;
  };
  struct Pending {
    KernelStateChange change;
    size_t order = 0;
  };
  bool read_cpu(Cpu& cpu, std::string& error);
  void emit(const OnChange& on_change, uint64_t cutoff);
  clockid_t clock_id() const;
  Timestamp wall_time(uint64_t kernel_ns) const;

  std::unique_ptr<TraceInstance> instance_;
  std::string event_;
  std::string clock_;  // "boot" or "mono"
  PageLayout layout_;
  TcpStateDecoder decoder_;
  std::vector<Cpu> cpus_;
  std::vector<uint8_t> page_;
  std::vector<Pending> batch_;  // read, not yet handed over
  size_t order_ = 0;
  size_t handed_over_ = 0;  // by the last reading
  int64_t wall_minus_kernel_ns_ = 0;
  uint64_t lost_in_pages_ = 0;
  uint64_t bad_pages_ = 0;
};

}  // namespace tcpdp::audit
