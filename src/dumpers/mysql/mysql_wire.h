/// Reading MySQL/MariaDB protocol payloads: little-endian integers, length-encoded integers and
/// strings, NUL-terminated strings, every read bounds-checked.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace tcpdp::mysql {

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) : b_(bytes) {}

  bool u8(uint8_t& out) { return fixed(1, out); }
  bool u16(uint16_t& out) { return fixed(2, out); }
  bool u24(uint32_t& out) { return fixed(3, out); }
  bool u32(uint32_t& out) { return fixed(4, out); }
  bool u64(uint64_t& out) { return fixed(8, out); }

  /// A length-encoded integer (1, 3, 4 or 9 bytes). 0xFB (NULL) and 0xFF are not integers.
  bool lenenc(uint64_t& out) {
    uint8_t first;
    if (!u8(first)) return false;
    if (first < 0xFB) {
      out = first;
      return true;
    }
    if (first == 0xFC) return fixed(2, out);
    if (first == 0xFD) return fixed(3, out);
    if (first == 0xFE) return fixed(8, out);
    return false;
  }
  bool lenenc_bytes(std::span<const uint8_t>& out) {
    uint64_t n;
    return lenenc(n) && bytes(n, out);
  }
  bool cstring(std::string_view& out) {
    if (pos_ >= b_.size()) return false;
    const void* nul = std::memchr(b_.data() + pos_, 0, b_.size() - pos_);
    if (!nul) return false;
    const size_t end = static_cast<size_t>(static_cast<const uint8_t*>(nul) - b_.data());
    out = {reinterpret_cast<const char*>(b_.data() + pos_), end - pos_};
    pos_ = end + 1;
    return true;
  }
  bool bytes(uint64_t n, std::span<const uint8_t>& out) {
    if (remaining() < n) return false;
    out = b_.subspan(pos_, static_cast<size_t>(n));
    pos_ += static_cast<size_t>(n);
    return true;
  }
  bool skip(uint64_t n) {
    if (remaining() < n) return false;
    pos_ += static_cast<size_t>(n);
    return true;
  }
  std::span<const uint8_t> rest() const { return b_.subspan(pos_); }
  size_t remaining() const { return b_.size() - pos_; }
  bool done() const { return pos_ == b_.size(); }

 private:
  template <typename T>
  bool fixed(size_t n, T& out) {
    if (remaining() < n) return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(b_[pos_ + i]) << (8 * i);
    out = static_cast<T>(v);
    pos_ += n;
    return true;
  }

  std::span<const uint8_t> b_;
  size_t pos_ = 0;
};

inline std::string_view as_text(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace tcpdp::mysql
