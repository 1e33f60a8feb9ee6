#include "dumpers/pg/pg_dumper.h"

#include <string>
#include <unordered_map>

#include "dumpers/pg/pg_messages.h"
#include "dumpers/pg/pg_values.h"
#include "dumpers/pg/pg_wire.h"
#include "dumpers/request_queue.h"

namespace tcpdp {
namespace {

using pg::ByteReader;
using pg::known_type;

constexpr size_t kMaxStartupPacket = 10000;       // the server refuses larger startup packets
constexpr uint32_t kMaxMessageLength = 1u << 30;  // the server refuses larger messages
constexpr size_t kResyncWindow = 1 << 20;  // bytes searched for a boundary before giving up on them
constexpr int kMaxErrorRecords = 10;       // decode-error records per connection and side

uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

std::string type_name(uint8_t type) { return std::string(1, static_cast<char>(type)); }

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

// Prepared statements or portals by name. The unnamed one, which most clients use for every
// query, has a place of its own; named ones are looked up by the names in messages without
// making strings of them, and kept up to a bound: past it one old entry makes room.
template <typename T>
class NameTable {
 public:
  T* find(std::string_view name) {
    if (name.empty()) return has_unnamed_ ? &unnamed_ : nullptr;
    auto it = named_.find(name);
    return it == named_.end() ? nullptr : &it->second;
  }
  /// The entry for name, to be filled in place (reusing its room).
  T& remember(std::string_view name, size_t max_named) {
    if (name.empty()) {
      has_unnamed_ = true;
      return unnamed_;
    }
    auto it = named_.find(name);
    if (it == named_.end()) {
      if (named_.size() >= max_named) named_.erase(named_.begin());
      it = named_.emplace(std::string(name), T()).first;
    }
    return it->second;
  }
  void erase(std::string_view name) {
    if (name.empty()) {
      has_unnamed_ = false;
    } else if (auto it = named_.find(name); it != named_.end()) {
      named_.erase(it);
    }
  }

 private:
  struct NameHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  std::unordered_map<std::string, T, NameHash, std::equal_to<>> named_;
  T unnamed_;
  bool has_unnamed_ = false;
};

class PgDecoder : public Decoder {
 public:
  PgDecoder(const ConnInfo& conn, RecordSink& sink, const PgOptions& options)
      : conn_(conn), options_(options), pending_(sink, options.max_pending) {
    // Picked up mid-way: both sides look for a message boundary, nothing is paired until the
    // server's next ReadyForQuery.
    const Mode start = conn.mid_stream ? Mode::kOutOfSync : Mode::kStartup;
    client_.mode = start;
    server_.mode = conn.mid_stream ? Mode::kOutOfSync : Mode::kTyped;
    pairing_ = !conn.mid_stream;
  }

  void on_data(Direction dir, Timestamp ts, std::span<const uint8_t> bytes) override {
    feed(side(dir), dir, ts, bytes);
    flush_done();
  }

  void on_gap(Direction dir, Timestamp, uint64_t) override {
    Side& s = side(dir);
    if (s.mode == Mode::kSilent) return;
    // Whatever message was under way is lost; the answers can no longer be matched to requests.
    s.buf.clear();
    s.in_body = false;
    s.skip_left = 0;
    s.mode = Mode::kOutOfSync;
    suspend_pairing();
  }

  void describe(Record& r) const override {
    if (!username_.empty()) r.add("username", username_);
    if (!database_.empty()) r.add("database", database_);
  }

