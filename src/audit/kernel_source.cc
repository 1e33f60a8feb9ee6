#include "audit/kernel_source.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

namespace tcpdp::audit {

namespace {

struct Tracepoint {
  const char* path;  // under events/
  const char* name;  // as a user writes it
};
// sock:inet_sock_set_state since Linux 4.16; tcp:tcp_set_state before it.
constexpr Tracepoint kTracepoints[] = {{"sock/inet_sock_set_state", "sock:inet_sock_set_state"},
                                       {"tcp/tcp_set_state", "tcp:tcp_set_state"}};

constexpr useconds_t kBusyWaitUs = 10000;

int64_t now_ns(clockid_t clock) {
  timespec t{};
  ::clock_gettime(clock, &t);
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

// The number after "label:" in a per_cpu stats file.
uint64_t stat_value(const std::string& text, const std::string& label) {
  const size_t at = text.find(label + ":");
  if (at == std::string::npos) return 0;
  return std::strtoull(text.c_str() + at + label.size() + 1, nullptr, 10);
}

}  // namespace

std::unique_ptr<KernelSource> KernelSource::open(const KernelSourceOptions& options,
                                                 std::vector<std::string>& notes,
                                                 std::string& error) {
  const std::string tracefs = find_tracefs(error);
  if (tracefs.empty()) return nullptr;
  for (const std::string& name : remove_stale_instances(tracefs))
    notes.push_back("removed the trace instance " + name + " a stopped tcpdp left behind");
  std::unique_ptr<KernelSource> s(new KernelSource());
  s->instance_ = TraceInstance::create(tracefs, error);
  if (!s->instance_) return nullptr;
  TraceInstance& t = *s->instance_;

  std::string text;
  for (const Tracepoint& tp : kTracepoints) {
    if (!t.read("/events/" + std::string(tp.path) + "/format", text, error)) continue;
    EventFormat format;
    if (!EventFormat::parse(text, format, error) || !s->decoder_.init(format, error))
      return nullptr;
    s->event_ = tp.name;
    if (!t.enable(tp.path, error)) return nullptr;
    // SCTP and MPTCP sockets change state through the same tracepoint.
    if (format.field("protocol") &&
        !t.write("events/" + std::string(tp.path) + "/filter", "protocol == 6", error))
      return nullptr;
    break;
  }
  if (s->event_.empty()) {
    error =
        "this kernel has neither sock:inet_sock_set_state nor tcp:tcp_set_state "
        "(it needs Linux 4.15 or later, built with CONFIG_FTRACE)";
    return nullptr;
  }
  notes.push_back("reading " + s->event_ + " in " + t.path());

  if (!t.read("/events/header_page", text, error) || !PageLayout::parse(text, s->layout_, error))
    return nullptr;
  // The boot clock keeps counting through a suspend, so its distance to wall-clock time only
  // moves when the wall clock is set.
  std::string clocks;
  if (!t.read("trace_clock", clocks, error)) return nullptr;
  s->clock_ = clocks.find("boot") != std::string::npos ? "boot" : "mono";
  if (!t.write("trace_clock", s->clock_, error) ||
      !t.write("buffer_size_kb", std::to_string(options.buffer_kb), error))
    return nullptr;
  // A reader waiting in poll() is woken by the first event rather than at half full: the
  // sooner a connect() is read, the likelier its process is still there to be named.
  std::string ignored;
  t.write("buffer_percent", "0", ignored);
  std::string subbuf;
  size_t page_size = static_cast<size_t>(::getpagesize());
  if (t.read("buffer_subbuf_size_kb", subbuf, error) && std::atoi(subbuf.c_str()) > 0)
    page_size = static_cast<size_t>(std::atoi(subbuf.c_str())) * 1024;
  s->page_.resize(page_size);
  for (int cpu : t.cpus()) {
    OwnedFd fd = t.open_raw(cpu, error);
    if (!fd.valid()) return nullptr;
    s->cpus_.push_back({cpu, std::move(fd)});
  }
  if (s->cpus_.empty()) {
    error = "the trace instance " + t.path() + " has no per-CPU buffers";
    return nullptr;
  }
  return s;
}

Timestamp KernelSource::wall_time(uint64_t kernel_ns) const {
  return Timestamp{(static_cast<int64_t>(kernel_ns) + wall_minus_kernel_ns_) / 1000};
}

bool KernelSource::read_cpu(Cpu& cpu, std::string& error) {
  for (;;) {
    const ssize_t n = ::read(cpu.fd.get(), page_.data(), page_.size());
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) return true;
      error = "cannot read the trace buffer of CPU " + std::to_string(cpu.number) + ": " +
              std::strerror(errno);
      return false;
    }
    if (n == 0) return true;
    const PageSummary page =
        read_page({page_.data(), static_cast<size_t>(n)}, layout_, [&](const RingEvent& e) {
          Pending p;
          if (!decoder_.decode(e.data, p.change)) return;
          p.change.ts = e.ts;
          p.order = order_++;
          batch_.push_back(p);
        });
    if (page.lost_count > 0) lost_in_pages_ += static_cast<uint64_t>(page.lost_count);
    if (!page.error.empty()) ++bad_pages_;
  }
}

