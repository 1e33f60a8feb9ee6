#include "common/conn.h"

#include <array>

namespace tcpdp {

std::string make_conn_id(Timestamp ts, uint8_t source, uint32_t counter) {
  const auto secs = static_cast<uint32_t>(ts.seconds());
  const auto micros = static_cast<uint32_t>(ts.micros());
  const std::array<uint8_t, 12> raw = {
      static_cast<uint8_t>(secs >> 24),    static_cast<uint8_t>(secs >> 16),
      static_cast<uint8_t>(secs >> 8),     static_cast<uint8_t>(secs),
      static_cast<uint8_t>(micros >> 16),  static_cast<uint8_t>(micros >> 8),
      static_cast<uint8_t>(micros),        source,
      static_cast<uint8_t>(counter >> 24), static_cast<uint8_t>(counter >> 16),
      static_cast<uint8_t>(counter >> 8),  static_cast<uint8_t>(counter)};
  // base32hex keeps byte order as character order, so ids sort like their timestamps.
  static constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuv";
  std::string out;
  out.reserve(20);
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : raw) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += kAlphabet[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  out += kAlphabet[(acc << (5 - bits)) & 31];  // 96 bits = 19 full digits and 1 bit left over
  return out;
}

}  // namespace tcpdp
