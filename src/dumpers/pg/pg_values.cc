#include "dumpers/pg/pg_values.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "dumpers/pg/pg_wire.h"
#include "dumpers/value_text.h"

namespace tcpdp::pg {
namespace {

constexpr int64_t kUsecPerDay = 86400LL * 1000000;
constexpr int64_t kDaysFrom1970To2000 = 10957;

uint64_t be(std::span<const uint8_t> b) {
  uint64_t v = 0;
  for (uint8_t x : b) v = v << 8 | x;
  return v;
}

void append_padded(std::string& out, int64_t v, int width) {
  std::string digits = std::to_string(v);
  if (static_cast<int>(digits.size()) < width) out.append(width - digits.size(), '0');
  out += digits;
}

// Fractional seconds as PostgreSQL prints them: up to six digits, trailing zeros dropped.
void append_fraction(std::string& out, int64_t usec) {
  if (usec == 0) return;
  std::string f;
  append_padded(f, usec, 6);
  while (!f.empty() && f.back() == '0') f.pop_back();
  out += '.';
  out += f;
}

void append_clock(std::string& out, int64_t usec_of_day) {
  append_padded(out, usec_of_day / 3600000000LL, 2);
  out += ':';
  append_padded(out, usec_of_day / 60000000LL % 60, 2);
  out += ':';
  append_padded(out, usec_of_day / 1000000 % 60, 2);
  append_fraction(out, usec_of_day % 1000000);
}

struct Ymd {
  int64_t y;
  int m, d;
};

// Days since 1970-01-01 to a proleptic Gregorian date (era arithmetic, exact for all int64 days).
Ymd ymd_from_days(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {yoe + era * 400 + (m <= 2 ? 1 : 0), m, d};
}

// Returns whether the date is BC (year 0 and before are 1 BC and before).
bool append_date(std::string& out, int64_t days_since_1970) {
  const Ymd date = ymd_from_days(days_since_1970);
  const bool bc = date.y <= 0;
  append_padded(out, bc ? 1 - date.y : date.y, 4);
  out += '-';
  append_padded(out, date.m, 2);
  out += '-';
  append_padded(out, date.d, 2);
  return bc;
}

std::string timestamp_text(int64_t usec_since_2000, const char* zone) {
  if (usec_since_2000 == std::numeric_limits<int64_t>::max()) return "infinity";
  if (usec_since_2000 == std::numeric_limits<int64_t>::min()) return "-infinity";
  int64_t days = usec_since_2000 / kUsecPerDay;
  int64_t rest = usec_since_2000 % kUsecPerDay;
  if (rest < 0) {
    rest += kUsecPerDay;
    --days;
  }
  std::string out;
  const bool bc = append_date(out, days + kDaysFrom1970To2000);
  out += ' ';
  append_clock(out, rest);
  out += zone;
  if (bc) out += " BC";
  return out;
}

std::string date_text(int32_t days_since_2000) {
  if (days_since_2000 == std::numeric_limits<int32_t>::max()) return "infinity";
  if (days_since_2000 == std::numeric_limits<int32_t>::min()) return "-infinity";
  std::string out;
  if (append_date(out, days_since_2000 + kDaysFrom1970To2000)) out += " BC";
  return out;
}

// The "postgres" IntervalStyle: signed year/mon/day parts, then a clock part; after a negative
// part a positive one gets an explicit '+'.
std::string interval_text(int64_t usec, int32_t days, int32_t months) {
  std::string out;
  bool is_zero = true;
  bool is_before = false;
  auto part = [&](int64_t value, const char* unit) {
    if (value == 0) return;
    if (!is_zero) out += ' ';
    if (is_before && value > 0) out += '+';
    out += std::to_string(value);
    out += ' ';
    out += unit;
    if (value != 1) out += 's';
    is_before = value < 0;
    is_zero = false;
  };
  part(months / 12, "year");
  part(months % 12, "mon");
  part(days, "day");
  if (is_zero || usec != 0) {
    if (!is_zero) out += ' ';
    if (usec < 0) {
      out += '-';
    } else if (is_before) {
      out += '+';
    }
    const uint64_t a = usec < 0 ? 0 - static_cast<uint64_t>(usec) : static_cast<uint64_t>(usec);
    append_padded(out, static_cast<int64_t>(a / 3600000000ULL), 2);
    out += ':';
    append_padded(out, static_cast<int64_t>(a / 60000000ULL % 60), 2);
    out += ':';
    append_padded(out, static_cast<int64_t>(a / 1000000 % 60), 2);
    append_fraction(out, static_cast<int64_t>(a % 1000000));
  }
  return out;
}

// Shortest round-trip digits, laid out like printf's %g with `precision` significant digits:
// fixed notation for exponents from -4 up to precision-1, otherwise d.ddde±XX.
template <typename F>
std::string float_text(F v, int precision) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string sci(buf, res.ptr);
  const size_t e = sci.find('e');
  const int exponent = std::stoi(sci.substr(e + 1));
  if (exponent < -4 || exponent >= precision) return sci;
  res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, res.ptr);
}