  void on_close(Timestamp ts, CloseReason) override {
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

 private:
  enum class Mode { kStartup, kTyped, kSslAnswer, kOutOfSync, kSilent };
  enum class Wait { kNone, kReady, kParse, kBind, kClose, kDescribe, kExecute, kSslAnswer };

  struct Side {
    Mode mode = Mode::kTyped;
    std::string buf;  // a partial header or body, or the window searched while out of sync
    uint8_t type = 0;
    uint32_t body_len = 0;
    bool in_body = false;
    uint64_t skip_left = 0;  // bytes of a counted-only body still to pass
    Timestamp msg_ts;
    uint64_t skipped = 0;  // bytes passed over while looking for a boundary
    int error_records = 0;
  };

  // What only some requests need, kept apart so the common request stays small.
  struct Rare {
    std::string describe_name;
    std::string copy_fail;
    bool has_error = false;
    std::string error_severity, error_code, error_message, error_detail, error_hint;
  };

  // A client message waiting for its answer; RequestQueue adds its record and done flag.
  struct RequestState {
    Timestamp start;
    uint8_t type = 0;
    Wait wait = Wait::kNone;
    char describe_kind = 0;
    bool have_tag_rows = false;
    bool empty_query = false;
    bool suspended = false;
    bool skipped = false;
    std::string tags;
    int64_t tag_rows = 0;
    int64_t data_rows = 0;
    uint64_t copy_bytes = 0;
    uint64_t copy_messages = 0;
    std::unique_ptr<Rare> rare;

    Rare& extra() {
      if (!rare) rare = std::make_unique<Rare>();
      return *rare;
    }
    bool has_error() const { return rare && rare->has_error; }
  };
  using Request = RequestQueue<RequestState>::Request;

  struct Statement {
    std::string query;
    std::vector<uint32_t> types;
  };
  struct Portal {
    std::string statement;
    std::string query;
    bool query_known = false;
  };

  Side& side(Direction d) { return d == Direction::kClientToServer ? client_ : server_; }

  // ---- framing -------------------------------------------------------------------------------

  void feed(Side& s, Direction dir, Timestamp ts, std::span<const uint8_t> data) {
    while (!data.empty()) {
      switch (s.mode) {
        case Mode::kSilent:
          return;
        case Mode::kOutOfSync:
          resync(s, dir, ts, data);
          return;
        case Mode::kSslAnswer:
          on_ssl_answer(data[0], ts);
          data = data.subspan(1);
          continue;
        case Mode::kStartup:
        case Mode::kTyped:
          break;
      }
      if (s.skip_left > 0) {
        const size_t n = std::min<uint64_t>(s.skip_left, data.size());
        s.skip_left -= n;
        data = data.subspan(n);
        continue;
      }
      if (!s.in_body) {
        const size_t header_size = s.mode == Mode::kStartup ? 4 : 5;
        if (s.buf.empty()) s.msg_ts = ts;
        if (s.mode == Mode::kStartup && s.buf.empty() && data[0] == 0x16) {
          encrypted(ts);
          return;
        }
        const size_t take = std::min(header_size - s.buf.size(), data.size());
        s.buf.append(reinterpret_cast<const char*>(data.data()), take);
        data = data.subspan(take);
        if (s.buf.size() < header_size) return;
        const auto* h = reinterpret_cast<const uint8_t*>(s.buf.data());
        const uint8_t type = header_size == 5 ? h[0] : 0;
        const uint32_t len = be32(h + header_size - 4);
        s.buf.clear();
        if (!start_message(s, dir, type, len)) continue;
        if (!s.in_body) continue;
        if (s.body_len == 0) {
          s.in_body = false;
          dispatch(s, dir, {});
          continue;
        }
      }
      if (s.buf.empty() && data.size() >= s.body_len) {
        const auto body = data.first(s.body_len);
        data = data.subspan(s.body_len);
        s.in_body = false;
        dispatch(s, dir, body);
        continue;
      }
      const size_t take = std::min<size_t>(s.body_len - s.buf.size(), data.size());
      s.buf.append(reinterpret_cast<const char*>(data.data()), take);
      data = data.subspan(take);
      if (s.buf.size() == s.body_len) {
        const std::string body = std::move(s.buf);
        s.buf.clear();
        s.in_body = false;
        dispatch(s, dir, {reinterpret_cast<const uint8_t*>(body.data()), body.size()});
      }
    }
  }

  // A message header was read. Returns false when the side fell out of sync.
  bool start_message(Side& s, Direction dir, uint8_t type, uint32_t len) {
    if (s.mode == Mode::kStartup) {
      if (len < 8 || len > kMaxStartupPacket) {
        return lose_sync(s, dir, "startup packet length " + std::to_string(len) + " is not valid");
      }
    } else if (!known_type(dir, type)) {
      return lose_sync(s, dir, "unknown message type 0x" + hex_byte(type));
    } else if (len < 4 || len > kMaxMessageLength) {
      return lose_sync(
          s, dir, "message '" + type_name(type) + "' has impossible length " + std::to_string(len));
    }
    s.type = type;
    const uint32_t body_len = len - 4;
    // DataRow and CopyData are only counted: their bodies are passed over, never buffered.
    if ((type == 'D' && dir == Direction::kServerToClient) || type == 'd') {
      count_only(dir, type, body_len);
      s.skip_left = body_len;
      return true;
    }
    if (body_len > options_.max_message) {
      decode_error(s, dir, s.msg_ts,
                   "message '" + type_name(type) + "' of " + std::to_string(body_len) +
                       " bytes is over the limit of " + std::to_string(options_.max_message) +
                       " bytes: skipped");
      if (dir == Direction::kClientToServer) suspend_pairing();
      s.skip_left = body_len;
      return true;
    }
    s.body_len = body_len;
    s.in_body = true;
    return true;
  }

  static std::string hex_byte(uint8_t b) {
    static constexpr char kHex[] = "0123456789abcdef";
    return {kHex[b >> 4], kHex[b & 15]};
  }

  bool lose_sync(Side& s, Direction dir, const std::string& why) {
    decode_error(s, dir, s.msg_ts, why + "; looking for the next message");
    s.buf.clear();
    s.in_body = false;
    s.skip_left = 0;
    s.mode = Mode::kOutOfSync;
    suspend_pairing();
    return false;
  }

  // Out of sync: search the bytes for a message that parses completely and is followed by a
  // plausible header (or ends exactly where the data ends). Nothing is decoded before that.
  void resync(Side& s, Direction dir, Timestamp ts, std::span<const uint8_t> data) {
    s.buf.append(reinterpret_cast<const char*>(data.data()), data.size());
    const auto* b = reinterpret_cast<const uint8_t*>(s.buf.data());
    const size_t n = s.buf.size();
    size_t keep_from = n > 4 ? n - 4 : 0;  // a header may still be starting in the last bytes
    for (size_t pos = 0; pos + 5 <= n; ++pos) {
      const uint8_t type = b[pos];
      if (!known_type(dir, type)) continue;
      const uint32_t len = be32(b + pos + 1);
      if (len < 4 || len > kResyncWindow) continue;
      const size_t end = pos + 1 + len;
      if (end > n) {  // cannot judge it yet; a later candidate that can be judged wins
        keep_from = std::min(keep_from, pos);
        continue;
      }
      if (!pg::plausible_message(dir, type, {b + pos + 5, len - 4})) continue;
      if (end + 5 <= n) {
        const uint32_t next_len = be32(b + end + 1);
        if (!known_type(dir, b[end]) || next_len < 4 || next_len > kMaxMessageLength) continue;
      } else if (end != n) {
        keep_from = std::min(keep_from, pos);
        continue;
      }
      s.skipped += pos;
      if (s.skipped > 0) {
        Record r = record(dir, ts);
        r.add("skipped_bytes", s.skipped);
        r.add("decode_error", "bytes skipped to find a message boundary after a gap or pickup");
        emit_now(std::move(r));
      }
      s.skipped = 0;
      s.mode = Mode::kTyped;
      const std::string rest = s.buf.substr(pos);
      s.buf.clear();
      feed(s, dir, ts, {reinterpret_cast<const uint8_t*>(rest.data()), rest.size()});
      return;
    }
    if (keep_from == 0 && n > kResyncWindow) keep_from = n - kResyncWindow / 2;
    s.skipped += keep_from;
    s.buf.erase(0, keep_from);
  }

  void dispatch(Side& s, Direction dir, std::span<const uint8_t> body) {
    if (dir == Direction::kClientToServer) {
      if (s.mode == Mode::kStartup) {
        client_startup(body);
      } else {
        client_message(s.type, body);
      }
    } else {
      server_message(s.type, body);
    }
  }

  // ---- records -------------------------------------------------------------------------------

  // The connection's fields and the session's for one direction, made once per session change.
  const GroupRef& session_fields(Direction dir) const {
    GroupRef& fields = session_[dir == Direction::kClientToServer ? 0 : 1];
    if (!fields) {
      Record session;
      if (!username_.empty()) session.add("username", username_);
      if (!database_.empty()) session.add("database", database_);
      if (!application_name_.empty()) session.add("application_name", application_name_);
      fields = connection_fields(conn_, dir, session);
    }
    return fields;
  }

  // ts, then the connection's and the session's fields.
  Record record(Direction dir, Timestamp ts) const { return base_record(session_fields(dir), ts); }

  void decode_error(Side& s, Direction dir, Timestamp ts, const std::string& what) {
    if (s.error_records >= kMaxErrorRecords) return;
    ++s.error_records;
    Record r = record(dir, ts);
    r.add("decode_error", what);
    emit_now(std::move(r));
  }

  // Writes a record that answers nothing, after the requests still waiting before it.
  void emit_now(Record r) {
    pending_.push_done(std::move(r));
    flush_done();
  }

  Request& add_request(uint8_t type, const char* message_type, Wait wait) {
    Request& q = pending_.push();
    start_record(q.rec, session_fields(Direction::kClientToServer), client_.msg_ts);
    q.rec.add("message_type", message_type ? message_type : type_name(type));
    q.start = client_.msg_ts;
    q.type = type;
    q.wait = wait;
    // Unpaired requests complete at once: without response pairing, or while the two sides
    // cannot be matched (after a gap, or before the first ReadyForQuery of a pickup).
    q.done = wait == Wait::kNone || !options_.pair_responses || !pairing_;
    return q;
  }

  void complete(Request& r, Timestamp ts) {
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
        r.rec.add("error_code", std::move(x.error_code));
        r.rec.add("error_message", std::move(x.error_message));
        if (!x.error_detail.empty()) r.rec.add("error_detail", std::move(x.error_detail));
        if (!x.error_hint.empty()) r.rec.add("error_hint", std::move(x.error_hint));
      }
    }
    r.rec.add("duration", Duration{ts.usec - r.start.usec});
  }

