#include "dumpers/pg/pg_dumper.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "../conversation.h"
#include "pg_test_messages.h"

using namespace tcpdp;

namespace {

using namespace test::pg_messages;

Bytes error(const std::string& code, const std::string& message) {
  return msg('E', "SERROR" + std::string(1, '\0') + "VERROR" + std::string(1, '\0') + "C" +
                      cstr(code) + "M" + cstr(message) + std::string(1, '\0'));
}
Bytes parse(const std::string& name, const std::string& query, const std::vector<int>& types = {}) {
  Bytes body = cstr(name) + cstr(query) + i16(static_cast<int>(types.size()));
  for (int t : types) body += i32(t);
  return msg('P', body);
}
struct Param {
  bool null = false;
  Bytes value;
};
Bytes bind(const std::string& portal, const std::string& stmt, const std::vector<int>& formats,
           const std::vector<Param>& params) {
  Bytes body = cstr(portal) + cstr(stmt) + i16(static_cast<int>(formats.size()));
  for (int f : formats) body += i16(f);
  body += i16(static_cast<int>(params.size()));
  for (const auto& p : params) body += p.null ? i32(-1) : i32(p.value.size()) + p.value;
  body += i16(0);
  return msg('B', body);
}
Bytes execute(const std::string& portal) { return msg('E', cstr(portal) + i32(0)); }
Bytes sync_msg() { return msg('S', ""); }

struct Conversation : test::Conversation<PgDumper, PgOptions> {
  explicit Conversation(PgOptions o = {}, bool mid_stream = false)
      : test::Conversation<PgDumper, PgOptions>(5432, o, mid_stream) {}
};

using test::has;
using test::Value;

// Whether some record of the conversation satisfies pred / holds v under key.
template <typename Pred>
bool any_record(const Conversation& c, Pred pred) {
  return std::any_of(c.sink.records.begin(), c.sink.records.end(), pred);
}
bool any_record(const Conversation& c, std::string_view key, const Value& v) {
  return any_record(c, [&](const Value& r) { return r[key] == v; });
}
bool any_record_has(const Conversation& c, std::string_view key) {
  return any_record(c, [&](const Value& r) { return r.has(key); });
}
bool any_record_contains(const Conversation& c, std::string_view key, std::string_view piece) {
  return any_record(c, [&](const Value& r) { return r[key].contains(piece); });
}

void login(Conversation& c) {
  c.client(startup({{"user", "alice"}, {"database", "shop"}, {"application_name", "app"}}));
  c.server(auth_ok() + msg('S', cstr("server_version") + cstr("15.4")) +
           msg('K', i32(4242) + i32(99)) + ready());
}

}  // namespace

TEST_CASE("startup: user, database and application_name, then attached to every record") {
  Conversation c;
  login(c);
  c.client(msg('Q', cstr("SELECT 1")));
  c.server(data_row({"1"}) + complete("SELECT 1") + ready());
  REQUIRE(c.sink.records.size() == 2);
  const test::Value& s = c.sink.records[0];
  CHECK(s["message_type"] == "StartupMessage");
  CHECK(
      s["parameters"] ==
      test::Value::object({{"user", "alice"}, {"database", "shop"}, {"application_name", "app"}}));
  CHECK(s["auth_method"] == "none");
  CHECK(s["server_version"] == "15.4");
  CHECK(s["backend_pid"] == 4242);
  const test::Value& q = c.sink.records[1];
  CHECK(q["username"] == "alice");
  CHECK(q["database"] == "shop");
  CHECK(q["application_name"] == "app");
}

TEST_CASE("simple query with its outcome: rows, tag, status, duration") {
  Conversation c;
  login(c);
  c.client(msg('Q', cstr("SELECT * FROM t")));
  c.server(msg('T', i16(0)) + data_row({"a"}) + data_row({"b"}) + complete("SELECT 2") +
           ready('T'));
  const Value& q = c.sink.records.back();
  CHECK(q["message_type"] == "Q");
  CHECK(q["query"] == "SELECT * FROM t");
  CHECK(q["rows"] == 2);
  CHECK(q["command_tag"] == "SELECT 2");
  CHECK(q["transaction_status"] == "in_transaction");
  CHECK(q["duration"] == Value::duration_usec(100));  // the answer came in the next chunk
}

