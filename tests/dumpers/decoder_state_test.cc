// The pg and mysql decoders' state, asked after each step of conversations built from the
// protocols' documented layouts (pg_test_messages.h, mysql_test_session.h).
#include <doctest/doctest.h>

#include <string>

#include "conversation.h"
#include "dumpers/pg/pg_dumper.h"
#include "mysql/mysql_test_session.h"
#include "pg/pg_test_messages.h"

using namespace tcpdp;

namespace {

using namespace tcpdp::test::pg_messages;

struct PgConversation : test::Conversation<PgDumper, PgOptions> {
  explicit PgConversation(bool mid_stream = false)
      : test::Conversation<PgDumper, PgOptions>(5432, {}, mid_stream) {}
  DecoderState state() const { return decoder->state(); }
};

void pg_login(PgConversation& c) {
  c.client(startup({{"user", "alice"}, {"database", "shop"}}));
  c.server(auth_ok() + ready());
}

std::string summary_state(const Decoder& d) {
  Record r;
  d.describe(r);
  return std::string(r.find("decoder_state")->s);
}

}  // namespace

TEST_CASE("pg: in sync through a session, resynchronising after bad bytes, then in sync again") {
  PgConversation c;
  CHECK(c.state() == DecoderState::kInSync);
  pg_login(c);
  c.client(msg('Q', cstr("SELECT 1")));
  c.server(complete("SELECT 1") + ready());
  CHECK(c.state() == DecoderState::kInSync);
  c.client(std::string("\x01garbage", 8));
  CHECK(c.state() == DecoderState::kResynchronising);
  CHECK(summary_state(*c.decoder) == "resynchronising");
  // a whole message followed by a plausible header is a boundary again
  c.client(msg('Q', cstr("SELECT 2")) + msg('Q', cstr("SELECT 3")));
  CHECK(c.state() == DecoderState::kInSync);
  CHECK(summary_state(*c.decoder) == "in_sync");
  c.close();
  CHECK(c.state() == DecoderState::kClosed);
}

TEST_CASE("pg: a gap, and a connection picked up mid-way, resynchronise") {
  PgConversation c;
  pg_login(c);
  c.decoder->on_gap(Direction::kServerToClient, Timestamp{c.clock}, 10);
  CHECK(c.state() == DecoderState::kResynchronising);
  PgConversation mid(true);
  CHECK(mid.state() == DecoderState::kResynchronising);
}

TEST_CASE("pg: encryption accepted, asked for or direct; an answer that is not pg stops") {
  PgConversation ssl;
  ssl.client(i32(8) + i32(80877103));
  CHECK(ssl.state() == DecoderState::kInSync);
  ssl.server("S");
  CHECK(ssl.state() == DecoderState::kEncrypted);
  CHECK(summary_state(*ssl.decoder) == "encrypted");
  PgConversation direct;
  direct.client(std::string("\x16\x03\x01\x00\x50", 5) + std::string(80, 'r'));
  CHECK(direct.state() == DecoderState::kEncrypted);
  PgConversation odd;
  odd.client(i32(8) + i32(80877103));
  odd.server("X");
  CHECK(odd.state() == DecoderState::kStopped);
  CHECK(summary_state(*odd.decoder) == "stopped");
}

TEST_CASE("mysql: in sync, encrypted after SSLRequest, stopped at a protocol it cannot read") {
  using namespace tcpdp::mysql_test;
  Conversation c;
  login(c);
  c.client(query("SELECT 1"));
  c.server(ok(1));
  CHECK(c.decoder->state() == DecoderState::kInSync);
  CHECK(summary_state(*c.decoder) == "in_sync");
  c.close();
  CHECK(c.decoder->state() == DecoderState::kClosed);

  Conversation ssl;
  ssl.server(greeting(kCaps | 0x800));
  ssl.client(packet(1, le(kCaps | 0x800, 4) + le(16777216, 4) + le(45, 1) + std::string(23, '\0')));
  CHECK(ssl.decoder->state() == DecoderState::kEncrypted);

  Conversation old;
  old.server(packet(0, "\x09"_b + "3.23.58" + std::string(1, '\0')));  // protocol version 9
  CHECK(old.decoder->state() == DecoderState::kStopped);
  CHECK(summary_state(*old.decoder) == "stopped");
  // a client that speaks before any greeting is judged at the close: its summary says stopped
  Conversation first;
  first.client(query("SELECT 1"));
  CHECK(summary_state(*first.decoder) == "stopped");
  Conversation mid({}, true);
  CHECK(mid.decoder->state() == DecoderState::kResynchronising);
}
