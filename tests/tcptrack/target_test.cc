#include "tcptrack/target.h"

#include <doctest/doctest.h>

using tcpdp::Endpoint;
using tcpdp::IpAddr;
using tcpdp::Targets;

namespace {
Endpoint ep(const char* ip, uint16_t port) { return Endpoint{*IpAddr::parse(ip), port}; }
Targets parse(const std::string& s) {
  std::string error;
  auto t = Targets::parse(s, &error);
  REQUIRE_MESSAGE(t.has_value(), error);
  return *t;
}
std::string error_of(const std::string& s) {
  std::string error;
  CHECK_FALSE(Targets::parse(s, &error).has_value());
  return error;
}
}  // namespace

TEST_CASE("a bare port matches that port on any host") {
  const Targets t = parse("5432");
  CHECK(t.matches(ep("10.1.2.3", 5432)));
  CHECK(t.matches(ep("::1", 5432)));
  CHECK_FALSE(t.matches(ep("10.1.2.3", 5433)));
}

TEST_CASE("HOST:PORT and [V6]:PORT match only that address") {
  const Targets t = parse("192.0.2.1:3306,[2001:db8::1]:5432");
  CHECK(t.matches(ep("192.0.2.1", 3306)));
  CHECK_FALSE(t.matches(ep("192.0.2.2", 3306)));
  CHECK(t.matches(ep("2001:db8::1", 5432)));
  CHECK_FALSE(t.matches(ep("2001:db8::1", 3306)));
}

TEST_CASE("targets joined by || or , with spaces") {
  const Targets t = parse("5432 || 3306, 127.0.0.1:6379");
  CHECK(t.list().size() == 3);
  CHECK(t.matches(ep("127.0.0.1", 6379)));
  CHECK(t.matches(ep("1.1.1.1", 3306)));
}

TEST_CASE("localhost resolves to the loopback address") {
  const Targets t = parse("localhost:5432");
  CHECK(t.matches(ep("127.0.0.1", 5432)));
}

TEST_CASE("bad targets say what is wrong") {
  CHECK(error_of("abc").find("not a port") != std::string::npos);
  CHECK(error_of("70000").find("not a port") != std::string::npos);
  CHECK(error_of("::1:5432").find("[ADDRESS]:PORT") != std::string::npos);
  CHECK(error_of("[::1]5432").find("[ADDRESS]:PORT") != std::string::npos);
  CHECK(error_of("no-such-host.invalid:5432").find("cannot resolve") != std::string::npos);
  CHECK(error_of("").find("empty") != std::string::npos);
}