TEST_CASE("a query's record waits for its answer unless pairing is off") {
  Conversation c;
  login(c);
  c.client(msg('Q', cstr("SELECT 1")));
  CHECK(c.sink.records.size() == 1);
  PgOptions o;
  o.pair_responses = false;
  Conversation d(o);
  login(d);
  d.client(msg('Q', cstr("SELECT 1")));
  REQUIRE(d.sink.records.size() == 2);
  CHECK_FALSE(d.sink.records[1].has("duration"));
}

TEST_CASE("errors carry severity, SQLSTATE and message") {
  Conversation c;
  login(c);
  c.client(msg('Q', cstr("SELECT * FROM nope")));
  c.server(error("42P01", "relation \"nope\" does not exist") + ready());
  const Value& r = c.sink.records.back();
  CHECK(r["error_severity"] == "ERROR");
  CHECK(r["sql_state"] == "42P01");
  CHECK(r["error_message"] == "relation \"nope\" does not exist");
}

TEST_CASE("the same bytes split at every point give the same records") {
  const Bytes client_bytes = startup({{"user", "u"}}) + msg('Q', cstr("SELECT 'x'")) +
                             parse("s1", "SELECT $1::int4", {23}) +
                             bind("", "s1", {1}, {{false, i32(7)}}) + execute("") + sync_msg();
  const Bytes server_bytes = auth_ok() + ready() + data_row({"x"}) + complete("SELECT 1") +
                             ready() + msg('1', "") + msg('2', "") + data_row({"7"}) +
                             complete("SELECT 1") + ready();
  auto run = [&](Conversation& c, size_t split) {
    // client: startup then split rest; server answers in order
    c.client(client_bytes.substr(0, 0));
    const size_t startup_len = startup({{"user", "u"}}).size();
    c.client(client_bytes.substr(0, startup_len));
    c.server(server_bytes.substr(0, auth_ok().size() + ready().size()));
    const Bytes rest = client_bytes.substr(startup_len);
    c.client(rest.substr(0, std::min(split, rest.size())));
    if (split < rest.size()) c.client(rest.substr(split));
    c.server(server_bytes.substr(auth_ok().size() + ready().size()));
    c.close();
    return without_timing(c.sink.all());
  };
  Conversation w;
  const std::string whole = run(w, client_bytes.size());
  CHECK(any_record(w, "bind_values", Value::array({"7"})));
  CHECK(any_record(w, "execute_query", "SELECT $1::int4"));
  for (size_t split = 0; split <= client_bytes.size(); ++split) {
    Conversation c;
    REQUIRE_MESSAGE(run(c, split) == whole, "split at " << split);
  }
}

TEST_CASE("extended protocol: named statement, binary and text values, NULL in place") {
  Conversation c;
  login(c);
  c.client(parse("st", "SELECT $1, $2, $3", {20, 25, 16}) +
           bind("p1", "st", {1, 0, 1},
                {{false, i32(0) + i32(42)}, {true, ""}, {false, std::string(1, '\1')}}) +
           execute("p1") + sync_msg());
  c.server(msg('1', "") + msg('2', "") + data_row({"42", "", "t"}) + complete("SELECT 1") +
           ready());
  REQUIRE(c.sink.records.size() == 5);
  const Value& p = c.sink.records[1];
  CHECK(p["stmt_name"] == "st");
  CHECK(p["parse_query"] == "SELECT $1, $2, $3");
  CHECK(p["param_types"] == Value::array({20, 25, 16}));
  const Value& b = c.sink.records[2];
  CHECK(b["portal_name"] == "p1");
  CHECK(b["stmt_name"] == "st");
  CHECK(b["bind_values"] == Value::array({"42", nullptr, "t"}));
  CHECK(c.sink.records[3]["execute_query"] == "SELECT $1, $2, $3");
  CHECK(c.sink.records[3]["rows"] == 1);
  CHECK(c.sink.records[4]["message_type"] == "S");
}

