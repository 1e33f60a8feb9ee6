#include "packet/decode.h"

#include <doctest/doctest.h>
#include <pcap/dlt.h>

#include <deque>

#include "../packet_builder.h"

using namespace tcpdp;
using namespace tcpdp::test;

namespace {

// A decoded segment points into its packet, so every packet a test decodes is kept alive here.
std::deque<Bytes>& kept_packets() {
  static std::deque<Bytes> packets;
  return packets;
}

DecodeResult run(PacketDecoder& d, const Bytes& packet, TcpSegment& out, uint32_t wire_len = 0) {
  const Bytes& kept = kept_packets().emplace_back(packet);
  return d.decode(Timestamp{1}, kept, wire_len ? wire_len : static_cast<uint32_t>(kept.size()),
                  out);
}

std::string payload_of(const TcpSegment& s) {
  return std::string(s.payload.begin(), s.payload.end());
}

}  // namespace

TEST_CASE("Ethernet / IPv4 / TCP") {
  PacketDecoder d(DLT_EN10MB);
  TcpSegment s;
  const Bytes p =
      ethernet(0x0800, ipv4(tcp({.seq = 7, .ack = 9, .flags = 0x18, .payload = text("hi")})));
  REQUIRE(run(d, p, s) == DecodeResult::kTcp);
  CHECK(s.src.to_string() == "10.0.0.1:40000");
  CHECK(s.dst.to_string() == "10.0.0.2:5432");
  CHECK(s.seq == 7);
  CHECK(s.ack == 9);
  CHECK(s.flags == 0x18);
  CHECK(payload_of(s) == "hi");
  CHECK(s.missing == 0);
}

TEST_CASE("Ethernet padding after a short IPv4 packet is not payload") {
  PacketDecoder d(DLT_EN10MB);
  TcpSegment s;
  Bytes p = ethernet(0x0800, ipv4(tcp({.flags = 0x10})));
  p.resize(60, 0);  // minimum Ethernet frame
  REQUIRE(run(d, p, s) == DecodeResult::kTcp);
  CHECK(s.payload.empty());
  CHECK(s.missing == 0);
}

TEST_CASE("802.1Q and QinQ tags are skipped") {
  PacketDecoder d(DLT_EN10MB);
  TcpSegment s;
  REQUIRE(run(d, ethernet(0x0800, ipv4(tcp({.payload = text("v")})), {0x8100, 10}), s) ==
          DecodeResult::kTcp);
  CHECK(payload_of(s) == "v");
  REQUIRE(run(d, ethernet(0x0800, ipv4(tcp({.payload = text("q")})), {0x88a8, 100, 0x8100, 10}),
              s) == DecodeResult::kTcp);
  CHECK(payload_of(s) == "q");
}

TEST_CASE("Linux cooked SLL and SLL2") {
  TcpSegment s;
  Bytes sll = {0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0};  // packet type, ARPHRD, addr len, addr
  put16(sll, 0x0800);
  PacketDecoder d1(DLT_LINUX_SLL);
  REQUIRE(run(d1, cat(sll, ipv4(tcp({.payload = text("one")}))), s) == DecodeResult::kTcp);
  CHECK(payload_of(s) == "one");

  Bytes sll2;
  put16(sll2, 0x86DD);  // protocol first in SLL2
  sll2.resize(20, 0);
  PacketDecoder d2(DLT_LINUX_SLL2);
  REQUIRE(run(d2, cat(sll2, ipv6(6, tcp({.payload = text("two")}))), s) == DecodeResult::kTcp);
  CHECK(payload_of(s) == "two");
  CHECK(s.src.to_string() == "[2001:db8::1]:40000");
}

TEST_CASE("BSD loopback: family in either byte order, AF_INET6 of several systems") {
  TcpSegment s;
  PacketDecoder d(DLT_NULL);
  REQUIRE(run(d, cat({2, 0, 0, 0}, ipv4(tcp({.payload = text("le")}))), s) == DecodeResult::kTcp);
  REQUIRE(run(d, cat({0, 0, 0, 2}, ipv4(tcp({.payload = text("be")}))), s) == DecodeResult::kTcp);
  REQUIRE(run(d, cat({30, 0, 0, 0}, ipv6(6, tcp({.payload = text("mac")}))), s) ==
          DecodeResult::kTcp);
  CHECK(payload_of(s) == "mac");
  CHECK(run(d, cat({7, 0, 0, 0}, ipv4(tcp({}))), s) == DecodeResult::kNotTcp);
}

TEST_CASE("raw IP picks the version from the first nibble") {
  TcpSegment s;
  PacketDecoder d(DLT_RAW);
  REQUIRE(run(d, ipv4(tcp({.payload = text("4")})), s) == DecodeResult::kTcp);
  REQUIRE(run(d, ipv6(6, tcp({.payload = text("6")})), s) == DecodeResult::kTcp);
  CHECK(payload_of(s) == "6");
}

