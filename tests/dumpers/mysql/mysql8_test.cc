// MySQL 8 and MariaDB additions to the client/server protocol: query attributes (COM_QUERY and
// COM_STMT_EXECUTE), authentication exchanges after the first packet (auth switch, AuthMoreData)
// at login, after COM_RESET_CONNECTION and COM_CHANGE_USER, long data under a NULL bit, and the
// X Protocol on the classic port's decoder. Every packet is built from the byte layouts of the
// documentation cited above each case, every conversation is also fed split at every byte, and
// no authentication secret may reach a record.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "../conversation.h"
#include "dumpers/mysql/mysql_dumper.h"
#include "mysql_test_packets.h"

using namespace tcpdp;

namespace {

using namespace tcpdp::mysql_test;  // packet builders
// `text` repeated and cut to exactly n bytes: recognisable filler for secrets.
Bytes fill(const std::string& text, size_t n) {
  Bytes b;
  while (b.size() < n) b += text;
  return b.substr(0, n);
}
std::string hex(const Bytes& b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : b) {
    out += kHex[c >> 4];
    out += kHex[c & 15];
  }
  return out;
}

// Capability flags (page_protocol_basic_capabilities / mysql_com.h).
constexpr uint32_t kLongPassword = 1, kConnectWithDb = 0x8, kProtocol41 = 0x200,
                   kTransactions = 0x2000, kSecureConnection = 0x8000, kMultiStatements = 0x10000,
                   kMultiResults = 0x20000, kPluginAuth = 0x80000, kLenencAuthData = 0x200000,
                   kDeprecateEof = 0x1000000, kQueryAttributes = 0x8000000;
// What a MySQL 8.0 server and libmysqlclient 8.0 both announce.
constexpr uint32_t kMysql8 = kLongPassword | kConnectWithDb | kProtocol41 | kTransactions |
                             kSecureConnection | kMultiStatements | kMultiResults | kPluginAuth |
                             kLenencAuthData | kDeprecateEof | kQueryAttributes;
// A MariaDB server (no CLIENT_LONG_PASSWORD bit: "not a MySQL server"), without EOF deprecation.
constexpr uint32_t kMariadb = kConnectWithDb | kProtocol41 | kSecureConnection | kMultiStatements |
                              kMultiResults | kPluginAuth | kLenencAuthData;

const Bytes kGreetingNonce = "GREETING-NONCE-20byt";  // 20 bytes

// Protocol::HandshakeV10 (page_protocol_connection_phase_packets_protocol_handshake_v10).
Bytes greeting(uint32_t caps, const std::string& plugin, const std::string& version = "8.0.36") {
  return packet(0, "\x0a"_b + z(version) + le(7, 4) + kGreetingNonce.substr(0, 8) + "\x00"_b +
                       le(caps & 0xffff, 2) + le(255, 1) + le(2, 2) + le(caps >> 16, 2) +
                       le(21, 1) + Bytes(10, '\0') + kGreetingNonce.substr(8) + "\x00"_b +
                       z(plugin));
}
// Protocol::HandshakeResponse41 (page_protocol_connection_phase_packets_protocol_handshake_
// response), the authentication response length-encoded.
Bytes handshake_response(uint32_t caps, const std::string& user, const std::string& db,
                         const Bytes& auth, const std::string& plugin) {
  return packet(1, le(caps, 4) + le(16777216, 4) + le(255, 1) + Bytes(23, '\0') + z(user) +
                       lstr(auth) + z(db) + z(plugin));
}
// OK_Packet and ERR_Packet (page_protocol_basic_ok_packet, page_protocol_basic_err_packet).
Bytes ok(uint8_t seq, uint64_t affected = 0, uint16_t status = 2, uint16_t warnings = 0) {
  return packet(seq, "\x00"_b + lenenc(affected) + lenenc(0) + le(status, 2) + le(warnings, 2));
}
Bytes err(uint8_t seq, uint16_t code, const std::string& state, const std::string& msg) {
  return packet(seq, "\xff"_b + le(code, 2) + "#" + state + msg);
}
Bytes eof(uint8_t seq) { return packet(seq, "\xfe"_b + le(0, 2) + le(2, 2)); }
// Protocol::ColumnDefinition41 (page_protocol_com_query_response_text_resultset_column_
// definition).
Bytes column_def(uint8_t seq) {
  return packet(seq, lstr("def") + lstr("d") + lstr("t") + lstr("t") + lstr("c") + lstr("c") +
                         "\x0c"_b + le(255, 2) + le(11, 4) + "\x03"_b + le(0, 2) + "\x00"_b +
                         le(0, 2));
}
// A text result set of one column and one row. With CLIENT_DEPRECATE_EOF no EOF follows the
// column definitions and an OK packet with the 0xFE header ends the rows.
Bytes result_set(bool deprecate_eof, uint16_t warnings = 0) {
  uint8_t seq = 1;
  Bytes b = packet(seq++, lenenc(1));
  b += column_def(seq++);
  if (!deprecate_eof) b += eof(seq++);
  b += packet(seq++, lstr("1"));
  if (deprecate_eof) {
    b += packet(seq, "\xfe"_b + lenenc(0) + lenenc(0) + le(2, 2) + le(warnings, 2));
  } else {
    b += packet(seq, "\xfe"_b + le(warnings, 2) + le(2, 2));
  }
  return b;
}
// COM_STMT_PREPARE_OK (page_protocol_com_stmt_prepare): the parameter and column definitions
// follow, each list ended by an EOF unless CLIENT_DEPRECATE_EOF.
Bytes prepare_ok(uint32_t id, uint16_t columns, uint16_t params, bool deprecate_eof) {
  uint8_t seq = 1;
  Bytes b =
      packet(seq++, "\x00"_b + le(id, 4) + le(columns, 2) + le(params, 2) + "\x00"_b + le(0, 2));
  for (int i = 0; i < params; ++i) b += column_def(seq++);
  if (params && !deprecate_eof) b += eof(seq++);
  for (int i = 0; i < columns; ++i) b += column_def(seq++);
  if (columns && !deprecate_eof) b += eof(seq++);
  return b;
}

