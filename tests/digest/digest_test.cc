#include "digest/digest.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "common/record.h"
#include "sinks/format.h"

using tcpdp::Digest;
using tcpdp::Duration;
using tcpdp::Record;

namespace {

// The --digest-interval records of a digest, as JSON lines.
struct Lines : tcpdp::RecordSink {
  std::vector<std::string> lines;
  void write(const Record& r) override {
    std::string line;
    tcpdp::append_formatted(r, tcpdp::Format::kJson, line);
    lines.push_back(line);
  }
};

std::vector<std::string> emit(Digest& d) {
  Lines out;
  d.emit(out, tcpdp::Timestamp::from_parts(1, 0), tcpdp::Timestamp::from_parts(2, 0));
  return out.lines;
}

bool has(const std::string& line, const std::string& part) {
  return line.find(part) != std::string::npos;
}

// A pg dumper's record of a client message (the keys the digest reads, as pg_dumper writes them).
Record pg(const char* type, const char* conn_id = "c1") {
  Record r;
  r.add("event", "pg");
  r.add("conn_id", conn_id);
  r.add("direction", "->");
  r.add("message_type", type);
  r.add("username", "app");
  r.add("src_addr", "10.0.0.7:40000");
  return r;
}

}  // namespace

TEST_CASE("executions of one statement form one class, with their times") {
  Digest d(100);
  for (int64_t usec : {100, 300}) {
    Record e = pg("E");
    e.add("execute_query", "SELECT * FROM t WHERE id = $1");
    e.add("duration", Duration{usec});
    e.add("rows", 1);
    d.take(e.encoded());
  }
  const auto lines = emit(d);
  REQUIRE(lines.size() == 1);
  CHECK(has(lines[0], "\"fingerprint\":\"select * from t where id = ?\""));
  CHECK(has(lines[0], "\"count\":2,\"timed\":2,\"total_duration\":0.0004,\"avg\":0.0002"));
  CHECK(has(lines[0], "\"max\":0.0003,\"rows\":2"));
  CHECK(has(lines[0], "\"users\":{\"app\":2}"));
  CHECK(has(lines[0], "\"clients\":{\"10.0.0.7\":2}"));
  CHECK(emit(d).empty());  // the interval's classes were handed over
}

TEST_CASE("an ErrorResponse that answers no client message is no execution") {
  Digest d(100);
  Record fatal = pg("E");
  fatal.add("direction", "<-");  // as the pg dumper writes it: the server's, alone
  fatal.add("sql_state", "57P01");
  d.take(fatal.encoded());
  CHECK(d.executions() == 0);
  CHECK(emit(d).empty());
}

TEST_CASE("statements prepared before the capture: a class of their own, not the empty SQL") {
  Digest d(100);
  d.take(pg("E").encoded());  // no execute_query: its Parse was never seen
  Record mysql;
  mysql.add("command", "COM_STMT_EXECUTE");  // no stmt_prepare_query
  mysql.add("stmt_id", 7);
  d.take(mysql.encoded());
  Record empty = pg("Q");
  empty.add("query", "");
  d.take(empty.encoded());
  const auto lines = emit(d);
  REQUIRE(lines.size() == 2);
  int unseen = 0, blank = 0;
  for (const auto& l : lines) {
    if (has(l, "\"fingerprint\":\"" + std::string(Digest::kUnseenText) + "\",\"count\":2"))
      ++unseen;
    if (has(l, "\"fingerprint\":\"\",\"count\":1")) ++blank;
  }
  CHECK(unseen == 1);
  CHECK(blank == 1);
}

TEST_CASE("a pipeline after an error: skipped Executes never ran, unless their own Bind failed") {
  Digest d(100);
  // Extended protocol, one Sync: Execute 1 fails, the server skips Bind and Execute 2.
  Record e1 = pg("E");
  e1.add("execute_query", "INSERT INTO t VALUES ($1)");
  e1.add("sql_state", "23505");
  d.take(e1.encoded());
  Record b2 = pg("B");
  b2.add("skipped", true);
  d.take(b2.encoded());
  Record e2 = pg("E");
  e2.add("execute_query", "INSERT INTO t VALUES ($1)");
  e2.add("skipped", true);
  d.take(e2.encoded());
  // Next Sync: a Bind refused (a bad parameter), the Execute after it skipped for it.
  Record b3 = pg("B");
  b3.add("sql_state", "22P02");
  d.take(b3.encoded());
  Record e3 = pg("E");
  e3.add("execute_query", "INSERT INTO t VALUES ($1)");
  e3.add("skipped", true);
  d.take(e3.encoded());
  CHECK(d.executions() == 2);
  const auto lines = emit(d);
  REQUIRE(lines.size() == 1);
  CHECK(has(lines[0], "\"count\":2,\"timed\":0"));
  CHECK(has(lines[0], "\"errors\":{\"22P02\":1,\"23505\":1}"));
}

TEST_CASE("errors by SQLSTATE for pg, by MySQL's number for mysql, and pg's in older logs") {
  Digest d(100);
  Record now = pg("Q");
  now.add("query", "SELECT 1/0");
  now.add("sql_state", "22012");
  d.take(now.encoded());
  Record before;  // a dump log line of tcpdp before `event` and `sql_state`
  before.add("conn_id", "c2");
  before.add("direction", "->");
  before.add("message_type", "Q");
  before.add("query", "SELECT 1/0");
  before.add("error_code", "22012");
  d.take(before.encoded());
  Record my_before;  // the same log's mysql records had their number and SQLSTATE too
  my_before.add("command", "COM_QUERY");
  my_before.add("query", "SELECT * FROM missing");
  my_before.add("error_code", 1146);
  my_before.add("sql_state", "42S02");
  d.take(my_before.encoded());
  Record my;
  my.add("event", "mysql");
  my.add("command", "COM_QUERY");
  my.add("query", "SELECT * FROM missing");
  my.add("error_code", 1146);
  my.add("sql_state", "42S02");
  d.take(my.encoded());
  const auto lines = emit(d);
  REQUIRE(lines.size() == 2);
  int found = 0;
  for (const auto& l : lines) {
    if (has(l, "\"errors\":{\"22012\":2}")) ++found;
    if (has(l, "\"errors\":{\"1146\":2}")) ++found;
  }
  CHECK(found == 2);
}

TEST_CASE("a duration below zero (a capture's clock going back) is not a time") {
  Digest d(100);
  Record e = pg("Q");
  e.add("query", "SELECT 1");
  e.add("duration", Duration{-5});
  d.take(e.encoded());
  const auto lines = emit(d);
  REQUIRE(lines.size() == 1);
  CHECK(has(lines[0], "\"count\":1,\"timed\":0,\"total_duration\":0,"));
}

TEST_CASE("past max_classes, executions go to one class other") {
  Digest d(2);
  for (const char* sql :
       {"SELECT a FROM t", "SELECT b FROM t", "SELECT c FROM t", "SELECT d FROM t"}) {
    Record q = pg("Q");
    q.add("query", sql);
    d.take(q.encoded());
  }
  CHECK(d.classes() == 3);
  const auto lines = emit(d);
  REQUIRE(lines.size() == 3);
  CHECK(has(lines[2], "\"id\":\"other\",\"fingerprint\":\"other\",\"count\":2"));
}
