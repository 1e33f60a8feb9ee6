// Protocol 3.2 (PostgreSQL 18) in the pg decoder: a startup packet asking for a newer minor
// version, NegotiateProtocolVersion, and secret keys of 4 to 256 bytes in BackendKeyData and
// CancelRequest. No PostgreSQL 18 server was at hand: each message is written by hand from the
// PostgreSQL 18 manual, chapter "Frontend/Backend Protocol", section "Message Formats"
// (protocol-message-formats.html); the entry each one follows is named where it is built.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "../conversation.h"
#include "dumpers/pg/pg_dumper.h"
#include "pg_test_messages.h"

using namespace tcpdp;

namespace {

using namespace test::pg_messages;
using test::has;
using test::Value;

constexpr int32_t kProtocol32 = 3 << 16 | 2;  // 196610
constexpr int32_t kProtocol30 = 3 << 16;      // 196608

// A key of 32 bytes, the length a PostgreSQL 18 server sends under 3.2. Printable, so that it
// would show as itself in a record; shows_key() also looks for it as hex and as a 3.0 key.
constexpr std::string_view kKeyText = "k3y-of-32-bytes-SECRET-NOT-LOGGD";
static_assert(kKeyText.size() == 32);
const Bytes kKey(kKeyText);

bool shows_key(const std::string& out, const Bytes& key) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char b : key.substr(0, 8)) hex += {kHex[b >> 4], kHex[b & 15]};
  const uint32_t first4 = static_cast<uint8_t>(key[0]) << 24 | static_cast<uint8_t>(key[1]) << 16 |
                          static_cast<uint8_t>(key[2]) << 8 | static_cast<uint8_t>(key[3]);
  return has(out, key.substr(0, 8)) || has(out, hex) || has(out, std::to_string(first4)) ||
         has(out, std::to_string(static_cast<int32_t>(first4)));
}

// "NegotiateProtocolVersion (B)": Byte1('v'), Int32 length, Int32 the newest version the server
// supports for the major version asked for, Int32 the number of protocol options it did not
// recognise, then each such option's name as a String.
Bytes negotiate(int32_t version, const std::vector<std::string>& unrecognized) {
  Bytes body = i32(version) + i32(static_cast<int64_t>(unrecognized.size()));
  for (const auto& option : unrecognized) body += cstr(option);
  return msg('v', body);
}

// "BackendKeyData (B)": Byte1('K'), Int32 length, Int32 the backend's process ID, Byte(n) the
// secret key, to the end of the message (4 to 256 bytes; 3.0 keys are 4).
Bytes backend_key(int32_t pid, const Bytes& key) { return msg('K', i32(pid) + key); }

// "CancelRequest (F)": Int32 length (12 + the key's length), Int32(80877102), Int32 the process
// ID, Byte(n) the secret key. No type byte: it takes a startup packet's place.
Bytes cancel_request(int32_t pid, const Bytes& key) {
  return i32(12 + static_cast<int64_t>(key.size())) + i32(80877102) + i32(pid) + key;
}

// "ParameterStatus (B)": Byte1('S'), Int32 length, String name, String value.
Bytes parameter_status(const std::string& name, const std::string& value) {
  return msg('S', cstr(name) + cstr(value));
}

// "RowDescription (B)" with one text column: Int16 field count; per field String name, Int32
// table OID, Int16 column number, Int32 type OID (23, int4), Int16 size, Int32 modifier, Int16
// format.
Bytes row_description(const std::string& column) {
  return msg('T', i16(1) + cstr(column) + i32(0) + i16(0) + i32(23) + i16(4) + i32(-1) + i16(0));
}

struct Conversation : test::Conversation<PgDumper, PgOptions> {
  Conversation() : test::Conversation<PgDumper, PgOptions>(5432, PgOptions{}, false) {}
};

