/// Packet decode: link layer (Ethernet with 802.1Q/QinQ, Linux cooked SLL/SLL2, BSD loopback,
/// raw IP), IPv4 with fragments reassembled, IPv6 with extension headers and fragments, TCP.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "common/timestamp.h"
#include "packet/ip_defrag.h"
#include "packet/segment.h"

namespace tcpdp {

enum class DecodeResult {
  kTcp,        // out holds a segment
  kNotTcp,     // another protocol, nothing for us
  kFragment,   // an IP fragment held until its datagram is complete
  kTruncated,  // the capture cut the packet before the end of its TCP header
  kMalformed,  // headers that contradict themselves
};

struct DecodeStats {
  uint64_t packets = 0;
  uint64_t tcp = 0;
  uint64_t not_tcp = 0;
  uint64_t truncated_headers = 0;
  uint64_t truncated_payloads = 0;  // TCP payload cut short by the snapshot length
  uint64_t malformed = 0;
};

/// Whether tcpdp can decode this pcap link type (DLT_* value), and its name for messages.
bool link_type_supported(int link_type);

class PacketDecoder {
 public:
  explicit PacketDecoder(int link_type) : link_type_(link_type) {}

  /// `data` is what was captured (caplen bytes) of a packet of `wire_len` bytes.
  DecodeResult decode(Timestamp ts, std::span<const uint8_t> data, uint32_t wire_len,
                      TcpSegment& out);
  const DecodeStats& stats() const { return stats_; }
  const DefragStats& defrag_stats() const { return defrag_.stats(); }

 private:
  DecodeResult count(DecodeResult r);
  DecodeResult network(uint16_t ethertype, std::span<const uint8_t> p, uint64_t wire_left,
                       TcpSegment& out);
  DecodeResult ipv4(std::span<const uint8_t> p, uint64_t wire_left, TcpSegment& out);
  DecodeResult ipv6(std::span<const uint8_t> p, uint64_t wire_left, TcpSegment& out);
  DecodeResult tcp(std::span<const uint8_t> p, uint64_t wire_len, TcpSegment& out);

  int link_type_;
  Timestamp ts_;
  IpDefragmenter defrag_;
  DecodeStats stats_;
};

}  // namespace tcpdp
