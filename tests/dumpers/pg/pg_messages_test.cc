#include "dumpers/pg/pg_messages.h"

#include <doctest/doctest.h>

#include <string>

#include "pg_test_messages.h"

using namespace tcpdp::pg;
using namespace tcpdp::test::pg_messages;

namespace {

std::span<const uint8_t> span_of(const std::string& body) {
  return {reinterpret_cast<const uint8_t*>(body.data()), body.size()};
}

}  // namespace

// Layouts from the protocol documentation's "Message Formats": Parse is name, query, Int16 count
// of parameter types, Int32 each; Bind is portal, statement, Int16 count of format codes, Int16
// each, Int16 count of parameters, each an Int32 length (-1: NULL) and its bytes, then Int16
// count of result format codes, Int16 each.

TEST_CASE("Parse and Bind as the protocol lays them out") {
  // The parsed names point into the body, so each body outlives its message.
  const std::string parse_body = cstr("s1") + cstr("SELECT $1, $2") + i16(2) + i32(23) + i32(25);
  ParseMsg p;
  REQUIRE(parse_parse(span_of(parse_body), p));
  CHECK(p.name == "s1");
  CHECK(p.param_types == std::vector<uint32_t>{23, 25});

  const std::string bind_body =
      cstr("") + cstr("s1") + i16(1) + i16(1) + i16(2) + i32(4) + i32(7) + i32(-1) + i16(0);
  BindMsg b;
  REQUIRE(parse_bind(span_of(bind_body), b));
  CHECK(b.statement == "s1");
  REQUIRE(b.params.size() == 2);
  CHECK(b.params[0].value.size() == 4);
  CHECK(b.params[1].is_null);
  CHECK(bind_format(b, 1) == 1);
}

TEST_CASE("a count its message cannot hold is refused before anything is sized by it") {
  // 32767 entries would need at least 64 KiB (format codes) or 128 KiB (types, parameters) of
  // body; each of these bodies has a few bytes.
  ParseMsg p;
  CHECK_FALSE(parse_parse(span_of(cstr("") + cstr("SELECT 1") + i16(32767) + i32(23)), p));
  CHECK(p.param_types.capacity() < 32767);

  BindMsg b;
  CHECK_FALSE(parse_bind(span_of(cstr("") + cstr("") + i16(32767) + i16(0)), b));
  CHECK(b.formats.capacity() < 32767);
  CHECK_FALSE(parse_bind(span_of(cstr("") + cstr("") + i16(0) + i16(32767) + i32(-1)), b));
  CHECK(b.params.capacity() < 32767);
}
