/// The fuzz targets' linear time check. With TCPDP_FUZZ_LINEAR="NS_PER_BYTE,BASE_MS" in the
/// environment, an input of n bytes that takes more than NS_PER_BYTE * n ns + BASE_MS ms of the
/// thread's CPU time aborts the run, and libFuzzer keeps the input as a crash to reproduce: work
/// that grows faster than the input (a buffer searched again from its start on every chunk) shows
/// up as inputs that break the bound. Unset, the guard does nothing. bench/fuzz.sh sets it.
#pragma once

#include <time.h>

#include <cstddef>
#include <cstdio>
#include <cstdlib>

namespace tcpdp::fuzz {

class LinearGuard {
 public:
  explicit LinearGuard(size_t size) : size_(size) {
    if (limits().on) start_ = cpu_ns();
  }
  ~LinearGuard() {
    const Limits& l = limits();
    if (!l.on) return;
    const double spent = cpu_ns() - start_;
    const double allowed = l.ns_per_byte * static_cast<double>(size_) + l.base_ms * 1e6;
    if (spent <= allowed) return;
    std::fprintf(stderr,
                 "linear time check: an input of %zu bytes took %.1f ms of CPU, over the bound "
                 "of %.1f ms\n",
                 size_, spent / 1e6, allowed / 1e6);
    std::abort();
  }
  LinearGuard(const LinearGuard&) = delete;
  LinearGuard& operator=(const LinearGuard&) = delete;

 private:
  struct Limits {
    bool on = false;
    double ns_per_byte = 0;
    double base_ms = 0;
  };
  static const Limits& limits() {
    static const Limits l = [] {
      Limits r;
      if (const char* v = std::getenv("TCPDP_FUZZ_LINEAR")) {
        r.on = std::sscanf(v, "%lf,%lf", &r.ns_per_byte, &r.base_ms) == 2;
      }
      return r;
    }();
    return l;
  }
  static double cpu_ns() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
  }

  size_t size_;
  double start_ = 0;
};

}  // namespace tcpdp::fuzz
