#include "dumpers/mysql/mysql_dumper.h"

#include <doctest/doctest.h>
#include <zlib.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../conversation.h"
#include "mysql_test_session.h"

using namespace tcpdp;

namespace {

using namespace tcpdp::mysql_test;  // packets and a MariaDB session

// Parameters of COM_STMT_EXECUTE: NULL bitmap, new-params-bound flag, types, values.
Bytes execute(uint32_t id, const Bytes& params) {
  return packet(0, "\x17"_b + le(id, 4) + "\x00"_b + le(1, 4) + params);
}

}  // namespace

TEST_CASE("handshake: server version, user, database, character set; auth data never written") {
  Conversation c;
  login(c);
  c.close();
  REQUIRE(c.sink.records.size() == 1);
  const test::Value& h = c.sink.records[0];
  CHECK(h["username"] == "alice");
  CHECK(h["database"] == "shop");
  CHECK(h["message_type"] == "HandshakeResponse");
  CHECK(h["server_version"] == "10.11.19-MariaDB");
  CHECK(h["connection_id"] == 42);
  CHECK(h["character_set"] == "utf8mb4");
  CHECK(h["auth_plugin"] == "mysql_native_password");
  CHECK_FALSE(has(c.sink.lines[0], "SECRET"));
}

TEST_CASE("failed login: the handshake record carries the error") {
  Conversation c;
  c.server(greeting());
  c.client(handshake_response("mallory", ""));
  c.server(err(2, 1045, "28000", "Access denied for user 'mallory'"));
  c.close();
  CHECK(c.sink.records[0]["error_code"] == 1045);
  CHECK(c.sink.records[0]["sql_state"] == "28000");
}

// Protocol::OldAuthSwitchRequest: a lone 0xFE asks a pre-4.1 client for the old password hash.
TEST_CASE("the old one-byte auth switch names mysql_old_password") {
  Conversation c;
  c.server(greeting());
  c.client(handshake_response("alice", "shop"));
  c.server(packet(2, "\xfe"_b));
  c.client(packet(3, z("OLDHASH1")));
  c.server(ok(4));
  c.close();
  CHECK(c.sink.records[0]["auth_switch"] == "mysql_old_password");
  CHECK(c.sink.records[0]["login_ok"] == true);
  CHECK_FALSE(has(c.sink.lines[0], "OLDHASH"));
}

TEST_CASE("SSL request: its record, the encrypted notice, then silence") {
  Conversation c;
  c.server(greeting(kCaps | 0x800));
  c.client(packet(1, le(kCaps | 0x800, 4) + le(16777216, 4) + le(45, 1) + std::string(23, '\0')));
  c.client("\x16\x03\x01 tls hello COM_QUERY \x03 SELECT"_b);
  c.server("\x16\x03\x03 tls"_b);
  c.close();
  REQUIRE(c.sink.records.size() == 2);
  CHECK(c.sink.records[0]["event"] == "mysql");  // not a decode_error record
  CHECK(c.sink.records[0]["message_type"] == "SSLRequest");
  CHECK_FALSE(c.sink.records[0].has("decode_error"));
  const test::Value& e = c.sink.records[1];
  CHECK(e["event"] == "encrypted");
  CHECK(e["direction"] == "->");
  CHECK(e["protocol"] == "mysql");
  CHECK(e["negotiation"] == "SSLRequest");
  CHECK(e["encryption"] == "tls");
}

TEST_CASE("COM_QUERY with a result set: rows counted, duration, session on the record") {
  Conversation c;
  login(c);
  c.client(query("SELECT c FROM t"));
  c.server(result_set(3));
  const test::Value& q = c.sink.records.back();
  CHECK(q["command_id"] == 3);
  CHECK(q["command"] == "COM_QUERY");
  CHECK(q["seq_num"] == 0);
  CHECK(q["query"] == "SELECT c FROM t");
  CHECK(q["rows"] == 3);
  CHECK(q["duration"] == test::Value::duration_usec(100));
  CHECK(q["username"] == "alice");
  CHECK(q["database"] == "shop");
}

