#include "common/timestamp.h"

#include <doctest/doctest.h>

#include <string>
#include <thread>

using tcpdp::Timestamp;
using tcpdp::to_rfc3339;

// Expected strings from `date -u -d @SECONDS +%Y-%m-%dT%H:%M:%S`.
TEST_CASE("the epoch") { CHECK(to_rfc3339(Timestamp{0}) == "1970-01-01T00:00:00.000000Z"); }

TEST_CASE("leap days in 1972 and in the century year 2000") {
  CHECK(to_rfc3339(Timestamp::from_parts(68169600, 0)) == "1972-02-29T00:00:00.000000Z");
  CHECK(to_rfc3339(Timestamp::from_parts(951782400, 0)) == "2000-02-29T00:00:00.000000Z");
}

TEST_CASE("microseconds are kept, zero-padded to six digits") {
  CHECK(to_rfc3339(Timestamp::from_parts(1798513445, 42)) == "2026-12-29T03:04:05.000042Z");
  CHECK(to_rfc3339(Timestamp::from_parts(4102444799, 999999)) == "2099-12-31T23:59:59.999999Z");
}

TEST_CASE("seconds and micros split correctly before the epoch") {
  const Timestamp t{-1};
  CHECK(t.seconds() == -1);
  CHECK(t.micros() == 999999);
  CHECK(to_rfc3339(t) == "1969-12-31T23:59:59.999999Z");
}

TEST_CASE("the second before the epoch as a thread's first timestamp") {
  // A fresh thread has nothing cached: the second -1 must not pass for its cached text.
  std::string text;
  std::thread([&] { text = to_rfc3339(Timestamp{-1}); }).join();
  CHECK(text == "1969-12-31T23:59:59.999999Z");
}

TEST_CASE("timestamps in the same second and the next one, one after another") {
  // The text up to the seconds is reused within a second; it must change with the second.
  CHECK(to_rfc3339(Timestamp::from_parts(1798513445, 1)) == "2026-12-29T03:04:05.000001Z");
  CHECK(to_rfc3339(Timestamp::from_parts(1798513445, 999999)) == "2026-12-29T03:04:05.999999Z");
  CHECK(to_rfc3339(Timestamp::from_parts(1798513446, 0)) == "2026-12-29T03:04:06.000000Z");
  CHECK(to_rfc3339(Timestamp::from_parts(1798513445, 5)) == "2026-12-29T03:04:05.000005Z");
}

TEST_CASE("RFC 3339 read back") {
  using tcpdp::parse_rfc3339;
  CHECK(parse_rfc3339("1970-01-01T00:00:00Z")->usec == 0);
  // 2000-03-01 is 951868800 s after the epoch (a leap-year February before it)
  CHECK(parse_rfc3339("2000-03-01T00:00:00Z")->usec == 951868800LL * 1000000);
  CHECK(parse_rfc3339("2000-03-01T01:00:00.5+01:00")->usec == 951868800LL * 1000000 + 500000);
  CHECK(parse_rfc3339("1969-12-31T23:59:59.999999Z")->usec == -1);
  const tcpdp::Timestamp t{1764043264394545};
  CHECK(*parse_rfc3339(tcpdp::to_rfc3339(t)) == t);
  for (const char* bad : {"", "2026-13-01T00:00:00Z", "2026-11-25 04:01:02", "2026-11-25T04:01:02.Z",
                          "2026-11-25T04:01:02Zjunk", "yesterday"}) {
    CAPTURE(bad);
    CHECK(!parse_rfc3339(bad));
  }
}
