#include "digest/histogram.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

using tcpdp::LogHistogram;

namespace {

// The nearest-rank percentile of the values, exactly.
int64_t exact(std::vector<int64_t> v, double p) {
  std::sort(v.begin(), v.end());
  const auto rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(p / 100.0 * v.size())));
  return v[rank - 1];
}

void check_bound(const std::vector<int64_t>& values) {
  LogHistogram h;
  for (int64_t v : values) h.add(v);
  for (double p : {1.0, 10.0, 50.0, 90.0, 95.0, 99.0, 99.9, 100.0}) {
    const int64_t want = exact(values, p);
    const int64_t got = h.percentile(p);
    CAPTURE(p);
    CAPTURE(want);
    CHECK(std::abs(static_cast<double>(got - want)) <=
          LogHistogram::kRelativeError * static_cast<double>(want));
  }
}

}  // namespace

TEST_CASE("percentiles within the stated relative error on several distributions") {
  std::mt19937_64 rng(42);
  std::vector<int64_t> uniform, lognormal, bimodal;
  std::uniform_int_distribution<int64_t> u(0, 5'000'000);
  std::lognormal_distribution<double> ln(6.0, 2.0);
  for (int i = 0; i < 100000; ++i) {
    uniform.push_back(u(rng));
    lognormal.push_back(static_cast<int64_t>(ln(rng)));
    bimodal.push_back(i % 10 == 0 ? 2'000'000 + u(rng) % 1000 : 50 + u(rng) % 20);
  }
  check_bound(uniform);
  check_bound(lognormal);
  check_bound(bimodal);
}

TEST_CASE("small values are exact; percentiles stay within the values seen") {
  LogHistogram h;
  for (int64_t v : {5, 7, 9, 127}) h.add(v);
  CHECK(h.percentile(50) == 7);
  CHECK(h.percentile(100) == 127);
  LogHistogram big;
  big.add(9362);
  CHECK(big.percentile(99) == 9362);  // one value: the bucket's middle is clamped to it
  CHECK(LogHistogram().percentile(50) == 0);
}

TEST_CASE("merging two histograms is the histogram of all the values") {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> ln(8.0, 1.5);
  LogHistogram a, b, all;
  std::vector<int64_t> values;
  for (int i = 0; i < 20000; ++i) {
    const auto v = static_cast<int64_t>(ln(rng));
    (i % 3 ? a : b).add(v);
    all.add(v);
    values.push_back(v);
  }
  a.merge(b);
  CHECK(a.count() == all.count());
  for (double p : {50.0, 95.0, 99.0}) CHECK(a.percentile(p) == all.percentile(p));
}
