#include "dumpers/mysql/mysql_dumper.h"

#include <zlib.h>

#include <cctype>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "dumpers/mysql/mysql_charset.h"
#include "dumpers/mysql/mysql_values.h"
#include "dumpers/mysql/mysql_wire.h"
#include "dumpers/request_queue.h"

namespace tcpdp {
namespace {

using mysql::Reader;

namespace cap {
constexpr uint32_t kConnectWithDb = 0x8, kCompress = 0x20, kProtocol41 = 0x200, kSsl = 0x800,
                   kSecureConnection = 0x8000, kPluginAuth = 0x80000, kConnectAttrs = 0x100000,
                   kLenencAuthData = 0x200000, kDeprecateEof = 0x1000000;
}
constexpr uint16_t kMoreResultsExist = 0x0008;
constexpr uint32_t kMariadbCacheMetadata = 1 << 4;  // MariaDB extended capability
constexpr uint32_t kMaxPacket = 0xFFFFFF;  // a payload this long continues in the next packet
constexpr size_t kResyncWindow = 1 << 20;  // bytes searched for a boundary before dropping them
constexpr int kMaxErrorRecords = 10;       // decode-error records per connection and side
constexpr size_t kMaxLongData = 1 << 20;   // COM_STMT_SEND_LONG_DATA bytes kept for a value

enum Command : uint8_t {
  kQuit = 0x01,
  kInitDb = 0x02,
  kQuery = 0x03,
  kFieldList = 0x04,
  kCreateDb = 0x05,
  kDropDb = 0x06,
  kRefresh = 0x07,
  kShutdown = 0x08,
  kStatistics = 0x09,
  kProcessInfo = 0x0a,
  kConnect = 0x0b,
  kProcessKill = 0x0c,
  kDebug = 0x0d,
  kPing = 0x0e,
  kTime = 0x0f,
  kDelayedInsert = 0x10,
  kChangeUser = 0x11,
  kBinlogDump = 0x12,
  kTableDump = 0x13,
  kConnectOut = 0x14,
  kRegisterSlave = 0x15,
  kStmtPrepare = 0x16,
  kStmtExecute = 0x17,
  kStmtSendLongData = 0x18,
  kStmtClose = 0x19,
  kStmtReset = 0x1a,
  kSetOption = 0x1b,
  kStmtFetch = 0x1c,
  kDaemon = 0x1d,
  kBinlogDumpGtid = 0x1e,
  kResetConnection = 0x1f,
  kStmtBulkExecute = 0xfa,
};

const char* command_name(uint8_t c) {
  switch (c) {
    case kQuit:
      return "COM_QUIT";
    case kInitDb:
      return "COM_INIT_DB";
    case kQuery:
      return "COM_QUERY";
    case kFieldList:
      return "COM_FIELD_LIST";
    case kCreateDb:
      return "COM_CREATE_DB";
    case kDropDb:
      return "COM_DROP_DB";
    case kRefresh:
      return "COM_REFRESH";
    case kShutdown:
      return "COM_SHUTDOWN";
    case kStatistics:
      return "COM_STATISTICS";
    case kProcessInfo:
      return "COM_PROCESS_INFO";
    case kConnect:
      return "COM_CONNECT";
    case kProcessKill:
      return "COM_PROCESS_KILL";
    case kDebug:
      return "COM_DEBUG";
    case kPing:
      return "COM_PING";
    case kTime:
      return "COM_TIME";
    case kDelayedInsert:
      return "COM_DELAYED_INSERT";
    case kChangeUser:
      return "COM_CHANGE_USER";
    case kBinlogDump:
      return "COM_BINLOG_DUMP";
    case kTableDump:
      return "COM_TABLE_DUMP";
    case kConnectOut:
      return "COM_CONNECT_OUT";
    case kRegisterSlave:
      return "COM_REGISTER_SLAVE";
    case kStmtPrepare:
      return "COM_STMT_PREPARE";
    case kStmtExecute:
      return "COM_STMT_EXECUTE";
    case kStmtSendLongData:
      return "COM_STMT_SEND_LONG_DATA";
    case kStmtClose:
      return "COM_STMT_CLOSE";
    case kStmtReset:
      return "COM_STMT_RESET";
    case kSetOption:
      return "COM_SET_OPTION";
    case kStmtFetch:
      return "COM_STMT_FETCH";
    case kDaemon:
      return "COM_DAEMON";
    case kBinlogDumpGtid:
      return "COM_BINLOG_DUMP_GTID";
    case kResetConnection:
      return "COM_RESET_CONNECTION";
    case kStmtBulkExecute:
      return "COM_STMT_BULK_EXECUTE";
    default:
      return nullptr;
  }
}

// Commands the server does not answer.
bool unanswered(uint8_t c) { return c == kQuit || c == kStmtSendLongData || c == kStmtClose; }

// The exact payload length a command must have, or 0 when it varies (used to judge a boundary).
size_t fixed_length(uint8_t c) {
  switch (c) {
    case kQuit:
    case kStatistics:
    case kProcessInfo:
    case kPing:
    case kTime:
    case kDebug:
    case kResetConnection:
      return 1;
    case kSetOption:
      return 3;
    case kStmtClose:
    case kStmtReset:
    case kProcessKill:
      return 5;
    case kStmtFetch:
      return 9;
    default:
      return 0;
  }
}

uint32_t le24(const uint8_t* p) { return p[0] | p[1] << 8 | static_cast<uint32_t>(p[2]) << 16; }

class MysqlDecoder : public Decoder {
 public:
  MysqlDecoder(const ConnInfo& conn, RecordSink& sink, const MysqlOptions& options)
      : conn_(conn), options_(options), pending_(sink, options.max_pending) {
    if (conn.mid_stream) {
      // The handshake was missed: assume commands, find packet boundaries, pair nothing until
      // the server has finished an answer.
      phase_ = Phase::kCommand;
      client_.mode = server_.mode = Mode::kOutOfSync;
      pairing_ = false;
    }
  }