TEST_CASE("OK packets: affected rows, last insert id, warnings") {
  Conversation c;
  login(c);
  c.client(query("INSERT INTO t VALUES (NULL),(NULL)"));
  c.server(ok(1, 2, 17, 2, 1));
  const test::Value& q = c.sink.records.back();
  CHECK(q["affected_rows"] == 2);
  CHECK(q["last_insert_id"] == 17);
  CHECK(q["warnings"] == 1);
}

TEST_CASE("errors: code, SQLSTATE, message") {
  Conversation c;
  login(c);
  c.client(query("SELECT * FROM nope"));
  c.server(err(1, 1146, "42S02", "Table 'shop.nope' doesn't exist"));
  const test::Value& q = c.sink.records.back();
  CHECK(q["error_code"] == 1146);
  CHECK(q["sql_state"] == "42S02");
  CHECK(q["error_message"] == "Table 'shop.nope' doesn't exist");
}

TEST_CASE("multi-statements and procedures: results until no more are announced") {
  Conversation c;
  login(c);
  c.client(query("SELECT 1; SELECT 2"));
  c.server(result_set(1, 2 | 0x0008));
  CHECK(c.sink.records.size() == 1);  // still waiting for the second result
  Bytes second = result_set(1);
  c.server(second);
  CHECK(c.sink.records.back()["rows"] == 2);
  CHECK(c.sink.records.back()["result_sets"] == 2);
}

TEST_CASE("COM_INIT_DB changes the database of later records") {
  Conversation c;
  login(c);
  c.client(packet(0,
                  "\x02"
                  "other"));
  c.server(ok(1));
  c.client(query("SELECT 1"));
  c.server(result_set(1));
  CHECK(c.sink.records[1]["command"] == "COM_INIT_DB");
  CHECK(c.sink.records[2]["database"] == "other");
}

TEST_CASE(
    "prepared statement: PREPARE_OK maps the id; EXECUTE decodes every value, NULLs in place") {
  Conversation c;
  login(c);
  c.client(packet(0,
                  "\x16"
                  "SELECT ?, ?, ?, ?, ?"));
  // PREPARE_OK: id 7, 1 column, 5 params; then 5 param defs + EOF, 1 column def + EOF
  Bytes answer = packet(1, "\x00"_b + le(7, 4) + le(1, 2) + le(5, 2) + "\x00"_b + le(0, 2));
  uint8_t seq = 2;
  for (int i = 0; i < 5; ++i) answer += column_def(seq++);
  answer += eof(seq++);
  answer += column_def(seq++);
  answer += eof(seq++);
  c.server(answer);
  // params: LONGLONG unsigned 18446744073709551615, NULL (as TINY), TINY -1, DATETIME with
  // microseconds, VAR_STRING "héllo"
  const Bytes types =
      "\x08\x80"
      "\x01\x00"
      "\x01\x00"
      "\x0c\x00"
      "\xfd\x00"_b;
  const Bytes values = le(0xFFFFFFFFFFFFFFFFULL, 8) + "\xff"_b + "\x0b"_b + le(2026, 2) +
                       "\x01\x02\x03\x04\x05"_b + le(123456, 4) + lstr("h\xc3\xa9llo"_b);
  c.client(execute(7,
                   "\x02"
                   "\x01"_b +
                       types + values));
  c.server(result_set(1));
  const test::Value& p = c.sink.records[1];
  CHECK(p["stmt_prepare_query"] == "SELECT ?, ?, ?, ?, ?");
  CHECK(p["stmt_id"] == 7);
  CHECK(p["param_count"] == 5);
  const test::Value& e = c.sink.records[2];
  CHECK(e["stmt_id"] == 7);
  CHECK(e["stmt_prepare_query"] == "SELECT ?, ?, ?, ?, ?");
  CHECK(e["stmt_execute_values"] ==
        test::Value::array({"18446744073709551615", nullptr, "-1", "2026-01-02 03:04:05.123456",
                            "h\xc3\xa9llo"_b}));
  // executed again without types: the ones from before apply
  c.client(execute(7,
                   "\x00"
                   "\x00"_b +
                       le(5, 8) + "\x07\x07"_b + "\x0b"_b + le(1999, 2) + "\x0c\x1f\x17\x3b\x3b"_b +
                       le(1, 4) + lstr("x")));
  c.server(result_set(1));
  CHECK(c.sink.records[3]["stmt_execute_values"] ==
        test::Value::array({"5", "7", "7", "1999-12-31 23:59:59.000001", "x"}));
}