// One value of the binary protocol with its parameter type (type byte, flag byte 0x80 for
// unsigned) and name; no value is a NULL (its bit set in the NULL bitmap).
struct Param {
  uint8_t type;
  uint8_t flag;
  std::string name;
  std::optional<Bytes> value;
};
// NULL bitmap ((n + 7) / 8 bytes, first parameter in the lowest bit), new_params_bind_flag 1,
// each type and (with_names) name, then the values of the non-NULL ones.
Bytes bound_params(const std::vector<Param>& ps, bool with_names) {
  Bytes bitmap((ps.size() + 7) / 8, '\0');
  Bytes types, values;
  for (size_t i = 0; i < ps.size(); ++i) {
    types += static_cast<char>(ps[i].type);
    types += static_cast<char>(ps[i].flag);
    if (with_names) types += lstr(ps[i].name);
    if (ps[i].value) {
      values += *ps[i].value;
    } else {
      bitmap[i / 8] = static_cast<char>(bitmap[i / 8] | 1 << (i % 8));
    }
  }
  return bitmap + "\x01"_b + types + values;
}
// COM_QUERY with CLIENT_QUERY_ATTRIBUTES: parameter_count, parameter_set_count (1), the
// attributes when there are any, then the SQL text. Once the capability is agreed every COM_QUERY
// has the two counts, with no attributes too.
Bytes query_with_attributes(const std::vector<Param>& attrs, const std::string& sql) {
  Bytes p = "\x03"_b + lenenc(attrs.size()) + lenenc(1);
  if (!attrs.empty()) p += bound_params(attrs, true);
  return packet(0, p + sql);
}

// A conversation as the two sides wrote it, one step per write.
struct Step {
  bool from_client;
  Bytes bytes;
};
using Script = std::vector<Step>;
Step client(const Bytes& b) { return {true, b}; }
Step server(const Bytes& b) { return {false, b}; }

struct Conversation : test::Conversation<MysqlDumper, MysqlOptions> {
  explicit Conversation(uint16_t port)
      : test::Conversation<MysqlDumper, MysqlOptions>(port, {}, false) {}
};

// Without timestamps and durations, which depend on how the bytes were cut.
std::string without_times(const std::string& all) {
  std::string out;
  for (size_t i = 0; i < all.size();) {
    const size_t t = all.find("\"ts\":\"", i), d = all.find("\"duration\":", i);
    const size_t next = std::min(t, d);
    if (next == std::string::npos) {
      out += all.substr(i);
      break;
    }
    out += all.substr(i, next - i);
    i = next == t ? all.find('"', t + 6) + 1 : all.find_first_of(",}", d);
  }
  return out;
}