bool KernelSource::read(int timeout_ms, const OnChange& on_change, std::string& error) {
  std::vector<pollfd> fds;
  for (const Cpu& c : cpus_) fds.push_back({c.fd.get(), POLLIN, 0});
  // Woken by the first event after a quiet time, at once; while events keep coming, a short
  // wait lets pages fill, so a busy host costs fewer, fuller readings.
  if (handed_over_ > 0) ::usleep(kBusyWaitUs);
  if (batch_.empty() && ::poll(fds.data(), fds.size(), timeout_ms) < 0 && errno != EINTR) {
    error = std::string("cannot wait for the trace buffers: ") + std::strerror(errno);
    return false;
  }
  // Every event from before this moment is in a buffer by now, whichever CPU it is on; a later
  // one may be on a CPU already read, with an earlier one still to come from another: those
  // wait for the next reading.
  const uint64_t cutoff = static_cast<uint64_t>(now_ns(clock_id()));
  for (Cpu& c : cpus_)
    if (!read_cpu(c, error)) return false;
  emit(on_change, cutoff);
  return true;
}

void KernelSource::flush(const OnChange& on_change) {
  std::string ignored;
  for (Cpu& c : cpus_) read_cpu(c, ignored);
  emit(on_change, UINT64_MAX);
}

void KernelSource::emit(const OnChange& on_change, uint64_t cutoff) {
  wall_minus_kernel_ns_ = now_ns(CLOCK_REALTIME) - now_ns(clock_id());
  // Each CPU's events are in order; the CPUs' are merged by time, ties kept as read.
  std::sort(batch_.begin(), batch_.end(), [](const Pending& a, const Pending& b) {
    return a.change.ts != b.change.ts ? a.change.ts < b.change.ts : a.order < b.order;
  });
  size_t n = 0;
  handed_over_ = 0;
  while (n < batch_.size() && batch_[n].change.ts < cutoff) {
    ++handed_over_;
    on_change(batch_[n].change, wall_time(batch_[n].change.ts));
    ++n;
  }
  batch_.erase(batch_.begin(), batch_.begin() + static_cast<std::ptrdiff_t>(n));
  for (size_t i = 0; i < batch_.size(); ++i) batch_[i].order = i;
}

clockid_t KernelSource::clock_id() const {
  return clock_ == "boot" ? CLOCK_BOOTTIME : CLOCK_MONOTONIC;
}

uint64_t KernelSource::lost() {
  uint64_t counted = 0;
  std::string text, ignored;
  for (const Cpu& c : cpus_)
    if (instance_->read("per_cpu/cpu" + std::to_string(c.number) + "/stats", text, ignored))
      counted += stat_value(text, "overrun") + stat_value(text, "dropped events");
  return std::max(counted, lost_in_pages_);
}

}  // namespace tcpdp::audit
