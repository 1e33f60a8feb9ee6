/// Durations in microseconds counted in log-linear buckets, HDR-histogram style: exact below
/// 128 µs, above it 128 buckets per power of two, so a percentile read from a bucket's middle is
/// within 1/256 (0.4%) of the true value. Histograms merge by adding counts; memory grows with
/// the span of values seen (about 1 KiB per power of two), not with their number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tcpdp {

class LogHistogram {
 public:
  static constexpr double kRelativeError = 1.0 / 256;

  void add(int64_t usec);
  void merge(const LogHistogram& other);
  uint64_t count() const { return count_; }
  /// The nearest-rank percentile (p in 0..100) within kRelativeError, never outside the least
  /// and the greatest value added; 0 when empty.
  int64_t percentile(double p) const;

 private:
  static size_t index_of(int64_t usec);
  static int64_t middle_of(size_t index);

  std::vector<uint64_t> counts_;  // by bucket index, from 0 to the highest seen
  uint64_t count_ = 0;
  int64_t min_ = 0;
  int64_t max_ = 0;
};

}  // namespace tcpdp
