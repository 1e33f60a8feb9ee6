#include "pipeline/digest_clock.h"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

using namespace tcpdp;

namespace {

bool has(const std::string& line, const std::string& part) {
  return line.find(part) != std::string::npos;
}

// An execution of `sql` as the pg dumper records it (the keys the digest reads).
Record execution(const char* sql) {
  Record r;
  r.add("event", "pg");
  r.add("conn_id", "c1");
  r.add("direction", "->");
  r.add("message_type", "Q");
  r.add("query", sql);
  r.add("duration", Duration{250});
  return r;
}

std::vector<std::string> lines_of(std::FILE* file) {
  std::rewind(file);
  std::vector<std::string> lines;
  char buf[4096];
  while (std::fgets(buf, sizeof buf, file)) lines.emplace_back(buf);
  return lines;
}

}  // namespace

TEST_CASE("the digest goes into the dump log after the records it counts, at the stop") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file);
  {
    StreamSink dump(file, Format::kJson, /*background=*/false);
    DigestClock clock(std::chrono::hours(1), 100, dump);
    dump.write(execution("SELECT 1"));
    dump.write(execution("SELECT 2"));
    clock.tick();  // an hour has not passed: nothing yet
    clock.finish();
  }
  const auto lines = lines_of(file);
  std::fclose(file);
  REQUIRE(lines.size() == 3);
  CHECK(has(lines[0], "\"query\":\"SELECT 1\""));
  CHECK(has(lines[1], "\"query\":\"SELECT 2\""));
  CHECK(has(lines[2], "\"event\":\"digest\""));
  CHECK(has(lines[2], "\"fingerprint\":\"select ?\""));
  CHECK(has(lines[2], "\"count\":2"));
}

TEST_CASE("an interval that passed emits its digest once; an interval with nothing run, none") {
  std::FILE* file = std::tmpfile();
  REQUIRE(file);
  {
    StreamSink dump(file, Format::kJson, /*background=*/false);
    DigestClock clock(std::chrono::milliseconds(1), 100, dump);
    dump.write(execution("SELECT 1"));
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    clock.tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    clock.tick();
    clock.finish();
  }
  const auto lines = lines_of(file);
  std::fclose(file);
  REQUIRE(lines.size() == 2);
  CHECK(has(lines[1], "\"event\":\"digest\""));
  CHECK(has(lines[1], "\"count\":1"));
}