TEST_CASE("binary TIME, DATE, YEAR, BIT, FLOAT, DOUBLE, DECIMAL") {
  Conversation c;
  login(c);
  c.client(packet(0,
                  "\x16"
                  "SELECT ?,?,?,?,?,?,?"));
  Bytes answer = packet(1, "\x00"_b + le(1, 4) + le(0, 2) + le(7, 2) + "\x00"_b + le(0, 2));
  uint8_t seq = 2;
  for (int i = 0; i < 7; ++i) answer += column_def(seq++);
  answer += eof(seq++);
  c.server(answer);
  float f = 0.5f;
  double d = -2.25;
  uint32_t fb;
  uint64_t db;
  std::memcpy(&fb, &f, 4);
  std::memcpy(&db, &d, 8);
  const Bytes types =
      "\x0b\x00"
      "\x0a\x00"
      "\x0d\x00"
      "\x10\x00"
      "\x04\x00"
      "\x05\x00"
      "\xf6\x00"_b;
  const Bytes values = "\x0c\x01"_b + le(1, 4) + "\x02\x00\x00"_b + le(500000, 4) +  // -26:00:00.5
                       "\x04"_b + le(2000, 2) + "\x02\x1d"_b +                       // 2000-02-29
                       le(2026, 2) + lstr("\x01\x00"_b) + le(fb, 4) + le(db, 8) + lstr("-12.3400");
  c.client(execute(1, std::string(1, '\0') + "\x01"_b + types + values));
  c.server(ok(1));
  CHECK(c.sink.records.back()["stmt_execute_values"] ==
        test::Value::array(
            {"-26:00:00.500000", "2000-02-29", "2026", "256", "0.5", "-2.25", "-12.3400"}));
}

TEST_CASE("long data is counted and becomes the parameter's value") {
  Conversation c;
  login(c);
  c.client(packet(0,
                  "\x16"
                  "INSERT INTO b VALUES (?)"));
  c.server(packet(1, "\x00"_b + le(3, 4) + le(0, 2) + le(1, 2) + "\x00"_b + le(0, 2)) +
           column_def(2) + eof(3));
  c.client(packet(0, "\x18"_b + le(3, 4) + le(0, 2) + "part one, "));
  c.client(packet(0, "\x18"_b + le(3, 4) + le(0, 2) + "part two"));
  c.client(execute(3, std::string(1, '\0') + "\x01"_b + "\xfc\x00"_b));
  c.server(ok(1, 1));
  REQUIRE(c.sink.records.size() == 5);
  CHECK(c.sink.records[2]["command"] == "COM_STMT_SEND_LONG_DATA");
  CHECK(c.sink.records[2]["bytes"] == 10);
  CHECK(c.sink.records[4]["stmt_execute_values"] == test::Value::array({"part one, part two"}));
}

TEST_CASE("the same bytes split at every point give the same records") {
  const Bytes client_bytes =
      query("SELECT 'a'") + query("INSERT INTO t VALUES (1)") + query("SELECT 2");
  const Bytes server_bytes = result_set(1) + ok(1, 1) + result_set(2);
  std::vector<test::Value> records;  // of the last run
  auto run = [&](size_t split) {
    Conversation c;
    login(c);
    std::string out;
    // each query is answered before the next, as a client would do
    size_t cpos = 0, spos = 0;
    const std::vector<size_t> cl = {query("SELECT 'a'").size(),
                                    query("INSERT INTO t VALUES (1)").size(),
                                    query("SELECT 2").size()};
    const std::vector<size_t> sl = {result_set(1).size(), ok(1, 1).size(), result_set(2).size()};
    for (size_t i = 0; i < 3; ++i) {
      const Bytes q = client_bytes.substr(cpos, cl[i]);
      const Bytes a = server_bytes.substr(spos, sl[i]);
      const size_t cut = std::min(split, q.size());
      c.client(q.substr(0, cut));
      if (cut < q.size()) c.client(q.substr(cut));
      const size_t acut = std::min(split, a.size());
      c.server(a.substr(0, acut));
      if (acut < a.size()) c.server(a.substr(acut));
      cpos += cl[i];
      spos += sl[i];
    }
    c.close();
    records = c.sink.records;
    std::string all = c.sink.all();
    std::string cleaned;  // without timestamps and durations, which depend on the chunking
    for (size_t i = 0; i < all.size();) {
      const size_t t = all.find("\"ts\":\"", i), d = all.find("\"duration\":", i);
      const size_t next = std::min(t, d);
      if (next == std::string::npos) {
        cleaned += all.substr(i);
        break;
      }
      cleaned += all.substr(i, next - i);
      i = next == t ? all.find('"', t + 6) + 1 : all.find_first_of(",}", d);
    }
    return cleaned;
  };
  const std::string whole = run(1 << 20);
  CHECK(any_record(records, {{"query", "SELECT 2"}}));
  CHECK(any_record(records, {{"rows", 2}}));
  for (size_t split = 0; split < 60; ++split)
    REQUIRE_MESSAGE(run(split) == whole, "split at " << split);
}

