/// Builds packets byte by byte for tests, following RFC 791 (IPv4), RFC 8200 (IPv6), RFC 9293
/// (TCP) and the link-layer header layouts documented at tcpdump.org/linktypes.html.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tcpdp::test {

using Bytes = std::vector<uint8_t>;

inline void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}
inline void put32(Bytes& b, uint32_t v) {
  put16(b, static_cast<uint16_t>(v >> 16));
  put16(b, static_cast<uint16_t>(v));
}
inline Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }
inline Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

struct TcpSpec {
  uint16_t sport = 40000;
  uint16_t dport = 5432;
  uint32_t seq = 1000;
  uint32_t ack = 0;
  uint8_t flags = 0x18;  // PSH|ACK
  uint16_t window = 65535;
  Bytes payload;
};

inline Bytes tcp(const TcpSpec& s) {
  Bytes b;
  put16(b, s.sport);
  put16(b, s.dport);
  put32(b, s.seq);
  put32(b, s.ack);
  b.push_back(0x50);  // data offset 5 words
  b.push_back(s.flags);
  put16(b, s.window);
  put16(b, 0);  // checksum (not checked by tcpdp: offloading leaves it wrong in captures)
  put16(b, 0);
  return cat(b, s.payload);
}

inline Bytes ipv4(const Bytes& payload, const char* src = "\x0a\x00\x00\x01",
                  const char* dst = "\x0a\x00\x00\x02", uint16_t id = 1, uint16_t frag = 0x4000,
                  uint8_t proto = 6, int total_len = -1) {
  Bytes b = {0x45, 0};
  put16(b, static_cast<uint16_t>(total_len >= 0 ? total_len : 20 + payload.size()));
  put16(b, id);
  put16(b, frag);
  b.push_back(64);
  b.push_back(proto);
  put16(b, 0);
  b.insert(b.end(), src, src + 4);
  b.insert(b.end(), dst, dst + 4);
  return cat(b, payload);
}

inline Bytes ipv6(uint8_t next, const Bytes& payload) {
  Bytes b = {0x60, 0, 0, 0};
  put16(b, static_cast<uint16_t>(payload.size()));
  b.push_back(next);
  b.push_back(64);
  Bytes src(16, 0), dst(16, 0);
  src[0] = dst[0] = 0x20;
  src[1] = dst[1] = 0x01;
  src[2] = dst[2] = 0x0d;
  src[3] = dst[3] = 0xb8;
  src[15] = 1;
  dst[15] = 2;
  b = cat(cat(b, src), dst);
  return cat(b, payload);
}

inline Bytes ethernet(uint16_t ethertype, const Bytes& payload, std::vector<uint16_t> tags = {}) {
  Bytes b = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  for (size_t i = 0; i < tags.size(); i += 2) {
    put16(b, tags[i]);      // TPID
    put16(b, tags[i + 1]);  // TCI
  }
  put16(b, ethertype);
  return cat(b, payload);
}

}  // namespace tcpdp::test