// The sink once each step is fed in pieces of at most `piece` bytes or cut at `cut` (0: whole).
test::JsonLines run(const Script& script, uint16_t port, size_t cut, size_t piece) {
  Conversation c(port);
  for (const Step& s : script) {
    std::vector<Bytes> chunks;
    if (piece) {
      for (size_t i = 0; i < s.bytes.size(); i += piece) chunks.push_back(s.bytes.substr(i, piece));
    } else if (cut && cut < s.bytes.size()) {
      chunks = {s.bytes.substr(0, cut), s.bytes.substr(cut)};
    } else {
      chunks = {s.bytes};
    }
    for (const Bytes& b : chunks) s.from_client ? c.client(b) : c.server(b);
  }
  c.close();
  return c.sink;
}

// The records of the script fed whole; the same records, but for times, whether every step is
// cut at any one byte or fed one byte at a time.
test::JsonLines play(const Script& script, uint16_t port = 3306) {
  test::JsonLines whole = run(script, port, 0, 0);
  const std::string want = without_times(whole.all());
  size_t longest = 0;
  for (const Step& s : script) longest = std::max(longest, s.bytes.size());
  for (size_t cut = 1; cut < longest; ++cut) {
    REQUIRE_MESSAGE(without_times(run(script, port, cut, 0).all()) == want, "cut at " << cut);
  }
  REQUIRE_MESSAGE(without_times(run(script, port, 0, 1).all()) == want, "one byte at a time");
  return whole;
}

using test::has;

// Neither the bytes nor their \x hex form (as a value that is not text would be written).
void check_no_secrets(const test::JsonLines& out, const std::vector<Bytes>& secrets) {
  const std::string all = out.all();
  for (const Bytes& s : secrets) {
    CHECK_MESSAGE(!has(all, s.substr(0, 12)), "secret in a record: " << s.substr(0, 12));
    CHECK_MESSAGE(!has(all, hex(s.substr(0, 8))), "secret as hex in a record: " << s.substr(0, 8));
  }
}

const std::string kSql = "select @@version_comment limit 1";

// A MySQL 8 login with caching_sha2_password's fast path.
const Bytes kLoginScramble = fill("LOGIN-SCRAMBLE-", 32);
Script mysql8_login(uint32_t server_caps = kMysql8, uint32_t client_caps = kMysql8) {
  return {server(greeting(server_caps, "caching_sha2_password")),
          client(handshake_response(client_caps, "alice", "shop", kLoginScramble,
                                    "caching_sha2_password")),
          server(packet(2, "\x01\x03"_b)), server(ok(3))};
}
Script operator+(Script a, const Script& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

}  // namespace

// page_protocol_com_query (MySQL source documentation, COM_QUERY with CLIENT_QUERY_ATTRIBUTES):
// the documented example, one attribute "a" of type MYSQL_TYPE_STRING with the value "1".
TEST_CASE("COM_QUERY with query attributes: the documented example") {
  const Bytes example = "\x03\x01\x01\x00\x01\xfe\x00\x01\x61\x01\x31"_b + kSql;
  const test::JsonLines out =
      play(mysql8_login() + Script{client(packet(0, example)), server(result_set(true))});
  REQUIRE(out.records.size() == 2);
  const test::Value& q = out.records[1];
  CHECK(q["command"] == "COM_QUERY");
  CHECK(q["query"] == kSql);
  CHECK(q["query_attributes"] == test::Value::object({{"a", "1"}}));
  CHECK(q["rows"] == 1);
  CHECK(out.records[0]["login_ok"] == true);
  CHECK(out.records[0]["caching_sha2_auth"] == "fast");
  check_no_secrets(out, {kLoginScramble, kGreetingNonce});
}

