#include "dumpers/mysql/mysql_decoder.h"

#include "dumpers/value_text.h"

namespace tcpdp::mysql {
namespace {
constexpr int kMaxErrorRecords = 10;  // decode-error records per connection and side
constexpr size_t kXFrameHeader = 5;   // an X Protocol frame's length (4 bytes) and type
}  // namespace

// Picked up mid-way, the handshake was missed: assume commands, find packet boundaries, pair
// nothing until the server has finished an answer.
MysqlDecoder::MysqlDecoder(const ConnInfo& conn, RecordSink& sink, const MysqlOptions& options)
    : conn_(conn),
      options_(options),
      client_(*this, Direction::kClientToServer,
              conn.mid_stream ? Framer::State::kOutOfSync : Framer::State::kInSync),
      server_(*this, Direction::kServerToClient,
              conn.mid_stream ? Framer::State::kOutOfSync : Framer::State::kInSync),
      phase_(conn.mid_stream ? Phase::kCommand : Phase::kGreeting),
      pending_(sink, options.max_pending),
      statements_(options.max_statements),
      pairing_(!conn.mid_stream) {}

void MysqlDecoder::on_data(Direction dir, Timestamp ts, std::span<const uint8_t> bytes) {
  Side& s = side(dir);
  if (phase_ == Phase::kGreeting && !server_.heard) {
    // The classic protocol's server speaks first. What a client says before it is gathered until
    // an X Protocol frame header could be judged (segments may cut it), or the server speaks.
    if (dir == Direction::kClientToServer) {
      if (client_.framer.state() == Framer::State::kSilent || client_.heard) {
        return feed_side(client_, ts, bytes);
      }
      if (early_.empty()) early_ts_ = ts;
      early_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      if (early_.size() >= kXFrameHeader) first_client_bytes();
      flush_done();
      return;
    }
    if (!early_.empty()) first_client_bytes();
  }
  s.heard = true;
  feed_side(s, ts, bytes);
}

void MysqlDecoder::feed_side(Side& s, Timestamp ts, std::span<const uint8_t> bytes) {
  if (s.compressed) {
    feed_compressed(s, ts, bytes);
  } else {
    s.framer.feed(bytes, ts, s);
  }
  flush_done();
}

void MysqlDecoder::on_gap(Direction dir, Timestamp ts, uint64_t missed) {
  Side& s = side(dir);
  s.heard = true;
  if (s.framer.state() != Framer::State::kSilent) {
    // As for pg: the requests waiting are written unanswered, then the gap. A compressed stream
    // stays out of sync: nothing after a gap in it can be trusted.
    s.joined.clear();
    s.zbuf.clear();
    s.framer.lose_sync();
    suspend_pairing();
  }
  emit_now(gap_record(conn_, dir, ts, missed));
}

void MysqlDecoder::describe(Record& r) const {
  if (!username_.empty()) r.add("username", username_);
  if (!database_.empty()) r.add("database", database_);
  // A client that spoke before any greeting is judged at the close, which comes next: what it
  // sent is not the MySQL protocol, and nothing of it is decoded.
  const bool judged_at_close = phase_ == Phase::kGreeting && !server_.heard && !early_.empty();
  r.add("decoder_state", decoder_state_name(judged_at_close ? DecoderState::kStopped : state()));
}

void MysqlDecoder::on_close(Timestamp ts, CloseReason) {
  closed_ = true;
  if (phase_ == Phase::kGreeting && !server_.heard && !early_.empty()) first_client_bytes();
  for (const Direction dir : {Direction::kClientToServer, Direction::kServerToClient}) {
    unfinished(side(dir), ts);
  }
  for (Request& r : pending_) {
    if (r.done) continue;
    if (r.has_outcome) {
      complete(r, ts);
    } else {
      r.done = true;
    }
  }
  flush_done();
}

// The connection's fields and the session's for one direction, made once per session change.
const GroupRef& MysqlDecoder::session_fields(Direction dir) const {
  GroupRef& fields = session_[dir == Direction::kClientToServer ? 0 : 1];
  if (!fields) fields = connection_fields(RecordKind::kMysql, conn_, dir, session(database_));
  return fields;
}

Record MysqlDecoder::session(std::string_view database) const {
  Record r;
  if (!username_.empty()) r.add("username", username_);
  if (!database.empty()) r.add("database", database);
  return r;
}

// ts, then the kind, the connection's and the session's fields.
Record MysqlDecoder::record(RecordKind kind, Direction dir, Timestamp ts) const {
  if (kind == RecordKind::kMysql) return base_record(session_fields(dir), ts);
  return base_record(connection_fields(kind, conn_, dir, session(database_)), ts);
}

std::string MysqlDecoder::text(std::span<const uint8_t> bytes) const {
  return to_utf8(as_text(bytes), charset_);
}

// A string value of a parameter or attribute: text when its bytes are text in the connection's
// character set, else every byte kept in the escaped form of value_text.h.
void MysqlDecoder::add_value(Record& r, std::string_view key,
                             std::span<const uint8_t> bytes) const {
  if (!charset_.iconv) return add_lossless(r, key, as_text(bytes));
  std::string utf8;
  if (to_utf8_exact(as_text(bytes), charset_, utf8) && plain_text(utf8)) {
    r.add(key, utf8);
  } else {
    r.add(key, hex_value(bytes));
  }
}

void MysqlDecoder::decode_error(Side& s, Direction dir, Timestamp ts, const std::string& what) {
  if (s.error_records >= kMaxErrorRecords) return;
  ++s.error_records;
  Record r = record(RecordKind::kDecodeError, dir, ts);
  r.add("decode_error", what);
  emit_now(std::move(r));
}

void MysqlDecoder::emit_now(Record r) {
  pending_.push_done(std::move(r));
  flush_done();
}

// `database`, when given, replaces the session's on this record only (COM_INIT_DB's own).
MysqlDecoder::Request& MysqlDecoder::add_request(uint8_t command, uint8_t seq, bool waits,
                                                 std::string_view database) {
  Request& q = pending_.push();
  if (database.empty()) {
    start_record(q.rec, session_fields(Direction::kClientToServer), client_.msg_ts);
  } else {
    start_record(
        q.rec,
        connection_fields(RecordKind::kMysql, conn_, Direction::kClientToServer, session(database)),
        client_.msg_ts);
  }
  q.start = client_.msg_ts;
  q.command = command;
  q.done = !waits || !options_.pair_responses || !pairing_;
  if (command != 0) {
    q.rec.add("command_id", command);
    q.rec.add("command", command_name(command));
    q.rec.add("seq_num", seq);
  }
  return q;
}

void MysqlDecoder::complete(Request& r, Timestamp ts) {
  if (r.done) return;
  r.done = true;
  if (r.prepared) {
    r.rec.add("stmt_id", r.stmt_id);
    r.rec.add("param_count", r.param_count);
  }
  if (r.have_rows) r.rec.add("rows", r.rows);
  if (r.have_ok) {
    r.rec.add("affected_rows", r.affected_rows);
    r.rec.add("last_insert_id", r.last_insert_id);
  }
  if (r.result_sets > 1) r.rec.add("result_sets", r.result_sets);
  if (r.have_ok || r.have_rows) r.rec.add("warnings", r.warnings);
  if (!r.local_infile.empty()) {
    r.rec.add("local_infile", r.local_infile);
    r.rec.add("local_infile_bytes", r.local_infile_bytes);
  }
  if (r.has_error) {
    r.rec.add("error_code", r.error_code);
    if (!r.sql_state.empty()) r.rec.add("sql_state", r.sql_state);
    r.rec.add("error_message", r.error_message);
  }
  r.rec.add("duration", Duration{ts.usec - r.start.usec});
}

void MysqlDecoder::flush_done() {
  pending_.flush([this](const Request& r) {
    if (handshake_ == &r) handshake_ = nullptr;
  });
}

void MysqlDecoder::suspend_pairing() {
  pairing_ = false;
  resp_ = Resp::kFirst;
  for (Request& r : pending_) r.done = true;
  flush_done();
}

}  // namespace tcpdp::mysql