// As the server reads a binary numeric (numeric_recv): digits the display scale hides are cut
// off, leading and trailing zero digits dropped, and a value left with no digit is 0, never -0;
// a scale over 0x3FFF is refused (shown as hex, like anything else the server would refuse).
std::string numeric_text(std::span<const uint8_t> b) {
  ByteReader r(b);
  int16_t ndigits_raw, weight16, sign_raw, dscale;
  if (!r.i16(ndigits_raw) || !r.i16(weight16) || !r.i16(sign_raw) || !r.i16(dscale)) {
    return hex_value(b);
  }
  const auto ndigits = static_cast<uint16_t>(ndigits_raw);  // unsigned, as the server reads it
  const auto sign = static_cast<uint16_t>(sign_raw);
  if ((sign != 0x0000 && sign != 0x4000 && sign != 0xC000 && sign != 0xD000 && sign != 0xF000) ||
      dscale < 0 || dscale > 0x3FFF || r.remaining() != size_t{ndigits} * 2) {
    return hex_value(b);
  }
  std::vector<int> digits(ndigits);
  for (int& d : digits) {
    int16_t v = 0;
    r.i16(v);
    if (v < 0 || v > 9999) return hex_value(b);
    d = v;
  }
  if (sign == 0xC000) return "NaN";
  if (sign == 0xD000) return "Infinity";
  if (sign == 0xF000) return "-Infinity";
  // digits[k] is worth 10000^(weight - k). The scale shows ceil(dscale / 4) base-10000 digits
  // after the point; of the last of them, only its first dscale % 4 decimal digits (when not 0).
  int weight = weight16;
  const int last = weight + (dscale + 3) / 4;  // the last index shown
  if (last < 0) {
    digits.clear();
  } else if (digits.size() > static_cast<size_t>(last) + 1) {
    digits.resize(static_cast<size_t>(last) + 1);
  }
  if (const int shown = dscale % 4; shown != 0 && digits.size() == static_cast<size_t>(last) + 1) {
    static constexpr int kUnit[] = {1, 1000, 100, 10};
    digits.back() -= digits.back() % kUnit[shown];
  }
  while (!digits.empty() && digits.back() == 0) digits.pop_back();
  size_t lead = 0;
  while (lead < digits.size() && digits[lead] == 0) ++lead;
  digits.erase(digits.begin(), digits.begin() + static_cast<std::ptrdiff_t>(lead));
  weight -= static_cast<int>(lead);
  const auto n = static_cast<int>(digits.size());
  auto digit_at = [&](int w) -> int {
    const int k = weight - w;
    return k >= 0 && k < n ? digits[static_cast<size_t>(k)] : 0;
  };
  std::string out;
  if (n > 0 && sign == 0x4000) out += '-';
  if (n == 0 || weight < 0) {
    out += '0';
  } else {
    out += std::to_string(digit_at(weight));
    for (int w = weight - 1; w >= 0; --w) append_padded(out, digit_at(w), 4);
  }
  if (dscale > 0) {
    std::string frac;
    for (int w = -1; static_cast<int>(frac.size()) < dscale; --w) {
      append_padded(frac, digit_at(w), 4);
    }
    out += '.';
    out += frac.substr(0, static_cast<size_t>(dscale));
  }
  return out;
}

std::string uuid_text(std::span<const uint8_t> b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < 16; ++i) {
    if (i == 4 || i == 6 || i == 8 || i == 10) out += '-';
    out += kHex[b[i] >> 4];
    out += kHex[b[i] & 15];
  }
  return out;
}

// Text as it is, unless value_text.h's rule says its bytes need the escaped form.
std::string lossless(std::span<const uint8_t> v) {
  const std::string_view text = as_text(v);
  return plain_text(text) ? std::string(text) : hex_value(v);
}

}  // namespace

std::string binary_to_text(uint32_t type_oid, std::span<const uint8_t> v) {
  const size_t n = v.size();
  switch (type_oid) {
    case oid::kBool:
      if (n == 1) return v[0] ? "t" : "f";
      break;
    case oid::kInt2:
      if (n == 2) return std::to_string(static_cast<int16_t>(be(v)));
      break;
    case oid::kInt4:
      if (n == 4) return std::to_string(static_cast<int32_t>(be(v)));
      break;
    case oid::kInt8:
      if (n == 8) return std::to_string(static_cast<int64_t>(be(v)));
      break;
    case oid::kOid:
      if (n == 4) return std::to_string(static_cast<uint32_t>(be(v)));
      break;
    case oid::kFloat4:
      if (n == 4) {
        const auto bits = static_cast<uint32_t>(be(v));
        float f;
        std::memcpy(&f, &bits, 4);
        return float_text(f, 6);
      }
      break;
    case oid::kFloat8:
      if (n == 8) {
        const uint64_t bits = be(v);
        double d;
        std::memcpy(&d, &bits, 8);
        return float_text(d, 15);
      }
      break;
    case oid::kNumeric:
      return numeric_text(v);
    case oid::kText:
    case oid::kVarchar:
    case oid::kBpchar:
    case oid::kName:
    case oid::kChar:
    case oid::kJson:
    case oid::kXml:
    case oid::kUnknown:
      return lossless(v);
    case oid::kJsonb:
      if (n >= 1 && v[0] == 1) return lossless(v.subspan(1));
      break;
    case oid::kUuid:
      if (n == 16) return uuid_text(v);
      break;
    case oid::kDate:
      if (n == 4) return date_text(static_cast<int32_t>(be(v)));
      break;
    case oid::kTime:
      if (n == 8) {
        std::string out;
        append_clock(out, static_cast<int64_t>(be(v)));
        return out;
      }
      break;
    case oid::kTimestamp:
      if (n == 8) return timestamp_text(static_cast<int64_t>(be(v)), "");
      break;
    case oid::kTimestamptz:
      if (n == 8) return timestamp_text(static_cast<int64_t>(be(v)), "+00");
      break;
    case oid::kInterval:
      if (n == 16) {
        return interval_text(static_cast<int64_t>(be(v.subspan(0, 8))),
                             static_cast<int32_t>(be(v.subspan(8, 4))),
                             static_cast<int32_t>(be(v.subspan(12, 4))));
      }
      break;
    default:
      break;
  }
  return hex_value(v);
}

}  // namespace tcpdp::pg
