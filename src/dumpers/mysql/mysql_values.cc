#include "dumpers/mysql/mysql_values.h"

#include <charconv>
#include <cmath>
#include <cstring>

namespace tcpdp::mysql {
namespace {

void pad(std::string& out, uint64_t v, int width) {
  const std::string digits = std::to_string(v);
  if (static_cast<int>(digits.size()) < width)
    out.append(static_cast<size_t>(width) - digits.size(), '0');
  out += digits;
}

template <typename F>
std::string float_text(F v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

// HH:MM:SS, and .ffffff when there are microseconds.
void append_clock(std::string& out, uint64_t hours, uint8_t minute, uint8_t second,
                  uint32_t micro) {
  pad(out, hours, 2);
  out += ':';
  pad(out, minute, 2);
  out += ':';
  pad(out, second, 2);
  if (micro) {
    out += '.';
    pad(out, micro, 6);
  }
}

// DATE, DATETIME, TIMESTAMP: a length byte (0, 4, 7 or 11), then the parts present.
bool date_time(Reader& r, bool with_time, std::string& out) {
  uint8_t len;
  if (!r.u8(len) || (len != 0 && len != 4 && len != 7 && len != 11)) return false;
  uint16_t year = 0;
  uint8_t month = 0, day = 0, hour = 0, minute = 0, second = 0;
  uint32_t micro = 0;
  if (len >= 4 && !(r.u16(year) && r.u8(month) && r.u8(day))) return false;
  if (len >= 7 && !(r.u8(hour) && r.u8(minute) && r.u8(second))) return false;
  if (len == 11 && !r.u32(micro)) return false;
  pad(out, year, 4);
  out += '-';
  pad(out, month, 2);
  out += '-';
  pad(out, day, 2);
  if (!with_time) return true;
  out += ' ';
  append_clock(out, hour, minute, second, micro);
  return true;
}

// TIME: a length byte (0, 8 or 12), sign, days, hours, minutes, seconds, microseconds; printed
// with the days folded into the hours, as MySQL shows a TIME.
bool time_value(Reader& r, std::string& out) {
  uint8_t len;
  if (!r.u8(len) || (len != 0 && len != 8 && len != 12)) return false;
  uint8_t negative = 0, hour = 0, minute = 0, second = 0;
  uint32_t days = 0, micro = 0;
  if (len >= 8 && !(r.u8(negative) && r.u32(days) && r.u8(hour) && r.u8(minute) && r.u8(second))) {
    return false;
  }
  if (len == 12 && !r.u32(micro)) return false;
  if (negative) out += '-';
  append_clock(out, static_cast<uint64_t>(days) * 24 + hour, minute, second, micro);
  return true;
}

}  // namespace

bool read_binary_value(Reader& r, uint8_t type, bool is_unsigned, BinaryValue& out) {
  out = BinaryValue{};
  switch (type) {
    case type::kNull:
      out.is_null = true;
      return true;
    case type::kTiny: {
      uint8_t v;
      if (!r.u8(v)) return false;
      out.text = is_unsigned ? std::to_string(v) : std::to_string(static_cast<int8_t>(v));
      return true;
    }
    case type::kShort:
    case type::kYear: {
      uint16_t v;
      if (!r.u16(v)) return false;
      out.text = is_unsigned || type == type::kYear ? std::to_string(v)
                                                    : std::to_string(static_cast<int16_t>(v));
      return true;
    }
    case type::kLong:
    case type::kInt24: {
      uint32_t v;
      if (!r.u32(v)) return false;
      out.text = is_unsigned ? std::to_string(v) : std::to_string(static_cast<int32_t>(v));
      return true;
    }
    case type::kLongLong: {
      uint64_t v;
      if (!r.u64(v)) return false;
      out.text = is_unsigned ? std::to_string(v) : std::to_string(static_cast<int64_t>(v));
      return true;
    }
    case type::kFloat: {
      uint32_t bits;
      if (!r.u32(bits)) return false;
      float f;
      std::memcpy(&f, &bits, 4);
      out.text = float_text(f);
      return true;
    }
    case type::kDouble: {
      uint64_t bits;
      if (!r.u64(bits)) return false;
      double d;
      std::memcpy(&d, &bits, 8);
      out.text = float_text(d);
      return true;
    }
    case type::kDate:
    case type::kNewDate:
      return date_time(r, false, out.text);
    case type::kDateTime:
    case type::kTimestamp:
      return date_time(r, true, out.text);
    case type::kTime:
      return time_value(r, out.text);
    case type::kBit: {
      std::span<const uint8_t> b;
      if (!r.lenenc_bytes(b) || b.size() > 8) return false;
      uint64_t v = 0;
      for (uint8_t x : b) v = v << 8 | x;
      out.text = std::to_string(v);
      return true;
    }
    case type::kDecimal:
    case type::kNewDecimal: {
      std::span<const uint8_t> b;
      if (!r.lenenc_bytes(b)) return false;
      out.text = std::string(as_text(b));
      return true;
    }
    case type::kVarchar:
    case type::kJson:
    case type::kEnum:
    case type::kSet:
    case type::kTinyBlob:
    case type::kMediumBlob:
    case type::kLongBlob:
    case type::kBlob:
    case type::kVarString:
    case type::kString:
    case type::kGeometry: {
      std::span<const uint8_t> b;
      if (!r.lenenc_bytes(b)) return false;
      out.is_string = true;
      out.text = std::string(as_text(b));
      return true;
    }
    default:
      return false;
  }
}

std::string type_name(uint8_t t) {
  switch (t) {
    case type::kDecimal:
      return "DECIMAL";
    case type::kTiny:
      return "TINY";
    case type::kShort:
      return "SHORT";
    case type::kLong:
      return "LONG";
    case type::kFloat:
      return "FLOAT";
    case type::kDouble:
      return "DOUBLE";
    case type::kNull:
      return "NULL";
    case type::kTimestamp:
      return "TIMESTAMP";
    case type::kLongLong:
      return "LONGLONG";
    case type::kInt24:
      return "INT24";
    case type::kDate:
      return "DATE";
    case type::kTime:
      return "TIME";
    case type::kDateTime:
      return "DATETIME";
    case type::kYear:
      return "YEAR";
    case type::kNewDate:
      return "NEWDATE";
    case type::kVarchar:
      return "VARCHAR";
    case type::kBit:
      return "BIT";
    case type::kJson:
      return "JSON";
    case type::kNewDecimal:
      return "NEWDECIMAL";
    case type::kEnum:
      return "ENUM";
    case type::kSet:
      return "SET";
    case type::kTinyBlob:
      return "TINY_BLOB";
    case type::kMediumBlob:
      return "MEDIUM_BLOB";
    case type::kLongBlob:
      return "LONG_BLOB";
    case type::kBlob:
      return "BLOB";
    case type::kVarString:
      return "VAR_STRING";
    case type::kString:
      return "STRING";
    case type::kGeometry:
      return "GEOMETRY";
    default:
      return std::to_string(t);
  }
}

}  // namespace tcpdp::mysql
