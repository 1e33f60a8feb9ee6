#include "dumpers/pg/pg_dumper.h"

#include <string>

#include "dumpers/pg/pg_decoder.h"
#include "dumpers/pg/pg_values.h"
#include "dumpers/pg/pg_wire.h"
#include "dumpers/value_text.h"

namespace tcpdp {
namespace pg {
namespace {

constexpr int kMaxErrorRecords = 10;  // decode-error records per connection and side

// The row count at the end of a CommandComplete tag ("INSERT 0 3", "SELECT 2", "COPY 1000").
bool tag_rows(std::string_view tag, int64_t& rows) {
  const size_t space = tag.rfind(' ');
  if (space == std::string_view::npos || space + 1 == tag.size()) return false;
  int64_t v = 0;
  for (char c : tag.substr(space + 1)) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  rows = v;
  return true;
}

const char* transaction_status_name(uint8_t s) {
  switch (s) {
    case 'I':
      return "idle";
    case 'T':
      return "in_transaction";
    case 'E':
      return "failed_transaction";
    default:
      return "unknown";
  }
}

}  // namespace

std::string type_name(uint8_t type) { return std::string(1, static_cast<char>(type)); }

// Picked up mid-way: both sides look for a message boundary, nothing is paired until the
// server's next ReadyForQuery.
PgDecoder::PgDecoder(const ConnInfo& conn, RecordSink& sink, const PgOptions& options)
    : conn_(conn),
      options_(options),
      client_(*this, Direction::kClientToServer, conn.mid_stream ? Phase::kTyped : Phase::kStartup,
              conn.mid_stream ? Framer::State::kOutOfSync : Framer::State::kInSync),
      server_(*this, Direction::kServerToClient, Phase::kTyped,
              conn.mid_stream ? Framer::State::kOutOfSync : Framer::State::kInSync),
      pending_(sink, options.max_pending),
      statements_(options.max_statements),
      portals_(options.max_statements),
      pairing_(!conn.mid_stream) {}

void PgDecoder::on_data(Direction dir, Timestamp ts, std::span<const uint8_t> bytes) {
  Side& s = side(dir);
  s.framer.feed(bytes, ts, s);
  flush_done();
}

void PgDecoder::on_gap(Direction dir, Timestamp ts, uint64_t missed) {
  Side& s = side(dir);
  if (s.framer.state() != Framer::State::kSilent) {
    // Whatever message was under way is lost; the answers can no longer be matched to
    // requests, so those waiting are written first, then the gap.
    s.framer.lose_sync();
    suspend_pairing();
  }
  emit_now(gap_record(conn_, dir, ts, missed));
}

void PgDecoder::describe(Record& r) const {
  if (!username_.empty()) r.add("username", username_);
  if (!database_.empty()) r.add("database", database_);
  r.add("decoder_state", decoder_state_name(state()));
}

void PgDecoder::on_close(Timestamp ts, CloseReason) {
  closed_ = true;
  for (const Direction dir : {Direction::kClientToServer, Direction::kServerToClient}) {
    unfinished(side(dir), ts);
  }
  // Requests the server never answered are written as they are; a partial answer (an error
  // before a ReadyForQuery that never came) is kept.
  for (Request& r : pending_) {
    if (r.done) continue;
    if (r.has_error() || !r.tags.empty() || r.data_rows > 0) {
      complete(r, ts);
    } else {
      r.done = true;
    }
  }
  flush_done();
}

// ---- records -------------------------------------------------------------------------------

// The connection's fields and the session's for one direction, made once per session change.
Record PgDecoder::session() const {
  Record r;
  if (!username_.empty()) r.add("username", username_);
  if (!database_.empty()) r.add("database", database_);
  if (!application_name_.empty()) r.add("application_name", application_name_);
  return r;
}

const GroupRef& PgDecoder::session_fields(Direction dir) const {
  GroupRef& fields = session_[dir == Direction::kClientToServer ? 0 : 1];
  if (!fields) fields = connection_fields(RecordKind::kPg, conn_, dir, session());
  return fields;
}

// ts, then the kind, the connection's and the session's fields.
Record PgDecoder::record(RecordKind kind, Direction dir, Timestamp ts) const {
  if (kind == RecordKind::kPg) return base_record(session_fields(dir), ts);
  return base_record(connection_fields(kind, conn_, dir, session()), ts);
}

void PgDecoder::decode_error(Side& s, Direction dir, Timestamp ts, const std::string& what) {
  if (s.error_records >= kMaxErrorRecords) return;
  ++s.error_records;
  Record r = record(RecordKind::kDecodeError, dir, ts);
  r.add("decode_error", what);
  emit_now(std::move(r));
}

// Writes a record that answers nothing, after the requests still waiting before it.
void PgDecoder::emit_now(Record r) {
  pending_.push_done(std::move(r));
  flush_done();
}

PgDecoder::Request& PgDecoder::add_request(uint8_t type, const char* message_type, Wait wait) {
  Request& q = pending_.push();
  start_record(q.rec, session_fields(Direction::kClientToServer), client_.msg_ts());
  q.rec.add("message_type", message_type ? message_type : type_name(type));
  q.start = client_.msg_ts();
  q.type = type;
  q.wait = wait;
  // Unpaired requests complete at once: without response pairing, or while the two sides
  // cannot be matched (after a gap, or before the first ReadyForQuery of a pickup).
  q.done = wait == Wait::kNone || !options_.pair_responses || !pairing_;
  return q;
}

void PgDecoder::complete(Request& r, Timestamp ts) {
  if (r.done) return;
  r.done = true;
  if (r.skipped) {
    r.rec.add("skipped", true);  // the server discarded it after an earlier error
    return;
  }
  if (r.have_tag_rows) {
    r.rec.add("rows", r.tag_rows);
  } else if (r.data_rows > 0) {
    r.rec.add("rows", r.data_rows);
  }
  if (!r.tags.empty()) r.rec.add("command_tag", r.tags);
  if (r.empty_query) r.rec.add("empty_query", true);
  if (r.suspended) r.rec.add("portal_suspended", true);
  if (r.copy_messages > 0) {
    r.rec.add("copy_messages", r.copy_messages);
    r.rec.add("copy_bytes", r.copy_bytes);
  }
  if (r.rare) {
    Rare& x = *r.rare;
    if (!x.copy_fail.empty()) r.rec.add("copy_fail", std::move(x.copy_fail));
    if (x.has_error) {
      r.rec.add("error_severity", std::move(x.error_severity));
      r.rec.add("sql_state", std::move(x.sql_state));
      r.rec.add("error_message", std::move(x.error_message));
      if (!x.error_detail.empty()) r.rec.add("error_detail", std::move(x.error_detail));
      if (!x.error_hint.empty()) r.rec.add("error_hint", std::move(x.error_hint));
    }
  }
  r.rec.add("duration", Duration{ts.usec - r.start.usec});
}

void PgDecoder::flush_done() {
  pending_.flush([this](const Request& r) {
    if (startup_ == &r) startup_ = nullptr;
    if (copy_target_ == &r) copy_target_ = nullptr;
  });
}

void PgDecoder::suspend_pairing() {
  pairing_ = false;
  copy_target_ = nullptr;
  pipeline_error_ = false;
  for (Request& r : pending_) r.done = true;
  flush_done();
}

// ---- client --------------------------------------------------------------------------------

void PgDecoder::client_message(uint8_t type, std::span<const uint8_t> body) {
  const Direction c2s = Direction::kClientToServer;
  switch (type) {
    case 'Q': {
      std::string_view query;
      if (!parse_single_string(body, query)) return malformed(type);
      Request& q = add_request(type, nullptr, Wait::kReady);
      q.rec.add("query", query);
      return;
    }
    case 'P': {
      ParseMsg& m = parse_;
      if (!parse_parse(body, m)) return malformed(type);
      Request& q = add_request(type, nullptr, Wait::kParse);
      q.rec.add("stmt_name", m.name);
      q.rec.add("parse_query", m.query);
      q.rec.begin_array("param_types");
      for (uint32_t t : m.param_types) q.rec.add({}, t);
      q.rec.end();
      Statement& st = statements_.remember(m.name);
      st.query.assign(m.query);
      st.types.assign(m.param_types.begin(), m.param_types.end());
      return;
    }
    case 'B': {
      BindMsg& m = bind_;
      if (!parse_bind(body, m)) return malformed(type);
      const Statement* st = statements_.find(m.statement);
      Request& q = add_request(type, nullptr, Wait::kBind);
      q.rec.add("portal_name", m.portal);
      q.rec.add("stmt_name", m.statement);
      q.rec.begin_array("bind_values");
      for (size_t i = 0; i < m.params.size(); ++i) {
        const BindParam& p = m.params[i];
        if (p.is_null) {
          q.rec.add({}, nullptr);
        } else if (bind_format(m, i) == 0) {
          add_lossless(q.rec, {}, as_text(p.value));
        } else {
          const uint32_t t = st && i < st->types.size() ? st->types[i] : 0;
          q.rec.add({}, t ? binary_to_text(t, p.value) : hex_value(p.value));
        }
      }
      q.rec.end();
      Portal& portal = portals_.remember(m.portal);
      portal.statement.assign(m.statement);
      portal.query_known = st != nullptr;
      if (st) {
        portal.query.assign(st->query);
      } else {
        portal.query.clear();
      }
      return;
    }
    case 'E': {
      ExecuteMsg m;
      if (!parse_execute(body, m)) return malformed(type);
      Request& q = add_request(type, nullptr, Wait::kExecute);
      q.rec.add("portal_name", m.portal);
      if (const Portal* portal = portals_.find(m.portal)) {
        q.rec.add("stmt_name", portal->statement);
        if (portal->query_known) q.rec.add("execute_query", portal->query);
      }
      if (m.max_rows > 0) q.rec.add("max_rows", m.max_rows);
      return;
    }
    case 'D':
    case 'C': {
      TargetMsg m;
      if (!parse_target(body, m)) return malformed(type);
      Request& q = add_request(type, nullptr, type == 'D' ? Wait::kDescribe : Wait::kClose);
      q.rec.add(m.kind == 'S' ? "stmt_name" : "portal_name", m.name);
      q.describe_kind = m.kind;
      if (type == 'D' && m.kind == 'S') q.extra().describe_name = std::string(m.name);
      if (type == 'C') {
        if (m.kind == 'S') {
          statements_.erase(m.name);
        } else {
          portals_.erase(m.name);
        }
      }
      return;
    }
    case 'S':
      add_request(type, nullptr, Wait::kReady);
      return;
    case 'H':
    case 'X':
      add_request(type, nullptr, Wait::kNone);
      return;
    case 'F': {
      ByteReader r(body);
      int32_t function;
      if (!r.i32(function)) return malformed(type);
      Request& q = add_request(type, nullptr, Wait::kReady);
      q.rec.add("function_oid", static_cast<uint32_t>(function));
      return;
    }
    case 'c':
      return;
    case 'f': {
      std::string_view why;
      if (!parse_single_string(body, why)) return malformed(type);
      if (copy_target_) copy_target_->extra().copy_fail = std::string(why);
      return;
    }
    case 'p': {
      Request& q = add_request(type, nullptr, Wait::kNone);
      if (!auth_method_.empty()) q.rec.add("auth_method", auth_method_);
      if (auth_method_.rfind("SASL", 0) == 0 && !sasl_started_) {
        ByteReader r(body);  // SASLInitialResponse: the mechanism, then the client's data
        std::string_view mechanism;
        if (r.cstring(mechanism)) q.rec.add("sasl_mechanism", mechanism);
        sasl_started_ = true;
      }
      return;  // the password, hash or SASL data itself is never logged
    }
    default:
      decode_error(client_, c2s, client_.msg_ts(),
                   "unexpected client message '" + type_name(type) + "'");
  }
}

void PgDecoder::malformed(uint8_t type) {
  lose_sync(client_, "malformed client message '" + type_name(type) + "'");
}

void PgDecoder::count_only(Direction dir, uint8_t type, uint32_t body_len) {
  if (type == 'd') {
    if (copy_target_) {
      ++copy_target_->copy_messages;
      copy_target_->copy_bytes += body_len;
    }
    return;
  }
  if (dir == Direction::kServerToClient && pairing_) {  // DataRow
    if (Request* q = waiting(); q && (q->type == 'Q' || q->type == 'E')) ++q->data_rows;
  }
}

// ---- server --------------------------------------------------------------------------------

void PgDecoder::server_message(uint8_t type, std::span<const uint8_t> body) {
  const Direction s2c = Direction::kServerToClient;
  const Timestamp ts = server_.msg_ts();
  if (!plausible_message(s2c, type, body) &&
      std::string_view("RGHWcAV").find(static_cast<char>(type)) == std::string_view::npos) {
    lose_sync(server_, "malformed server message '" + type_name(type) + "'");
    return;
  }
  Request* q = pairing_ ? waiting() : nullptr;
  switch (type) {
    case 'R':
    case 'K':
    case 'S':
    case 'v':
      return session_message(type, body);
    case 'Z':
      return ready_for_query(body[0], ts);
    case 'C': {
      std::string_view tag;
      parse_single_string(body, tag);
      if (!q) return;
      if (!q->tags.empty()) q->tags += "; ";
      q->tags += tag;
      int64_t rows;
      if (tag_rows(tag, rows)) {
        q->tag_rows += rows;
        q->have_tag_rows = true;
      }
      if (q->type == 'E') complete(*q, ts);
      copy_target_ = nullptr;
      return;
    }
    case 'E': {
      ErrorMsg e;
      parse_error(body, e);
      if (!q) {
        Record r = record(RecordKind::kPg, s2c, ts);
        r.add("message_type", "ErrorResponse");  // not "E", the client's Execute
        r.add("error_severity", e.severity);
        r.add("sql_state", e.code);
        r.add("error_message", e.message);
        emit_now(std::move(r));
        return;
      }
      Rare& x = q->extra();
      x.has_error = true;
      x.error_severity = e.severity;
      x.sql_state = e.code;
      x.error_message = e.message;
      x.error_detail = e.detail;
      x.error_hint = e.hint;
      copy_target_ = nullptr;
      if (q->wait != Wait::kReady) {  // extended protocol: the rest up to Sync is skipped
        complete(*q, ts);
        pipeline_error_ = true;
      }
      return;
    }
    case '1':
      if (q && q->wait == Wait::kParse) complete(*q, ts);
      return;
    case '2':
      if (q && q->wait == Wait::kBind) complete(*q, ts);
      return;
    case '3':
      if (q && q->wait == Wait::kClose) complete(*q, ts);
      return;
    case 't':
      if (q && q->wait == Wait::kDescribe && q->describe_kind == 'S') {
        ByteReader r(body);
        int16_t n = 0;
        Statement* st = statements_.find(q->extra().describe_name);
        // A count the message cannot hold (or a negative one) leaves the types as they were.
        if (st && r.i16(n) && n >= 0 && static_cast<size_t>(n) * 4 <= r.remaining()) {
          st->types.resize(static_cast<size_t>(n));
          for (uint32_t& t : st->types) {
            int32_t v = 0;
            r.i32(v);
            t = static_cast<uint32_t>(v);
          }
        }
      }
      return;
    case 'T':
    case 'n':
      if (q && q->wait == Wait::kDescribe) complete(*q, ts);
      return;
    case 's':
      if (q && q->type == 'E') {
        q->suspended = true;
        complete(*q, ts);
      }
      return;
    case 'I':
      if (!q) return;
      q->empty_query = true;
      if (q->type == 'E') complete(*q, ts);
      return;
    case 'G':
    case 'H':
    case 'W':
      if (q && (q->type == 'Q' || q->type == 'E')) copy_target_ = q;
      return;
    default:
      return;  // N (notice), A (notification), V (function result), c: nothing to pair
  }
}

void PgDecoder::ready_for_query(uint8_t status, Timestamp ts) {
  if (pairing_) {
    // Everything still waiting up to the first request answered by ReadyForQuery ends here;
    // after an error in the extended protocol the server skipped those requests.
    for (Request& r : pending_) {
      if (r.done) continue;
      if (r.wait == Wait::kReady) {
        r.rec.add("transaction_status", transaction_status_name(status));
        complete(r, ts);
        break;
      }
      r.skipped = pipeline_error_;
      complete(r, ts);
    }
  }
  if (startup_) startup_ = nullptr;
  pipeline_error_ = false;
  copy_target_ = nullptr;
  pairing_ = true;  // requests from here on are answered after this point
}

}  // namespace pg

std::unique_ptr<Decoder> PgDumper::open(const ConnInfo& conn, Timestamp) {
  return std::make_unique<pg::PgDecoder>(conn, sink_, options_);
}

}  // namespace tcpdp