TEST_CASE("a payload of 16 MB or more arrives in several packets and comes out whole") {
  Conversation c;
  login(c);
  std::string sql = "SELECT '" + std::string(0xFFFFFF + 100, 'x') + "'";
  Bytes payload = "\x03"_b + sql;
  Bytes wire = le(0xFFFFFF, 3) + "\x00"_b + payload.substr(0, 0xFFFFFF) +
               le(payload.size() - 0xFFFFFF, 3) + "\x01"_b + payload.substr(0xFFFFFF);
  c.client(wire);
  c.server(result_set(1));
  const test::Value& q = c.sink.records.back();
  CHECK(q["query"].s.size() == sql.size());
  const bool whole = q["query"] == sql;  // not compared in the check: 16 MB in a failure message
  CHECK(whole);
  CHECK(q["rows"] == 1);
}

TEST_CASE("compressed protocol: packets inside zlib, spanning and sharing compressed packets") {
  Conversation c;
  c.server(greeting(kCaps | 0x20));
  c.client(handshake_response("alice", "shop", 45, kCaps | 0x20));
  c.server(ok(2));
  auto compressed = [](uint8_t seq, const Bytes& plain) {
    uLongf n = compressBound(plain.size());
    Bytes out(n, '\0');
    compress(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(plain.data()),
             plain.size());
    out.resize(n);
    return le(out.size(), 3) + le(seq, 1) + le(plain.size(), 3) + out;
  };
  const Bytes two = query("SELECT 'first'") + query("SELECT 'second'");
  const Bytes wire = compressed(0, two.substr(0, 10)) + compressed(1, two.substr(10));
  c.client(wire.substr(0, 5));
  c.client(wire.substr(5));
  c.server(le(result_set(1).size(), 3) + "\x00"_b + le(0, 3) +
           result_set(1));  // stored, not deflated
  c.server(compressed(1, result_set(2)));
  c.close();
  CHECK(any_record(c.sink.records, {{"compressed", true}}));
  CHECK(any_record(c.sink.records, {{"query", "SELECT 'first'"}, {"rows", 1}}));
  CHECK(any_record(c.sink.records, {{"query", "SELECT 'second'"}, {"rows", 2}}));
}

TEST_CASE("latin1 and sjis connections: text transcoded to UTF-8, undecodable bytes escaped") {
  Conversation c;
  login(c, 8);  // latin1_swedish_ci
  c.client(query("SELECT 'caf\xe9 na\xefve \x80'"_b));
  c.server(result_set(1));
  CHECK(c.sink.records.back()["query"] == "SELECT 'caf\xc3\xa9 na\xc3\xafve \xe2\x82\xac'"_b);
  Conversation s;
  login(s, 13);  // sjis_japanese_ci
  s.client(query("SELECT '\x93\xfa\x96\x7b\x8c\xea' \x81"_b));
  s.server(result_set(1));
  CHECK(s.sink.records.back()["query"] == "SELECT '\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e' \\x81"_b);
}

TEST_CASE("SET NAMES changes the character set for what follows") {
  Conversation c;
  login(c);
  c.client(query("SET NAMES latin1"));
  c.server(ok(1));
  c.client(query("SELECT '\xe9'"_b));
  c.server(result_set(1));
  CHECK(c.sink.records.back()["query"] == "SELECT '\xc3\xa9'"_b);
}

