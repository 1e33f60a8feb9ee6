#include "dumpers/pg/pg_values.h"

#include <doctest/doctest.h>

#include <cstring>
#include <vector>

using namespace tcpdp::pg;

namespace {

// Binary send formats from the PostgreSQL sources' documentation of each type's send function:
// integers and floats big-endian; date = int32 days since 2000-01-01; time and timestamp = int64
// microseconds; interval = int64 microseconds, int32 days, int32 months; numeric = int16 ndigits,
// weight, sign, dscale, then base-10000 digits.
std::vector<uint8_t> be(uint64_t v, int bytes) {
  std::vector<uint8_t> out;
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return out;
}
std::vector<uint8_t> f8(double d) {
  uint64_t bits;
  std::memcpy(&bits, &d, 8);
  return be(bits, 8);
}
std::vector<uint8_t> f4(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  return be(bits, 4);
}
std::vector<uint8_t> numeric(int16_t weight, uint16_t sign, int16_t dscale,
                             std::vector<int16_t> digits) {
  std::vector<uint8_t> out = be(digits.size(), 2);
  for (auto part :
       {be(static_cast<uint16_t>(weight), 2), be(sign, 2), be(static_cast<uint16_t>(dscale), 2)}) {
    out.insert(out.end(), part.begin(), part.end());
  }
  for (int16_t d : digits) {
    auto b = be(static_cast<uint16_t>(d), 2);
    out.insert(out.end(), b.begin(), b.end());
  }
  return out;
}
std::vector<uint8_t> interval(int64_t usec, int32_t days, int32_t months) {
  std::vector<uint8_t> out = be(static_cast<uint64_t>(usec), 8);
  for (auto part : {be(static_cast<uint32_t>(days), 4), be(static_cast<uint32_t>(months), 4)}) {
    out.insert(out.end(), part.begin(), part.end());
  }
  return out;
}
std::string text(uint32_t type, const std::vector<uint8_t>& v) { return binary_to_text(type, v); }

}  // namespace

TEST_CASE("integers, oid and bool") {
  CHECK(text(oid::kInt2, be(static_cast<uint16_t>(-7), 2)) == "-7");
  CHECK(text(oid::kInt4, be(2147483647, 4)) == "2147483647");
  CHECK(text(oid::kInt8, be(0x8000000000000000ULL, 8)) == "-9223372036854775808");
  CHECK(text(oid::kOid, be(4294967295U, 4)) == "4294967295");
  CHECK(text(oid::kBool, {1}) == "t");
  CHECK(text(oid::kBool, {0}) == "f");
}

TEST_CASE("floats: shortest exact digits, %g layout, special values spelled as PostgreSQL does") {
  CHECK(text(oid::kFloat8, f8(0.1)) == "0.1");
  CHECK(text(oid::kFloat8, f8(1e-05)) == "1e-05");
  CHECK(text(oid::kFloat8, f8(-2.5)) == "-2.5");
  CHECK(text(oid::kFloat8, f8(123456789012345.0)) == "123456789012345");
  CHECK(text(oid::kFloat8, f8(1234567890123456.0)) == "1.234567890123456e+15");
  CHECK(text(oid::kFloat8, f8(1e100)) == "1e+100");
  CHECK(text(oid::kFloat8, f8(1.0 / 0.0)) == "Infinity");
  CHECK(text(oid::kFloat8, f8(-1.0 / 0.0)) == "-Infinity");
  CHECK(text(oid::kFloat8, f8(0.0 / 0.0)) == "NaN");
  CHECK(text(oid::kFloat4, f4(1234567.0f)) == "1.234567e+06");
  CHECK(text(oid::kFloat4, f4(123456.0f)) == "123456");
  CHECK(text(oid::kFloat4, f4(0.1f)) == "0.1");
  CHECK(text(oid::kFloat4, f4(0.0001f)) == "0.0001");
  CHECK(text(oid::kFloat8, f8(1e15)) == "1e+15");
  CHECK(text(oid::kFloat8, f8(-0.0)) == "-0");
}

TEST_CASE("numeric from base-10000 digits with its display scale") {
  CHECK(text(oid::kNumeric, numeric(1, 0x4000, 4, {1, 2345, 6789})) == "-12345.6789");
  CHECK(text(oid::kNumeric, numeric(-1, 0, 4, {1})) == "0.0001");
  CHECK(text(oid::kNumeric, numeric(1, 0, 0, {1})) == "10000");
  CHECK(text(oid::kNumeric, numeric(0, 0, 2, {12, 5000})) == "12.50");
  CHECK(text(oid::kNumeric, numeric(0, 0, 0, {})) == "0");
  CHECK(text(oid::kNumeric, numeric(0, 0, 3, {})) == "0.000");
  CHECK(text(oid::kNumeric, numeric(0, 0xC000, 0, {})) == "NaN");
  CHECK(text(oid::kNumeric, numeric(0, 0xD000, 0, {})) == "Infinity");
}