// page_protocol_com_query for the layout; page_protocol_binary_resultset ("Binary Protocol
// Value") for each type's encoding: integers little-endian in 1, 2, 4 or 8 bytes (signed unless
// the flag byte has 0x80), FLOAT and DOUBLE as IEEE 754, DECIMAL and strings as length-encoded
// strings, DATE/DATETIME as length 4/7/11 + year(2) month day [hour minute second [micro(4)]],
// TIME as length 8/12 + is_negative days(4) hour minute second [micro(4)]; NULL by its bit.
TEST_CASE("query attributes of every binary type, NULL, and bytes that are not text") {
  Bytes all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes += static_cast<char>(i);
  const std::vector<Param> attrs = {
      {0x01, 0x00, "tiny", "\xfb"_b},                               // -5
      {0x01, 0x80, "utiny", "\xfb"_b},                              // 251
      {0x02, 0x00, "short", le(0xfed4, 2)},                         // -300
      {0x03, 0x00, "long", le(0x80000000u, 4)},                     // INT32_MIN
      {0x03, 0x80, "ulong", le(0xffffffffu, 4)},                    // UINT32_MAX
      {0x08, 0x00, "longlong", le(0x8000000000000000ull, 8)},       // INT64_MIN
      {0x08, 0x80, "ulonglong", le(0xffffffffffffffffull, 8)},      // UINT64_MAX
      {0x04, 0x00, "float", le(0x3fc00000u, 4)},                    // 1.5f
      {0x05, 0x00, "double", le(0xbfc0000000000000ull, 8)},         // -0.125
      {0x00, 0x00, "decimal", lstr("3.14")},                        // MYSQL_TYPE_DECIMAL
      {0xf6, 0x00, "newdecimal", lstr("-12345.678900")},            // MYSQL_TYPE_NEWDECIMAL
      {0x0a, 0x00, "date", "\x04"_b + le(2024, 2) + "\x02\x1d"_b},  // 2024-02-29
      {0x0c, 0x00, "datetime",
       "\x0b"_b + le(1999, 2) + "\x0c\x1f\x17\x3b\x3a"_b + le(42, 4)},  // ...23:59:58.000042
      {0x0b, 0x00, "time", "\x0c\x01"_b + le(3, 4) + "\x04\x05\x06"_b + le(7, 4)},  // -3d 4:05:06
      {0x0d, 0x00, "year", le(2155, 2)},
      {0xfd, 0x00, "varstring", lstr("h\xc3\xa9llo w\xc3\xb6rld")},
      {0xfc, 0x00, "blob", lstr(all_bytes)},
      {0xfd, 0x00, "looks_escaped", lstr("\\x41")},  // text, but it would read as hex
      {0xfd, 0x00, "nothing", std::nullopt},
      {0x06, 0x00, "null_type", std::nullopt},  // MYSQL_TYPE_NULL, its bit set too
  };
  const test::JsonLines out = play(
      mysql8_login() + Script{client(query_with_attributes(attrs, "SELECT 1")), server(ok(1))});
  REQUIRE(out.records.size() == 2);
  const test::Value& q = out.records[1];
  CHECK(q["query"] == "SELECT 1");
  // Bytes that are not text are held as \x and their hex, and so is text that begins with \x.
  CHECK(q["query_attributes"] == test::Value::object({{"tiny", "-5"},
                                                      {"utiny", "251"},
                                                      {"short", "-300"},
                                                      {"long", "-2147483648"},
                                                      {"ulong", "4294967295"},
                                                      {"longlong", "-9223372036854775808"},
                                                      {"ulonglong", "18446744073709551615"},
                                                      {"float", "1.5"},
                                                      {"double", "-0.125"},
                                                      {"decimal", "3.14"},
                                                      {"newdecimal", "-12345.678900"},
                                                      {"date", "2024-02-29"},
                                                      {"datetime", "1999-12-31 23:59:58.000042"},
                                                      {"time", "-76:05:06.000007"},
                                                      {"year", "2155"},
                                                      {"varstring", "h\xc3\xa9llo w\xc3\xb6rld"_b},
                                                      {"blob", "\\x" + hex(all_bytes)},
                                                      {"looks_escaped", "\\x5c783431"},
                                                      {"nothing", nullptr},
                                                      {"null_type", nullptr}}));
  CHECK(q["affected_rows"] == 0);
  check_no_secrets(out, {kLoginScramble, kGreetingNonce});
}

