// The mysql decoder on unlucky and hostile input: captures that lost a packet, started late or
// ended inside one,
// counts that no packet can hold, a statement table at its bound, the login's outcome without
// response pairing, and MySQL 8's
// COM_STMT_EXECUTE layout when the client does not set PARAMETER_COUNT_AVAILABLE.
#include <doctest/doctest.h>

#include <string>

#include "mysql_test_session.h"

using namespace tcpdp;
using namespace tcpdp::mysql_test;  // packets and a MariaDB session

namespace {

constexpr uint32_t kQueryAttributes = 1 << 27;

void login_with_attributes(Conversation& c) {
  c.server(greeting(kCaps | kQueryAttributes));
  c.client(handshake_response("alice", "shop", 45, kCaps | kQueryAttributes));
  c.server(ok(2));
}

}  // namespace

TEST_CASE("past max_statements the statement executed longest ago is forgotten, not another") {
  // PREPARE_OK: status, statement id, columns, parameters, filler, warnings (no definitions).
  const auto prepare_ok = [](uint32_t id) {
    return packet(1, "\x00"_b + le(id, 4) + le(0, 2) + le(0, 2) + "\x00"_b + le(0, 2));
  };
  const auto execute = [](uint32_t id) {
    return packet(0, "\x17"_b + le(id, 4) + "\x00"_b + le(1, 4));
  };
  // Whichever of the first two statements was used last is kept.
  for (uint32_t used : {1u, 2u}) {
    MysqlOptions o;
    o.max_statements = 2;
    Conversation c(o);
    login(c);
    for (uint32_t id : {1u, 2u}) {
      c.client(packet(0, "\x16"_b + "SELECT " + std::to_string(id)));
      c.server(prepare_ok(id));
    }
    c.client(execute(used));
    c.server(ok(1));
    c.client(packet(0, "\x16"_b + "SELECT 3"));
    c.server(prepare_ok(3));
    const uint32_t other = 3 - used;
    c.client(execute(used));
    c.server(ok(1));
    CHECK(c.sink.records.back()["stmt_prepare_query"] == "SELECT " + std::to_string(used));
    c.client(execute(other));
    c.server(ok(1));
    CHECK_FALSE(c.sink.records.back().has("stmt_prepare_query"));
  }
}

// A count read from the wire sizes nothing before the packet is known to hold that many entries.
TEST_CASE("query attributes: a count the packet cannot hold is a decode error, nothing sized") {
  Conversation c;
  login_with_attributes(c);
  // 0xFD: a 3-byte count of 16777215 attributes in a packet of a few bytes.
  c.client(packet(0, "\x03\xfd\xff\xff\xff\x01"_b + std::string(8, '\0') + "SELECT 1"));
  c.server(result_set(1));
  c.client(packet(0, "\x03\x00\x01SELECT 2"_b));
  c.server(result_set(1));
  c.close();
  CHECK(c.sink.records[1]["decode_error"] ==
        "query attributes do not decode: the SQL text is not known");
  CHECK(c.sink.records[2]["query"] == "SELECT 2");
}

// page_protocol_com_stmt_execute: with CLIENT_QUERY_ATTRIBUTES the parameter_count follows the
// iteration count whenever the statement has parameters, PARAMETER_COUNT_AVAILABLE or not (the
// flag only lets a statement without parameters carry attributes); names follow the types.
TEST_CASE("COM_STMT_EXECUTE with query attributes but no PARAMETER_COUNT_AVAILABLE flag") {
  Conversation c;
  login_with_attributes(c);
  c.client(packet(0, "\x16SELECT ?"_b));
  c.server(packet(1, "\x00"_b + le(3, 4) + le(0, 2) + le(1, 2) + "\x00"_b + le(0, 2)) +
           column_def(2) + eof(3));
  // flags 0, iterations 1, count 1, bitmap 00, bound 1, LONGLONG unnamed, 5
  c.client(packet(
      0, "\x17"_b + le(3, 4) + "\x00"_b + le(1, 4) + "\x01\x00\x01\x08\x00\x00"_b + le(5, 8)));
  c.server(result_set(1));
  c.close();
  CHECK(c.sink.records[2]["stmt_execute_values"] == test::Value::array({"5"}));
}

