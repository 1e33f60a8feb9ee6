#include "proxy/self_loop.h"

#include <doctest/doctest.h>

using tcpdp::Endpoint;
using tcpdp::IpAddr;
using tcpdp::ListenAddress;
using tcpdp::listener_reached;

namespace {

Endpoint at(const char* ip, uint16_t port) { return {*IpAddr::parse(ip), port}; }
IpAddr ip(const char* text) { return *IpAddr::parse(text); }

// The host in these cases: loopback and one address of each family on its interface.
const std::vector<IpAddr> kLocal = {ip("127.0.0.1"), ip("::1"), ip("10.1.2.3"), ip("fd00::7")};

bool loops(const std::vector<ListenAddress>& listening, const Endpoint& remote) {
  return listener_reached(listening, {remote}, kLocal) != nullptr;
}

}  // namespace

TEST_CASE("the remote is the very address listened on") {
  CHECK(loops({{at("127.0.0.1", 8080), false, "l"}}, at("127.0.0.1", 8080)));
  CHECK(loops({{at("10.1.2.3", 8080), false, "l"}}, at("10.1.2.3", 8080)));
  CHECK(loops({{at("::1", 8080), false, "l"}}, at("::1", 8080)));
}

TEST_CASE("another port, or another address listened on alone, is no loop") {
  CHECK_FALSE(loops({{at("127.0.0.1", 8080), false, "l"}}, at("127.0.0.1", 8081)));
  CHECK_FALSE(loops({{at("127.0.0.1", 8080), false, "l"}}, at("127.0.0.2", 8080)));
  CHECK_FALSE(loops({{at("10.1.2.3", 8080), false, "l"}}, at("10.9.9.9", 8080)));
}

TEST_CASE("a wildcard listen takes every local address of its family") {
  const std::vector<ListenAddress> v4 = {{at("0.0.0.0", 3306), false, ":3306"}};
  CHECK(loops(v4, at("10.1.2.3", 3306)));
  CHECK(loops(v4, at("127.0.0.1", 3306)));
  CHECK(loops(v4, at("127.5.5.5", 3306)));       // all of 127.0.0.0/8 is the host's
  CHECK_FALSE(loops(v4, at("10.1.2.4", 3306)));  // another host
  CHECK_FALSE(loops(v4, at("fd00::7", 3306)));   // an IPv4 socket takes no IPv6
  const std::vector<ListenAddress> v6only = {{at("::", 3306), false, ":3306"}};
  CHECK(loops(v6only, at("fd00::7", 3306)));
  CHECK_FALSE(loops(v6only, at("10.1.2.3", 3306)));
  const std::vector<ListenAddress> dual = {{at("::", 3306), true, "server-starter"}};
  CHECK(loops(dual, at("10.1.2.3", 3306)));
}

TEST_CASE("a remote of 0.0.0.0 or :: is the host itself") {
  CHECK(loops({{at("127.0.0.1", 80), false, "l"}}, at("0.0.0.0", 80)));
  CHECK(loops({{at("::1", 80), false, "l"}}, at("::", 80)));
  CHECK_FALSE(loops({{at("10.1.2.3", 80), false, "l"}}, at("0.0.0.0", 80)));
}

TEST_CASE("the listening address reached is the one named, whichever of the remote's addresses") {
  const std::vector<ListenAddress> listening = {{at("10.1.2.3", 80), false, "first"},
                                                {at("127.0.0.1", 5432), false, "second"}};
  const ListenAddress* hit =
      listener_reached(listening, {at("192.0.2.1", 5432), at("127.0.0.1", 5432)}, kLocal);
  REQUIRE(hit != nullptr);
  CHECK(hit->name == "second");
}
