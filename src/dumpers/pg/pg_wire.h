/// Reading PostgreSQL protocol v3 message bodies: big-endian integers and NUL-terminated strings,
/// every read bounds-checked so a short or corrupt message is a `false`, never an overrun.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

namespace tcpdp::pg {

class ByteReader {
 public:
  explicit ByteReader(std::span<const uint8_t> bytes) : bytes_(bytes) {}

  bool u8(uint8_t& out) {
    if (remaining() < 1) return false;
    out = bytes_[pos_++];
    return true;
  }
  bool i16(int16_t& out) {
    if (remaining() < 2) return false;
    out = static_cast<int16_t>(bytes_[pos_] << 8 | bytes_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  bool i32(int32_t& out) {
    if (remaining() < 4) return false;
    out = static_cast<int32_t>(static_cast<uint32_t>(bytes_[pos_]) << 24 |
                               static_cast<uint32_t>(bytes_[pos_ + 1]) << 16 |
                               static_cast<uint32_t>(bytes_[pos_ + 2]) << 8 | bytes_[pos_ + 3]);
    pos_ += 4;
    return true;
  }
  /// A NUL-terminated string (without its NUL).
  bool cstring(std::string_view& out) {
    if (pos_ >= bytes_.size()) return false;
    const void* nul = std::memchr(bytes_.data() + pos_, 0, bytes_.size() - pos_);
    if (!nul) return false;
    const size_t end = static_cast<size_t>(static_cast<const uint8_t*>(nul) - bytes_.data());
    out = std::string_view(reinterpret_cast<const char*>(bytes_.data() + pos_), end - pos_);
    pos_ = end + 1;
    return true;
  }
  bool bytes(size_t n, std::span<const uint8_t>& out) {
    if (remaining() < n) return false;
    out = bytes_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  std::span<const uint8_t> rest() const { return bytes_.subspan(pos_); }
  size_t remaining() const { return bytes_.size() - pos_; }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  std::span<const uint8_t> bytes_;
  size_t pos_ = 0;
};

inline std::string_view as_text(std::span<const uint8_t> b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace tcpdp::pg
