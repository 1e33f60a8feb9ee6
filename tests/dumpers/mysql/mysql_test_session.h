/// A MariaDB session for the mysql decoder's tests: the server's greeting, the client's handshake
/// response, OK/ERR/EOF packets, a text result set, a logged-in conversation.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "../conversation.h"
#include "dumpers/mysql/mysql_dumper.h"
#include "mysql_test_packets.h"

namespace tcpdp::mysql_test {

constexpr uint32_t kCaps =
    0x200 | 0x8000 | 0x80000 | 0x8 | 0x10000 | 0x20000;  // 41, secure, plugin, db, multi

inline Bytes greeting(uint32_t caps = kCaps) {
  return packet(0, "\x0a"_b + z("10.11.19-MariaDB") + le(42, 4) + "12345678" +
                       std::string(1, '\0') + le(caps & 0xffff, 2) + le(45, 1) + le(2, 2) +
                       le(caps >> 16, 2) + le(21, 1) + std::string(10, '\0') + "123456789012" +
                       std::string(1, '\0') + z("mysql_native_password"));
}
inline Bytes handshake_response(const std::string& user, const std::string& db,
                                uint8_t collation = 45, uint32_t caps = kCaps) {
  return packet(1, le(caps, 4) + le(16777216, 4) + le(collation, 1) + std::string(23, '\0') +
                       z(user) + lstr("SECRETAUTHDATA20byte") + z(db) + z("mysql_native_password"));
}
inline Bytes ok(uint8_t seq, uint64_t affected = 0, uint64_t insert_id = 0, uint16_t status = 2,
                uint16_t warnings = 0) {
  return packet(seq,
                "\x00"_b + lenenc(affected) + lenenc(insert_id) + le(status, 2) + le(warnings, 2));
}
inline Bytes err(uint8_t seq, uint16_t code, const std::string& state, const std::string& msg) {
  return packet(seq, "\xff"_b + le(code, 2) + "#" + state + msg);
}
inline Bytes eof(uint8_t seq, uint16_t status = 2) {
  return packet(seq, "\xfe"_b + le(0, 2) + le(status, 2));
}
inline Bytes column_def(uint8_t seq) {
  return packet(seq, lstr("def") + lstr("d") + lstr("t") + lstr("t") + lstr("c") + lstr("c") +
                         "\x0c"_b + le(45, 2) + le(11, 4) + "\x03"_b + le(0, 2) + "\x00"_b +
                         le(0, 2));
}
// A text result set of `rows` one-column rows, sequence numbers from 1.
inline Bytes result_set(int rows, uint16_t end_status = 2) {
  uint8_t seq = 1;
  Bytes b = packet(seq++, lenenc(1));
  b += column_def(seq++);
  b += eof(seq++);
  for (int i = 0; i < rows; ++i) b += packet(seq++, lstr(std::to_string(i)));
  b += eof(seq++, end_status);
  return b;
}
inline Bytes query(const std::string& sql) { return packet(0, "\x03"_b + sql); }

struct Conversation : test::Conversation<MysqlDumper, MysqlOptions> {
  explicit Conversation(MysqlOptions o = {}, bool mid_stream = false)
      : test::Conversation<MysqlDumper, MysqlOptions>(3306, o, mid_stream) {}
};

using ::tcpdp::test::has;

/// Whether one of the records has every one of these members, each with its value: what a check
/// on the text of all the records looked for, asked of the values.
inline bool any_record(const std::vector<test::Value>& records,
                       const std::vector<std::pair<std::string, test::Value>>& members) {
  for (const test::Value& r : records) {
    bool all = true;
    for (const auto& [key, value] : members) all = all && r[key] == value;
    if (all) return true;
  }
  return false;
}

inline void login(Conversation& c, uint8_t collation = 45) {
  c.server(greeting());
  c.client(handshake_response("alice", "shop", collation));
  c.server(ok(2));
}

}  // namespace tcpdp::mysql_test
