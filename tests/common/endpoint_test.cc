#include "common/endpoint.h"

#include <doctest/doctest.h>

using tcpdp::Endpoint;
using tcpdp::IpAddr;

TEST_CASE("IPv4 and IPv6 endpoints as text (dotted quad; brackets around IPv6)") {
  for (const char* ip : {"0.0.0.0", "10.0.0.1", "192.168.100.7", "255.255.255.255", "1.20.199.9"}) {
    CHECK(IpAddr::parse(ip)->to_string() == ip);
  }
  CHECK(Endpoint{*IpAddr::parse("127.0.0.1"), 5432}.to_string() == "127.0.0.1:5432");
  CHECK(Endpoint{*IpAddr::parse("2001:db8::1"), 3306}.to_string() == "[2001:db8::1]:3306");
}
