/// What packet decode takes and gives: a captured frame as a source hands it over, and one
/// decoded TCP segment as the tracker sees it, whatever captured or produced it.
#pragma once

#include <cstdint>
#include <span>

#include "common/endpoint.h"
#include "common/timestamp.h"

namespace tcpdp {

/// A frame as captured, valid until the source's next one.
struct RawPacket {
  Timestamp ts;
  std::span<const uint8_t> data;  // captured bytes
  uint32_t wire_len = 0;          // length on the wire
};

namespace tcp_flag {
constexpr uint8_t kFin = 0x01;
constexpr uint8_t kSyn = 0x02;
constexpr uint8_t kRst = 0x04;
constexpr uint8_t kPsh = 0x08;
constexpr uint8_t kAck = 0x10;
}  // namespace tcp_flag

struct TcpSegment {
  Timestamp ts;
  Endpoint src;
  Endpoint dst;
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  std::span<const uint8_t> payload;  // the payload bytes the capture holds
  uint32_t missing =
      0;  // payload bytes that were on the wire after those but not captured (snaplen)
  uint32_t ip_bytes = 0;  // the IP packet's length on the wire, headers included

  bool has(uint8_t flag) const { return (flags & flag) != 0; }
  uint64_t payload_length() const { return payload.size() + missing; }
};

}  // namespace tcpdp