// page_protocol_com_query: the parameter fields are there only "if CLIENT_QUERY_ATTRIBUTES is
// set", and page_protocol_connection_phase: a capability is in use only when both the server's
// greeting and the client's HandshakeResponse have it. Otherwise the bytes are SQL text.
TEST_CASE("query attribute bytes are SQL text unless both sides have CLIENT_QUERY_ATTRIBUTES") {
  const Bytes example = "\x03\x01\x01\x00\x01\xfe\x00\x01\x61\x01\x31"_b + kSql;
  const uint32_t without = kMysql8 & ~kQueryAttributes;
  for (const auto& [server_caps, client_caps] :
       {std::pair{without, kMysql8}, std::pair{kMysql8, without}}) {
    CAPTURE(server_caps);
    const test::JsonLines out =
        play(mysql8_login(server_caps, client_caps) +
             Script{client(packet(0, example)), server(err(1, 1064, "42000", "syntax"))});
    REQUIRE(out.records.size() == 2);
    const test::Value& q = out.records[1];
    // The bytes as sent: control bytes and a byte that is not UTF-8 (0xFE) held as they came,
    // left to the writer (JSON: \u00XX, U+FFFD).
    CHECK(q["query"] == "\x01\x01\x00\x01\xfe\x00\x01\x61\x01\x31"_b + kSql);
    CHECK_FALSE(q.has("query_attributes"));
    CHECK(q["error_code"] == 1064);
    check_no_secrets(out, {kLoginScramble, kGreetingNonce});
  }
}

// page_protocol_com_stmt_execute: with CLIENT_QUERY_ATTRIBUTES and PARAMETER_COUNT_AVAILABLE
// (flags 0x08) a parameter_count follows iteration_count and overrides num_params; each type is
// followed by a name; "the server will use the first num_params ... values to satisfy the
// positional ... parameters"; the rest, and the named positional ones, are query attributes.
TEST_CASE("COM_STMT_EXECUTE with more values than parameters: the rest are query attributes") {
  const Bytes exec = packet(0, "\x17"_b + le(5, 4) + "\x08"_b + le(1, 4) + lenenc(3) +
                                   bound_params({{0x03, 0x00, "", le(42, 4)},
                                                 {0xfd, 0x00, "p1", lstr("v1")},
                                                 {0xfd, 0x00, "trace", lstr("abc-123")}},
                                                true));
  const test::JsonLines out =
      play(mysql8_login() + Script{client(packet(0, "\x16"_b + "SELECT ?, ?")),
                                   server(prepare_ok(5, 2, 2, true)), client(exec),
                                   server(result_set(true))});
  REQUIRE(out.records.size() == 3);
  CHECK(out.records[1]["stmt_id"] == 5);
  CHECK(out.records[1]["param_count"] == 2);
  const test::Value& e = out.records[2];
  CHECK(e["command"] == "COM_STMT_EXECUTE");
  CHECK(e["stmt_prepare_query"] == "SELECT ?, ?");
  CHECK(e["stmt_execute_values"] == test::Value::array({"42", "v1"}));
  CHECK(e["query_attributes"] == test::Value::object({{"p1", "v1"}, {"trace", "abc-123"}}));
  CHECK(e["rows"] == 1);
  check_no_secrets(out, {kLoginScramble, kGreetingNonce});
}

// sha256_password (MariaDB "Connecting via sha256_password"; MySQL
// page_protocol_connection_phase_authentication_methods_sha256_password_authentication): without
// TLS the client asks for the public key with a single 0x01, the server sends it in AuthMoreData
// (0x01 + PEM), the client answers with the RSA-encrypted password, the server ends with OK or
// ERR. None of it is written; the handshake record says how the login ended.
TEST_CASE("sha256_password: public key requested, encrypted password sent; OK or ERR") {
  const Bytes pem =
      "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtestkeytestkey\n"
      "-----END PUBLIC KEY-----\n";
  const Bytes encrypted = fill("RSA-ENCRYPTED-PASSWORD-", 256);
  auto login = [&](const Bytes& outcome) {
    return Script{server(greeting(kMysql8, "sha256_password")),
                  client(handshake_response(kMysql8, "alice", "shop", "\x01"_b, "sha256_password")),
                  server(packet(2, "\x01"_b + pem)), client(packet(3, encrypted)), server(outcome)};
  };
  SUBCASE("OK") {
    const test::JsonLines out =
        play(login(ok(4)) +
             Script{client(query_with_attributes({}, "SELECT 1")), server(result_set(true))});
    REQUIRE(out.records.size() == 2);
    const test::Value& h = out.records[0];
    CHECK(h["message_type"] == "HandshakeResponse");
    CHECK(h["auth_plugin"] == "sha256_password");
    CHECK(h["login_ok"] == true);
    CHECK_FALSE(h.has("error_code"));
    CHECK(out.records[1]["query"] == "SELECT 1");
    CHECK(out.records[1]["rows"] == 1);
    check_no_secrets(out, {pem, pem.substr(27), encrypted, kGreetingNonce});
  }
  SUBCASE("ERR 1045") {
    const test::JsonLines out = play(login(
        err(4, 1045, "28000", "Access denied for user 'alice'@'10.0.0.9' (using password: YES)")));
    REQUIRE(out.records.size() == 1);
    const test::Value& h = out.records[0];
    CHECK(h["login_ok"] == false);
    CHECK(h["error_code"] == 1045);
    CHECK(h["sql_state"] == "28000");
    CHECK(h["error_message"] == "Access denied for user 'alice'@'10.0.0.9' (using password: YES)");
    check_no_secrets(out, {pem, pem.substr(27), encrypted, kGreetingNonce});
  }
}