// Bind values whose bytes are not text (a text-format value of invalid UTF-8, a binary text
// value of invalid UTF-8, a text value that begins with \x) keep every byte in the hex form of
// dumpers/value_text.h; bytea in binary format is that form already.
TEST_CASE("bind values that are not text are written as \\x hex, losing no byte") {
  Conversation c;
  login(c);
  c.client(parse("", "SELECT $1, $2, $3, $4, $5", {0, 25, 0, 17, 25}) +
           bind("", "", {0, 1, 0, 1, 1},
                {{false, "ok\xff"},
                 {false, "\xc3\x28"},
                 {false, "\\xab"},
                 {false, std::string("\0\xff", 2)},
                 {false, "caf\xc3\xa9"}}) +
           execute("") + sync_msg());
  c.close();
  // The record holds each hex form as written, one backslash before the x.
  CHECK(
      any_record(c, "bind_values",
                 Value::array({"\\x6f6bff", "\\xc328", "\\x5c786162", "\\x00ff", "caf\xc3\xa9"})));
}

TEST_CASE("one format code applies to every parameter") {
  Conversation c;
  login(c);
  c.client(parse("", "SELECT $1, $2", {23, 23}) +
           bind("", "", {1}, {{false, i32(-1)}, {false, i32(5)}}) + execute("") + sync_msg());
  c.close();
  CHECK(any_record(c, "bind_values", Value::array({"-1", "5"})));
}

TEST_CASE("types learned from ParameterDescription decode later binary binds") {
  Conversation c;
  login(c);
  c.client(parse("q", "SELECT $1 + 1") + msg('D', "S" + cstr("q")) + sync_msg());
  c.server(msg('1', "") + msg('t', i16(1) + i32(23)) + msg('T', i16(0)) + ready());
  c.client(bind("", "q", {1}, {{false, i32(9)}}) + execute("") + sync_msg());
  c.server(msg('2', "") + data_row({"10"}) + complete("SELECT 1") + ready());
  CHECK(any_record(c, "bind_values", Value::array({"9"})));
}

TEST_CASE("past max_statements the statement used longest ago is forgotten, not another") {
  // Whichever of the first two statements was bound last is kept.
  for (const std::string used : {"s1", "s2"}) {
    PgOptions o;
    o.max_statements = 2;
    Conversation c(o);
    login(c);
    c.client(parse("s1", "SELECT 1") + parse("s2", "SELECT 2") + sync_msg());
    c.server(msg('1', "") + msg('1', "") + ready());
    const auto run = [&](const std::string& stmt) {
      c.client(bind("", stmt, {}, {}) + execute("") + sync_msg());
      c.server(msg('2', "") + complete("SELECT 1") + ready());
    };
    run(used);
    c.client(parse("s3", "SELECT 3") + sync_msg());
    c.server(msg('1', "") + ready());
    run(used);
    REQUIRE(c.sink.records.size() >= 2);
    CHECK(c.sink.records[c.sink.records.size() - 2]["execute_query"] == "SELECT " + used.substr(1));
    run(used == "s1" ? "s2" : "s1");
    CHECK_FALSE(c.sink.records[c.sink.records.size() - 2].has("execute_query"));
  }
}

TEST_CASE("an ErrorResponse that answers nothing is a record of its own, not an Execute") {
  Conversation c;
  login(c);
  c.server(error("57P01", "terminating connection due to administrator command"));
  REQUIRE(c.sink.records.size() == 2);
  const Value& r = c.sink.records[1];
  CHECK(r["event"] == "pg");
  CHECK(r["direction"] == "<-");
  CHECK(r["message_type"] == "ErrorResponse");
  CHECK(r["sql_state"] == "57P01");
}

TEST_CASE("a ParameterDescription whose count its body cannot hold leaves the types as they were") {
  for (const Bytes& count : {i16(-1), i16(30000) + i32(25)}) {
    Conversation c;
    login(c);
    c.client(parse("q", "SELECT $1 + 1", {23}) + msg('D', "S" + cstr("q")) + sync_msg());
    c.server(msg('1', "") + msg('t', count) + msg('T', i16(0)) + ready());
    c.client(bind("", "q", {1}, {{false, i32(9)}}) + execute("") + sync_msg());
    c.server(msg('2', "") + data_row({"10"}) + complete("SELECT 1") + ready());
    CHECK(any_record(c, "bind_values", Value::array({"9"})));
  }
}

