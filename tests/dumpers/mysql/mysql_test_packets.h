/// Building blocks of MySQL protocol packets for the decoder's tests, from the layouts of the
/// MySQL client/server protocol documentation: little-endian integers, length-encoded integers and
/// strings, NUL-terminated strings, a packet with its 3-byte length and sequence number.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace tcpdp::mysql_test {

using Bytes = std::string;
// Binary literals keep their NUL bytes: "\x00\x01"_b is two bytes.
inline Bytes operator""_b(const char* s, size_t n) { return Bytes(s, n); }

inline Bytes le(uint64_t v, int n) {
  Bytes b;
  for (int i = 0; i < n; ++i) b += static_cast<char>(v >> (8 * i) & 0xff);
  return b;
}
inline Bytes lenenc(uint64_t v) {
  if (v < 251) return le(v, 1);
  if (v < 65536) return "\xfc"_b + le(v, 2);
  if (v < (1 << 24)) return "\xfd"_b + le(v, 3);
  return "\xfe"_b + le(v, 8);
}
inline Bytes lstr(const Bytes& s) { return lenenc(s.size()) + s; }
inline Bytes z(const Bytes& s) { return s + "\x00"_b; }
inline Bytes packet(uint8_t seq, const Bytes& payload) {
  return le(payload.size(), 3) + le(seq, 1) + payload;
}

}  // namespace tcpdp::mysql_test
