#include "dumpers/value_text.h"

#include "common/utf8.h"

namespace tcpdp {

bool plain_text(std::string_view s) {
  if (s.size() >= 2 && s[0] == '\\' && s[1] == 'x') return false;
  for (size_t i = 0; i < s.size();) {
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const size_t len = utf8_sequence_length(s, i);
    if (len == 0) return false;
    i += len;
  }
  return true;
}

std::string hex_value(std::span<const uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 + 2 * bytes.size());
  out += "\\x";
  for (uint8_t b : bytes) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

void add_lossless(Record& r, std::string_view key, std::string_view bytes) {
  if (plain_text(bytes)) {
    r.add(key, bytes);
  } else {
    r.add(key, hex_value({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}));
  }
}

}  // namespace tcpdp
