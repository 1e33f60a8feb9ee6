#include "sinks/record_parse.h"

#include <doctest/doctest.h>

#include <string>

#include "sinks/format.h"

using tcpdp::Record;

namespace {

// The line as the json format writes the record parsed from it (no newline).
std::string json_of(const Record& r) {
  std::string out;
  tcpdp::append_formatted(r, tcpdp::Format::kJson, out);
  out.pop_back();
  return out;
}

}  // namespace

TEST_CASE("a JSON line of tcpdp's reads back to the same line") {
  const std::string line =
      R"({"ts":"2026-12-05T10:00:00.000123Z","conn_id":"c1","message_type":"E","rows":3,)"
      R"("duration":0.0015,"bind_values":["1",null,"x\ty"],"ok":true})";
  Record r;
  std::string error;
  REQUIRE(tcpdp::parse_json_record(line, r, &error));
  CHECK(json_of(r) == line);
}

TEST_CASE("JSON lines that are not records: nesting too deep, durations out of range") {
  Record r;
  std::string error;
  // well-formed but deep, and cut short as deep: refused, the stack untouched
  const std::string deep = R"({"a":)" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK_FALSE(tcpdp::parse_json_record(deep, r, &error));
  CHECK(error.find("more than 64 nested") != std::string::npos);
  CHECK_FALSE(tcpdp::parse_json_record(deep.substr(0, 100005), r, &error));
  std::string ok = R"({"a":)" + std::string(63, '[') + std::string(63, ']') + "}";
  CHECK(tcpdp::parse_json_record(ok, r, &error));
  for (const char* d : {"1e300", "-1", "1e10"}) {
    CAPTURE(d);
    CHECK_FALSE(tcpdp::parse_json_record(std::string(R"({"duration":)") + d + "}", r, &error));
    CHECK(error.find("a duration out of range") != std::string::npos);
  }
}

TEST_CASE("LTSV: a value with controls and non-UTF-8 bytes reads back as the bytes written") {
  Record written;
  const std::string query = std::string("SELECT '\x1b[2J\t\\x41\xc2\x9b\xff'");
  written.add("query", query);
  std::string line;
  tcpdp::append_formatted(written, tcpdp::Format::kLtsv, line);
  line.pop_back();  // the newline
  Record r;
  std::string error;
  REQUIRE(tcpdp::parse_ltsv_record(line, r, &error));
  const auto f = tcpdp::Record::find(r.encoded(), "query");
  REQUIRE(f);
  CHECK(f->s == query);
}

TEST_CASE("LTSV: durations, and those out of range") {
  Record r;
  std::string error;
  REQUIRE(tcpdp::parse_ltsv_record("conn_id:c1\tduration:0.25\trows:2", r, &error));
  CHECK(json_of(r) == R"({"conn_id":"c1","duration":0.25,"rows":2})");
  for (const char* d : {"inf", "nan", "1e300", "-0.5"}) {
    CAPTURE(d);
    CHECK_FALSE(tcpdp::parse_ltsv_record(std::string("conn_id:c1\tduration:") + d, r, &error));
    CHECK(error.find("a duration out of range") != std::string::npos);
  }
}