  void flush_done() {
    pending_.flush([this](const Request& r) {
      if (startup_ == &r) startup_ = nullptr;
      if (copy_target_ == &r) copy_target_ = nullptr;
    });
  }

  void suspend_pairing() {
    pairing_ = false;
    copy_target_ = nullptr;
    pipeline_error_ = false;
    for (Request& r : pending_) r.done = true;
    flush_done();
  }

  // The oldest request still waiting for its answer.
  Request* waiting() { return pending_.waiting(); }

  // ---- client --------------------------------------------------------------------------------

  void client_startup(std::span<const uint8_t> body) {
    ByteReader r(body);
    int32_t code = 0;
    r.i32(code);
    if (code == pg::kSslRequestCode || code == pg::kGssEncRequestCode) {
      add_request(0, code == pg::kSslRequestCode ? "SSLRequest" : "GSSENCRequest",
                  Wait::kSslAnswer);
      encryption_request_ = code;
      server_.mode = Mode::kSslAnswer;
      return;
    }
    if (code == pg::kCancelRequestCode) {
      Request& q = add_request(0, "CancelRequest", Wait::kNone);
      int32_t pid;
      if (r.i32(pid)) q.rec.add("backend_pid", pid);  // the secret key that follows is not logged
      client_.mode = Mode::kSilent;
      server_.mode = Mode::kSilent;
      return;
    }
    if ((code >> 16) != 3) {
      decode_error(client_, Direction::kClientToServer, client_.msg_ts,
                   "startup packet with unsupported protocol version " +
                       std::to_string(code >> 16) + "." + std::to_string(code & 0xFFFF));
      client_.mode = Mode::kSilent;
      server_.mode = Mode::kSilent;
      return;
    }
    pg::StartupParams params;
    if (!pg::parse_startup_params(r.rest(), params)) {
      lose_sync(client_, Direction::kClientToServer, "malformed startup message");
      return;
    }
    for (const auto& [name, value] : params.params) {
      if (name == "user") username_ = value;
      if (name == "database") database_ = value;
      if (name == "application_name") application_name_ = value;
    }
    if (database_.empty()) database_ = username_;  // the server's default
    session_[0] = session_[1] = nullptr;
    Request& q = add_request(0, "StartupMessage", Wait::kReady);
    q.rec.add("protocol_version", std::to_string(code >> 16) + "." + std::to_string(code & 0xFFFF));
    q.rec.begin_object("parameters");
    for (const auto& [name, value] : params.params) q.rec.add(name, value);
    q.rec.end();
    startup_ = &q;
    client_.mode = Mode::kTyped;
  }