TEST_CASE("after an error the server skips to Sync; those requests say so") {
  Conversation c;
  login(c);
  c.client(parse("", "SELEC 1") + bind("", "", {}, {}) + execute("") + sync_msg());
  c.server(error("42601", "syntax error") + ready());
  REQUIRE(c.sink.records.size() == 5);
  CHECK(c.sink.records[1]["sql_state"] == "42601");
  CHECK(c.sink.records[2]["skipped"] == true);
  CHECK(c.sink.records[3]["skipped"] == true);
  CHECK_FALSE(c.sink.records[4].has("skipped"));
}

TEST_CASE("COPY FROM STDIN: data counted, not dumped, rows from the tag") {
  Conversation c;
  login(c);
  c.client(msg('Q', cstr("COPY t FROM STDIN")));
  c.server(msg('G', std::string(1, '\0') + i16(0)));
  c.client(msg('d', "1\tsecret-a\n") + msg('d', "2\tsecret-b\n") + msg('c', ""));
  c.server(complete("COPY 2") + ready());
  const Value& q = c.sink.records.back();
  CHECK(q["rows"] == 2);
  CHECK(q["command_tag"] == "COPY 2");
  CHECK(q["copy_messages"] == 2);
  CHECK(q["copy_bytes"] == 22);
  CHECK_FALSE(has(c.sink.all(), "secret"));
}

TEST_CASE("passwords are never written, the method is") {
  Conversation c;
  c.client(startup({{"user", "u"}}));
  c.server(msg('R', i32(5) + "salt"));
  c.client(msg('p', cstr("md5hunter2hash")));
  c.server(auth_ok() + ready());
  CHECK(any_record(
      c, [](const Value& r) { return r["message_type"] == "p" && r["auth_method"] == "md5"; }));
  REQUIRE_FALSE(c.sink.records.empty());
  CHECK(c.sink.records[0]["auth_method"] == "md5");
  CHECK_FALSE(has(c.sink.all(), "hunter2"));
}

TEST_CASE("SCRAM: the mechanism is logged, the client's data is not") {
  Conversation c;
  c.client(startup({{"user", "u"}}));
  c.server(msg('R', i32(10) + cstr("SCRAM-SHA-256") + std::string(1, '\0')));
  c.client(msg('p', cstr("SCRAM-SHA-256") + i32(20) + "n,,n=,r=nonce-secret"));
  c.close();
  CHECK(any_record(c, "sasl_mechanism", "SCRAM-SHA-256"));
  CHECK_FALSE(has(c.sink.all(), "nonce-secret"));
}

TEST_CASE("SSLRequest answered N: plaintext goes on") {
  Conversation c;
  c.client(i32(8) + i32(80877103));
  c.server("N");
  login(c);
  c.client(msg('Q', cstr("SELECT 2")));
  c.server(complete("SELECT 1") + ready());
  REQUIRE_FALSE(c.sink.records.empty());
  CHECK(c.sink.records[0]["message_type"] == "SSLRequest");
  CHECK(c.sink.records[0]["ssl_response"] == "N");
  CHECK(any_record(c, "query", "SELECT 2"));
}

TEST_CASE("SSLRequest answered S: its record, the encrypted notice, then silence") {
  Conversation c;
  c.client(i32(8) + i32(80877103));
  c.server("S");
  c.client("\x16\x03\x01\x02\x00random tls bytes Q\0\0\0\x05x");
  c.server("\x16\x03\x03 more tls");
  c.close();
  REQUIRE(c.sink.records.size() == 2);
  const Value& s = c.sink.records[0];
  CHECK(s["message_type"] == "SSLRequest");
  CHECK(s["ssl_response"] == "S");
  CHECK_FALSE(s.has("decode_error"));
  const Value& e = c.sink.records[1];
  CHECK(e["event"] == "encrypted");
  CHECK(e["direction"] == "<-");
  CHECK(e["protocol"] == "pg");
  CHECK(e["negotiation"] == "SSLRequest");
  CHECK(e["encryption"] == "tls");
}

TEST_CASE("CancelRequest: the backend pid, never the secret key, then nothing more") {
  Conversation c;
  c.client(i32(16) + i32(80877102) + i32(777) + i32(123456789));
  c.close();
  REQUIRE(c.sink.records.size() == 1);
  CHECK(c.sink.records[0]["message_type"] == "CancelRequest");
  CHECK(c.sink.records[0]["backend_pid"] == 777);
  CHECK_FALSE(has(c.sink.lines[0], "123456789"));
}