// Whether some record of the conversation holds v under key / has key / holds under key a
// string containing piece.
bool any_record(const Conversation& c, std::string_view key, const Value& v) {
  return std::any_of(c.sink.records.begin(), c.sink.records.end(),
                     [&](const Value& r) { return r[key] == v; });
}
bool any_record_has(const Conversation& c, std::string_view key) {
  return std::any_of(c.sink.records.begin(), c.sink.records.end(),
                     [&](const Value& r) { return r.has(key); });
}
bool any_record_contains(const Conversation& c, std::string_view key, std::string_view piece) {
  return std::any_of(c.sink.records.begin(), c.sink.records.end(),
                     [&](const Value& r) { return r[key].contains(piece); });
}

// One side's bytes in two pieces cut at `split` (the first possibly empty), so that every
// message is cut at every byte as split runs over the longest piece.
void send(Conversation& c, Direction dir, const Bytes& bytes, size_t split) {
  const size_t cut = std::min(split, bytes.size());
  c.feed(dir, bytes.substr(0, cut));
  c.feed(dir, bytes.substr(cut));
}

// A libpq-like 3.2 client with two `_pq_.` options a PostgreSQL 18 server does not know.
const Bytes kStartup32 = startup({{"user", "alice"},
                                  {"database", "shop"},
                                  {"_pq_.compression", "on"},
                                  {"_pq_.command_tag_format", "verbose"}},
                                 kProtocol32);
// The server: 3.0 only (as if it were PostgreSQL 17), the options refused, then the usual.
const Bytes kHandshake = negotiate(kProtocol30, {"_pq_.compression", "_pq_.command_tag_format"}) +
                         auth_ok() + parameter_status("server_version", "18.0") +
                         backend_key(4242, kKey) + ready();
const Bytes kQuery = msg('Q', cstr("SELECT 1 AS one"));
const Bytes kAnswer = row_description("one") + data_row({"1"}) + complete("SELECT 1") + ready();

std::string handshake_and_query(Conversation& c, size_t split) {
  send(c, Direction::kClientToServer, kStartup32, split);
  send(c, Direction::kServerToClient, kHandshake, split);
  send(c, Direction::kClientToServer, kQuery, split);
  send(c, Direction::kServerToClient, kAnswer, split);
  c.close();
  return without_timing(c.sink.all());
}

}  // namespace

TEST_CASE("protocol 3.2: startup, NegotiateProtocolVersion, a 32-byte key, then a query") {
  Conversation c;
  c.client(kStartup32);
  c.server(kHandshake);
  c.client(kQuery);
  c.server(kAnswer);
  c.close();
  REQUIRE(c.sink.records.size() == 2);
  const Value& s = c.sink.records[0];
  CHECK(s["message_type"] == "StartupMessage");
  CHECK(s["protocol_version"] == "3.2");
  CHECK(s["parameters"]["_pq_.compression"] == "on");
  CHECK(s["parameters"]["_pq_.command_tag_format"] == "verbose");
  CHECK(s["negotiated_protocol_version"] == "3.0");
  CHECK(s["unrecognized_options"] == Value::array({"_pq_.compression", "_pq_.command_tag_format"}));
  CHECK(s["auth_method"] == "none");
  CHECK(s["server_version"] == "18.0");
  CHECK(s["backend_pid"] == 4242);
  const Value& q = c.sink.records[1];
  CHECK(q["message_type"] == "Q");
  CHECK(q["query"] == "SELECT 1 AS one");
  CHECK(q["rows"] == 1);
  CHECK(q["command_tag"] == "SELECT 1");
  CHECK(q["transaction_status"] == "idle");
  CHECK_FALSE(any_record_has(c, "decode_error"));
  CHECK_FALSE(shows_key(c.sink.all(), kKey));
}

