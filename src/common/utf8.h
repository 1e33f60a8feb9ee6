/// UTF-8 as RFC 3629 defines it, for the writers that must not pass on invalid text (JSON, the
/// console, LTSV) and the configuration check (TOML files are UTF-8).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tcpdp {

/// Length of the valid UTF-8 sequence starting at s[i] (a byte of 0x80 or more), or 0 if the
/// bytes there are not one: overlong forms, surrogates and code points above U+10FFFF are not.
inline size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  const auto b1 = static_cast<uint8_t>(s[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return len;
}

}  // namespace tcpdp