TEST_CASE("GSSENCRequest answered G: the notice says GSSAPI; unpaired, the notice alone answers") {
  for (const bool paired : {true, false}) {
    PgOptions o;
    o.pair_responses = paired;
    Conversation c(o);
    c.client(i32(8) + i32(80877104));
    c.server("G");
    c.client("gss wrapped bytes Q\0\0\0\x05x");
    c.close();
    REQUIRE(c.sink.records.size() == 2);
    CHECK(c.sink.records[0]["message_type"] == "GSSENCRequest");
    CHECK((c.sink.records[0]["ssl_response"] == "G") == paired);
    CHECK(c.sink.records[1]["negotiation"] == "GSSENCRequest");
    CHECK(c.sink.records[1]["encryption"] == "gssapi");
  }
}

TEST_CASE("GSSENCRequest refused with N, then a plain startup") {
  Conversation c;
  c.client(i32(8) + i32(80877104));
  c.server("N");
  login(c);
  c.close();
  REQUIRE(c.sink.records.size() >= 2);
  CHECK(c.sink.records[0]["message_type"] == "GSSENCRequest");
  CHECK(c.sink.records[0]["ssl_response"] == "N");
  CHECK(c.sink.records[1]["message_type"] == "StartupMessage");
}

TEST_CASE("a TLS ClientHello instead of a startup packet: the encrypted notice, then silence") {
  Conversation c;
  c.client(std::string("\x16\x03\x01\x00\x50", 5) + std::string(80, 'r'));
  c.server(std::string("\x16\x03\x03\x00\x10", 5) + std::string(16, 's'));
  c.close();
  REQUIRE(c.sink.records.size() == 1);
  const Value& e = c.sink.records[0];
  CHECK(e["event"] == "encrypted");
  CHECK(e["direction"] == "->");
  CHECK(e["protocol"] == "pg");
  CHECK(e["negotiation"] == "direct");
  CHECK(e["encryption"] == "tls");
}

TEST_CASE("an error with nothing waiting (a FATAL) is a server-side record") {
  Conversation c;
  login(c);
  c.server(error("57P01", "terminating connection due to administrator command"));
  REQUIRE(c.sink.records.size() == 2);
  CHECK(c.sink.records[1]["direction"] == "<-");
  CHECK(c.sink.records[1]["sql_state"] == "57P01");
}

TEST_CASE("a gap mid-message: no record from misaligned bytes, decoding resumes at a boundary") {
  Conversation c;
  login(c);
  const Bytes q1 = msg('Q', cstr("SELECT 'lost in the gap'"));
  c.client(q1.substr(0, 7));
  c.decoder->on_gap(Direction::kClientToServer, Timestamp{c.clock}, 10);
  c.client(q1.substr(17) + msg('Q', cstr("SELECT 'after'")) + msg('Q', cstr("SELECT 'again'")));
  c.close();
  CHECK_FALSE(has(c.sink.all(), "lost in the gap"));
  CHECK(any_record(c, "query", "SELECT 'after'"));
  CHECK(any_record(c, "query", "SELECT 'again'"));
  CHECK(any_record_has(c, "skipped_bytes"));
}

TEST_CASE(
    "picked up mid-stream: starts at the first plausible message, pairs after ReadyForQuery") {
  Conversation c({}, true);
  c.client(std::string("ELECT 'tail of an old query'\0", 28) + msg('Q', cstr("SELECT 3")) +
           msg('Q', cstr("SELECT 4")));
  c.server(complete("SELECT 1") + ready() + complete("SELECT 1") + ready());
  c.client(msg('Q', cstr("SELECT 5")));
  c.server(complete("SELECT 1") + ready());
  CHECK_FALSE(has(c.sink.all(), "tail of an old query"));
  CHECK(any_record(c, "query", "SELECT 3"));
  REQUIRE_FALSE(c.sink.records.empty());
  CHECK(c.sink.records.back()["query"] == "SELECT 5");
  CHECK(c.sink.records.back()["command_tag"] == "SELECT 1");
}