TEST_CASE("protocol 3.2 handshake: every message cut at every byte gives the same records") {
  Conversation w;
  const std::string whole = handshake_and_query(w, 0);
  REQUIRE(any_record(w, "unrecognized_options",
                     Value::array({"_pq_.compression", "_pq_.command_tag_format"})));
  REQUIRE(any_record(w, "command_tag", "SELECT 1"));
  const size_t longest = std::max({kStartup32.size(), kHandshake.size(), kAnswer.size()});
  for (size_t split = 1; split <= longest; ++split) {
    Conversation c;
    const std::string out = handshake_and_query(c, split);
    REQUIRE_MESSAGE(out == whole, "split at " << split);
    REQUIRE_MESSAGE(!shows_key(out, kKey), "split at " << split);
  }
}

TEST_CASE("protocol 3.2 CancelRequest: a 32-byte key, the pid logged, the key never") {
  const Bytes cancel = cancel_request(777, kKey);
  REQUIRE(cancel.size() == 44);
  for (size_t split = 0; split <= cancel.size(); ++split) {
    Conversation c;
    send(c, Direction::kClientToServer, cancel, split);
    c.close();
    REQUIRE_MESSAGE(c.sink.records.size() == 1, "split at " << split);
    const Value& r = c.sink.records[0];
    CHECK_MESSAGE(r["message_type"] == "CancelRequest", "split at " << split);
    CHECK_MESSAGE(r["backend_pid"] == 777, "split at " << split);
    CHECK_MESSAGE(!r.has("decode_error"), "split at " << split);
    CHECK_MESSAGE(!shows_key(c.sink.all(), kKey), "split at " << split);
  }
}

TEST_CASE("BackendKeyData: keys of 4 to 256 bytes are read, shorter or longer ones are not") {
  auto session = [](Conversation& c, size_t key_length) {
    c.client(startup({{"user", "u"}}, kProtocol32));
    c.server(auth_ok() + backend_key(99, Bytes(key_length, 'z')) + ready());
    c.client(kQuery);
    c.server(kAnswer);
    c.close();
    return c.sink.all();
  };
  for (size_t length : {size_t{4}, size_t{32}, size_t{256}}) {
    Conversation c;
    const std::string out = session(c, length);
    CHECK_MESSAGE(any_record(c, "backend_pid", 99), "key of " << length);
    CHECK_MESSAGE(any_record(c, "command_tag", "SELECT 1"), "key of " << length);
    CHECK_MESSAGE(!any_record_has(c, "decode_error"), "key of " << length);
    CHECK_MESSAGE(!has(out, "zzzz"), "key of " << length);
  }
  for (size_t length : {size_t{3}, size_t{257}}) {
    Conversation c;
    session(c, length);
    CHECK_MESSAGE(any_record_contains(c, "decode_error", "malformed server message 'K'"),
                  "key of " << length);
  }
}

TEST_CASE("NegotiateProtocolVersion: a newer minor refused, no options; a bare minor number") {
  // A client asking for 3.3 from a 3.2 server. The manual calls the field "newest minor protocol
  // version"; servers send the whole version (major << 16 | minor), and either reads as 3.2.
  for (int32_t version : {kProtocol32, 2}) {
    Conversation c;
    c.client(startup({{"user", "u"}}, 3 << 16 | 3));
    c.server(negotiate(version, {}) + auth_ok() + ready());
    c.close();
    REQUIRE(c.sink.records.size() == 1);
    const Value& s = c.sink.records[0];
    CHECK(s["protocol_version"] == "3.3");
    CHECK(s["negotiated_protocol_version"] == "3.2");
    CHECK(s["unrecognized_options"] == Value::array({}));
    CHECK(s["auth_method"] == "none");
  }
}

TEST_CASE("a NegotiateProtocolVersion that does not parse is reported, not taken in") {
  Conversation c;
  c.client(startup({{"user", "u"}}, kProtocol32));
  c.server(msg('v', i32(kProtocol30) + i32(3) + cstr("_pq_.a") + cstr("_pq_.b")) + auth_ok() +
           ready());
  c.close();
  CHECK(any_record_contains(c, "decode_error", "malformed server message 'v'"));
  CHECK_FALSE(any_record_has(c, "negotiated_protocol_version"));
}
