#include "common/conn.h"

#include <doctest/doctest.h>

using tcpdp::make_conn_id;
using tcpdp::Timestamp;

TEST_CASE("conn_id is 20 characters of base32hex") {
  const std::string id = make_conn_id(Timestamp::from_parts(1798513445, 123456), 0, 7);
  REQUIRE(id.size() == 20);
  for (char c : id) CHECK(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'v')));
}

TEST_CASE("conn_id of all-zero inputs is all zeros") {
  CHECK(make_conn_id(Timestamp{0}, 0, 0) == "00000000000000000000");
}

TEST_CASE("conn_id encodes the counter in its last bits") {
  // counter 1 sets the lowest of the 96 bits: the 20th digit holds 1 data bit and 4 padding bits.
  CHECK(make_conn_id(Timestamp{0}, 0, 1) == "0000000000000000000g");
}

TEST_CASE("conn_id sorts like time, then source, then counter") {
  const auto a = make_conn_id(Timestamp::from_parts(1000, 999999), 9, 0xFFFFFFFF);
  const auto b = make_conn_id(Timestamp::from_parts(1001, 0), 0, 0);
  const auto c = make_conn_id(Timestamp::from_parts(1001, 1), 0, 0);
  const auto d = make_conn_id(Timestamp::from_parts(1001, 1), 0, 1);
  CHECK(a < b);
  CHECK(b < c);
  CHECK(c < d);
}

TEST_CASE("conn_id is the same for the same inputs") {
  CHECK(make_conn_id(Timestamp{5}, 1, 2) == make_conn_id(Timestamp{5}, 1, 2));
}
