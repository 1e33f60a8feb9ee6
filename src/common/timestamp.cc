#include "common/timestamp.h"

#include <cstring>
#include <limits>

namespace tcpdp {
namespace {

struct CivilDate {
  int64_t year;
  unsigned month;
  unsigned day;
};

// Days since 1970-01-01 to a proleptic Gregorian date, counting in 400-year eras of 146097 days
// so the arithmetic stays exact for any 64-bit day number.
CivilDate civil_from_days(int64_t days) {
  days += 719468;  // shift the epoch to 0000-03-01 so leap days fall at the end of a year
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const auto day_of_era = static_cast<unsigned>(days - era * 146097);
  const unsigned year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const unsigned day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const unsigned month_index = (5 * day_of_year + 2) / 153;  // 0 = March
  const unsigned day = day_of_year - (153 * month_index + 2) / 5 + 1;
  const unsigned month = month_index < 10 ? month_index + 3 : month_index - 9;
  const int64_t year = static_cast<int64_t>(year_of_era) + era * 400 + (month <= 2 ? 1 : 0);
  return {year, month, day};
}

char* put_digits(char* p, uint64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return p + width;
}

}  // namespace

char* write_rfc3339(Timestamp ts, char* p) {
  // Records come in bursts within the same second: keep the text up to the seconds.
  // No timestamp's seconds reach the lowest int64 (microseconds divided by a million): "none yet".
  thread_local int64_t cached_second = std::numeric_limits<int64_t>::min();
  thread_local char cached_text[19];
  const int64_t secs = ts.seconds();
  if (secs != cached_second) {
    const int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    const int64_t sec_of_day = secs - days * 86400;
    const CivilDate date = civil_from_days(days);
    if (date.year < 0 || date.year > 9999) {
      const char kOutOfRange[] = "0000-01-01T00:00:00.000000Z";  // RFC 3339 years have 4 digits
      std::memcpy(p, kOutOfRange, 27);
      return p + 27;
    }
    char* q = cached_text;
    q = put_digits(q, static_cast<uint64_t>(date.year), 4);
    *q++ = '-';
    q = put_digits(q, date.month, 2);
    *q++ = '-';
    q = put_digits(q, date.day, 2);
    *q++ = 'T';
    q = put_digits(q, static_cast<uint64_t>(sec_of_day / 3600), 2);
    *q++ = ':';
    q = put_digits(q, static_cast<uint64_t>(sec_of_day / 60 % 60), 2);
    *q++ = ':';
    put_digits(q, static_cast<uint64_t>(sec_of_day % 60), 2);
    cached_second = secs;
  }
  std::memcpy(p, cached_text, 19);
  p[19] = '.';
  put_digits(p + 20, static_cast<uint64_t>(ts.micros()), 6);
  p[26] = 'Z';
  return p + 27;
}

void append_rfc3339(Timestamp ts, std::string& out) {
  char buf[27];
  out.append(buf, write_rfc3339(ts, buf));
}

std::string to_rfc3339(Timestamp ts) {
  std::string out;
  append_rfc3339(ts, out);
  return out;
}

std::optional<Timestamp> parse_rfc3339(std::string_view t) {
  size_t i = 0;
  const auto num = [&](size_t digits, int& out) {
    if (i + digits > t.size()) return false;
    out = 0;
    for (size_t k = 0; k < digits; ++k, ++i) {
      if (t[i] < '0' || t[i] > '9') return false;
      out = out * 10 + (t[i] - '0');
    }
    return true;
  };
  const auto sep = [&](char c) { return i < t.size() && (t[i++] == c); };
  int y, mo, d, h, mi, s;
  if (!num(4, y) || !sep('-') || !num(2, mo) || !sep('-') || !num(2, d) || i >= t.size() ||
      (t[i] != 'T' && t[i] != 't' && t[i] != ' ') || !(++i, num(2, h)) || !sep(':') ||
      !num(2, mi) || !sep(':') || !num(2, s)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return std::nullopt;
  int64_t micros = 0;
  if (i < t.size() && t[i] == '.') {
    ++i;
    int digits = 0;
    while (i < t.size() && t[i] >= '0' && t[i] <= '9') {
      if (digits < 6) micros = micros * 10 + (t[i] - '0');
      ++digits;
      ++i;
    }
    if (digits == 0) return std::nullopt;
    for (int k = digits; k < 6; ++k) micros *= 10;
  }
  int64_t offset = 0;
  if (i < t.size() && (t[i] == 'Z' || t[i] == 'z')) {
    ++i;
  } else if (i < t.size() && (t[i] == '+' || t[i] == '-')) {
    const int sign = t[i++] == '-' ? -1 : 1;
    int oh, om;
    if (!num(2, oh) || !sep(':') || !num(2, om)) return std::nullopt;
    offset = sign * (oh * 3600 + om * 60);
  } else {
    return std::nullopt;
  }
  if (i != t.size()) return std::nullopt;
  // Days from the civil date (proleptic Gregorian), after Howard Hinnant's public algorithm.
  const int yy = y - (mo <= 2);
  const int era = (yy >= 0 ? yy : yy - 399) / 400;
  const int yoe = yy - era * 400;
  const int doy = (153 * (mo + (mo > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  const int64_t days = static_cast<int64_t>(era) * 146097 + doe - 719468;
  const int64_t secs = days * 86400 + h * 3600 + mi * 60 + s - offset;
  return Timestamp{secs * 1000000 + micros};
}

}  // namespace tcpdp
