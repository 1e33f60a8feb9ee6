#include "packet/decode.h"

#include <pcap/dlt.h>

namespace tcpdp {
namespace {

constexpr uint16_t kEtherIpv4 = 0x0800;
constexpr uint16_t kEtherIpv6 = 0x86DD;
constexpr uint16_t kEtherVlan = 0x8100;
constexpr uint16_t kEtherQinQ = 0x88A8;
constexpr uint16_t kEtherVlanOld = 0x9100;
constexpr uint8_t kProtoTcp = 6;
constexpr int kLinkTypeRaw = 101;  // LINKTYPE_RAW as written in files, should libpcap pass it on

uint16_t be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

// An IP version nibble as an ethertype, for link layers that carry bare IP.
uint16_t ethertype_of_ip(std::span<const uint8_t> p) {
  if (p.empty()) return 0;
  switch (p[0] >> 4) {
    case 4:
      return kEtherIpv4;
    case 6:
      return kEtherIpv6;
    default:
      return 0;
  }
}

}  // namespace

bool link_type_supported(int link_type) {
  switch (link_type) {
    case DLT_NULL:
    case DLT_EN10MB:
    case DLT_RAW:
    case 14:  // DLT_RAW on OpenBSD
    case kLinkTypeRaw:
    case DLT_LOOP:
    case DLT_LINUX_SLL:
    case DLT_IPV4:
    case DLT_IPV6:
    case DLT_LINUX_SLL2:
      return true;
    default:
      return false;
  }
}

DecodeResult PacketDecoder::count(DecodeResult r) {
  switch (r) {
    case DecodeResult::kTcp:
      ++stats_.tcp;
      break;
    case DecodeResult::kNotTcp:
      ++stats_.not_tcp;
      break;
    case DecodeResult::kFragment:
      break;
    case DecodeResult::kTruncated:
      ++stats_.truncated_headers;
      break;
    case DecodeResult::kMalformed:
      ++stats_.malformed;
      break;
  }
  return r;
}

DecodeResult PacketDecoder::decode(Timestamp ts, std::span<const uint8_t> p, uint32_t wire_len,
                                   TcpSegment& out) {
  ++stats_.packets;
  ts_ = ts;
  out.ts = ts;
  // wire_left tracks how many bytes the packet had on the wire from the current header on, so a
  // snaplen cut can be told apart from a short packet.
  const uint64_t wire = std::max<uint64_t>(wire_len, p.size());
  auto strip = [&](size_t n) -> bool {
    if (p.size() < n) return false;
    p = p.subspan(n);
    return true;
  };
  size_t link_header = 0;
  uint16_t ethertype = 0;
  switch (link_type_) {
    case DLT_EN10MB: {
      if (p.size() < 14) return count(DecodeResult::kTruncated);
      ethertype = be16(&p[12]);
      link_header = 14;
      while (ethertype == kEtherVlan || ethertype == kEtherQinQ || ethertype == kEtherVlanOld) {
        if (p.size() < link_header + 4) return count(DecodeResult::kTruncated);
        ethertype = be16(&p[link_header + 2]);
        link_header += 4;
      }
      break;
    }
    case DLT_LINUX_SLL:
      if (p.size() < 16) return count(DecodeResult::kTruncated);
      ethertype = be16(&p[14]);
      link_header = 16;
      break;
    case DLT_LINUX_SLL2:
      if (p.size() < 20) return count(DecodeResult::kTruncated);
      ethertype = be16(&p[0]);
      link_header = 20;
      break;
    case DLT_NULL:
    case DLT_LOOP: {
      if (p.size() < 4) return count(DecodeResult::kTruncated);
      // DLT_NULL holds the family in the capturing host's byte order; DLT_LOOP in network order.
      // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24, 28 or 30 (the BSDs, macOS).
      const uint32_t be = be32(&p[0]);
      const uint32_t le = static_cast<uint32_t>(p[3]) << 24 | static_cast<uint32_t>(p[2]) << 16 |
                          static_cast<uint32_t>(p[1]) << 8 | p[0];
      const uint32_t family = link_type_ == DLT_LOOP ? be : (be <= 0xFFFF ? be : le);
      if (family == 2) {
        ethertype = kEtherIpv4;
      } else if (family == 10 || family == 24 || family == 28 || family == 30) {
        ethertype = kEtherIpv6;
      } else {
        return count(DecodeResult::kNotTcp);
      }
      link_header = 4;
      break;
    }
    default:  // raw IP of either version
      ethertype = ethertype_of_ip(p);
      break;
  }
  if (!strip(link_header)) return count(DecodeResult::kTruncated);
  return count(network(ethertype, p, wire - link_header, out));
}

DecodeResult PacketDecoder::network(uint16_t ethertype, std::span<const uint8_t> p,
                                    uint64_t wire_left, TcpSegment& out) {
  switch (ethertype) {
    case kEtherIpv4:
      return ipv4(p, wire_left, out);
    case kEtherIpv6:
      return ipv6(p, wire_left, out);
    default:
      return DecodeResult::kNotTcp;
  }
}

DecodeResult PacketDecoder::ipv4(std::span<const uint8_t> p, uint64_t wire_left, TcpSegment& out) {
  if (p.size() < 20) return DecodeResult::kTruncated;
  if ((p[0] >> 4) != 4) return DecodeResult::kMalformed;
  const size_t header_len = (p[0] & 15) * 4u;
  const uint16_t total_len = be16(&p[2]);
  if (header_len < 20 || (total_len != 0 && total_len < header_len))
    return DecodeResult::kMalformed;
  if (p.size() < header_len) return DecodeResult::kTruncated;
  if (p[9] != kProtoTcp) return DecodeResult::kNotTcp;
  // The IP total length is the truth; link layers may pad (Ethernet) beyond it. A total length
  // larger than the wire packet happens with TSO/GSO captures that leave it 0: trust the wire.
  uint64_t ip_len = total_len;
  if (total_len == 0) ip_len = wire_left;
  if (ip_len > wire_left) ip_len = wire_left;
  if (ip_len < header_len) return DecodeResult::kTruncated;
  out.src.ip = IpAddr::v4(&p[12]);
  out.dst.ip = IpAddr::v4(&p[16]);
  const uint16_t frag = be16(&p[6]);
  const bool more = (frag & 0x2000) != 0;
  const uint32_t frag_offset = (frag & 0x1FFF) * 8u;
  std::span<const uint8_t> payload =
      p.subspan(header_len, std::min<uint64_t>(p.size(), ip_len) - header_len);
  const uint64_t payload_wire = ip_len - header_len;
  if (more || frag_offset != 0) {
    if (payload.size() < payload_wire) return DecodeResult::kTruncated;  // cannot piece together
    IpDefragmenter::Key key{out.src.ip, out.dst.ip, be16(&p[4]), p[9]};
    std::span<const uint8_t> whole = defrag_.add(key, ts_, frag_offset, more, payload);
    if (whole.empty()) return DecodeResult::kFragment;
    out.ip_bytes = static_cast<uint32_t>(header_len + whole.size());
    return tcp(whole, whole.size(), out);
  }
  out.ip_bytes = static_cast<uint32_t>(ip_len);
  return tcp(payload, payload_wire, out);
}

DecodeResult PacketDecoder::ipv6(std::span<const uint8_t> p, uint64_t wire_left, TcpSegment& out) {
  if (p.size() < 40) return DecodeResult::kTruncated;
  if ((p[0] >> 4) != 6) return DecodeResult::kMalformed;
  const uint16_t payload_len = be16(&p[4]);
  uint8_t next = p[6];
  out.src.ip = IpAddr::v6(&p[8]);
  out.dst.ip = IpAddr::v6(&p[24]);
  uint64_t wire_payload =
      payload_len == 0 ? wire_left - 40 : std::min<uint64_t>(payload_len, wire_left - 40);
  std::span<const uint8_t> rest = p.subspan(40, std::min<uint64_t>(p.size() - 40, wire_payload));
  out.ip_bytes = static_cast<uint32_t>(40 + wire_payload);
  bool reassembled = false;
  // Walk the extension headers to TCP. A fragment header is handled once; what follows it in the
  // reassembled datagram may hold further extension headers.
  for (int hops = 0; hops < 16; ++hops) {
    switch (next) {
      case kProtoTcp:
        return tcp(rest, wire_payload, out);
      case 0:     // hop-by-hop options
      case 43:    // routing
      case 60:    // destination options
      case 51: {  // authentication header
        if (rest.size() < 8) return DecodeResult::kTruncated;
        const size_t len = next == 51 ? (rest[1] + 2u) * 4u : (rest[1] + 1u) * 8u;
        if (len > wire_payload) return DecodeResult::kMalformed;
        if (rest.size() < len) return DecodeResult::kTruncated;
        next = rest[0];
        rest = rest.subspan(len);
        wire_payload -= len;
        break;
      }
      case 44: {  // fragment
        if (wire_payload < 8) return DecodeResult::kMalformed;
        if (rest.size() < 8) return DecodeResult::kTruncated;
        if (reassembled) return DecodeResult::kMalformed;
        const uint8_t inner = rest[0];
        const uint16_t off = be16(&rest[2]);
        const bool more = (off & 1) != 0;
        const uint32_t frag_offset = off & 0xFFF8u;
        const uint32_t id = be32(&rest[4]);
        std::span<const uint8_t> body = rest.subspan(8);
        if (body.size() < wire_payload - 8) return DecodeResult::kTruncated;
        if (!more && frag_offset == 0) {  // an atomic fragment: nothing to wait for
          next = inner;
          rest = body;
          wire_payload -= 8;
          break;
        }
        IpDefragmenter::Key key{out.src.ip, out.dst.ip, id, inner};
        std::span<const uint8_t> whole = defrag_.add(key, ts_, frag_offset, more, body);
        if (whole.empty()) return DecodeResult::kFragment;
        next = inner;
        rest = whole;
        wire_payload = whole.size();
        out.ip_bytes = static_cast<uint32_t>(40 + whole.size());
        reassembled = true;
        break;
      }
      default:
        return DecodeResult::kNotTcp;
    }
  }
  return DecodeResult::kMalformed;
}

DecodeResult PacketDecoder::tcp(std::span<const uint8_t> p, uint64_t wire_len, TcpSegment& out) {
  if (p.size() < 20) return DecodeResult::kTruncated;
  const size_t header_len = (p[12] >> 4) * 4u;
  if (header_len < 20 || header_len > wire_len) return DecodeResult::kMalformed;
  if (p.size() < header_len) return DecodeResult::kTruncated;
  out.src.port = be16(&p[0]);
  out.dst.port = be16(&p[2]);
  out.seq = be32(&p[4]);
  out.ack = be32(&p[8]);
  out.flags = p[13];
  out.window = be16(&p[14]);
  out.payload = p.subspan(header_len);
  const uint64_t wire_payload = wire_len - header_len;
  out.missing = out.payload.size() < wire_payload
                    ? static_cast<uint32_t>(wire_payload - out.payload.size())
                    : 0;
  if (out.missing) ++stats_.truncated_payloads;
  return DecodeResult::kTcp;
}

}  // namespace tcpdp
