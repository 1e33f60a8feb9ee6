#include <algorithm>

#include "dumpers/mysql/mysql_decoder.h"

namespace tcpdp::mysql {
namespace {

// EOF: 0xFE and shorter than 9 bytes; warnings and status.
uint16_t eof_status(std::span<const uint8_t> payload, uint16_t* warnings) {
  Reader r(payload.subspan(1));
  uint16_t w = 0, status = 0;
  r.u16(w);
  r.u16(status);
  if (warnings) *warnings = w;
  return status;
}

}  // namespace

void MysqlDecoder::server_packet(uint8_t seq, std::span<const uint8_t> payload) {
  if (payload.empty()) return;
  const Timestamp ts = server_.msg_ts;
  switch (phase_) {
    case Phase::kGreeting:
      return greeting(payload);
    case Phase::kHandshakeResponse:
      return;
    case Phase::kAuth:
      return authentication(payload, ts);
    case Phase::kCommand:
      break;
  }
  (void)seq;
  Request* q = pairing_ ? waiting() : nullptr;
  if (!q) {
    if (payload[0] == 0xFF) {  // an error that answers nothing we saw (a kill, a timeout)
      Record r = record(RecordKind::kMysql, Direction::kServerToClient, ts);
      add_error(r, payload);
      emit_now(std::move(r));
    }
    return;
  }
  response(*q, payload, ts);
}

void MysqlDecoder::greeting(std::span<const uint8_t> payload) {
  phase_ = Phase::kHandshakeResponse;
  Reader r(payload);
  uint8_t protocol = 0;
  r.u8(protocol);
  if (protocol == 0xFF) {  // refused before the handshake (too many connections, host blocked)
    Record rec = record(RecordKind::kMysql, Direction::kServerToClient, server_.msg_ts);
    add_error(rec, payload);
    emit_now(std::move(rec));
    return;
  }
  if (protocol != 10) {
    decode_error(server_, Direction::kServerToClient, server_.msg_ts,
                 "handshake protocol version " + std::to_string(protocol) + " is not supported");
    go_silent();
    return;
  }
  std::string_view version;
  uint32_t id = 0;
  uint16_t caps_low = 0, status, caps_high = 0;
  uint8_t collation = 0, auth_len = 0;
  r.cstring(version);
  r.u32(id);
  r.skip(9);  // first part of the scramble and a filler
  r.u16(caps_low);
  uint32_t extended = 0;
  if (r.u8(collation) && r.u16(status) && r.u16(caps_high) && r.u8(auth_len) && r.skip(6) &&
      r.u32(extended)) {
    const uint32_t caps = caps_low | static_cast<uint32_t>(caps_high) << 16;
    if (!(caps & 1)) server_ext_caps_ = extended;  // MariaDB puts extra capabilities here
    if (caps & cap::kSecureConnection) r.skip(std::max<int>(13, auth_len - 8));
    std::string_view plugin;
    if ((caps & cap::kPluginAuth) && r.cstring(plugin)) auth_plugin_ = std::string(plugin);
    server_caps_ = caps;
  } else {
    server_caps_ = caps_low;
  }
  server_version_ = std::string(version);
  connection_id_ = id;
}

// The login: the server's OK or ERR ends it; before that it may switch the authentication method
// and exchange more data (caching_sha2_password's fast or full authentication, a public key,
// sha256_password, ed25519), none of it secret-free, so only its shape is noted.
void MysqlDecoder::authentication(std::span<const uint8_t> payload, Timestamp ts) {
  Request* q = handshake_ && !handshake_->done ? handshake_ : nullptr;
  switch (payload[0]) {
    case 0x00:  // OK: in. Compression, when agreed, starts with the next packet each way.
      phase_ = Phase::kCommand;
      if (q) {
        q->rec.add("login_ok", true);
        complete(*q, ts);
      } else {
        login_outcome(payload, ts);
      }
      if (compress_) client_.compressed = server_.compressed = true;
      return;
    case 0xFF:
      if (q) {
        q->rec.add("login_ok", false);
        note_error(*q, payload);
        complete(*q, ts);
      } else {
        login_outcome(payload, ts);
      }
      phase_ = Phase::kCommand;
      return;
    default:
      if (q) auth_step(*q, payload);
      return;
  }
}

// The login's outcome when the handshake record was written before it (without response
// pairing): a record of its own, from the server.
void MysqlDecoder::login_outcome(std::span<const uint8_t> payload, Timestamp ts) {
  Record r = record(RecordKind::kMysql, Direction::kServerToClient, ts);
  r.add("login_ok", payload[0] == 0x00);
  if (payload[0] == 0xFF) add_error(r, payload);
  emit_now(std::move(r));
}

// An authentication switch (0xFE) or more authentication data (0x01), during the login or after
// COM_CHANGE_USER or COM_RESET_CONNECTION: noted on q's record; false for any other packet.
bool MysqlDecoder::auth_step(Request& q, std::span<const uint8_t> payload) {
  if (payload[0] == 0xFE) {
    Reader r(payload.subspan(1));
    std::string_view plugin;
    if (payload.size() == 1) {
      auth_plugin_ = "mysql_old_password";  // the pre-4.1 switch names no method: it is this one
    } else if (r.cstring(plugin)) {
      auth_plugin_ = std::string(plugin);
    }
    q.rec.add("auth_switch", auth_plugin_);
    return true;
  }
  if (payload[0] != 0x01) return false;
  // caching_sha2_password says in one byte whether the cached hash let the client in.
  if (auth_plugin_ == "caching_sha2_password" && payload.size() == 2) {
    if (payload[1] == 0x03) q.rec.add("caching_sha2_auth", "fast");
    if (payload[1] == 0x04) q.rec.add("caching_sha2_auth", "full");
  }
  return true;
}

void MysqlDecoder::note_error(Request& q, std::span<const uint8_t> payload) {
  Reader r(payload.subspan(1));
  uint16_t code = 0;
  r.u16(code);
  q.has_error = q.has_outcome = true;
  q.error_code = code;
  std::span<const uint8_t> rest = r.rest();
  if (!rest.empty() && rest[0] == '#' && rest.size() >= 6) {
    q.sql_state = std::string(mysql::as_text(rest.subspan(1, 5)));
    rest = rest.subspan(6);
  }
  q.error_message = text(rest);
}

void MysqlDecoder::add_error(Record& rec, std::span<const uint8_t> payload) {
  Request tmp;
  note_error(tmp, payload);
  rec.add("error_code", tmp.error_code);
  if (!tmp.sql_state.empty()) rec.add("sql_state", tmp.sql_state);
  rec.add("error_message", tmp.error_message);
}

// An OK packet (header 0x00, or 0xFE ending a result set): affected rows, insert id, status,
// warnings. Returns the status flags.
uint16_t MysqlDecoder::note_ok(Request& q, std::span<const uint8_t> payload) {
  Reader r(payload.subspan(1));
  uint64_t affected = 0, insert_id = 0;
  uint16_t status = 0, warnings = 0;
  r.lenenc(affected);
  r.lenenc(insert_id);
  r.u16(status);
  r.u16(warnings);
  q.affected_rows += affected;
  if (insert_id) q.last_insert_id = insert_id;
  q.warnings += warnings;
  q.have_ok = q.has_outcome = true;
  return status;
}

// The end of one result: more may follow (multi-statements, procedures).
void MysqlDecoder::end_of_result(Request& q, uint16_t status, Timestamp ts) {
  ++q.result_sets;
  resp_ = Resp::kFirst;
  if (!(status & kMoreResultsExist)) {
    apply_session(q);
    complete(q, ts);
  }
}

void MysqlDecoder::apply_session(const Request& q) {
  if (q.has_error) return;
  if (q.resets_session) statements_.clear();  // the server drops them with the session
  bool changed = false;  // the session's fields are made again only when they change
  if (q.command == kChangeUser && q.resets_session) {
    changed = username_ != q.new_username || database_ != q.new_database;
    username_ = q.new_username;
    database_ = q.new_database;
  } else if (!q.new_database.empty() && q.new_database != database_) {
    changed = true;
    database_ = q.new_database;
  }
  if (changed) session_[0] = session_[1] = nullptr;
  if (!q.new_charset.empty()) charset_ = mysql::charset_named(q.new_charset);
}

void MysqlDecoder::response(Request& q, std::span<const uint8_t> payload, Timestamp ts) {
  const uint8_t first = payload[0];
  const bool deprecate_eof = client_caps_ & server_caps_ & cap::kDeprecateEof;
  switch (resp_) {
    case Resp::kFirst:
      if (first == 0xFF) {
        note_error(q, payload);
        ++q.result_sets;
        complete(q, ts);
        return;
      }
      if (q.resets_session && auth_step(q, payload)) return;
      if (q.command == kStmtPrepare && first == 0x00 && payload.size() >= 12) {
        Reader r(payload.subspan(1));
        uint32_t id;
        uint16_t columns, params, warnings = 0;
        r.u32(id);
        r.u16(columns);
        r.u16(params);
        r.skip(1);
        r.u16(warnings);
        q.prepared = q.has_outcome = true;
        q.stmt_id = id;
        q.param_count = params;
        q.warnings = warnings;
        statements_.remember(id) = Statement{q.prepare_query, params, {}, {}, {}};
        complete(q, ts);
        prep_params_ = params;
        prep_columns_ = columns;
        resp_ = params ? Resp::kPrepParams : columns ? Resp::kPrepCols : Resp::kFirst;
        return;
      }
      if (q.command == kStatistics) {
        q.has_outcome = true;
        complete(q, ts);
        return;
      }
      if (q.command == kFieldList) {
        if (is_eof(payload)) {
          complete(q, ts);
        } else {
          resp_ = Resp::kFieldList;
        }
        return;
      }
      if (first == 0x00) {
        end_of_result(q, note_ok(q, payload), ts);
        return;
      }
      if (is_eof(payload)) {  // COM_SET_OPTION and the like answer with EOF
        uint16_t warnings = 0;
        const uint16_t status = eof_status(payload, &warnings);
        q.warnings += warnings;
        q.has_outcome = true;
        end_of_result(q, status, ts);
        return;
      }
      if (first == 0xFB && q.command == kQuery) {  // LOCAL INFILE: the client sends the file
        q.local_infile = text(payload.subspan(1));
        q.has_outcome = true;
        return;
      }
      {
        // A result set: the column count (and with MariaDB's metadata cache, whether the column
        // definitions follow), the definitions, rows, and an EOF or OK at the end.
        Reader r(payload);
        uint64_t columns;
        uint8_t metadata = 1;
        const bool cached = client_ext_caps_ & server_ext_caps_ & kMariadbCacheMetadata;
        if (!r.lenenc(columns) || (cached && !r.u8(metadata)) || !r.done() || columns == 0) {
          decode_error(server_, Direction::kServerToClient, ts, "unexpected answer");
          return;
        }
        columns_left_ = columns;
        q.have_rows = q.has_outcome = true;
        // Without the definitions (cached), the EOF that ends them is still sent.
        resp_ = metadata ? Resp::kColumnDefs : deprecate_eof ? Resp::kRows : Resp::kColumnsEof;
      }
      return;
    case Resp::kColumnDefs:
      if (--columns_left_ == 0) resp_ = deprecate_eof ? Resp::kRows : Resp::kColumnsEof;
      return;
    case Resp::kColumnsEof:
      resp_ = Resp::kRows;
      return;
    case Resp::kRows:
      if (first == 0xFF) {
        note_error(q, payload);
        complete(q, ts);
        resp_ = Resp::kFirst;
        return;
      }
      if (first == 0xFE && payload.size() < kMaxPacket && (deprecate_eof || payload.size() < 9)) {
        uint16_t status = 0;
        // With CLIENT_DEPRECATE_EOF the rows end with an OK packet (0xFE header), however short.
        if (!deprecate_eof) {
          uint16_t warnings = 0;
          status = eof_status(payload, &warnings);
          q.warnings += warnings;
        } else {
          Reader r(payload.subspan(1));
          uint64_t affected, insert_id;
          uint16_t warnings = 0;
          r.lenenc(affected);
          r.lenenc(insert_id);
          r.u16(status);
          r.u16(warnings);
          q.warnings += warnings;
        }
        end_of_result(q, status, ts);
        return;
      }
      ++q.rows;
      return;
    case Resp::kFieldList:
      if (is_eof(payload) || first == 0xFF) {
        if (first == 0xFF) note_error(q, payload);
        complete(q, ts);
        resp_ = Resp::kFirst;
      }
      return;
    case Resp::kPrepParams:
      if (--prep_params_ == 0) {
        resp_ =
            deprecate_eof ? (prep_columns_ ? Resp::kPrepCols : Resp::kFirst) : Resp::kPrepParamsEof;
      }
      return;
    case Resp::kPrepParamsEof:
      resp_ = prep_columns_ ? Resp::kPrepCols : Resp::kFirst;
      return;
    case Resp::kPrepCols:
      if (--prep_columns_ == 0) resp_ = deprecate_eof ? Resp::kFirst : Resp::kPrepColsEof;
      return;
    case Resp::kPrepColsEof:
      resp_ = Resp::kFirst;
      return;
  }
}

}  // namespace tcpdp::mysql
