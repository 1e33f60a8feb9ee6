/// Capture or event time: microseconds since the Unix epoch, printed as RFC 3339 in UTC.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tcpdp {

struct Timestamp {
  int64_t usec = 0;

  static Timestamp from_parts(int64_t sec, int64_t usec_part) {
    return {sec * 1000000 + usec_part};
  }
  int64_t seconds() const { return usec >= 0 ? usec / 1000000 : -((-usec + 999999) / 1000000); }
  int64_t micros() const { return usec - seconds() * 1000000; }

  friend bool operator==(Timestamp a, Timestamp b) { return a.usec == b.usec; }
  friend auto operator<=>(Timestamp a, Timestamp b) { return a.usec <=> b.usec; }
};

/// A time span in whole microseconds (a request's duration), written as seconds: 0.000798.
struct Duration {
  int64_t usec = 0;
};

/// Appends `2026-11-25T04:01:02.123456Z` to out.
void append_rfc3339(Timestamp ts, std::string& out);
/// Writes the same 27 characters at p; returns p + 27.
char* write_rfc3339(Timestamp ts, char* p);
std::string to_rfc3339(Timestamp ts);
/// Reads what append_rfc3339 writes (`2026-11-25T04:01:02.123456Z`; 0 to 9 fraction digits, `Z`
/// or `+hh:mm`/`-hh:mm`); nullopt for anything else.
std::optional<Timestamp> parse_rfc3339(std::string_view text);

}  // namespace tcpdp