// Each expected text is what PostgreSQL 15 stores from these bytes: a binary COPY of each into a
// numeric column, then SELECT n::text (numeric_recv, as for a binary Bind value).
TEST_CASE("numeric as the server reads it: zero digits dropped, hidden digits cut, no -0") {
  CHECK(text(oid::kNumeric, numeric(5, 0, 0, {})) == "0");
  CHECK(text(oid::kNumeric, numeric(0, 0x4000, 0, {})) == "0");
  CHECK(text(oid::kNumeric, numeric(0, 0x4000, 2, {})) == "0.00");
  CHECK(text(oid::kNumeric, numeric(3, 0x4000, 0, {0, 0})) == "0");
  CHECK(text(oid::kNumeric, numeric(2, 0, 0, {0, 0, 12})) == "12");
  CHECK(text(oid::kNumeric, numeric(1, 0, 0, {12, 0})) == "120000");
  CHECK(text(oid::kNumeric, numeric(0, 0, 1, {1, 2345})) == "1.2");
  CHECK(text(oid::kNumeric, numeric(-1, 0x4000, 0, {5000})) == "0");
  CHECK(text(oid::kNumeric, numeric(-3, 0, 12, {1})) == "0.000000000001");
  CHECK(text(oid::kNumeric, numeric(-32768, 0, 0, {1})) == "0");
  const std::string big = text(oid::kNumeric, numeric(32767, 0, 0, {1}));
  CHECK(big.size() == 131069);
  CHECK(big.find_first_not_of('0', 1) == std::string::npos);
  const std::string fine = text(oid::kNumeric, numeric(0, 0, 16383, {1}));
  CHECK(fine.size() == 16385);
  // the digit count is unsigned: 40000 digits, all but the first hidden by the scale
  CHECK(text(oid::kNumeric, numeric(0, 0, 0, std::vector<int16_t>(40000, 1))) == "1");
  // NaN with a digit that is no base-10000 digit the server refuses; with good ones it is NaN
  CHECK(text(oid::kNumeric, numeric(0, 0xC000, 0, {5})) == "NaN");
  CHECK(text(oid::kNumeric, numeric(0, 0xC000, 0, {10000})) == "\\x00010000c00000002710");
  // a scale over 16383 the server refuses ("invalid scale in external numeric value")
  CHECK(text(oid::kNumeric, numeric(0, 0, 16384, {1})) ==
        "\\x0001000000004000"
        "0001");
}

TEST_CASE("date, time and timestamps count from 2000-01-01") {
  CHECK(text(oid::kDate, be(0, 4)) == "2000-01-01");
  CHECK(text(oid::kDate, be(static_cast<uint32_t>(-1), 4)) == "1999-12-31");
  CHECK(text(oid::kDate, be(0x7FFFFFFF, 4)) == "infinity");
  CHECK(text(oid::kTime, be(4 * 3600000000ULL + 5 * 60000000ULL + 6789000, 8)) == "04:05:06.789");
  CHECK(text(oid::kTimestamp, be(0, 8)) == "2000-01-01 00:00:00");
  CHECK(text(oid::kTimestamp, be(86400000000ULL + 500000, 8)) == "2000-01-02 00:00:00.5");
  CHECK(text(oid::kTimestamp, be(static_cast<uint64_t>(-1), 8)) == "1999-12-31 23:59:59.999999");
  CHECK(text(oid::kTimestamptz, be(1, 8)) == "2000-01-01 00:00:00.000001+00");
  CHECK(text(oid::kTimestamp, be(0x7FFFFFFFFFFFFFFFULL, 8)) == "infinity");
}

// Expected strings as PostgreSQL 15 prints these intervals (psql, IntervalStyle postgres).
TEST_CASE("interval in the postgres style") {
  CHECK(text(oid::kInterval, interval(0, 0, 14)) == "1 year 2 mons");
  CHECK(text(oid::kInterval, interval((4 * 3600 + 5 * 60 + 6) * 1000000LL, 3, 0)) ==
        "3 days 04:05:06");
  CHECK(text(oid::kInterval, interval(-(4 * 3600 + 5 * 60 + 6) * 1000000LL, 3, -14)) ==
        "-1 years -2 mons +3 days -04:05:06");
  CHECK(text(oid::kInterval, interval(-3600000000LL, 1, 0)) == "1 day -01:00:00");
  CHECK(text(oid::kInterval, interval(25 * 3600000000LL, 1, 0)) == "1 day 25:00:00");
  CHECK(text(oid::kInterval, interval(0, 0, -12)) == "-1 years");
  CHECK(text(oid::kInterval, interval(0, 0, 0)) == "00:00:00");
  CHECK(text(oid::kInterval, interval(0, 1, 0)) == "1 day");
  CHECK(text(oid::kInterval, interval(0, -1, 0)) == "-1 days");
}

TEST_CASE("uuid, bytea, jsonb and text types") {
  std::vector<uint8_t> u(16);
  for (int i = 0; i < 16; ++i) u[i] = static_cast<uint8_t>(i * 17);
  CHECK(text(oid::kUuid, u) == "00112233-4455-6677-8899-aabbccddeeff");
  CHECK(text(oid::kBytea, {0x00, 0xff, 0x10}) == "\\x00ff10");
  CHECK(text(oid::kJsonb, {1, '{', '}'}) == "{}");
  CHECK(text(oid::kVarchar, {'h', 'i'}) == "hi");
}

TEST_CASE("unknown types and wrong lengths come out as hex") {
  CHECK(text(600, {1, 2}) == "\\x0102");  // point, not decoded
  CHECK(text(oid::kInt4, {1, 2}) == "\\x0102");
}
