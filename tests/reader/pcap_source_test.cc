#include "reader/pcap_source.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../temp_file.h"

using tcpdp::PcapFileSource;
using tcpdp::RawPacket;
using tcpdp::test::TempFile;

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

// The same file read by libpcap itself.
Read read_with_libpcap(const std::string& path) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap_t* handle =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, errbuf);
  REQUIRE_MESSAGE(handle, errbuf);
  Read r;
  pcap_pkthdr* header = nullptr;
  const u_char* data = nullptr;
  int rc;
  while ((rc = pcap_next_ex(handle, &header, &data)) == 1) {
    RawPacket p;
    p.ts = tcpdp::Timestamp::from_parts(header->ts.tv_sec, header->ts.tv_usec);
    p.wire_len = header->len;
    r.packets.push_back(p);
    r.data.emplace_back(reinterpret_cast<const char*>(data), header->caplen);
  }
  r.end = rc == PCAP_ERROR_BREAK ? PcapFileSource::Next::kEnd : PcapFileSource::Next::kError;
  if (r.end == PcapFileSource::Next::kError) r.error = pcap_geterr(handle);
  pcap_close(handle);
  return r;
}

// The file given as standard input.
Read read_as_stdin(const std::string& path) {
  const int saved = dup(STDIN_FILENO);
  const int fd = ::open(path.c_str(), O_RDONLY);
  REQUIRE(fd >= 0);
  dup2(fd, STDIN_FILENO);
  close(fd);
  Read r = read_all("-");
  dup2(saved, STDIN_FILENO);
  close(saved);
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
      same(r, read_as_stdin(file.path));
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

TEST_CASE("a file larger than a read block reads whole") {
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

TEST_CASE("seconds from 2^31 on are read as unsigned, from a file as from standard input") {
  // pcap-savefile(5): seconds are an unsigned 32-bit count; 4102444800 is 2100-01-01T00:00:00Z.
  const std::vector<Packet> packets = {{0x80000000u, 1, 1, 1, "a"}, {4102444800u, 2, 1, 1, "b"}};
  for (const bool big_endian : {false, true}) {
    CAPTURE(big_endian);
    TempFile file(pcap_file(packets, big_endian, false, 65535));
    for (const Read& r : {read_all(file.path), read_as_stdin(file.path)}) {
      REQUIRE(r.packets.size() == 2);
      CHECK(r.packets[0].ts == tcpdp::Timestamp::from_parts(2147483648, 1));
      CHECK(r.packets[1].ts == tcpdp::Timestamp::from_parts(4102444800, 2));
      CHECK(tcpdp::to_rfc3339(r.packets[1].ts) == "2100-01-01T00:00:00.000002Z");
    }
  }
}

TEST_CASE("position and size: the file's bytes, from a file as from standard input") {
  const std::vector<Packet> packets = {{1, 0, 3, 3, "abc"}, {2, 0, 2, 2, "de"}};
  TempFile file(pcap_file(packets, false, false, 65535));
  const size_t file_size = 24 + 16 + 3 + 16 + 2;
  for (const bool from_stdin : {false, true}) {
    CAPTURE(from_stdin);
    const int saved = dup(STDIN_FILENO);
    const int fd = ::open(file.path.c_str(), O_RDONLY);
    dup2(fd, STDIN_FILENO);
    close(fd);
    std::string error;
    auto source = PcapFileSource::open(from_stdin ? "-" : file.path, &error);
    REQUIRE_MESSAGE(source, error);
    CHECK(source->size() == file_size);
    RawPacket p;
    REQUIRE(source->next(p) == PcapFileSource::Next::kPacket);
    CHECK(source->position() == 24 + 16 + 3);
    REQUIRE(source->next(p) == PcapFileSource::Next::kPacket);
    CHECK(source->next(p) == PcapFileSource::Next::kEnd);
    CHECK(source->position() == file_size);
    source.reset();
    dup2(saved, STDIN_FILENO);
    close(saved);
  }
}

TEST_CASE("a file that shrinks while it is read ends in an error, not a signal") {
  std::vector<Packet> packets;
  for (uint32_t i = 0; i < 4000; ++i) {
    packets.push_back({i, 0, 1000, 1000, std::string(1000, static_cast<char>(i))});
  }
  TempFile file(pcap_file(packets, false, false, 65535));
  std::string error;
  auto source = PcapFileSource::open(file.path, &error);
  REQUIRE_MESSAGE(source, error);
  RawPacket p;
  std::vector<std::string> got;
  for (int i = 0; i < 10; ++i) {
    REQUIRE(source->next(p) == PcapFileSource::Next::kPacket);
    got.emplace_back(reinterpret_cast<const char*>(p.data.data()), p.data.size());
  }
  // Cut inside the 2000th record, as a capture ring starting the file over would.
  const off_t cut = 24 + 1999 * 1016 + 500;
  REQUIRE(truncate(file.path.c_str(), cut) == 0);
  PcapFileSource::Next next;
  while ((next = source->next(p)) == PcapFileSource::Next::kPacket) {
    got.emplace_back(reinterpret_cast<const char*>(p.data.data()), p.data.size());
  }
  CHECK(next == PcapFileSource::Next::kError);
  CHECK(source->error().find("shrank from " + std::to_string(24 + 4000 * 1016) + " to " +
                             std::to_string(cut) + " bytes") != std::string::npos);
  REQUIRE(got.size() == 1999);
  for (size_t i = 0; i < got.size(); ++i) {
    if (got[i] != packets[i].data) FAIL("packet " << i << " differs");
  }
}

TEST_CASE("inputs that are not a capture are refused with a sentence") {
  std::string error;
  SUBCASE("a directory") {
    CHECK_FALSE(PcapFileSource::open("/tmp", &error));
    CHECK(error == "is a directory, not a capture file");
  }
  SUBCASE("an empty file") {
    TempFile file("");
    CHECK_FALSE(PcapFileSource::open(file.path, &error));
    CHECK(error == "empty: no pcap or pcapng file header");
  }
  SUBCASE("a file shorter than a file header") {
    TempFile file(pcap_file({}, false, false, 65535).substr(0, 10));
    CHECK_FALSE(PcapFileSource::open(file.path, &error));
    CHECK(error.find("truncated dump file") != std::string::npos);
  }
  SUBCASE("zeros") {
    CHECK_FALSE(PcapFileSource::open("/dev/zero", &error));
    CHECK(error.find("unknown file format") != std::string::npos);
  }
  SUBCASE("a file that does not exist") {
    CHECK_FALSE(PcapFileSource::open("/no/such/file.pcap", &error));
    CHECK(error == std::strerror(ENOENT));
  }
}

namespace {

// A pcapng file (draft-ietf-opsawg-pcapng): section header, one Ethernet interface with the
// default microsecond resolution, and an enhanced packet block per packet.
std::string pcapng_file(const std::vector<Packet>& packets) {
  std::string out;
  const auto block = [&out](uint32_t type, const std::string& body) {
    std::string padded = body;
    padded.resize((body.size() + 3) & ~size_t{3}, '\0');
    const auto total = static_cast<uint32_t>(12 + padded.size());
    put32(out, type, false);
    put32(out, total, false);
    out += padded;
    put32(out, total, false);
  };
  std::string shb;
  put32(shb, 0x1a2b3c4d, false);
  put16(shb, 1, false);
  put16(shb, 0, false);
  put32(shb, 0xffffffff, false);  // section length unknown
  put32(shb, 0xffffffff, false);
  block(0x0a0d0d0a, shb);
  std::string idb;
  put16(idb, 1, false);  // Ethernet
  put16(idb, 0, false);
  put32(idb, 65535, false);
  block(1, idb);
  for (const Packet& p : packets) {
    const uint64_t usec = uint64_t{p.sec} * 1000000 + p.frac;
    std::string epb;
    put32(epb, 0, false);
    put32(epb, static_cast<uint32_t>(usec >> 32), false);
    put32(epb, static_cast<uint32_t>(usec), false);
    put32(epb, p.caplen, false);
    put32(epb, p.len, false);
    epb += p.data;
    block(6, epb);
  }
  return out;
}

}  // namespace

TEST_CASE("pcapng goes through libpcap, from a file as from standard input") {
  const std::vector<Packet> packets = {{1700000000, 5, 3, 60, "abc"}, {4102444800u, 6, 2, 2, "de"}};
  const std::string bytes = pcapng_file(packets);
  TempFile file(bytes);
  const Read r = read_all(file.path);
  REQUIRE(r.packets.size() == 2);
  CHECK(r.data == std::vector<std::string>{"abc", "de"});
  CHECK(r.packets[1].ts == tcpdp::Timestamp::from_parts(4102444800, 6));
  CHECK(r.end == PcapFileSource::Next::kEnd);
  same(r, read_with_libpcap(file.path));
  same(r, read_as_stdin(file.path));
}