  void on_data(Direction dir, Timestamp ts, std::span<const uint8_t> bytes) override {
    Side& s = side(dir);
    if (s.compressed) {
      feed_compressed(s, dir, ts, bytes);
    } else {
      feed(s, dir, ts, bytes);
    }
    flush_done();
  }

  void on_gap(Direction dir, Timestamp, uint64_t) override {
    Side& s = side(dir);
    if (s.mode == Mode::kSilent) return;
    s.buf.clear();
    s.joined.clear();
    s.zbuf.clear();
    s.in_body = false;
    s.mode = Mode::kOutOfSync;
    suspend_pairing();
  }

  void describe(Record& r) const override {
    if (!username_.empty()) r.add("username", username_);
    if (!database_.empty()) r.add("database", database_);
  }

  void on_close(Timestamp ts, CloseReason) override {
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

 private:
  enum class Mode { kPackets, kOutOfSync, kSilent };
  enum class Phase { kGreeting, kHandshakeResponse, kAuth, kCommand };
  enum class Resp {
    kFirst,
    kColumnDefs,
    kColumnsEof,
    kRows,
    kFieldList,
    kPrepParams,
    kPrepParamsEof,
    kPrepCols,
    kPrepColsEof
  };

  struct Side {
    Mode mode = Mode::kPackets;
    bool compressed = false;
    std::string zbuf;    // a compressed packet being gathered
    std::string buf;     // a packet header or payload being gathered, or the resync window
    std::string joined;  // the parts of a payload of 16 MB or more
    bool in_body = false;
    uint32_t body_len = 0;
    uint8_t seq = 0;
    uint8_t first_seq = 0;  // the sequence number of the first piece of a joined payload
    Timestamp msg_ts;
    uint64_t skip_left = 0;  // bytes of an oversized payload still to pass
    uint64_t skipped = 0;
    int error_records = 0;
  };

  // A command waiting for its answer; RequestQueue adds its record and done flag.
  struct RequestState {
    Timestamp start;
    uint8_t command = 0;  // 0 for the handshake
    bool has_outcome = false;
    uint64_t rows = 0;
    bool have_rows = false;
    uint64_t affected_rows = 0;
    uint64_t last_insert_id = 0;
    bool have_ok = false;
    uint32_t warnings = 0;
    uint32_t result_sets = 0;
    bool has_error = false;
    uint16_t error_code = 0;
    std::string sql_state;
    std::string error_message;
    std::string new_database;  // COM_INIT_DB: becomes the session's on success
    std::string new_username;  // COM_CHANGE_USER
    std::string new_charset;   // SET NAMES
    uint32_t stmt_id = 0;
    uint16_t param_count = 0;
    bool prepared = false;
    std::string prepare_query;
    std::string local_infile;
    uint64_t local_infile_bytes = 0;
  };
  using Request = RequestQueue<RequestState>::Request;

  struct Statement {
    std::string query;
    uint16_t params = 0;
    std::vector<uint16_t>
        types;  // type byte | unsigned flag << 8, from the last execute with types
    std::map<uint16_t, std::string> long_data;
  };

  Side& side(Direction d) { return d == Direction::kClientToServer ? client_ : server_; }

  // ---- compression layer ---------------------------------------------------------------------

  // Compressed packets: 3-byte compressed length, sequence, 3-byte uncompressed length (0: the
  // body is not compressed), then the body: a piece of the ordinary packet stream.
  void feed_compressed(Side& s, Direction dir, Timestamp ts, std::span<const uint8_t> data) {
    while (!data.empty() && s.compressed && s.mode != Mode::kSilent) {
      if (s.mode == Mode::kOutOfSync) return;  // a gap in compressed data: nothing can be trusted
      const size_t have = s.zbuf.size();
      size_t need = 7;
      if (have >= 7) need = 7 + le24(reinterpret_cast<const uint8_t*>(s.zbuf.data()));
      const size_t take = std::min(need - have, data.size());
      s.zbuf.append(reinterpret_cast<const char*>(data.data()), take);
      data = data.subspan(take);
      if (s.zbuf.size() < need) continue;
      if (need == 7) continue;  // the header is complete; its body comes next
      const auto* h = reinterpret_cast<const uint8_t*>(s.zbuf.data());
      const uint32_t stored = le24(h);
      const uint32_t plain_len = le24(h + 4);
      std::string plain;
      if (plain_len == 0) {
        plain.assign(s.zbuf, 7, stored);
      } else if (plain_len > options_.max_message) {
        decode_error(s, dir, ts,
                     "compressed packet inflates to " + std::to_string(plain_len) +
                         " bytes, over the limit");
        return lose(s);
      } else {
        plain.resize(plain_len);
        uLongf out_len = plain_len;
        if (uncompress(reinterpret_cast<Bytef*>(plain.data()), &out_len, h + 7, stored) != Z_OK ||
            out_len != plain_len) {
          decode_error(s, dir, ts, "compressed packet does not inflate");
          return lose(s);
        }
      }
      s.zbuf.clear();
      feed(s, dir, ts, {reinterpret_cast<const uint8_t*>(plain.data()), plain.size()});
    }
    if (!data.empty() && !s.compressed) feed(s, dir, ts, data);
  }

  // ---- packet layer --------------------------------------------------------------------------

  void feed(Side& s, Direction dir, Timestamp ts, std::span<const uint8_t> data) {
    while (!data.empty()) {
      if (s.mode == Mode::kSilent) return;
      if (s.mode == Mode::kOutOfSync) {
        resync(s, dir, ts, data);
        return;
      }
      if (s.skip_left > 0) {
        const size_t n = std::min<uint64_t>(s.skip_left, data.size());
        s.skip_left -= n;
        data = data.subspan(n);
        continue;
      }
      if (!s.in_body) {
        if (s.buf.empty() && s.joined.empty()) s.msg_ts = ts;
        const size_t take = std::min<size_t>(4 - s.buf.size(), data.size());
        s.buf.append(reinterpret_cast<const char*>(data.data()), take);
        data = data.subspan(take);
        if (s.buf.size() < 4) return;
        const auto* h = reinterpret_cast<const uint8_t*>(s.buf.data());
        s.body_len = le24(h);
        s.seq = h[3];
        if (s.joined.empty()) s.first_seq = s.seq;
        s.buf.clear();
        if (s.joined.size() + s.body_len > options_.max_message) {
          decode_error(s, dir, s.msg_ts,
                       "payload over the limit of " + std::to_string(options_.max_message) +
                           " bytes: skipped");
          s.skip_left = s.body_len;
          s.joined.clear();
          if (dir == Direction::kClientToServer) suspend_pairing();
          continue;
        }
        s.in_body = true;
      }
      std::span<const uint8_t> payload;
      if (s.buf.empty() && data.size() >= s.body_len) {
        payload = data.first(s.body_len);
        data = data.subspan(s.body_len);
      } else {
        const size_t take = std::min<size_t>(s.body_len - s.buf.size(), data.size());
        s.buf.append(reinterpret_cast<const char*>(data.data()), take);
        data = data.subspan(take);
        if (s.buf.size() < s.body_len) return;
        payload = {reinterpret_cast<const uint8_t*>(s.buf.data()), s.buf.size()};
      }
      s.in_body = false;
      if (s.body_len == kMaxPacket || !s.joined.empty()) {
        // A payload of 16 MB or more arrives in pieces: the last one is shorter than 16 MB.
        s.joined.append(reinterpret_cast<const char*>(payload.data()), payload.size());
        s.buf.clear();
        if (s.body_len == kMaxPacket) continue;
        const std::string whole = std::move(s.joined);
        s.joined.clear();
        packet(dir, s.first_seq, {reinterpret_cast<const uint8_t*>(whole.data()), whole.size()});
        continue;
      }
      if (!s.buf.empty()) {
        const std::string whole = std::move(s.buf);
        s.buf.clear();
        packet(dir, s.seq, {reinterpret_cast<const uint8_t*>(whole.data()), whole.size()});
      } else {
        packet(dir, s.seq, payload);
      }
    }
  }

  void lose(Side& s) {
    s.buf.clear();
    s.joined.clear();
    s.zbuf.clear();
    s.in_body = false;
    s.skip_left = 0;
    s.mode = s.compressed ? Mode::kSilent : Mode::kOutOfSync;
    suspend_pairing();
  }

  bool plausible_command(std::span<const uint8_t> payload) const {
    if (payload.empty() || !command_name(payload[0])) return false;
    const size_t fixed = fixed_length(payload[0]);
    if (fixed) return payload.size() == fixed;
    switch (payload[0]) {
      case kStmtExecute:
        return payload.size() >= 10;
      case kStmtSendLongData:
        return payload.size() >= 7;
      case kQuery:
      case kInitDb:
      case kStmtPrepare:
        return payload.size() >= 2;
      default:
        return false;  // rarer commands carry too little to recognise a boundary by
    }
  }

  // The end of an answer: an OK or ERR packet that parses completely.
  bool plausible_answer_end(std::span<const uint8_t> payload) const {
    if (payload.empty()) return false;
    Reader r(payload.subspan(1));
    if (payload[0] == 0x00) {
      uint64_t affected, insert_id;
      uint16_t status, warnings;
      return r.lenenc(affected) && r.lenenc(insert_id) && r.u16(status) && r.u16(warnings);
    }
    if (payload[0] == 0xFF) {
      uint16_t code;
      uint8_t hash;
      return r.u16(code) && r.u8(hash) && hash == '#' && r.remaining() >= 5;
    }
    return false;
  }

  // Out of sync: look for a packet that is surely a boundary. On the client side, a command
  // (sequence 0) of the right shape followed by another plausible header or the end of the data;
  // on the server side, the end of an answer (OK or ERR, sequence 1 or more), after which the
  // next answer starts clean. Nothing is decoded before it.
  void resync(Side& s, Direction dir, Timestamp ts, std::span<const uint8_t> data) {
    s.buf.append(reinterpret_cast<const char*>(data.data()), data.size());
    const auto* b = reinterpret_cast<const uint8_t*>(s.buf.data());
    const size_t n = s.buf.size();
    // A candidate whose packet is not all here yet cannot be judged; a later one that can wins.
    size_t keep_from = n > 3 ? n - 3 : 0;
    const bool client = dir == Direction::kClientToServer;
    for (size_t pos = 0; pos + 4 <= n; ++pos) {
      const uint32_t len = le24(b + pos);
      const uint8_t seq = b[pos + 3];
      if (len == 0 || len > kResyncWindow || (client ? seq != 0 : seq == 0)) continue;
      const size_t end = pos + 4 + len;
      if (end > n) {
        keep_from = std::min(keep_from, pos);
        continue;
      }
      const std::span<const uint8_t> payload(b + pos + 4, len);
      if (client ? !plausible_command(payload) : !plausible_answer_end(payload)) continue;
      if (end + 4 <= n) {
        const uint32_t next_len = le24(b + end);
        const uint8_t next_seq = b[end + 3];
        if (next_len == 0 || next_len > kMaxPacket) continue;
        if (client && next_seq != 0 && next_seq != 2) continue;
        if (!client && next_seq != 1) continue;
      } else if (end != n) {
        keep_from = std::min(keep_from, pos);
        continue;
      }
      s.skipped += client ? pos : end;
      if (s.skipped > 0) {
        Record r = record(dir, ts);
        r.add("skipped_bytes", s.skipped);
        r.add("decode_error", "bytes skipped to find a packet boundary after a gap or pickup");
        emit_now(std::move(r));
      }
      s.skipped = 0;
      s.mode = Mode::kPackets;
      if (!client) {
        resp_ = Resp::kFirst;
        pairing_ = true;  // the server has finished an answer: the next one is the next command's
      }
      const std::string rest = s.buf.substr(client ? pos : end);
      s.buf.clear();
      feed(s, dir, ts, {reinterpret_cast<const uint8_t*>(rest.data()), rest.size()});
      return;
    }
    if (keep_from == 0 && n > kResyncWindow) keep_from = n - kResyncWindow / 2;
    s.skipped += keep_from;
    s.buf.erase(0, keep_from);
  }

  // ---- records -------------------------------------------------------------------------------

  // The connection's fields and the session's for one direction, made once per session change.
  const GroupRef& session_fields(Direction dir) const {
    GroupRef& fields = session_[dir == Direction::kClientToServer ? 0 : 1];
    if (!fields) fields = connection_fields(conn_, dir, session(database_));
    return fields;
  }

  Record session(std::string_view database) const {
    Record r;
    if (!username_.empty()) r.add("username", username_);
    if (!database.empty()) r.add("database", database);
    return r;
  }

  // ts, then the connection's and the session's fields.
  Record record(Direction dir, Timestamp ts) const { return base_record(session_fields(dir), ts); }

  std::string text(std::span<const uint8_t> bytes) const {
    return mysql::to_utf8(mysql::as_text(bytes), charset_);
  }

  void decode_error(Side& s, Direction dir, Timestamp ts, const std::string& what) {
    if (s.error_records >= kMaxErrorRecords) return;
    ++s.error_records;
    Record r = record(dir, ts);
    r.add("decode_error", what);
    emit_now(std::move(r));
  }

  void emit_now(Record r) {
    pending_.push_done(std::move(r));
    flush_done();
  }

  // `database`, when given, replaces the session's on this record only (COM_INIT_DB's own).
  Request& add_request(uint8_t command, uint8_t seq, bool waits, std::string_view database = {}) {
    Request& q = pending_.push();
    if (database.empty()) {
      start_record(q.rec, session_fields(Direction::kClientToServer), client_.msg_ts);
    } else {
      start_record(q.rec, connection_fields(conn_, Direction::kClientToServer, session(database)),
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

  void complete(Request& r, Timestamp ts) {
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

  void flush_done() {
    pending_.flush([this](const Request& r) {
      if (handshake_ == &r) handshake_ = nullptr;
    });
  }

  void suspend_pairing() {
    pairing_ = false;
    resp_ = Resp::kFirst;
    for (Request& r : pending_) r.done = true;
    flush_done();
  }

  Request* waiting() { return pending_.waiting(); }

  // ---- packets -------------------------------------------------------------------------------

  void packet(Direction dir, uint8_t seq, std::span<const uint8_t> payload) {
    if (dir == Direction::kClientToServer) {
      client_packet(seq, payload);
    } else {
      server_packet(seq, payload);
    }
  }

  void client_packet(uint8_t seq, std::span<const uint8_t> payload) {
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
      // Not a new command: the contents of a LOCAL INFILE, counted on the command that asked.
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
  void handshake_response(uint8_t seq, std::span<const uint8_t> payload) {
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
      uint32_t extended =
          0;  // MariaDB's extra capabilities, when the client is not "mysql" (bit 0)
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
      q.rec.add("encrypted", true);
      q.rec.add("decode_error", "the connection is encrypted from here on: TLS, cannot decode");
      client_.mode = server_.mode = Mode::kSilent;
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

  void command(uint8_t seq, std::span<const uint8_t> payload) {
    const uint8_t cmd = payload[0];
    Reader r(payload.subspan(1));
    if (!command_name(cmd)) {
      Record rec = record(Direction::kClientToServer, client_.msg_ts);
      rec.add("command_id", cmd);
      rec.add("decode_error", "unknown command");
      emit_now(std::move(rec));
      return;
    }
    const std::string new_database = cmd == kInitDb ? text(r.rest()) : std::string();
    Request& q = add_request(cmd, seq, !unanswered(cmd), new_database);
    switch (cmd) {
      case kQuery: {
        const std::string sql = text(r.rest());
        q.rec.add("query", sql);
        q.new_charset = set_names(sql);
        break;
      }
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
      case kStmtSendLongData: {
        uint32_t id;
        uint16_t param;
        if (r.u32(id) && r.u16(param)) {
          q.rec.add("stmt_id", id);
          q.rec.add("param_id", param);
          q.rec.add("bytes", r.remaining());
          if (auto it = statements_.find(id); it != statements_.end()) {
            std::string& keep = it->second.long_data[param];
            const auto chunk = mysql::as_text(r.rest());
            keep.append(chunk.substr(0, kMaxLongData - std::min(kMaxLongData, keep.size())));
          }
        }
        break;
      }
      case kStmtClose:
      case kStmtReset:
      case kStmtFetch: {
        uint32_t id;
        if (r.u32(id)) {
          q.rec.add("stmt_id", id);
          if (auto it = statements_.find(id); it != statements_.end()) {
            q.rec.add("stmt_prepare_query", it->second.query);
            if (cmd == kStmtClose) {
              statements_.erase(it);
            } else if (cmd == kStmtReset) {
              it->second.long_data.clear();
            }
          }
        }
        uint32_t rows;
        if (cmd == kStmtFetch && r.u32(rows)) q.rec.add("fetch_rows", rows);
        break;
      }
      case kFieldList: {
        std::string_view table;
        if (r.cstring(table))
          q.rec.add("table", text({reinterpret_cast<const uint8_t*>(table.data()), table.size()}));
        break;
      }
      case kChangeUser: {
        std::string_view user;
        if (r.cstring(user)) {
          q.new_username = std::string(user);
          q.rec.add("new_username", q.new_username);
        }
        break;  // the authentication data that follows is never logged
      }
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

  // `SET NAMES x` and `SET CHARACTER SET x` change the connection's character set.
  static std::string set_names(std::string_view sql) {
    if (sql.empty() || (sql[0] != 's' && sql[0] != 'S')) return {};  // the common case, quickly
    auto lower = [](std::string_view s) {
      std::string out(s);
      for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      return out;
    };
    const std::string l = lower(sql.substr(0, 64));
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

  // COM_STMT_EXECUTE: statement id, flags, iteration count, then for the statement's parameters a
  // NULL bitmap, the new-params-bound flag, the types when bound anew, and the values.
  void execute(Request& q, Reader& r) {
    uint32_t id, iterations;
    uint8_t flags;
    if (!r.u32(id) || !r.u8(flags) || !r.u32(iterations)) return;
    q.rec.add("stmt_id", id);
    auto it = statements_.find(id);
    if (it == statements_.end()) return;  // prepared before the capture: values cannot be framed
    Statement& st = it->second;
    q.rec.add("stmt_prepare_query", st.query);
    if (st.params == 0) return;
    std::span<const uint8_t> nulls;
    uint8_t bound;
    if (!r.bytes((st.params + 7) / 8, nulls) || !r.u8(bound)) return;
    if (bound) {
      st.types.assign(st.params, 0);
      for (uint16_t& t : st.types) {
        uint8_t type, flag;
        if (!r.u8(type) || !r.u8(flag)) return;
        t = static_cast<uint16_t>(type | (flag & 0x80 ? 0x100 : 0));
      }
    }
    if (st.types.size() != st.params) return;
    Record& values = values_;  // added to the record only once every value decoded
    values.clear();
    values.begin_array("stmt_execute_values");
    for (uint16_t i = 0; i < st.params; ++i) {
      if (nulls[i / 8] & (1 << (i % 8))) {
        values.add({}, nullptr);
        continue;
      }
      if (auto ld = st.long_data.find(i); ld != st.long_data.end()) {
        values.add({}, text({reinterpret_cast<const uint8_t*>(ld->second.data()), ld->second.size()}));
        continue;
      }
      mysql::BinaryValue v;
      const uint8_t type = static_cast<uint8_t>(st.types[i] & 0xFF);
      if (!mysql::read_binary_value(r, type, st.types[i] & 0x100, v)) {
        q.rec.add("decode_error", "parameter " + std::to_string(i + 1) + " of type " +
                                      mysql::type_name(type) + " does not decode");
        return;
      }
      if (v.is_null) {
        values.add({}, nullptr);
      } else if (v.is_string) {
        values.add({}, text({reinterpret_cast<const uint8_t*>(v.text.data()), v.text.size()}));
      } else {
        values.add({}, v.text);
      }
    }
    values.end();
    q.rec.append(values);
    st.long_data.clear();
  }

  // ---- server --------------------------------------------------------------------------------

  void server_packet(uint8_t seq, std::span<const uint8_t> payload) {
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
        Record r = record(Direction::kServerToClient, ts);
        add_error(r, payload);
        emit_now(std::move(r));
      }
      return;
    }
    response(*q, payload, ts);
  }

  void greeting(std::span<const uint8_t> payload) {
    phase_ = Phase::kHandshakeResponse;
    Reader r(payload);
    uint8_t protocol;
    r.u8(protocol);
    if (protocol == 0xFF) {  // refused before the handshake (too many connections, host blocked)
      Record rec = record(Direction::kServerToClient, server_.msg_ts);
      add_error(rec, payload);
      emit_now(std::move(rec));
      return;
    }
    if (protocol != 10) {
      decode_error(server_, Direction::kServerToClient, server_.msg_ts,
                   "handshake protocol version " + std::to_string(protocol) + " is not supported");
      client_.mode = server_.mode = Mode::kSilent;
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

  void authentication(std::span<const uint8_t> payload, Timestamp ts) {
    Request* q = handshake_ && !handshake_->done ? handshake_ : nullptr;
    switch (payload[0]) {
      case 0x00:  // OK: in. Compression, when agreed, starts with the next packet each way.
        phase_ = Phase::kCommand;
        if (q) complete(*q, ts);
        if (compress_) client_.compressed = server_.compressed = true;
        return;
      case 0xFF:
        if (q) {
          note_error(*q, payload);
          complete(*q, ts);
        }
        phase_ = Phase::kCommand;
        return;
      case 0xFE: {  // switch to another authentication method
        Reader r(payload.subspan(1));
        std::string_view plugin;
        if (r.cstring(plugin)) auth_plugin_ = std::string(plugin);
        if (q) q->rec.add("auth_switch", auth_plugin_);
        return;
      }
      default:
        return;  // more authentication data: never decoded
    }
  }

  void note_error(Request& q, std::span<const uint8_t> payload) {
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

  void add_error(Record& rec, std::span<const uint8_t> payload) {
    Request tmp;
    note_error(tmp, payload);
    rec.add("error_code", tmp.error_code);
    if (!tmp.sql_state.empty()) rec.add("sql_state", tmp.sql_state);
    rec.add("error_message", tmp.error_message);
  }

  // An OK packet (header 0x00, or 0xFE ending a result set): affected rows, insert id, status,
  // warnings. Returns the status flags.
  uint16_t note_ok(Request& q, std::span<const uint8_t> payload) {
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

  // EOF: 0xFE and shorter than 9 bytes; warnings and status.
  static uint16_t eof_status(std::span<const uint8_t> payload, uint16_t* warnings) {
    Reader r(payload.subspan(1));
    uint16_t w = 0, status = 0;
    r.u16(w);
    r.u16(status);
    if (warnings) *warnings = w;
    return status;
  }

  bool is_eof(std::span<const uint8_t> payload) const {
    return payload[0] == 0xFE && payload.size() < 9;
  }

  // The end of one result: more may follow (multi-statements, procedures).
  void end_of_result(Request& q, uint16_t status, Timestamp ts) {
    ++q.result_sets;
    resp_ = Resp::kFirst;
    if (!(status & kMoreResultsExist)) {
      apply_session(q);
      complete(q, ts);
    }
  }

  void apply_session(const Request& q) {
    if (q.has_error) return;
    if (!q.new_database.empty()) database_ = q.new_database;
    if (!q.new_username.empty()) username_ = q.new_username;
    session_[0] = session_[1] = nullptr;
    if (!q.new_charset.empty()) charset_ = mysql::charset_named(q.new_charset);
  }

  void response(Request& q, std::span<const uint8_t> payload, Timestamp ts) {
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
          if (statements_.size() >= options_.max_statements) statements_.erase(statements_.begin());
          statements_[id] = Statement{q.prepare_query, params, {}, {}};
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
          if (payload.size() < 9) {
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
          resp_ = deprecate_eof ? (prep_columns_ ? Resp::kPrepCols : Resp::kFirst)
                                : Resp::kPrepParamsEof;
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

  ConnInfo conn_;
  MysqlOptions options_;
  Side client_;
  Side server_;
  Phase phase_ = Phase::kGreeting;
  Resp resp_ = Resp::kFirst;
  uint64_t columns_left_ = 0;
  uint16_t prep_params_ = 0;
  uint16_t prep_columns_ = 0;
  RequestQueue<RequestState> pending_;  // commands in order; written once done
  std::unordered_map<uint32_t, Statement> statements_;
  std::string username_, database_;
  mutable GroupRef session_[2];  // record() makes them from the two above
  Record values_;                // COM_STMT_EXECUTE's parameters, while they are decoded
  mysql::Charset charset_{"utf8mb4", nullptr};
  std::string server_version_;
  uint32_t connection_id_ = 0;
  std::string auth_plugin_;
  uint32_t server_caps_ = 0;
  uint32_t client_caps_ = 0;
  uint32_t server_ext_caps_ = 0;
  uint32_t client_ext_caps_ = 0;
  bool compress_ = false;
  Request* handshake_ = nullptr;
  bool pairing_ = true;
};

}  // namespace

std::unique_ptr<Decoder> MysqlDumper::open(const ConnInfo& conn, Timestamp) {
  return std::make_unique<MysqlDecoder>(conn, sink_, options_);
}

}  // namespace tcpdp