TEST_CASE("COM_CHANGE_USER picked up mid-way: an auth response with a NUL byte stays unread") {
  Conversation c({}, true);
  c.server(ok(1));                        // the end of an answer in flight
  c.client(packet(0, "\x03SELECT 0"_b));  // commands are found again at a COM_QUERY
  c.server(result_set(1));
  c.client(packet(0, "\x11"_b + z("bob") + "\x14"_b + "SECR\0T-SCRAMBLE-2020"_b + z("db2") +
                         le(45, 2) + z("mysql_native_password")));
  c.server(ok(1));
  c.client(packet(0, "\x03SELECT 1"_b));
  c.server(result_set(1));
  c.close();
  CHECK(any_record(c.sink.records, {{"new_username", "bob"}, {"new_database", "db2"}}));
  CHECK(any_record(c.sink.records, {{"username", "bob"}, {"database", "db2"}}));
  CHECK_FALSE(has(c.sink.all(), "SCRAMBLE"));
}

TEST_CASE("a capture that lost the greeting: the handshake response is still decoded") {
  Conversation c;
  c.client(handshake_response("alice", "shop"));
  c.server(ok(2));
  c.client(packet(0, "\x03SELECT 1"_b));
  c.server(result_set(1));
  c.close();
  REQUIRE(c.sink.records.size() == 2);
  CHECK(c.sink.records[0]["username"] == "alice");
  CHECK(c.sink.records[0]["database"] == "shop");
  CHECK(c.sink.records[0]["login_ok"] == true);
  CHECK(c.sink.records[1]["query"] == "SELECT 1");
  CHECK(c.sink.records[1]["rows"] == 1);
}

TEST_CASE("without response pairing the login's outcome is a record of its own") {
  MysqlOptions o;
  o.pair_responses = false;
  Conversation c(o);
  c.server(greeting());
  c.client(handshake_response("mallory", ""));
  c.server(err(2, 1045, "28000", "Access denied for user 'mallory'"));
  c.close();
  REQUIRE(c.sink.records.size() == 2);
  CHECK(c.sink.records[0]["message_type"] == "HandshakeResponse");
  const test::Value& outcome = c.sink.records[1];
  CHECK(outcome["direction"] == "<-");
  CHECK(outcome["login_ok"] == false);
  CHECK(outcome["error_code"] == 1045);
  CHECK(outcome["sql_state"] == "28000");
}

// A compressed packet with an empty body (compressed length 0) is a whole packet: it once sent the
// decoder round forever, waiting for a body that had already ended.
TEST_CASE("compressed protocol: an empty compressed packet ends, what follows is decoded") {
  Conversation c;
  c.server(greeting(kCaps | 0x20));
  c.client(handshake_response("alice", "shop", 45, kCaps | 0x20));
  c.server(ok(2));
  const Bytes q = query("SELECT 1");
  c.client(le(0, 3) + "\x00"_b + le(0, 3) + le(q.size(), 3) + "\x01"_b + le(0, 3) + q);
  c.server(le(result_set(1).size(), 3) + "\x00"_b + le(0, 3) + result_set(1));
  c.close();
  CHECK(any_record(c.sink.records, {{"query", "SELECT 1"}, {"rows", 1}}));
}

TEST_CASE("picked up mid-stream one byte at a time: the same boundaries as in one piece") {
  Conversation c({}, true);
  for (const char ch : std::string("tail of a row") + ok(3)) c.server(std::string(1, ch));
  for (const char ch : query("SELECT 9")) c.client(std::string(1, ch));
  c.server(result_set(4));
  c.close();
  // The server's side resumes after the OK that ends the answer in flight: 13 + 11 bytes.
  CHECK(any_record(c.sink.records, {{"direction", "<-"}, {"skipped_bytes", 24}}));
  CHECK(any_record(c.sink.records, {{"query", "SELECT 9"}, {"rows", 4}}));
}

TEST_CASE("the connection ends inside a packet: said in a decode_error, not dropped") {
  Conversation c;
  login(c);
  c.client(query("SELECT 'cut short'").substr(0, 10));
  c.server("\x07\x00"_b);
  c.close();
  // The header, then 6 of the 19 bytes of the payload (COM_QUERY and its text).
  CHECK(any_record(c.sink.records,
                   {{"decode_error", "the connection ended 6 bytes into a payload: not decoded"}}));
  CHECK(any_record(
      c.sink.records,
      {{"decode_error", "the connection ended inside a packet header (2 bytes of it seen)"}}));
}

TEST_CASE("the connection ends while looking for a boundary: the bytes skipped are counted") {
  Conversation c({}, true);
  c.client("no packet starts anywhere in this text"_b);
  c.close();
  REQUIRE(c.sink.records.size() == 1);
  CHECK(c.sink.records[0]["skipped_bytes"] == 38);
  CHECK(c.sink.records[0]["decode_error"] ==
        "bytes skipped: the connection ended before a packet boundary was found");
}