TEST_CASE("a gap mid-packet: no record from misaligned bytes, decoding resumes at a command") {
  Conversation c;
  login(c);
  const Bytes lost = query("SELECT 'lost in the gap'");
  c.client(lost.substr(0, 9));
  c.decoder->on_gap(Direction::kClientToServer, Timestamp{c.clock}, 5);
  c.client(lost.substr(14) + query("SELECT 'after'") + query("SELECT 'again'"));
  c.close();
  CHECK_FALSE(has(c.sink.all(), "lost in the gap"));
  CHECK(any_record(c.sink.records, {{"query", "SELECT 'after'"}}));
  CHECK(any_record(c.sink.records, {{"query", "SELECT 'again'"}}));
}

TEST_CASE("picked up mid-stream: commands found, answers paired after the server ends one") {
  Conversation c({}, true);
  c.server(std::string("tail of a row") + ok(3));  // the end of an answer in flight
  c.client(query("SELECT 9"));
  c.server(result_set(4));
  c.close();
  CHECK(any_record(c.sink.records, {{"query", "SELECT 9"}, {"rows", 4}}));
}

TEST_CASE("unknown command: a bounded error record, the next command still decoded") {
  Conversation c;
  login(c);
  c.client(packet(0, "\x77garbage"_b));
  c.client(query("SELECT 3"));
  c.server(result_set(1));
  CHECK(any_record(c.sink.records, {{"command_id", 119}, {"decode_error", "unknown command"}}));
  CHECK(any_record(c.sink.records, {{"query", "SELECT 3"}, {"rows", 1}}));
}

TEST_CASE("LOAD DATA LOCAL INFILE: the file asked for, the bytes sent, then the outcome") {
  Conversation c;
  login(c);
  c.client(query("LOAD DATA LOCAL INFILE '/tmp/x.csv' INTO TABLE t"));
  c.server(packet(1, "\xfb"_b + "/tmp/x.csv"));
  c.client(packet(2, "1,secret row\n2,another\n") + packet(3, ""));
  c.server(ok(4, 2));
  const test::Value& q = c.sink.records.back();
  CHECK(q["affected_rows"] == 2);
  CHECK(q["local_infile"] == "/tmp/x.csv");
  CHECK(q["local_infile_bytes"] == 23);
  CHECK_FALSE(has(c.sink.all(), "secret row"));
}

TEST_CASE("COM_CHANGE_USER: the new user on later records once the server agrees") {
  Conversation c;
  login(c);
  c.client(packet(0, "\x11"_b + z("bob") + "\x14"_b + "SECRET-SCRAMBLE-2020" + z("shop") +
                         le(45, 2) + z("mysql_native_password")));
  c.server(ok(1));
  c.client(query("SELECT 1"));
  c.server(result_set(1));
  CHECK(c.sink.records[1]["command"] == "COM_CHANGE_USER");
  CHECK(c.sink.records[1]["new_username"] == "bob");
  CHECK(c.sink.records[2]["username"] == "bob");
  CHECK_FALSE(has(c.sink.all(), "SECRET"));
}

TEST_CASE("without response pairing each command is written at once") {
  MysqlOptions o;
  o.pair_responses = false;
  Conversation c(o);
  login(c);
  c.client(query("SELECT 1"));
  CHECK(c.sink.records.back()["query"] == "SELECT 1");
  CHECK_FALSE(c.sink.records.back().has("duration"));
}

TEST_CASE("random bytes in both directions never crash") {
  std::mt19937 rng(777);
  for (int round = 0; round < 300; ++round) {
    Conversation c({}, round % 2 == 0);
    if (round % 3 == 0) login(c);
    for (int i = 0; i < 20; ++i) {
      Bytes b(rng() % 120, '\0');
      for (char& ch : b) ch = static_cast<char>(rng() % 3 == 0 ? rng() % 4 : rng());
      if (rng() % 2)
        c.client(b);
      else
        c.server(b);
      if (rng() % 10 == 0) c.decoder->on_gap(Direction::kServerToClient, Timestamp{c.clock}, 3);
    }
    c.close();
  }
  CHECK(true);
}
