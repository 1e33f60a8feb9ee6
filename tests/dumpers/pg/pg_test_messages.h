/// PostgreSQL wire messages for the pg decoder's tests, written byte by byte from the layouts in
/// the PostgreSQL manual, chapter "Frontend/Backend Protocol", section "Message Formats".
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tcpdp::test::pg_messages {

using Bytes = std::string;

inline Bytes i16(int v) { return {static_cast<char>(v >> 8 & 0xff), static_cast<char>(v & 0xff)}; }
inline Bytes i32(int64_t v) {
  return {static_cast<char>(v >> 24 & 0xff), static_cast<char>(v >> 16 & 0xff),
          static_cast<char>(v >> 8 & 0xff), static_cast<char>(v & 0xff)};
}
inline Bytes cstr(const std::string& s) { return s + std::string(1, '\0'); }
/// A typed message: Byte1 type, Int32 length counting itself, the body.
inline Bytes msg(char type, const Bytes& body) {
  return std::string(1, type) + i32(4 + body.size()) + body;
}
/// StartupMessage: Int32 length, Int32 protocol version (major << 16 | minor), name and value
/// strings, a final NUL.
inline Bytes startup(const std::vector<std::pair<std::string, std::string>>& params,
                     int32_t version = 196608) {
  Bytes body = i32(version);
  for (const auto& [k, v] : params) body += cstr(k) + cstr(v);
  body += std::string(1, '\0');
  return i32(4 + body.size()) + body;
}
inline Bytes ready(char status = 'I') { return msg('Z', std::string(1, status)); }
inline Bytes complete(const std::string& tag) { return msg('C', cstr(tag)); }
inline Bytes data_row(const std::vector<std::string>& cols) {
  Bytes body = i16(static_cast<int>(cols.size()));
  for (const auto& c : cols) body += i32(c.size()) + c;
  return msg('D', body);
}
inline Bytes auth_ok() { return msg('R', i32(0)); }

/// JSON lines without their "ts" and "duration" fields, which depend on how the bytes were
/// chunked; everything else must not.
inline std::string without_timing(const std::string& out) {
  std::string no_duration;
  for (size_t i = 0; i < out.size();) {
    const size_t d = out.find("\"duration\":", i);
    if (d == std::string::npos) {
      no_duration += out.substr(i);
      break;
    }
    no_duration += out.substr(i, d - i);
    i = out.find_first_of(",}", d);
  }
  std::string no_ts;
  for (size_t i = 0; i < no_duration.size();) {
    const size_t t = no_duration.find("\"ts\":\"", i);
    if (t == std::string::npos) {
      no_ts += no_duration.substr(i);
      break;
    }
    no_ts += no_duration.substr(i, t - i);
    i = no_duration.find('"', t + 6) + 1;
  }
  return no_ts;
}

}  // namespace tcpdp::test::pg_messages