TEST_CASE("corrupt length and unknown type: a bounded error, then the next good message") {
  Conversation c;
  login(c);
  c.client(std::string("Q\0\0\0\x02", 5) + msg('Q', cstr("SELECT 'ok'")) +
           msg('Q', cstr("SELECT 'ok2'")));
  c.client(std::string("\x01garbage") + msg('Q', cstr("SELECT 'ok3'")) + sync_msg());
  c.close();
  CHECK(any_record_contains(c, "decode_error", "impossible length 2"));
  CHECK(any_record(c, "query", "SELECT 'ok2'"));
  CHECK(any_record_contains(c, "decode_error", "unknown message type 0x01"));
  CHECK(any_record(c, "query", "SELECT 'ok3'"));
}

TEST_CASE("a message over the size limit is reported and skipped, in sync") {
  // The startup packet (51 bytes) is under the limit; the Query is 1 + 4 + 101 bytes, its
  // length field saying 105.
  PgOptions o;
  o.max_message = 80;
  Conversation c(o);
  login(c);
  const size_t before = c.sink.records.size();
  c.client(msg('Q', cstr(std::string(100, 'x'))) + msg('Q', cstr("SELECT 'next'")));
  c.server(complete("SELECT 1") + ready() + complete("SELECT 1") + ready());
  c.close();
  int errors = 0;
  for (const test::Value& r : c.sink.records) errors += r.has("decode_error");
  CHECK(errors == 1);
  REQUIRE(c.sink.records.size() > before);
  CHECK(any_record_contains(c, "decode_error", "over the limit of 80 bytes"));
  CHECK(any_record_contains(c, "decode_error", "'Q'"));
  CHECK(any_record(c, "query", "SELECT 'next'"));
  CHECK_FALSE(has(c.sink.all(), "xxxxxxxx"));
}

TEST_CASE("random bytes in both directions never crash and never loop") {
  std::mt19937 rng(12345);
  for (int round = 0; round < 300; ++round) {
    Conversation c({}, round % 2 == 0);
    for (int i = 0; i < 20; ++i) {
      Bytes b(rng() % 200, '\0');
      for (char& ch : b) ch = static_cast<char>(rng() % 4 == 0 ? "QPBESZCDT"[rng() % 9] : rng());
      if (rng() % 3 == 0)
        c.client(b);
      else
        c.server(b);
      if (rng() % 10 == 0) c.decoder->on_gap(Direction::kClientToServer, Timestamp{c.clock}, 5);
    }
    c.close();
  }
  CHECK(true);
}

TEST_CASE("a gap, then the rest one byte at a time: the same boundary as in one piece") {
  Conversation c;
  login(c);
  c.client(msg('Q', cstr("SELECT 'lost'")).substr(0, 7));
  c.decoder->on_gap(Direction::kClientToServer, Timestamp{c.clock}, 10);
  const Bytes rest = std::string("ost'\0", 5) + msg('Q', cstr("SELECT 'after'")) + sync_msg();
  for (const char ch : rest) c.client(std::string(1, ch));
  c.close();
  CHECK(any_record(c, "skipped_bytes", 5));
  CHECK(any_record(c, "query", "SELECT 'after'"));
}

TEST_CASE("the connection ends inside a message: said in a decode_error, not dropped") {
  Conversation c;
  login(c);
  c.client(msg('Q', cstr("SELECT 'cut short'")).substr(0, 12));
  c.server(std::string("Z\0\0", 3));
  c.close();
  // 'Q', its length (4 + 19), then 7 of the 19 bytes of its body: said of the client's side.
  CHECK(any_record(c, [](const Value& r) {
    return r["direction"] == "->" &&
           r["decode_error"] ==
               "the connection ended 7 bytes into message 'Q' of 19 bytes: not "
               "decoded";
  }));
  CHECK(any_record(c, "decode_error",
                   "the connection ended inside a message header (3 bytes of it seen)"));
}

TEST_CASE("the connection ends while looking for a boundary: the bytes skipped are counted") {
  Conversation c({}, true);
  c.client("no message starts anywhere in this text");
  c.close();
  REQUIRE(c.sink.records.size() == 1);
  CHECK(c.sink.records[0]["skipped_bytes"] == 39);
  CHECK(c.sink.records[0]["decode_error"].contains(
      "the connection ended before a message boundary was found"));
}
