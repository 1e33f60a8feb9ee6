#include "reader/pcap_source.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using tcpdp::PcapFileSource;
using tcpdp::RawPacket;

namespace {

struct Packet {
  uint32_t sec, frac, caplen, len;
  std::string data;
};

void put32(std::string& out, uint32_t v, bool big_endian) {
  for (int i = 0; i < 4; ++i) {
    const int shift = big_endian ? 24 - 8 * i : 8 * i;
    out += static_cast<char>((v >> shift) & 0xff);
  }
}
void put16(std::string& out, uint16_t v, bool big_endian) {
  out += static_cast<char>(big_endian ? v >> 8 : v & 0xff);
  out += static_cast<char>(big_endian ? v & 0xff : v >> 8);
}

// A classic pcap file as pcap-savefile(5) describes it, in either byte order.
std::string pcap_file(const std::vector<Packet>& packets, bool big_endian, bool nano,
                      uint32_t snaplen) {
  std::string out;
  put32(out, nano ? 0xa1b23c4d : 0xa1b2c3d4, big_endian);
  put16(out, 2, big_endian);
  put16(out, 4, big_endian);
  put32(out, 0, big_endian);
  put32(out, 0, big_endian);
  put32(out, snaplen, big_endian);
  put32(out, 1, big_endian);  // Ethernet
  for (const Packet& p : packets) {
    put32(out, p.sec, big_endian);
    put32(out, p.frac, big_endian);
    put32(out, p.caplen, big_endian);
    put32(out, p.len, big_endian);
    out += p.data;
  }
  return out;
}

struct TempFile {
  std::string path;
  explicit TempFile(const std::string& bytes) {
    char name[] = "/tmp/tcpdp-pcap-test-XXXXXX";
    const int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    close(fd);
    path = name;
  }
  ~TempFile() { unlink(path.c_str()); }
};

struct Read {
  std::vector<RawPacket> packets;
  std::vector<std::string> data;
  PcapFileSource::Next end;
  std::string error;
};

Read read_all(const std::string& path) {
  std::string error;
  auto source = PcapFileSource::open(path, &error);
  REQUIRE_MESSAGE(source, error);
  Read r;
  RawPacket p;
  while ((r.end = source->next(p)) == PcapFileSource::Next::kPacket) {
    r.packets.push_back(p);
    r.data.emplace_back(reinterpret_cast<const char*>(p.data.data()), p.data.size());
  }
  r.error = source->error();
  return r;
}

// The same file read by libpcap itself, given as standard input.
Read read_with_libpcap(const std::string& path) {
  const int saved = dup(STDIN_FILENO);
  FILE* f = std::fopen(path.c_str(), "rb");
  REQUIRE(f);
  dup2(fileno(f), STDIN_FILENO);
  clearerr(stdin);  // an earlier read may have left stdin at end of file
  Read r = read_all("-");
  dup2(saved, STDIN_FILENO);
  close(saved);
  std::fclose(f);
  return r;
}

void same(const Read& a, const Read& b) {
  REQUIRE(a.packets.size() == b.packets.size());
  for (size_t i = 0; i < a.packets.size(); ++i) {
    CHECK(a.packets[i].ts == b.packets[i].ts);
    CHECK(a.packets[i].wire_len == b.packets[i].wire_len);
    CHECK(a.data[i] == b.data[i]);
  }
  CHECK(a.end == b.end);
  CHECK(a.error == b.error);
}

}  // namespace

TEST_CASE("classic pcap in either byte order, micro- and nanoseconds") {
  const std::vector<Packet> packets = {{1700000000, 123456, 3, 60, "abc"},
                                       {1700000001, 999999, 0, 60, ""},
                                       {1700000002, 7, 5, 5, "hello"}};
  for (const bool big_endian : {false, true}) {
    for (const bool nano : {false, true}) {
      CAPTURE(big_endian);
      CAPTURE(nano);
      std::vector<Packet> in = packets;
      if (nano) {
        for (Packet& p : in) p.frac *= 1000;
      }
      TempFile file(pcap_file(in, big_endian, nano, 65535));
      const Read r = read_all(file.path);
      REQUIRE(r.packets.size() == 3);
      CHECK(r.packets[0].ts == tcpdp::Timestamp::from_parts(1700000000, 123456));
      CHECK(r.packets[1].ts == tcpdp::Timestamp::from_parts(1700000001, 999999));
      CHECK(r.packets[2].ts == tcpdp::Timestamp::from_parts(1700000002, 7));
      CHECK(r.data == std::vector<std::string>{"abc", "", "hello"});
      CHECK(r.packets[0].wire_len == 60);
      CHECK(r.end == PcapFileSource::Next::kEnd);
      same(r, read_with_libpcap(file.path));
    }
  }
}

TEST_CASE("records longer than the snapshot length, cut files and bogus lengths: as libpcap") {
  std::vector<Packet> packets = {{1, 0, 10, 10, "0123456789"}, {2, 0, 4, 4, "wxyz"}};
  SUBCASE("a record over the file's snapshot length is cut to it") {
    TempFile file(pcap_file(packets, false, false, 6));
    const Read r = read_all(file.path);
    CHECK(r.data == std::vector<std::string>{"012345", "wxyz"});
    same(r, read_with_libpcap(file.path));
  }
  SUBCASE("a file cut inside a record's data") {
    std::string bytes = pcap_file(packets, false, false, 65535);
    bytes.resize(bytes.size() - 2);
    TempFile file(bytes);
    const Read r = read_all(file.path);
    CHECK(r.end == PcapFileSource::Next::kError);
    CHECK(r.error.find("truncated dump file") != std::string::npos);
    same(r, read_with_libpcap(file.path));
  }
  SUBCASE("a file cut inside a record header") {
    std::string bytes = pcap_file(packets, false, false, 65535);
    bytes.resize(bytes.size() - 4 - 9);
    TempFile file(bytes);
    const Read r = read_all(file.path);
    CHECK(r.packets.size() == 1);
    CHECK(r.end == PcapFileSource::Next::kError);
    same(r, read_with_libpcap(file.path));
  }
  SUBCASE("a captured length no capture can have") {
    packets[1].caplen = 0x7fffffff;
    TempFile file(pcap_file(packets, true, false, 65535));
    const Read r = read_all(file.path);
    CHECK(r.packets.size() == 1);
    CHECK(r.end == PcapFileSource::Next::kError);
    CHECK(r.error.find("invalid packet capture length") != std::string::npos);
    same(r, read_with_libpcap(file.path));
  }
}

TEST_CASE("a file larger than the pages kept mapped reads whole") {
  std::vector<Packet> packets;
  for (uint32_t i = 0; i < 8000; ++i) {
    packets.push_back({i, i % 1000000, 1400, 1400, std::string(1400, static_cast<char>(i))});
  }
  TempFile file(pcap_file(packets, false, false, 65535));
  const Read r = read_all(file.path);
  REQUIRE(r.packets.size() == packets.size());
  for (size_t i = 0; i < packets.size(); ++i) {
    if (r.data[i] != packets[i].data) FAIL("packet " << i << " differs");
  }
}
