#include <algorithm>
#include <cctype>

#include "dumpers/mysql/mysql_decoder.h"
#include "dumpers/mysql/mysql_values.h"

namespace tcpdp::mysql {
namespace {

constexpr size_t kMaxLongData = 1 << 20;  // COM_STMT_SEND_LONG_DATA bytes kept for a value
constexpr uint64_t kMaxValues = 65535;    // parameters and attributes of one command

// `SET NAMES x` and `SET CHARACTER SET x` change the connection's character set.
std::string set_names(std::string_view sql) {
  if (sql.empty() || (sql[0] != 's' && sql[0] != 'S')) return {};  // the common case, quickly
  std::string l(sql.substr(0, 64));
  for (char& c : l) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (std::string_view prefix : {"set names ", "set character set "}) {
    if (l.rfind(prefix, 0) != 0) continue;
    std::string name;
    for (char c : l.substr(prefix.size())) {
      if (c == '\'' || c == '"' || c == '`') continue;
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') break;
      name += c;
    }
    return name;
  }
  return {};
}

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

void MysqlDecoder::packet(Direction dir, uint8_t seq, std::span<const uint8_t> payload) {
  if (dir == Direction::kClientToServer) {
    client_packet(seq, payload);
  } else {
    server_packet(seq, payload);
  }
}

void MysqlDecoder::client_packet(uint8_t seq, std::span<const uint8_t> payload) {
  switch (phase_) {
    case Phase::kGreeting:
    case Phase::kHandshakeResponse:
      return handshake_response(seq, payload);
    case Phase::kAuth:
      return;  // authentication exchange: secrets, never decoded
    case Phase::kCommand:
      break;
  }
  if (seq != 0) {
    // Not a new command: the contents of a LOCAL INFILE, counted on the command that asked, or
    // authentication data after COM_CHANGE_USER (never decoded).
    if (Request* q = waiting(); q && !q->local_infile.empty())
      q->local_infile_bytes += payload.size();
    return;
  }
  if (payload.empty()) return;
  command(seq, payload);
}

// HandshakeResponse41 (or 320): capabilities, character set, user, the authentication data
// (skipped, never logged), database, plugin, connection attributes. A short one with
// CLIENT_SSL is an SSL request: TLS follows.
void MysqlDecoder::handshake_response(uint8_t seq, std::span<const uint8_t> payload) {
  Reader r(payload);
  uint16_t low;
  if (!r.u16(low)) {
    return decode_error(client_, Direction::kClientToServer, client_.msg_ts,
                        "short handshake response");
  }
  uint32_t caps = low;
  uint8_t collation = 0;
  if (caps & cap::kProtocol41) {
    uint16_t high = 0;
    uint32_t max_packet;
    r.u16(high);
    caps |= static_cast<uint32_t>(high) << 16;
    r.u32(max_packet);
    r.u8(collation);
    r.skip(19);
    uint32_t extended = 0;  // MariaDB's extra capabilities, when the client is not "mysql" (bit 0)
    if (r.u32(extended) && !(caps & 1)) client_ext_caps_ = extended;
  } else {
    uint32_t max_packet;
    r.u24(max_packet);
  }
  client_caps_ = caps;
  if (collation) charset_ = mysql::charset_of_collation(collation);
  if ((caps & cap::kSsl) && r.done()) {
    Request& q = add_request(0, seq, false);
    q.rec.add("message_type", "SSLRequest");
    q.rec.add("character_set", charset_.name);
    Record notice = record(RecordKind::kEncrypted, Direction::kClientToServer, client_.msg_ts);
    fill_encrypted(notice, "mysql", Negotiation::kSslRequest);
    emit_now(std::move(notice));
    encrypted_ = true;
    go_silent();
    return;
  }
  std::string_view user, db, plugin;
  std::span<const uint8_t> auth;
  r.cstring(user);
  if (caps & cap::kLenencAuthData) {
    r.lenenc_bytes(auth);
  } else if (caps & cap::kSecureConnection) {
    uint8_t n = 0;
    r.u8(n);
    r.bytes(n, auth);
  } else {
    std::string_view old_style;
    r.cstring(old_style);
  }
  if (caps & cap::kConnectWithDb) r.cstring(db);
  if ((caps & cap::kPluginAuth) && r.cstring(plugin) && !plugin.empty())
    auth_plugin_ = std::string(plugin);
  username_ = std::string(user);
  database_ = std::string(db);
  session_[0] = session_[1] = nullptr;

  Request& q = add_request(0, seq, true);
  q.rec.add("message_type", "HandshakeResponse");
  if (!server_version_.empty()) q.rec.add("server_version", server_version_);
  if (connection_id_) q.rec.add("connection_id", connection_id_);
  q.rec.add("character_set", charset_.name);
  q.rec.add("client_capabilities", caps);
  if (!auth_plugin_.empty()) q.rec.add("auth_plugin", auth_plugin_);
  std::span<const uint8_t> attrs;
  if ((caps & cap::kConnectAttrs) && r.lenenc_bytes(attrs)) {
    Reader a(attrs);
    Record all;  // the object goes after the two fields picked out of it
    all.begin_object("connect_attrs");
    std::span<const uint8_t> k, v;
    while (a.lenenc_bytes(k) && a.lenenc_bytes(v)) {
      const std::string_view key = mysql::as_text(k);
      if (key == "program_name") q.rec.add("program_name", mysql::as_text(v));
      if (key == "_client_name") q.rec.add("client_name", mysql::as_text(v));
      all.add(key, mysql::as_text(v));
    }
    all.end();
    q.rec.append(all);
  }
  compress_ = (caps & cap::kCompress) && (server_caps_ & cap::kCompress);
  if (compress_) q.rec.add("compressed", true);
  handshake_ = &q;
  phase_ = Phase::kAuth;
}

void MysqlDecoder::command(uint8_t seq, std::span<const uint8_t> payload) {
  const uint8_t cmd = payload[0];
  Reader r(payload.subspan(1));
  if (!command_name(cmd)) {
    Record rec = record(RecordKind::kDecodeError, Direction::kClientToServer, client_.msg_ts);
    rec.add("command_id", cmd);
    rec.add("decode_error", "unknown command");
    emit_now(std::move(rec));
    return;
  }
  const std::string new_database = cmd == kInitDb ? text(r.rest()) : std::string();
  Request& q = add_request(cmd, seq, !unanswered(cmd), new_database);
  switch (cmd) {
    case kQuery:
      query(q, r);
      break;
    case kInitDb:  // the record's database is the one asked for
      q.new_database = new_database;
      break;
    case kStmtPrepare:
      q.prepare_query = text(r.rest());
      q.rec.add("stmt_prepare_query", q.prepare_query);
      break;
    case kStmtExecute:
      execute(q, r);
      break;
    case kStmtSendLongData:
      send_long_data(q, r);
      break;
    case kStmtClose:
    case kStmtReset:
    case kStmtFetch: {
      uint32_t id;
      if (r.u32(id)) {
        q.rec.add("stmt_id", id);
        if (Statement* st = statements_.find(id)) {
          q.rec.add("stmt_prepare_query", st->query);
          if (cmd == kStmtClose) {
            statements_.erase(id);
          } else if (cmd == kStmtReset) {
            st->long_data.clear();
          }
        }
      }
      uint32_t rows;
      if (cmd == kStmtFetch && r.u32(rows)) q.rec.add("fetch_rows", rows);
      break;
    }
    case kFieldList: {
      std::string_view table;
      if (r.cstring(table)) q.rec.add("table", text(bytes_of(table)));
      break;
    }
    case kChangeUser:
      change_user(q, r);
      break;
    case kResetConnection:
      q.resets_session = true;
      break;
    case kSetOption: {
      uint16_t option;
      if (r.u16(option)) q.rec.add("option", option);
      break;
    }
    case kProcessKill: {
      uint32_t id;
      if (r.u32(id)) q.rec.add("process_id", id);
      break;
    }
    case kCreateDb:
    case kDropDb:
      q.rec.add("schema", text(r.rest()));
      break;
    default:
      break;
  }
  resp_ = Resp::kFirst;
}

// COM_QUERY: with query attributes negotiated (MySQL 8.0.23+), a parameter count, a parameter set
// count and, when there are attributes, their NULL bitmap, a bind flag (always 1), each one's type
// and name, and their values come before the SQL text.
//
// On a connection picked up mid-way the negotiation was not seen. Every COM_QUERY of a connection
// with query attributes begins with the count (0 to 8 in practice: bytes below 0x09), and an SQL
// text never begins with a byte below a tab, so the first COM_QUERY seen decides it for them all.
void MysqlDecoder::query(Request& q, Reader& r) {
  bool attributes = false;
  if (conn_.mid_stream && midstream_attributes_ == Known::kUnknown && !r.done()) {
    midstream_attributes_ = r.rest()[0] < '\t' ? Known::kYes : Known::kNo;
  }
  if (query_attributes() || midstream_attributes_ == Known::kYes) {
    uint64_t count = 0, sets = 0;
    std::span<const uint8_t> nulls;
    uint8_t bound = 0;
    bool ok = r.lenenc(count) && r.lenenc(sets);
    if (ok && count > 0) {
      ok = count <= r.remaining() && r.bytes((count + 7) / 8, nulls) && r.u8(bound) && bound == 1 &&
           read_types(r, count, attr_types_, attr_names_, true) &&
           read_values(q, r, {nulls, &attr_types_, &attr_names_}, nullptr);
      attributes = ok;
    }
    if (!ok) {
      q.rec.add("decode_error", "query attributes do not decode: the SQL text is not known");
      return;
    }
  }
  const std::string sql = text(r.rest());
  q.rec.add("query", sql);
  if (attributes) q.rec.append(attributes_);
  q.new_charset = set_names(sql);
}

// COM_CHANGE_USER: user, authentication data (never logged), database, then optionally the
// character set, the authentication plugin and connection attributes.
void MysqlDecoder::change_user(Request& q, Reader& r) {
  std::string_view user, db, plugin;
  if (!r.cstring(user)) return;
  q.resets_session = true;
  q.new_username = std::string(user);
  q.rec.add("new_username", q.new_username);
  // On a connection picked up mid-way the client's capabilities are unknown: every client of
  // today sends COM_CHANGE_USER in the 4.1 layout.
  const uint32_t caps =
      client_caps_ ? client_caps_ : cap::kProtocol41 | cap::kSecureConnection | cap::kPluginAuth;
  bool ok;
  if (caps & cap::kSecureConnection) {
    uint8_t n = 0;
    ok = r.u8(n) && r.skip(n);
  } else {
    ok = r.cstring(db);  // the old scramble, NUL-terminated
  }
  if (!ok || !r.cstring(db)) return;
  q.new_database = std::string(db);
  if (!db.empty()) q.rec.add("new_database", q.new_database);
  uint16_t collation = 0;
  if ((caps & cap::kProtocol41) && r.u16(collation) && collation) {
    q.new_charset = charset_of_collation(collation).name;
  }
  if ((caps & cap::kPluginAuth) && r.cstring(plugin) && !plugin.empty()) {
    q.rec.add("auth_plugin", plugin);
    auth_plugin_ = std::string(plugin);  // the server's AuthMoreData answers this plugin
  }
}

void MysqlDecoder::send_long_data(Request& q, Reader& r) {
  uint32_t id;
  uint16_t param;
  if (!r.u32(id) || !r.u16(param)) return;
  q.rec.add("stmt_id", id);
  q.rec.add("param_id", param);
  q.rec.add("bytes", r.remaining());
  Statement* st = statements_.find(id);
  if (!st || param >= st->params) return;  // the server refuses those
  LongData& keep = st->long_data[param];
  const std::string_view chunk = as_text(r.rest());
  keep.total += chunk.size();
  keep.bytes.append(chunk.substr(0, kMaxLongData - std::min(kMaxLongData, keep.bytes.size())));
}

// COM_STMT_EXECUTE: statement id, flags, iteration count; then, when the statement has
// parameters (or with query attributes the client says how many values follow), a NULL bitmap,
// the new-params-bound flag, the types (and with query attributes the names) when bound anew,
// and the values. Values past the statement's parameters are query attributes.
void MysqlDecoder::execute(Request& q, Reader& r) {
  uint32_t id, iterations;
  uint8_t flags;
  if (!r.u32(id) || !r.u8(flags) || !r.u32(iterations)) return;
  q.rec.add("stmt_id", id);
  Statement* found = statements_.find(id);
  if (!found) return;  // prepared before the capture: values cannot be framed
  Statement& st = *found;
  q.rec.add("stmt_prepare_query", st.query);
  // With query attributes the number of values follows whenever any can (the statement has
  // parameters, or the client says attributes follow), and may pass the statement's.
  const bool named = query_attributes() || midstream_attributes_ == Known::kYes ||
                     (conn_.mid_stream && (flags & kParameterCountAvailable));
  uint64_t count = st.params;
  if (named && (st.params > 0 || (flags & kParameterCountAvailable)) && !r.lenenc(count)) return;
  if (count > 0) {
    std::span<const uint8_t> nulls;
    uint8_t bound = 0;
    if (count > r.remaining() || !r.bytes((count + 7) / 8, nulls) || !r.u8(bound) ||
        (bound && !read_types(r, count, st.types, st.names, named))) {
      q.rec.add("decode_error", "the parameters do not decode");
    } else if (st.types.size() == count) {  // else types were sent before the capture
      if (read_values(q, r, {nulls, &st.types, &st.names}, &st)) {
        if (st.params > 0) q.rec.append(values_);
        if (!attributes_.empty()) q.rec.append(attributes_);
      }
    }
  }
  st.long_data.clear();
}

bool MysqlDecoder::read_types(Reader& r, uint64_t count, std::vector<uint16_t>& types,
                              std::vector<std::string>& names, bool with_names) {
  types.clear();
  names.clear();
  // Each entry takes two type bytes and, with names, a length byte: a count the packet cannot
  // hold is refused before anything is sized by it.
  if (count > kMaxValues || count * (with_names ? 3 : 2) > r.remaining()) return false;
  types.reserve(count);
  names.reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint8_t type, flag;
    std::span<const uint8_t> name;
    if (!r.u8(type) || !r.u8(flag) || (with_names && !r.lenenc_bytes(name))) {
      types.clear();
      names.clear();
      return false;
    }
    types.push_back(static_cast<uint16_t>(type | (flag & 0x80 ? 0x100 : 0)));
    names.push_back(with_names ? text(name) : std::string());
  }
  return true;
}

// The values of in.types in order into values_ (the statement's parameters, as
// `stmt_execute_values`) and attributes_ (every named value, as `query_attributes`). For a
// parameter sent with COM_STMT_SEND_LONG_DATA the server takes the long data whatever its NULL
// bit says (MariaDB Connector/C sets it), and no value follows in the packet.
bool MysqlDecoder::read_values(Request& q, Reader& r, const Values& in, Statement* st) {
  const size_t positional = st ? st->params : 0;
  values_.clear();
  values_.begin_array("stmt_execute_values");
  attributes_.clear();
  bool any_named = false;
  std::vector<uint16_t> cut;
  for (size_t i = 0; i < in.types->size(); ++i) {
    const std::string& name = (*in.names)[i];
    if (!name.empty() && !any_named) {
      attributes_.begin_object("query_attributes");
      any_named = true;
    }
    const uint16_t t = (*in.types)[i];
    const auto type = static_cast<uint8_t>(t & 0xFF);
    auto put = [&](auto&& add) {
      if (i < positional) add(values_, std::string_view());
      if (!name.empty()) add(attributes_, std::string_view(name));
    };
    auto ld = st && i < positional ? st->long_data.find(static_cast<uint16_t>(i))
                                   : decltype(st->long_data)::iterator();
    if (st && i < positional && ld != st->long_data.end()) {
      if (ld->second.total > ld->second.bytes.size()) cut.push_back(static_cast<uint16_t>(i + 1));
      put([&](Record& rec, std::string_view key) {
        add_value(rec, key, bytes_of(ld->second.bytes));
      });
      continue;
    }
    if (in.nulls[i / 8] & (1 << (i % 8))) {
      put([](Record& rec, std::string_view key) { rec.add(key, nullptr); });
      continue;
    }
    BinaryValue v;
    if (!read_binary_value(r, type, t & 0x100, v)) {
      q.rec.add("decode_error", std::string(i < positional ? "parameter " : "query attribute ") +
                                    std::to_string(i < positional ? i + 1 : i + 1 - positional) +
                                    " of type " + type_name(type) + " does not decode");
      return false;
    }
    put([&](Record& rec, std::string_view key) {
      if (v.is_null) {
        rec.add(key, nullptr);
      } else if (v.is_string) {
        add_value(rec, key, bytes_of(v.text));
      } else {
        rec.add(key, v.text);
      }
    });
  }
  values_.end();
  if (any_named) attributes_.end();
  if (!cut.empty()) {
    // Long data is kept up to 1 MiB a value: say which values are only its beginning.
    q.rec.begin_array("long_data_cut");
    for (uint16_t n : cut) q.rec.add({}, n);
    q.rec.end();
  }
  return true;
}

}  // namespace tcpdp::mysql