// caching_sha2_password (MySQL page_caching_sha2_authentication_exchanges; MariaDB "Connecting via
// caching_sha2_password"): after the scramble the server sends AuthMoreData 0x03 (fast
// authentication succeeded) or 0x04 (perform full authentication: here the client asks for the
// key with 0x02 and sends the password encrypted with it).
TEST_CASE("caching_sha2_password: fast and full authentication are told apart") {
  const Bytes pem =
      "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0Bfullauthkey\n-----END PUBLIC KEY-----\n";
  const Bytes encrypted = fill("FULL-AUTH-ENCRYPTED-", 256);
  const auto fast = play(mysql8_login());
  REQUIRE(fast.records.size() == 1);
  CHECK(fast.records[0]["caching_sha2_auth"] == "fast");
  CHECK(fast.records[0]["login_ok"] == true);
  const auto full = play(Script{
      server(greeting(kMysql8, "caching_sha2_password")),
      client(handshake_response(kMysql8, "alice", "shop", kLoginScramble, "caching_sha2_password")),
      server(packet(2, "\x01\x04"_b)), client(packet(3, "\x02"_b)),
      server(packet(4, "\x01"_b + pem)), client(packet(5, encrypted)), server(ok(6))});
  REQUIRE(full.records.size() == 1);
  CHECK(full.records[0]["caching_sha2_auth"] == "full");
  CHECK(full.records[0]["login_ok"] == true);
  check_no_secrets(fast, {kLoginScramble, kGreetingNonce});
  check_no_secrets(full, {kLoginScramble, kGreetingNonce, pem, pem.substr(27), encrypted});
}

// page_protocol_connection_phase_packets_protocol_auth_switch_request: 0xFE, the plugin name
// NUL-terminated, the plugin's data (mysql_native_password: a 20-byte scramble and a NUL); the
// client's AuthSwitchResponse is opaque data; OK or ERR ends it. Here it answers
// COM_RESET_CONNECTION (page_protocol_com_reset_connection), whose record then ends with the OK.
TEST_CASE("auth switch after COM_RESET_CONNECTION: noted, the OK ends it, pairing goes on") {
  const Bytes scramble = "RESET-SWITCH-NONCE20";
  const Bytes response = "RESET-AUTH-RESPONSE!";
  const test::JsonLines out =
      play(mysql8_login() +
           Script{client(packet(0, "\x1f"_b)),
                  server(packet(1, "\xfe"_b + z("mysql_native_password") + scramble + "\x00"_b)),
                  client(packet(2, response)), server(ok(3)),
                  client(query_with_attributes({}, "SELECT 1")), server(result_set(true))});
  REQUIRE(out.records.size() == 3);
  const test::Value& reset = out.records[1];
  CHECK(reset["command"] == "COM_RESET_CONNECTION");
  CHECK(reset["auth_switch"] == "mysql_native_password");
  CHECK(reset["affected_rows"] == 0);
  CHECK_FALSE(reset.has("error_code"));
  CHECK(out.records[2]["query"] == "SELECT 1");
  CHECK(out.records[2]["rows"] == 1);
  CHECK(out.records[2]["username"] == "alice");
  CHECK(out.records[2]["database"] == "shop");
  check_no_secrets(out, {scramble, response, kLoginScramble, kGreetingNonce});
}