  void on_ssl_answer(uint8_t answer, Timestamp ts) {
    server_.mode = Mode::kTyped;
    Request* q = waiting();
    if (q && q->wait != Wait::kSslAnswer) q = nullptr;
    const bool accepted =
        encryption_request_ == pg::kSslRequestCode ? answer == 'S' : answer == 'G';
    if (q) {
      q->rec.add("ssl_response", std::string(1, static_cast<char>(answer)));
      if (accepted) note_encrypted(q->rec);
      complete(*q, ts);
    } else if (accepted) {  // the request was written already (no response pairing)
      Record r = record(Direction::kServerToClient, ts);
      r.add("ssl_response", std::string(1, static_cast<char>(answer)));
      note_encrypted(r);
      emit_now(std::move(r));
    }
    if (accepted) {
      go_silent();
      return;
    }
    // 'N': the client goes on with a plain startup message. Anything else is not PostgreSQL.
    client_.mode = answer == 'N' ? Mode::kStartup : Mode::kSilent;
    if (answer != 'N') server_.mode = Mode::kSilent;
  }

  static void note_encrypted(Record& r) {
    r.add("encrypted", true);
    r.add("decode_error",
          "the connection is encrypted from here on: its messages cannot be decoded");
  }

  // A TLS ClientHello where a startup packet belongs (direct SSL negotiation): say so once.
  void encrypted(Timestamp ts) {
    Record r = record(Direction::kClientToServer, ts);
    r.add("message_type", "TLS");
    note_encrypted(r);
    emit_now(std::move(r));
    go_silent();
  }

