#include "tcptrack/proxy_protocol.h"

#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

using tcpdp::Endpoint;
using tcpdp::IpAddr;
using tcpdp::kMaxProxyHeader;
using tcpdp::parse_proxy_header;
using tcpdp::ProxyHeader;
using Status = tcpdp::ProxyHeader::Status;
using Bytes = std::vector<uint8_t>;

namespace {

Endpoint ep(const char* ip, uint16_t port) { return Endpoint{*IpAddr::parse(ip), port}; }

ProxyHeader parse(const Bytes& b) { return parse_proxy_header(b); }
ProxyHeader parse(const std::string& s) {
  return parse_proxy_header({reinterpret_cast<const uint8_t*>(s.data()), s.size()});
}

Bytes operator+(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// Version 2 as section 2.2 lays it out: 12-byte signature, version and command, family and
// transport, big-endian count of the bytes that follow, then those bytes.
Bytes v2(uint8_t version_command, uint8_t family_transport, const Bytes& rest) {
  return Bytes{0x0D,
               0x0A,
               0x0D,
               0x0A,
               0x00,
               0x0D,
               0x0A,
               0x51,
               0x55,
               0x49,
               0x54,
               0x0A,
               version_command,
               family_transport,
               static_cast<uint8_t>(rest.size() >> 8),
               static_cast<uint8_t>(rest.size())} +
         rest;
}

// Type, big-endian length, value.
Bytes tlv(uint8_t type, const Bytes& value) {
  return Bytes{type, static_cast<uint8_t>(value.size() >> 8), static_cast<uint8_t>(value.size())} +
         value;
}
Bytes text(const std::string& s) { return Bytes(s.begin(), s.end()); }

// 192.0.2.1:56324 -> 198.51.100.7:5432
const Bytes kIpv4Block = {192, 0, 2, 1, 198, 51, 100, 7, 0xDC, 0x04, 0x15, 0x38};
// [2001:db8::1]:56324 -> [2001:db8::2]:5432
const Bytes kDocPrefix = Bytes{0x20, 0x01, 0x0d, 0xb8} + Bytes(11, 0);  // 2001:db8::
const Bytes kIpv6Block =
    kDocPrefix + Bytes{1} + kDocPrefix + Bytes{2} + Bytes{0xDC, 0x04, 0x15, 0x38};
const std::string kFullV6 = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";

void check_parsed(const ProxyHeader& h, size_t length) {
  REQUIRE_MESSAGE(h.status == Status::kParsed, h.error);
  CHECK(h.length == length);
}

std::string invalid_error(const ProxyHeader& h) {
  CHECK(h.status == Status::kInvalid);
  CHECK_FALSE(h.error.empty());
  return h.error;
}

}  // namespace

TEST_CASE("v1 TCP4 gives both endpoints and the line length, not the bytes after it") {
  const std::string line = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 5432\r\n";
  const ProxyHeader h = parse(line + "GET / HTTP/1.1\r\n");
  check_parsed(h, line.size());
  CHECK_FALSE(h.local);
  CHECK(h.source == ep("192.0.2.1", 56324));
  CHECK(h.destination == ep("198.51.100.7", 5432));
}

TEST_CASE("v1 TCP6 gives both endpoints") {
  const std::string line = "PROXY TCP6 2001:db8::1 ::ffff:192.0.2.9 0 65535\r\n";
  const ProxyHeader h = parse(line);
  check_parsed(h, line.size());
  CHECK(h.source == ep("2001:db8::1", 0));
  CHECK(h.destination == ep("::ffff:192.0.2.9", 65535));
}

TEST_CASE("v1 UNKNOWN is local, with or without addresses") {
  for (const std::string line :
       {"PROXY UNKNOWN\r\n", "PROXY UNKNOWN 192.0.2.1 198.51.100.7 56324 5432\r\n"}) {
    const ProxyHeader h = parse(line + "SELECT 1;");
    check_parsed(h, line.size());
    CHECK(h.local);
  }
}

TEST_CASE("v1 lines of the longest allowed length parse; one byte more is invalid") {
  const std::string tcp6 = "PROXY TCP6 " + kFullV6 + " " + kFullV6 + " 65535 65535\r\n";
  CHECK(tcp6.size() == 104);
  check_parsed(parse(tcp6), 104);
  const std::string unknown = "PROXY UNKNOWN " + kFullV6 + " " + kFullV6 + " 65535 65535\r\n";
  CHECK(unknown.size() == 107);
  check_parsed(parse(unknown), 107);

  const std::string too_long = "PROXY UNKNOWN " + kFullV6 + " " + kFullV6 + " 65535 655355\r\n";
  CHECK(invalid_error(parse(too_long)).find("107") != std::string::npos);
  // 107 bytes without a CRLF are invalid at once; 106 may still end in CRLF.
  CHECK(parse(unknown.substr(0, 105) + "xx").status == Status::kInvalid);
  CHECK(parse(unknown.substr(0, 105) + "\r").status == Status::kNeedMore);
}

TEST_CASE("v1 ports are decimal 0-65535 without leading junk") {
  for (const char* port : {"65536", "0443", "+443", "-1", "44a", "999999"}) {
    const std::string line = std::string("PROXY TCP4 192.0.2.1 198.51.100.7 ") + port + " 5432\r\n";
    CHECK_MESSAGE(invalid_error(parse(line)).find("port") != std::string::npos, port);
  }
}

TEST_CASE("v1 addresses must match the protocol's family and be written canonically") {
  for (const char* addresses :
       {"TCP4 256.0.2.1 198.51.100.7", "TCP4 192.0.2 198.51.100.7", "TCP4 192.0.2.01 198.51.100.7",
        "TCP4 192.0.2.1. 198.51.100.7", "TCP4 192.0.2.1 2001:db8::1", "TCP6 2001:db8::1 192.0.2.1",
        "TCP6 2001:db8:::1 ::1", "TCP6 [::1] ::2"}) {
    const std::string line = std::string("PROXY ") + addresses + " 1 2\r\n";
    CHECK_MESSAGE(invalid_error(parse(line)).find("address") != std::string::npos, addresses);
  }
}

TEST_CASE("v1 fields are separated by exactly one space, with nothing extra") {
  for (const char* line :
       {"PROXY  TCP4 192.0.2.1 198.51.100.7 1 2\r\n", "PROXY TCP4 192.0.2.1  198.51.100.7 1 2\r\n",
        "PROXY TCP4 192.0.2.1 198.51.100.7 1 2 \r\n", "PROXY TCP4 192.0.2.1 198.51.100.7 1\r\n",
        "PROXY \r\n", "PROXY\r\n", "PROXYTCP4 192.0.2.1 198.51.100.7 1 2\r\n",
        "PROXY TCP5 192.0.2.1 198.51.100.7 1 2\r\n"}) {
    CHECK_MESSAGE(parse(std::string(line)).status == Status::kInvalid, line);
  }
}

TEST_CASE("v1 needs a CRLF: a bare LF or CR is invalid, no end yet needs more") {
  const std::string body = "PROXY TCP4 192.0.2.1 198.51.100.7 56324 5432";
  CHECK(invalid_error(parse(body + "\n")).find("LF") != std::string::npos);
  CHECK(invalid_error(parse(body + "\rX")).find("CR") != std::string::npos);
  CHECK(parse(body).status == Status::kNeedMore);
  CHECK(parse(body + "\r").status == Status::kNeedMore);
}

TEST_CASE("v1 that goes wrong before its CRLF is invalid without waiting for it") {
  CHECK(parse(std::string("PROXY HTTP")).status == Status::kInvalid);
  CHECK(parse(std::string("PROXY TCP4 192.0.2.1 x")).status == Status::kInvalid);
  CHECK(parse(std::string("PROXY UNKNOWN \x01", 15)).status == Status::kInvalid);
}

TEST_CASE("v2 PROXY over TCP/IPv4 gives both endpoints") {
  const Bytes header = v2(0x21, 0x11, kIpv4Block);
  const ProxyHeader h = parse(header + text("\x00\x00\x00\x08"));
  check_parsed(h, 16 + 12);
  CHECK_FALSE(h.local);
  CHECK(h.source == ep("192.0.2.1", 56324));
  CHECK(h.destination == ep("198.51.100.7", 5432));
}

TEST_CASE("v2 PROXY over TCP/IPv6 gives both endpoints") {
  const ProxyHeader h = parse(v2(0x21, 0x21, kIpv6Block));
  check_parsed(h, 16 + 36);
  CHECK(h.source == ep("2001:db8::1", 56324));
  CHECK(h.destination == ep("2001:db8::2", 5432));
}

TEST_CASE("v2 LOCAL is local and skips whatever block it announces") {
  ProxyHeader h = parse(v2(0x20, 0x00, {}));
  check_parsed(h, 16);
  CHECK(h.local);
  // The family byte and the block are ignored for LOCAL, even when they make no sense.
  h = parse(v2(0x20, 0xFF, Bytes(7, 0xAA)) + text("Q"));
  check_parsed(h, 16 + 7);
  CHECK(h.local);
}

TEST_CASE("v2 with an unspecified or non-TCP family is local but measured") {
  for (const uint8_t family_transport : {0x00, 0x01, 0x10, 0x12, 0x22}) {
    const Bytes block = (family_transport & 0xF0) == 0x20 ? kIpv6Block : kIpv4Block;
    const ProxyHeader h = parse(v2(0x21, family_transport, block) + text("rest"));
    check_parsed(h, 16 + block.size());
    CHECK(h.local);
  }
  const ProxyHeader unix_stream = parse(v2(0x21, 0x31, Bytes(216, 0)));
  check_parsed(unix_stream, 16 + 216);
  CHECK(unix_stream.local);
}

TEST_CASE("v2 TLVs after the addresses are skipped and counted in the length") {
  const Bytes ssl = tlv(0x20, Bytes{0x01, 0, 0, 0, 0} + tlv(0x21, text("TLSv1.3")) +
                                  tlv(0x22, text("client.example.com")));
  const Bytes header =
      v2(0x21, 0x11, kIpv4Block + tlv(0x02, text("db.example.com")) + ssl + tlv(0x04, {}));
  const ProxyHeader h = parse(header + text("after"));
  check_parsed(h, header.size());
  CHECK(h.source == ep("192.0.2.1", 56324));
}

TEST_CASE("v2 TLVs that do not fit in the header are invalid") {
  // Declares 15 bytes, carries 14.
  Bytes block = kIpv4Block + Bytes{0x02, 0x00, 0x0F} + text("db.example.com");
  CHECK(invalid_error(parse(v2(0x21, 0x11, block))).find("TLV") != std::string::npos);
  // Two bytes left over: too few for a TLV's type and length.
  block = kIpv4Block + tlv(0x04, {}) + Bytes{0x04, 0x00};
  CHECK(invalid_error(parse(v2(0x21, 0x11, block))).find("TLV") != std::string::npos);
  // A sub-TLV running past the end of its SSL TLV.
  block = kIpv4Block + tlv(0x20, Bytes{0x01, 0, 0, 0, 0, 0x21, 0x00, 0x09} + text("TLSv1.3"));
  CHECK(invalid_error(parse(v2(0x21, 0x11, block))).find("SSL") != std::string::npos);
  // An SSL TLV too short for its client and verify fields.
  block = kIpv4Block + tlv(0x20, Bytes{0x01, 0, 0});
  CHECK(invalid_error(parse(v2(0x21, 0x11, block))).find("SSL") != std::string::npos);
}

TEST_CASE("v2 fields outside the specification are invalid as soon as they arrive") {
  Bytes header = v2(0x11, 0x11, kIpv4Block);
  CHECK(invalid_error(parse(Bytes(header.begin(), header.begin() + 13))).find("version") !=
        std::string::npos);
  CHECK(parse(v2(0x31, 0x11, kIpv4Block)).status == Status::kInvalid);
  CHECK(invalid_error(parse(v2(0x22, 0x11, kIpv4Block))).find("command") != std::string::npos);
  CHECK(invalid_error(parse(v2(0x21, 0x41, kIpv4Block))).find("family") != std::string::npos);
  CHECK(invalid_error(parse(v2(0x21, 0x13, kIpv4Block))).find("transport") != std::string::npos);
  // A length too short for the address block is known from the 16 fixed bytes alone.
  header = v2(0x21, 0x21, kIpv4Block);
  CHECK(invalid_error(parse(Bytes(header.begin(), header.begin() + 16))).find("address") !=
        std::string::npos);
}

TEST_CASE("every proper prefix of a valid header needs more") {
  const std::vector<Bytes> headers = {
      text("PROXY TCP4 192.0.2.1 198.51.100.7 56324 5432\r\n"),
      text("PROXY TCP6 2001:db8::1 2001:db8::2 56324 5432\r\n"),
      text("PROXY UNKNOWN\r\n"),
      v2(0x21, 0x11, kIpv4Block + tlv(0x02, text("db.example.com"))),
      v2(0x21, 0x21, kIpv6Block),
      v2(0x20, 0x00, {}),
  };
  for (const Bytes& header : headers) {
    for (size_t n = 0; n < header.size(); ++n) {
      const ProxyHeader h =
          parse(Bytes(header.begin(), header.begin() + static_cast<std::ptrdiff_t>(n)));
      CHECK_MESSAGE(h.status == Status::kNeedMore, "header of ", header.size(), " cut at ", n);
    }
    check_parsed(parse(header), header.size());
  }
}

TEST_CASE("other protocols are not PROXY from their first telling byte") {
  // PostgreSQL StartupMessage: length, protocol 3.0, user, terminator.
  CHECK(parse(Bytes{0, 0, 0, 17, 0, 3, 0, 0} + text("user") + Bytes{0} + text("al") + Bytes{0, 0})
            .status == Status::kNotProxy);
  // PostgreSQL SSLRequest: length 8, code 80877103.
  CHECK(parse(Bytes{0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F}).status == Status::kNotProxy);
  CHECK(parse(std::string("GET / HTTP/1.1\r\n")).status == Status::kNotProxy);
  // One byte is enough to tell, and so is the first byte that departs from a signature.
  CHECK(parse(Bytes{0x00}).status == Status::kNotProxy);
  CHECK(parse(std::string("G")).status == Status::kNotProxy);
  CHECK(parse(std::string("PRI * HTTP/2.0")).status == Status::kNotProxy);
  // A 13-byte MySQL packet starts with the v2 signature's first byte, then departs from it.
  CHECK(parse(Bytes{0x0D, 0x00, 0x00, 0x01}).status == Status::kNotProxy);
  CHECK(
      parse(Bytes{0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0B}).status ==
      Status::kNotProxy);
}

TEST_CASE("random bytes behind either signature never read past the input") {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    Bytes input = i % 2 ? text("PROXY ") : v2(0x21, static_cast<uint8_t>(rng()), {});
    if (i % 2 == 0) input.resize(14);
    const size_t extra = rng() % 300;
    for (size_t k = 0; k < extra; ++k) {
      // Mostly small length bytes so that whole v2 headers turn up too.
      input.push_back(static_cast<uint8_t>(k < 2 ? rng() % 2 : rng()));
    }
    const ProxyHeader h = parse(input);
    if (h.status == Status::kParsed) CHECK(h.length <= input.size());
    if (h.status == Status::kParsed) CHECK(h.length <= kMaxProxyHeader);
    if (h.status == Status::kInvalid) CHECK_FALSE(h.error.empty());
  }
}