// COM_CHANGE_USER (page_protocol_com_change_user; MariaDB COM_CHANGE_USER): user, auth data
// (length byte with CLIENT_SECURE_CONNECTION), database, character set, plugin. Answered by an
// auth switch to MariaDB's client_ed25519 ("Authentication Plugin - ed25519", MariaDB "Connecting":
// the server sends a 32-byte nonce, the client a 64-byte Ed25519 signature), then OK or ERR.
TEST_CASE("COM_CHANGE_USER with an auth switch to client_ed25519: the new user once it succeeds") {
  const Bytes scramble = "CHANGE-USER-SCRAMBLE";
  const Bytes nonce = "ED25519-NONCE-32-bytes-long-abcd";
  const Bytes signature = fill("ED25519-SIGNATURE-", 64);
  auto conversation = [&](const Bytes& outcome) {
    return Script{server(greeting(kMariadb, "mysql_native_password", "10.11.6-MariaDB")),
                  client(handshake_response(kMariadb, "alice", "shop", fill("NATIVE-LOGIN-", 20),
                                            "mysql_native_password")),
                  server(ok(2)),
                  client(packet(0, "\x11"_b + z("bob") + lenenc(20) + scramble + z("db2") +
                                       le(45, 2) + z("mysql_native_password"))),
                  server(packet(1, "\xfe"_b + z("client_ed25519") + nonce)),
                  client(packet(2, signature)),
                  server(outcome),
                  client(packet(0, "\x03"_b + "SELECT 1")),
                  server(result_set(false))};
  };
  SUBCASE("OK: later records are bob's, in db2") {
    const test::JsonLines out = play(conversation(ok(3)));
    REQUIRE(out.records.size() == 3);
    CHECK(out.records[1]["command"] == "COM_CHANGE_USER");
    CHECK(out.records[1]["new_username"] == "bob");
    CHECK(out.records[1]["auth_switch"] == "client_ed25519");
    CHECK_FALSE(out.records[1].has("error_code"));
    CHECK(out.records[2]["username"] == "bob");
    CHECK(out.records[2]["database"] == "db2");
    CHECK(out.records[2]["rows"] == 1);
    check_no_secrets(out, {scramble, nonce, signature, fill("NATIVE-LOGIN-", 20)});
  }
  SUBCASE("ERR: the session stays alice's") {
    const test::JsonLines out =
        play(conversation(err(3, 1045, "28000", "Access denied for user 'bob'")));
    REQUIRE(out.records.size() == 3);
    CHECK(out.records[1]["auth_switch"] == "client_ed25519");
    CHECK(out.records[1]["error_code"] == 1045);
    CHECK(out.records[2]["username"] == "alice");
    CHECK(out.records[2]["database"] == "shop");
    CHECK_FALSE(has(out.lines[2], "bob"));  // in no field of the record
    check_no_secrets(out, {scramble, nonce, signature, fill("NATIVE-LOGIN-", 20)});
  }
}

// page_protocol_com_change_user: auth_plugin_name is "the authentication plugin the client used
// to generate auth data", so what the server answers (here caching_sha2_password's AuthMoreData
// 0x03, page_caching_sha2_authentication_exchanges) belongs to that plugin, whatever the login
// used (here mysql_native_password, switched to during the login).
TEST_CASE("COM_CHANGE_USER with caching_sha2_password after a native login: fast auth noted") {
  const Bytes switch_nonce = "LOGIN-SWITCH-NONCE20";
  const Bytes native = fill("NATIVE-SWITCH-RESP-", 20);
  const Bytes sha2 = fill("CHANGE-USER-SHA2-", 32);
  const test::JsonLines out = play(Script{
      server(greeting(kMysql8, "caching_sha2_password")),
      client(handshake_response(kMysql8, "alice", "shop", kLoginScramble, "caching_sha2_password")),
      server(packet(2, "\xfe"_b + z("mysql_native_password") + switch_nonce + "\x00"_b)),
      client(packet(3, native)), server(ok(4)),
      client(packet(0, "\x11"_b + z("carol") + lenenc(32) + sha2 + z("db3") + le(255, 2) +
                           z("caching_sha2_password"))),
      server(packet(1, "\x01\x03"_b)), server(ok(2)), client(query_with_attributes({}, "SELECT 1")),
      server(result_set(true))});
  REQUIRE(out.records.size() == 3);
  CHECK(out.records[0]["auth_switch"] == "mysql_native_password");
  CHECK(out.records[0]["login_ok"] == true);
  CHECK_FALSE(out.records[0].has("caching_sha2_auth"));
  CHECK(out.records[1]["command"] == "COM_CHANGE_USER");
  CHECK(out.records[1]["caching_sha2_auth"] == "fast");
  CHECK(out.records[2]["username"] == "carol");
  CHECK(out.records[2]["database"] == "db3");
  check_no_secrets(out, {kLoginScramble, kGreetingNonce, switch_nonce, native, sha2});
}