TEST_CASE("UDP and ARP are not TCP") {
  TcpSegment s;
  PacketDecoder d(DLT_EN10MB);
  CHECK(run(d, ethernet(0x0800, ipv4(Bytes(8, 0), "\1\1\1\1", "\2\2\2\2", 1, 0, 17)), s) ==
        DecodeResult::kNotTcp);
  CHECK(run(d, ethernet(0x0806, Bytes(28, 0)), s) == DecodeResult::kNotTcp);
}

TEST_CASE("IPv6 extension headers before TCP are walked") {
  TcpSegment s;
  PacketDecoder d(DLT_RAW);
  Bytes hop = {60, 0, 1, 4, 0, 0, 0, 0};  // hop-by-hop -> destination options, PadN
  Bytes dest = {6, 0, 1, 4, 0, 0, 0, 0};  // destination options -> TCP
  REQUIRE(run(d, ipv6(0, cat(cat(hop, dest), tcp({.payload = text("ext")}))), s) ==
          DecodeResult::kTcp);
  CHECK(payload_of(s) == "ext");
}

TEST_CASE("IPv4 fragments out of order are put back together") {
  TcpSegment s;
  PacketDecoder d(DLT_RAW);
  Bytes segment = tcp({.payload = Bytes(100, 'x')});  // 120 bytes: fragments of 48, 48, 24
  const Bytes f1(segment.begin(), segment.begin() + 48);
  const Bytes f2(segment.begin() + 48, segment.begin() + 96);
  const Bytes f3(segment.begin() + 96, segment.end());
  const char* a = "\x0a\x00\x00\x01";
  const char* b = "\x0a\x00\x00\x02";
  CHECK(run(d, ipv4(f3, a, b, 77, 96 / 8), s) == DecodeResult::kFragment);
  CHECK(run(d, ipv4(f1, a, b, 77, 0x2000), s) == DecodeResult::kFragment);
  REQUIRE(run(d, ipv4(f2, a, b, 77, 0x2000 | 48 / 8), s) == DecodeResult::kTcp);
  CHECK(payload_of(s) == std::string(100, 'x'));
  CHECK(d.defrag_stats().reassembled == 1);
}

TEST_CASE("IPv6 fragments are put back together") {
  TcpSegment s;
  PacketDecoder d(DLT_RAW);
  Bytes segment = tcp({.payload = Bytes(60, 'y')});  // 80 bytes: 40 + 40
  auto frag = [&](uint16_t offset, bool more, size_t from, size_t to) {
    Bytes h = {6, 0};
    put16(h, static_cast<uint16_t>(offset | (more ? 1 : 0)));
    put32(h, 0xabcdef);
    return ipv6(44, cat(h, Bytes(segment.begin() + from, segment.begin() + to)));
  };
  CHECK(run(d, frag(0, true, 0, 40), s) == DecodeResult::kFragment);
  REQUIRE(run(d, frag(40, false, 40, 80), s) == DecodeResult::kTcp);
  CHECK(payload_of(s) == std::string(60, 'y'));
}

TEST_CASE("a payload cut by the snapshot length reports the missing byte count") {
  TcpSegment s;
  PacketDecoder d(DLT_EN10MB);
  Bytes p = ethernet(0x0800, ipv4(tcp({.payload = Bytes(1000, 'z')})));
  const auto wire = static_cast<uint32_t>(p.size());
  p.resize(96);  // 14 + 20 + 20 = 54 header bytes, 42 payload bytes captured
  REQUIRE(run(d, p, s, wire) == DecodeResult::kTcp);
  CHECK(s.payload.size() == 42);
  CHECK(s.missing == 958);
  CHECK(d.stats().truncated_payloads == 1);
}

TEST_CASE("a capture that ends inside the TCP header is truncated, not decoded") {
  TcpSegment s;
  PacketDecoder d(DLT_EN10MB);
  Bytes p = ethernet(0x0800, ipv4(tcp({.payload = text("data")})));
  const auto wire = static_cast<uint32_t>(p.size());
  p.resize(14 + 20 + 10);
  CHECK(run(d, p, s, wire) == DecodeResult::kTruncated);
}

TEST_CASE("headers that contradict themselves are malformed") {
  TcpSegment s;
  PacketDecoder d(DLT_RAW);
  Bytes bad_ihl = ipv4(tcp({}));
  bad_ihl[0] = 0x44;  // header length 16 < 20
  CHECK(run(d, bad_ihl, s) == DecodeResult::kMalformed);
  Bytes bad_offset = ipv4(tcp({}));
  bad_offset[20 + 12] = 0x20;  // TCP data offset 8 < 20
  CHECK(run(d, bad_offset, s) == DecodeResult::kMalformed);
}

TEST_CASE("an IPv4 total length of 0 (TSO capture) takes the length from the wire") {
  TcpSegment s;
  PacketDecoder d(DLT_RAW);
  Bytes p = ipv4(tcp({.payload = Bytes(70000 - 40, 'g')}), "\x0a\x00\x00\x01", "\x0a\x00\x00\x02",
                 1, 0x4000, 6, 0);
  REQUIRE(run(d, p, s) == DecodeResult::kTcp);
  CHECK(s.payload.size() == 70000 - 40);
}
