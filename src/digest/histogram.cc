#include "digest/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace tcpdp {

namespace {
constexpr int kSubBits = 7;  // 128 buckets per power of two
constexpr int64_t kExact = int64_t{1} << kSubBits;
}  // namespace

size_t LogHistogram::index_of(int64_t usec) {
  if (usec < kExact) return static_cast<size_t>(std::max<int64_t>(usec, 0));
  const auto v = static_cast<uint64_t>(usec);
  const int exponent = 63 - std::countl_zero(v);  // v is in [2^exponent, 2^(exponent+1))
  const int shift = exponent - kSubBits;
  const uint64_t mantissa = (v >> shift) - kExact;  // 0 .. 127
  return static_cast<size_t>(kExact * (exponent - kSubBits + 1) + mantissa);
}

int64_t LogHistogram::middle_of(size_t index) {
  if (index < static_cast<size_t>(kExact)) return static_cast<int64_t>(index);
  const int shift = static_cast<int>(index / kExact) - 1;
  const int64_t low = (kExact + static_cast<int64_t>(index % kExact)) << shift;
  return low + ((int64_t{1} << shift) - 1) / 2;
}

void LogHistogram::add(int64_t usec) {
  const size_t i = index_of(usec);
  if (i >= counts_.size()) counts_.resize(i + 1);
  ++counts_[i];
  min_ = count_ == 0 ? usec : std::min(min_, usec);
  max_ = count_ == 0 ? usec : std::max(max_, usec);
  ++count_;
}

void LogHistogram::merge(const LogHistogram& other) {
  if (other.counts_.size() > counts_.size()) counts_.resize(other.counts_.size());
  for (size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
  if (other.count_ > 0) {
    min_ = count_ == 0 ? other.min_ : std::min(min_, other.min_);
    max_ = count_ == 0 ? other.max_ : std::max(max_, other.max_);
  }
  count_ += other.count_;
}

int64_t LogHistogram::percentile(double p) const {
  if (count_ == 0) return 0;
  const auto rank = std::max<uint64_t>(
      1, static_cast<uint64_t>(std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * count_)));
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(middle_of(i), min_, max_);
  }
  return max_;
}

}  // namespace tcpdp