// COM_STMT_SEND_LONG_DATA (page_protocol_com_stmt_send_long_data: statement_id, param_id, data;
// chunks appended) and COM_STMT_EXECUTE: a parameter sent as long data takes that data and no
// value follows for it, whatever its NULL bit says (MariaDB Connector/C sets the bit). The second
// parameter's value shows that no bytes were taken for the first.
TEST_CASE("long data under a NULL bit: the chunks joined are the value") {
  auto conversation = [](uint32_t caps, const Bytes& execute_tail, bool deprecate_eof) {
    const Script login =
        caps == kMysql8
            ? mysql8_login()
            : Script{server(greeting(caps, "mysql_native_password", "10.11.6-MariaDB")),
                     client(handshake_response(caps, "alice", "shop", fill("NATIVE-LOGIN-", 20),
                                               "mysql_native_password")),
                     server(ok(2))};
    return login + Script{client(packet(0, "\x16"_b + "INSERT INTO b VALUES (?, ?)")),
                          server(prepare_ok(9, 0, 2, deprecate_eof)),
                          client(packet(0, "\x18"_b + le(9, 4) + le(0, 2) + "chunk one|")),
                          client(packet(0, "\x18"_b + le(9, 4) + le(0, 2) + "chunk two")),
                          client(packet(0, "\x17"_b + le(9, 4) + execute_tail)),
                          server(ok(1, 1))};
  };
  const Bytes types = "\xfc\x00"_b + "\x03\x00"_b;  // BLOB, LONG
  test::JsonLines out;
  SUBCASE("MariaDB") {
    out =
        play(conversation(kMariadb, "\x00"_b + le(1, 4) + "\x01\x01"_b + types + le(77, 4), false));
  }
  SUBCASE("MySQL 8 with query attributes: empty names") {
    out = play(conversation(kMysql8,
                            "\x08"_b + le(1, 4) + lenenc(2) + "\x01\x01"_b + "\xfc\x00"_b +
                                lstr("") + "\x03\x00"_b + lstr("") + le(77, 4),
                            true));
  }
  REQUIRE(out.records.size() == 5);
  CHECK(out.records[2]["command"] == "COM_STMT_SEND_LONG_DATA");
  CHECK(out.records[3]["bytes"] == 9);
  const test::Value& e = out.records[4];
  CHECK(e["stmt_execute_values"] == test::Value::array({"chunk one|chunk two", "77"}));
  CHECK_FALSE(e.has("query_attributes"));
  CHECK(e["affected_rows"] == 1);
  check_no_secrets(out, {kLoginScramble, kGreetingNonce, fill("NATIVE-LOGIN-", 20)});
}

// MySQL X Protocol (page_mysqlx_protocol_messages: each message a 4-byte little-endian length,
// then a 1-byte type; the client speaks first, usually CapabilitiesGet = type 1). The classic
// protocol's server always speaks first, so this is not for the MySQL decoder: one record.
TEST_CASE("X Protocol: the client speaks first; one record, nothing decoded after") {
  const test::JsonLines out =
      play(Script{client("\x01\x00\x00\x00\x01"_b),
                  server(le(8, 4) + "\x02"_b + "\x0a\x06\x0a\x03tls"_b),  // Capabilities
                  client(le(10, 4) + "\x04"_b + "\x0a\x07MYSQL41"_b),     // AuthenticateStart
                  client(packet(0, "\x03"_b + "SELECT 1")), server(ok(1))},
           33060);
  REQUIRE(out.records.size() == 1);
  CHECK(out.records[0]["message_type"] == "XProtocol");
  CHECK(out.records[0].has("decode_error"));
  CHECK_FALSE(has(out.lines[0], "SELECT"));  // in no field of the record
}

// page_protocol_basic_ok_packet: with CLIENT_DEPRECATE_EOF the rows of a result set end with an
// OK packet whose header is 0xFE: affected_rows, last_insert_id, status_flags, warnings.
TEST_CASE("CLIENT_DEPRECATE_EOF: the OK packet that ends the rows gives the warnings") {
  const test::JsonLines out =
      play(mysql8_login() +
           Script{client(query_with_attributes({}, "SELECT 1/0")), server(result_set(true, 1))});
  REQUIRE(out.records.size() == 2);
  CHECK(out.records[1]["rows"] == 1);
  CHECK(out.records[1]["warnings"] == 1);
  check_no_secrets(out, {kLoginScramble, kGreetingNonce});
}
