// The state change tracepoint read by its format file's offsets: this kernel's
// sock:inet_sock_set_state format, and the fields' meanings from its print fmt (family 2 AF_INET,
// 10 AF_INET6; protocol 6 TCP; states 1 ESTABLISHED ... 12 NEW_SYN_RECV; ports in host order).
#include "audit/tcp_state_event.h"

#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

using namespace tcpdp;
using namespace tcpdp::audit;

namespace {

const char* kFormat =
    "name: inet_sock_set_state\n"
    "ID: 2287\n"
    "format:\n"
    "\tfield:unsigned short common_type;\toffset:0;\tsize:2;\tsigned:0;\n"
    "\tfield:unsigned char common_flags;\toffset:2;\tsize:1;\tsigned:0;\n"
    "\tfield:unsigned char common_preempt_count;\toffset:3;\tsize:1;\tsigned:0;\n"
    "\tfield:int common_pid;\toffset:4;\tsize:4;\tsigned:1;\n"
    "\n"
    "\tfield:const void * skaddr;\toffset:8;\tsize:8;\tsigned:0;\n"
    "\tfield:int oldstate;\toffset:16;\tsize:4;\tsigned:1;\n"
    "\tfield:int newstate;\toffset:20;\tsize:4;\tsigned:1;\n"
    "\tfield:__u16 sport;\toffset:24;\tsize:2;\tsigned:0;\n"
    "\tfield:__u16 dport;\toffset:26;\tsize:2;\tsigned:0;\n"
    "\tfield:__u16 family;\toffset:28;\tsize:2;\tsigned:0;\n"
    "\tfield:__u16 protocol;\toffset:30;\tsize:2;\tsigned:0;\n"
    "\tfield:__u8 saddr[4];\toffset:32;\tsize:4;\tsigned:0;\n"
    "\tfield:__u8 daddr[4];\toffset:36;\tsize:4;\tsigned:0;\n"
    "\tfield:__u8 saddr_v6[16];\toffset:40;\tsize:16;\tsigned:0;\n"
    "\tfield:__u8 daddr_v6[16];\toffset:56;\tsize:16;\tsigned:0;\n"
    "\n"
    "print fmt: \"family=%s ...\"\n";

template <typename T>
void put(std::vector<uint8_t>& e, size_t at, T v) {
  std::memcpy(e.data() + at, &v, sizeof v);
}

// An event as the kernel lays it out for this format.
std::vector<uint8_t> event(uint16_t family, uint16_t protocol, int old_state, int new_state) {
  std::vector<uint8_t> e(72);
  put<uint16_t>(e, 0, 2287);
  put<int32_t>(e, 4, 4321);
  put<uint64_t>(e, 8, 0xffff888012345678);
  put<int32_t>(e, 16, old_state);
  put<int32_t>(e, 20, new_state);
  put<uint16_t>(e, 24, 51000);
  put<uint16_t>(e, 26, 5432);
  put<uint16_t>(e, 28, family);
  put<uint16_t>(e, 30, protocol);
  return e;
}

TcpStateDecoder decoder() {
  EventFormat f;
  std::string error;
  REQUIRE(EventFormat::parse(kFormat, f, error));
  CHECK(f.name == "inet_sock_set_state");
  CHECK(f.id == 2287);
  const FieldFormat* saddr = f.field("saddr");
  REQUIRE(saddr);
  CHECK(saddr->offset == 32);
  CHECK(saddr->size == 4);
  CHECK(f.field("common_pid")->is_signed);
  TcpStateDecoder d;
  REQUIRE(d.init(f, error));
  return d;
}

}  // namespace

TEST_CASE("an IPv4 state change") {
  auto e = event(2, 6, 2, 1);
  const uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
  std::memcpy(e.data() + 32, src, 4);
  std::memcpy(e.data() + 36, dst, 4);
  KernelStateChange c;
  REQUIRE(decoder().decode(e, c));
  CHECK(c.pid_on_cpu == 4321);
  CHECK(c.skaddr == 0xffff888012345678);
  CHECK(std::string(kernel_tcp_state_name(c.old_state)) == "SYN-SENT");
  CHECK(std::string(kernel_tcp_state_name(c.new_state)) == "ESTABLISHED");
  CHECK(c.src.to_string() == "10.0.0.1:51000");
  CHECK(c.dst.to_string() == "10.0.0.2:5432");
}

TEST_CASE("IPv6, and an IPv6 socket's IPv4-mapped peer written as IPv4") {
  auto e = event(10, 6, 10, 3);
  uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8},
          dst[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 7};
  src[15] = 1;
  std::memcpy(e.data() + 40, src, 16);
  std::memcpy(e.data() + 56, dst, 16);
  KernelStateChange c;
  REQUIRE(decoder().decode(e, c));
  CHECK(c.src.to_string() == "[2001:db8::1]:51000");
  CHECK(c.dst.to_string() == "192.0.2.7:5432");
  CHECK(std::string(kernel_tcp_state_name(c.old_state)) == "LISTEN");
  CHECK(std::string(kernel_tcp_state_name(c.new_state)) == "SYN-RECV");
}

TEST_CASE("not TCP, another event, or cut short: not a TCP state change") {
  KernelStateChange c;
  const TcpStateDecoder d = decoder();
  CHECK_FALSE(d.decode(event(2, 132, 1, 7), c));  // SCTP
  auto other = event(2, 6, 1, 7);
  other[0] = 1;  // another event's number
  CHECK_FALSE(d.decode(other, c));
  auto cut = event(2, 6, 1, 7);
  cut.resize(60);
  CHECK_FALSE(d.decode(cut, c));
  CHECK(kernel_tcp_state_name(0) == nullptr);
  CHECK(kernel_tcp_state_name(13) == nullptr);
}