  void go_silent() {
    client_.mode = Mode::kSilent;
    server_.mode = Mode::kSilent;
    client_.buf.clear();
    server_.buf.clear();
  }

  void client_message(uint8_t type, std::span<const uint8_t> body) {
    const Direction c2s = Direction::kClientToServer;
    switch (type) {
      case 'Q': {
        std::string_view query;
        if (!pg::parse_single_string(body, query)) return malformed(type);
        Request& q = add_request(type, nullptr, Wait::kReady);
        q.rec.add("query", query);
        return;
      }
      case 'P': {
        pg::ParseMsg& m = parse_;
        if (!pg::parse_parse(body, m)) return malformed(type);
        Request& q = add_request(type, nullptr, Wait::kParse);
        q.rec.add("stmt_name", m.name);
        q.rec.add("parse_query", m.query);
        q.rec.begin_array("param_types");
        for (uint32_t t : m.param_types) q.rec.add({}, t);
        q.rec.end();
        Statement& st = statements_.remember(m.name, options_.max_statements);
        st.query.assign(m.query);
        st.types.assign(m.param_types.begin(), m.param_types.end());
        return;
      }
      case 'B': {
        pg::BindMsg& m = bind_;
        if (!pg::parse_bind(body, m)) return malformed(type);
        const Statement* st = statements_.find(m.statement);
        Request& q = add_request(type, nullptr, Wait::kBind);
        q.rec.add("portal_name", m.portal);
        q.rec.add("stmt_name", m.statement);
        q.rec.begin_array("bind_values");
        for (size_t i = 0; i < m.params.size(); ++i) {
          const pg::BindParam& p = m.params[i];
          if (p.is_null) {
            q.rec.add({}, nullptr);
          } else if (pg::bind_format(m, i) == 0) {
            q.rec.add({}, pg::as_text(p.value));
          } else {
            const uint32_t t = st && i < st->types.size() ? st->types[i] : 0;
            q.rec.add({}, t ? pg::binary_to_text(t, p.value) : pg::hex_bytes(p.value));
          }
        }
        q.rec.end();
        Portal& portal = portals_.remember(m.portal, options_.max_statements);
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
        pg::ExecuteMsg m;
        if (!pg::parse_execute(body, m)) return malformed(type);
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
        pg::TargetMsg m;
        if (!pg::parse_target(body, m)) return malformed(type);
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
        if (!pg::parse_single_string(body, why)) return malformed(type);
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
        decode_error(client_, c2s, client_.msg_ts,
                     "unexpected client message '" + type_name(type) + "'");
    }
  }

  void malformed(uint8_t type) {
    lose_sync(client_, Direction::kClientToServer,
              "malformed client message '" + type_name(type) + "'");
  }

  void count_only(Direction dir, uint8_t type, uint32_t body_len) {
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

  void server_message(uint8_t type, std::span<const uint8_t> body) {
    const Direction s2c = Direction::kServerToClient;
    const Timestamp ts = server_.msg_ts;
    if (!pg::plausible_message(s2c, type, body) &&
        std::string_view("RGHWcAVv").find(static_cast<char>(type)) == std::string_view::npos) {
      lose_sync(server_, s2c, "malformed server message '" + type_name(type) + "'");
      return;
    }
    Request* q = pairing_ ? waiting() : nullptr;
    switch (type) {
      case 'R':
        return authentication(body);
      case 'K': {
        ByteReader r(body);
        int32_t pid = 0;
        r.i32(pid);
        if (startup_ && pairing_) startup_->rec.add("backend_pid", pid);
        return;
      }
      case 'S': {
        ByteReader r(body);
        std::string_view name, value;
        r.cstring(name);
        r.cstring(value);
        if (name == "server_version" && startup_ && pairing_)
          startup_->rec.add("server_version", value);
        return;
      }
      case 'Z':
        return ready_for_query(body[0], ts);
      case 'C': {
        std::string_view tag;
        pg::parse_single_string(body, tag);
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
        pg::ErrorMsg e;
        pg::parse_error(body, e);
        if (!q) {
          Record r = record(s2c, ts);
          r.add("message_type", "E");
          r.add("error_severity", e.severity);
          r.add("error_code", e.code);
          r.add("error_message", e.message);
          emit_now(std::move(r));
          return;
        }
        Rare& x = q->extra();
        x.has_error = true;
        x.error_severity = e.severity;
        x.error_code = e.code;
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
          r.i16(n);
          if (Statement* st = statements_.find(q->extra().describe_name)) {
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
        return;  // N (notice), A (notification), V (function result), c, v: nothing to pair
    }
  }

  void authentication(std::span<const uint8_t> body) {
    ByteReader r(body);
    int32_t code;
    if (!r.i32(code)) return;
    switch (code) {
      case 0:
        if (auth_method_.empty()) auth_method_ = "none";
        if (startup_ && pairing_) startup_->rec.add("auth_method", auth_method_);
        return;
      case 2:
        auth_method_ = "kerberos5";
        return;
      case 3:
        auth_method_ = "password";
        return;
      case 5:
        auth_method_ = "md5";
        return;
      case 7:
        auth_method_ = "gss";
        return;
      case 9:
        auth_method_ = "sspi";
        return;
      case 10: {
        auth_method_ = "SASL";
        std::string_view mechanism;
        std::string list;
        while (r.cstring(mechanism) && !mechanism.empty())
          list += (list.empty() ? " " : ",") + std::string(mechanism);
        auth_method_ += list;
        return;
      }
      default:
        return;  // GSS/SASL continuation steps
    }
  }

  void ready_for_query(uint8_t status, Timestamp ts) {
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

  ConnInfo conn_;
  PgOptions options_;
  Side client_;
  Side server_;
  RequestQueue<RequestState> pending_;  // client messages in order; written once done
  NameTable<Statement> statements_;
  NameTable<Portal> portals_;
  pg::ParseMsg parse_;  // the last Parse and Bind, kept for their vectors' room
  pg::BindMsg bind_;
  std::string username_, database_, application_name_;
  mutable GroupRef session_[2];  // record() makes them from the three above
  std::string auth_method_;
  bool sasl_started_ = false;
  int32_t encryption_request_ = 0;
  Request* startup_ = nullptr;      // the StartupMessage record, until the first ReadyForQuery
  Request* copy_target_ = nullptr;  // the request a COPY's data belongs to
  bool pairing_ = true;
  bool pipeline_error_ = false;
};

}  // namespace

std::unique_ptr<Decoder> PgDumper::open(const ConnInfo& conn, Timestamp) {
  return std::make_unique<PgDecoder>(conn, sink_, options_);
}

}  // namespace tcpdp
