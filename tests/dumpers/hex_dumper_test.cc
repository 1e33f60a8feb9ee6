#include "dumpers/hex/hex_dumper.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace {
std::vector<uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }
}  // namespace

TEST_CASE("hex dump matches hexdump -C -v line for line") {
  // `printf 'GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\xff' | hexdump -C -v`, without its final
  // offset-only line.
  const auto in = bytes_of(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n\x00\x01\xff", 30));
  std::string out;
  tcpdp::append_hex_dump(in, out);
  CHECK(out ==
        "00000000  47 45 54 20 2f 20 48 54  54 50 2f 31 2e 31 0d 0a  |GET / HTTP/1.1..|\n"
        "00000010  48 6f 73 74 3a 20 78 0d  0a 0d 0a 00 01 ff        |Host: x.......|\n");
}

TEST_CASE("hex dump of nothing is empty") {
  std::string out;
  tcpdp::append_hex_dump({}, out);
  CHECK(out.empty());
}

TEST_CASE("offsets count past 0xffff in eight digits") {
  std::vector<uint8_t> in(0x10010, 'a');
  std::string out;
  tcpdp::append_hex_dump(in, out);
  CHECK(out.find("\n00010000  61 61") != std::string::npos);
}

TEST_CASE("ascii keeps printable characters and dots the rest") {
  CHECK(tcpdp::printable_ascii(bytes_of(std::string("a b~\x7f\n\x80", 7))) == "a b~...");
}
