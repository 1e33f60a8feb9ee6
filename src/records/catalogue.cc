#include "records/catalogue.h"

#include <string>

namespace tcpdp {

namespace {

using T = ValueType;

// Keys several kinds share, defined once.
const KeyDef kTs{"ts", T::kTimestamp};
const KeyDef kEvent{"event", T::kString};
const KeyDef kConnId{"conn_id", T::kString};
const KeyDef kDuration{"duration", T::kDuration};
const KeyDef kUsername{"username", T::kString};
const KeyDef kDatabase{"database", T::kString};
const KeyDef kDecodeError{"decode_error", T::kString};
const KeyDef kQuery{"query", T::kString};
const KeyDef kRows{"rows", T::kInt};
const KeyDef kErrorMessage{"error_message", T::kString};
const KeyDef kServerVersion{"server_version", T::kString};
const KeyDef kProxySrc{"proxy_protocol_src_addr", T::kString};
const KeyDef kProxyDst{"proxy_protocol_dst_addr", T::kString};
const KeyDef kClientAddr{"client_addr", T::kString};
const KeyDef kListenAddr{"proxy_listen_addr", T::kString};
const KeyDef kProxyClientAddr{"proxy_client_addr", T::kString};
const KeyDef kRemoteAddr{"remote_addr", T::kString};

const KeyDef kHostname{"hostname", T::kString};
const KeyDef kClientPid{"client_pid", T::kInt, true};
const KeyDef kClientPpid{"client_ppid", T::kInt, true};
const KeyDef kClientComm{"client_comm", T::kString, true};
const KeyDef kClientUid{"client_uid", T::kInt, true};
const KeyDef kClientUser{"client_user", T::kString, true};
const KeyDef kServerPid{"server_pid", T::kInt, true};
const KeyDef kServerPpid{"server_ppid", T::kInt, true};
const KeyDef kServerComm{"server_comm", T::kString, true};
const KeyDef kServerUid{"server_uid", T::kInt, true};
const KeyDef kServerUser{"server_user", T::kString, true};

// The kernel's TCP states as tcp-audit names them, and UNKNOWN for a connection picked up
// mid-way in a capture; LISTEN and NEW-SYN-RECV come only from the kernel (audit).
const std::vector<std::string_view> kTcpStates = {
    "UNKNOWN",    "CLOSED",  "SYN-SENT", "SYN-RECV",  "ESTABLISHED", "FIN-WAIT-1",  "FIN-WAIT-2",
    "CLOSE-WAIT", "CLOSING", "LAST-ACK", "TIME-WAIT", "LISTEN",      "NEW-SYN-RECV"};

// The keys of every record about a connection's payload: who, which way, and (through the
// proxy) the two legs; then the proxy's order number of the record.
std::vector<KeyDef> payload_keys(std::vector<KeyDef> own) {
  std::vector<KeyDef> keys = {kTs,
                              kEvent,
                              kConnId,
                              {"src_addr", T::kString},
                              {"dst_addr", T::kString},
                              kClientAddr,
                              kListenAddr,
                              kProxyClientAddr,
                              kRemoteAddr,
                              {"direction", T::kString, false, {"->", "<-"}},
                              kProxySrc,
                              kProxyDst,
                              {"conn_seq_num", T::kInt}};
  keys.insert(keys.end(), own.begin(), own.end());
  return keys;
}

const KeyDef kApplicationName{"application_name", T::kString};

// Payload keys and the session's, as the SQL decoders learn them (pg also has
// application_name).
std::vector<KeyDef> session_keys(std::vector<KeyDef> own) {
  std::vector<KeyDef> keys = {kUsername, kDatabase};
  keys.insert(keys.end(), own.begin(), own.end());
  return payload_keys(std::move(keys));
}

const KindDef& hex_kind() {
  static const KindDef k{RecordKind::kHex, kind_name(RecordKind::kHex), "dump.log",
                         payload_keys({{"bytes", T::kString}, {"ascii", T::kString}})};
  return k;
}

const KindDef& gap_kind() {
  static const KindDef k{RecordKind::kGap, kind_name(RecordKind::kGap), "dump.log",
                         payload_keys({{"gap_bytes", T::kInt}})};
  return k;
}

const KindDef& pg_kind() {
  static const KindDef k{
      RecordKind::kPg, kind_name(RecordKind::kPg), "dump.log",
      session_keys({
          kApplicationName,
          {"message_type",
           T::kString,
           false,
           {"Q", "P", "B", "E", "D", "C", "S", "H", "F", "X", "p", "StartupMessage", "SSLRequest",
            "GSSENCRequest", "CancelRequest", "ErrorResponse"}},
          kQuery,
          {"stmt_name", T::kString},
          {"parse_query", T::kString},
          {"param_types", T::kArray},
          {"portal_name", T::kString},
          {"bind_values", T::kArray},
          {"execute_query", T::kString},
          {"max_rows", T::kInt},
          {"function_oid", T::kInt},
          {"auth_method", T::kString},
          {"sasl_mechanism", T::kString},
          {"protocol_version", T::kString},
          {"parameters", T::kObject},
          {"backend_pid", T::kInt},
          kServerVersion,
          {"negotiated_protocol_version", T::kString},
          {"unrecognized_options", T::kArray},
          {"ssl_response", T::kString},
          kDecodeError,
          {"transaction_status",
           T::kString,
           false,
           {"idle", "in_transaction", "failed_transaction", "unknown"}},
          {"skipped", T::kBool},
          kRows,
          {"command_tag", T::kString},
          {"empty_query", T::kBool},
          {"portal_suspended", T::kBool},
          {"copy_messages", T::kInt},
          {"copy_bytes", T::kInt},
          {"copy_fail", T::kString},
          {"error_severity", T::kString},
          {"sql_state", T::kString},
          kErrorMessage,
          {"error_detail", T::kString},
          {"error_hint", T::kString},
          kDuration,
      })};
  return k;
}

const KindDef& mysql_kind() {
  static const KindDef k{
      RecordKind::kMysql, kind_name(RecordKind::kMysql), "dump.log",
      session_keys({
          {"command_id", T::kInt},
          {"command",
           T::kString,
           false,
           {"COM_QUIT",
            "COM_INIT_DB",
            "COM_QUERY",
            "COM_FIELD_LIST",
            "COM_CREATE_DB",
            "COM_DROP_DB",
            "COM_REFRESH",
            "COM_SHUTDOWN",
            "COM_STATISTICS",
            "COM_PROCESS_INFO",
            "COM_CONNECT",
            "COM_PROCESS_KILL",
            "COM_DEBUG",
            "COM_PING",
            "COM_TIME",
            "COM_DELAYED_INSERT",
            "COM_CHANGE_USER",
            "COM_BINLOG_DUMP",
            "COM_TABLE_DUMP",
            "COM_CONNECT_OUT",
            "COM_REGISTER_SLAVE",
            "COM_STMT_PREPARE",
            "COM_STMT_EXECUTE",
            "COM_STMT_SEND_LONG_DATA",
            "COM_STMT_CLOSE",
            "COM_STMT_RESET",
            "COM_SET_OPTION",
            "COM_STMT_FETCH",
            "COM_DAEMON",
            "COM_BINLOG_DUMP_GTID",
            "COM_RESET_CONNECTION",
            "COM_STMT_BULK_EXECUTE"}},
          {"seq_num", T::kInt},
          {"message_type", T::kString, false, {"HandshakeResponse", "SSLRequest"}},
          kServerVersion,
          {"connection_id", T::kInt},
          {"character_set", T::kString},
          {"client_capabilities", T::kInt},
          {"auth_plugin", T::kString},
          {"program_name", T::kString},
          {"client_name", T::kString},
          {"connect_attrs", T::kObject},
          {"compressed", T::kBool},
          {"login_ok", T::kBool},
          {"auth_switch", T::kString},
          {"caching_sha2_auth", T::kString, false, {"fast", "full"}},
          kQuery,
          {"query_attributes", T::kObject},
          {"stmt_prepare_query", T::kString},
          {"stmt_id", T::kInt},
          {"param_count", T::kInt},
          {"fetch_rows", T::kInt},
          {"table", T::kString},
          {"option", T::kInt},
          {"process_id", T::kInt},
          {"schema", T::kString},
          {"new_username", T::kString},
          {"new_database", T::kString},
          {"param_id", T::kInt},
          {"bytes", T::kInt},
          {"stmt_execute_values", T::kArray},
          {"long_data_cut", T::kArray},
          kDecodeError,
          kRows,
          {"affected_rows", T::kInt},
          {"last_insert_id", T::kInt},
          {"result_sets", T::kInt},
          {"warnings", T::kInt},
          {"local_infile", T::kString},
          {"local_infile_bytes", T::kInt},
          {"error_code", T::kInt},
          {"sql_state", T::kString},
          kErrorMessage,
          kDuration,
      })};
  return k;
}

const KindDef& decode_error_kind() {
  static const KindDef k{RecordKind::kDecodeError, kind_name(RecordKind::kDecodeError), "dump.log",
                         session_keys({kApplicationName,
                                       kDecodeError,
                                       {"skipped_bytes", T::kInt},
                                       {"command_id", T::kInt},
                                       {"message_type", T::kString, false, {"XProtocol"}}})};
  return k;
}

const KindDef& encrypted_kind() {
  static const KindDef k{
      RecordKind::kEncrypted, kind_name(RecordKind::kEncrypted), "dump.log",
      session_keys({kApplicationName,
                    {"protocol", T::kString, false, {"pg", "mysql"}},
                    {"negotiation", T::kString, false, {"SSLRequest", "GSSENCRequest", "direct"}},
                    {"encryption", T::kString, false, {"tls", "gssapi"}}})};
  return k;
}

// The connection's identity on lifecycle records: addresses and ports from packets, or the
// proxy's two legs.
std::vector<KeyDef> lifecycle_keys(std::vector<KeyDef> own) {
  std::vector<KeyDef> keys = {kTs,
                              kEvent,
                              kConnId,
                              {"src_ip", T::kString},
                              {"src_port", T::kInt},
                              {"dst_ip", T::kString},
                              {"dst_port", T::kInt}};
  keys.insert(keys.end(), own.begin(), own.end());
  return keys;
}

const KindDef& state_kind() {
  static const KindDef k{RecordKind::kState, kind_name(RecordKind::kState), "conn.log",
                         lifecycle_keys({{"uid", T::kString},
                                         {"side", T::kString, false, {"client", "server"}},
                                         {"leg", T::kString, false, {"client", "remote"}},
                                         {"old_state", T::kString, false, kTcpStates},
                                         {"new_state", T::kString, false, kTcpStates},
                                         {"pid_on_cpu", T::kInt},
                                         {"comm_on_cpu", T::kString, true},
                                         {"skaddr", T::kString},
                                         kClientPid,
                                         kClientPpid,
                                         kClientComm,
                                         kClientUid,
                                         kClientUser,
                                         kServerPid,
                                         kServerPpid,
                                         kServerComm,
                                         kServerUid,
                                         kServerUser,
                                         kHostname})};
  return k;
}

const KindDef& summary_kind() {
  static const KindDef k{RecordKind::kSummary, kind_name(RecordKind::kSummary), "conn.log",
                         lifecycle_keys({
                             kProxyClientAddr,
                             kRemoteAddr,
                             kDuration,
                             {"conn_state",
                              T::kString,
                              false,
                              {"S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0",
                               "RSTRH", "SH", "SHR", "OTH"}},
                             {"history", T::kString},
                             {"client_state", T::kString, false, kTcpStates},
                             {"server_state", T::kString, false, kTcpStates},
                             {"closed_by", T::kString, true, {"client", "server"}},
                             {"mid_stream", T::kBool},
                             {"client_bytes", T::kInt},
                             {"server_bytes", T::kInt},
                             {"client_packets", T::kInt},
                             {"server_packets", T::kInt},
                             {"client_ip_bytes", T::kInt},
                             {"server_ip_bytes", T::kInt},
                             {"missed_bytes", T::kInt},
                             {"client_retransmits", T::kInt},
                             {"server_retransmits", T::kInt},
                             {"client_zero_windows", T::kInt},
                             {"server_zero_windows", T::kInt},
                             {"handshake_rtt", T::kDuration, true},
                             {"close_reason",
                              T::kString,
                              false,
                              {"fin", "reset", "idle", "end_of_capture", "evicted", "reused"}},
                             {"proxy_close_reason",
                              T::kString,
                              false,
                              {"fin", "reset", "error", "refused", "rejected", "shutdown"}},
                             kClientPid,
                             kClientPpid,
                             kClientComm,
                             kClientUid,
                             kClientUser,
                             kHostname,
                             {"connect_failed", T::kBool},
                             kServerPid,
                             kServerPpid,
                             kServerComm,
                             kServerUid,
                             kServerUser,
                             kProxySrc,
                             kProxyDst,
                             {"proxy_protocol_error", T::kString},
                             kUsername,
                             kDatabase,
                             {"decoder_state",
                              T::kString,
                              false,
                              {"in_sync", "resynchronising", "encrypted", "stopped"}},
                         })};
  return k;
}

const KindDef& digest_kind() {
  static const KindDef k{RecordKind::kDigest,
                         kind_name(RecordKind::kDigest),
                         "dump.log",
                         {kTs,
                          kEvent,
                          {"interval_start", T::kTimestamp},
                          {"interval_end", T::kTimestamp},
                          {"id", T::kString},
                          {"fingerprint", T::kString},
                          {"count", T::kInt},
                          {"timed", T::kInt},
                          {"total_duration", T::kDuration},
                          {"avg", T::kDuration},
                          {"p50", T::kDuration},
                          {"p95", T::kDuration},
                          {"p99", T::kDuration},
                          {"max", T::kDuration},
                          kRows,
                          {"errors", T::kObject},
                          {"users", T::kObject},
                          {"users_others", T::kInt},
                          {"databases", T::kObject},
                          {"databases_others", T::kInt},
                          {"clients", T::kObject},
                          {"clients_others", T::kInt},
                          {"first_seen", T::kTimestamp},
                          {"last_seen", T::kTimestamp},
                          {"example", T::kString}}};
  return k;
}

const KindDef& log_kind() {
  static const KindDef k{RecordKind::kLog,
                         kind_name(RecordKind::kLog),
                         "tcpdp.log",
                         {kTs,
                          kEvent,
                          {"level", T::kString, false, {"info", "warn", "error"}},
                          {"msg", T::kString},
                          // the start: probe's capture, proxy's relay, both's settings
                          {"interface", T::kString},
                          {"target", T::kString},
                          {"filter", T::kString},
                          {"buffer_size", T::kInt},
                          {"immediate_mode", T::kBool},
                          {"snapshot_length", T::kInt},
                          {"user", T::kString},
                          kListenAddr,
                          {"remote_addr", T::kString},
                          {"use_server_starter", T::kBool},
                          {"proxy_protocol", T::kBool},
                          {"dumper", T::kString, false, {"hex", "pg", "mysql", "conn", "auto"}},
                          {"workers", T::kInt},
                          {"config_files", T::kString},
                          // probe's statistics, at the stop and while drops rise
                          {"received", T::kInt},
                          {"dropped", T::kInt},
                          {"if_dropped", T::kInt},
                          {"queue_dropped", T::kInt},
                          {"queue_waits", T::kInt},
                          {"tcp_packets", T::kInt},
                          // the proxy's: its stop, its stopping, a connection it turned away
                          {"accepted", T::kInt},
                          {"rejected", T::kInt},
                          {"proxy_header_refused", T::kInt},
                          {"client_bytes", T::kInt},
                          {"remote_bytes", T::kInt},
                          {"dropped_records", T::kInt},
                          {"open", T::kInt},
                          {"conn_id", T::kString},
                          kClientAddr,
                          {"remote", T::kString},
                          {"host", T::kString},
                          // audit's start, stop, and kernel drops while they rise
                          {"source", T::kString},
                          {"instance", T::kString},
                          {"state_changes", T::kInt},
                          {"records", T::kInt},
                          {"connections", T::kInt},
                          {"evicted", T::kInt},
                          {"lost", T::kInt},
                          {"since_last", T::kInt}}};
  return k;
}

const std::vector<KindDef>& kinds() {
  static const std::vector<KindDef> all = [] {
    std::vector<KindDef> v = {hex_kind(),          gap_kind(),       pg_kind(),    mysql_kind(),
                              decode_error_kind(), encrypted_kind(), state_kind(), summary_kind(),
                              digest_kind(),       log_kind()};
    for (KindDef& k : v) {  // each kind's `event` has one value: its name
      for (KeyDef& key : k.keys) {
        if (key.name == kEvent.name) key.values = {k.name};
      }
    }
    return v;
  }();
  return all;
}

bool fits(ValueType type, Kind kind) {
  switch (type) {
    case T::kString:
      return kind == Kind::kString;
    case T::kInt:
      return kind == Kind::kInt;
    case T::kDouble:
      return kind == Kind::kDouble || kind == Kind::kInt;
    case T::kBool:
      return kind == Kind::kTrue || kind == Kind::kFalse;
    case T::kTimestamp:
      return kind == Kind::kTimestamp;
    case T::kDuration:
      return kind == Kind::kDuration;
    case T::kArray:
      return kind == Kind::kArray;
    case T::kObject:
      return kind == Kind::kObject;
  }
  return false;
}

}  // namespace

std::span<const KindDef> record_kinds() { return kinds(); }

const KindDef& kind_def(RecordKind kind) { return kinds()[static_cast<size_t>(kind)]; }

std::optional<RecordKind> kind_named(std::string_view name) {
  for (const KindDef& k : kinds()) {
    if (k.name == name) return k.kind;
  }
  return std::nullopt;
}

const char* value_type_name(ValueType type) {
  switch (type) {
    case T::kString:
      return "string";
    case T::kInt:
      return "integer";
    case T::kDouble:
      return "number";
    case T::kBool:
      return "boolean";
    case T::kTimestamp:
      return "timestamp";
    case T::kDuration:
      return "duration";
    case T::kArray:
      return "array";
    case T::kObject:
      return "object";
  }
  return "?";
}

std::vector<std::string> catalogue_mismatches(const Record& record) {
  std::vector<std::string> out;
  const auto event = record.find("event");
  if (!event || event->kind != Kind::kString) return {"no event key"};
  const auto kind = kind_named(event->s);
  if (!kind) return {"event '" + std::string(event->s) + "' is no kind of the catalogue"};
  const KindDef& def = kind_def(*kind);
  const auto check = [&](const FieldView& f) {
    const KeyDef* key = nullptr;
    for (const KeyDef& k : def.keys) {
      if (k.name == f.key) key = &k;
    }
    const std::string where = std::string(def.name) + " record: key '" + std::string(f.key) + "'";
    if (!key) {
      out.push_back(where + " is not in the catalogue");
    } else if (f.kind == Kind::kNull ? !key->nullable : !fits(key->type, f.kind)) {
      out.push_back(where + (f.kind == Kind::kNull
                                 ? std::string(" is not nullable")
                                 : std::string(" is not of type ") + value_type_name(key->type)));
    } else if (f.kind == Kind::kString && !key->values.empty()) {
      bool known = false;
      for (std::string_view v : key->values) known = known || v == f.s;
      if (!known)
        out.push_back(where + " has the value '" + std::string(f.s) + "', not in its set");
    }
  };
  Record::Reader reader(record.encoded());
  while (!reader.done()) {
    const FieldView f = reader.next();
    if (f.kind == Kind::kGroup) {
      Record::Reader group(f.group->fields().encoded());
      while (!group.done()) {
        const FieldView g = group.next();
        check(g);
        if (g.kind == Kind::kArray || g.kind == Kind::kObject) group.skip_container();
      }
      continue;
    }
    check(f);
    if (f.kind == Kind::kArray || f.kind == Kind::kObject) reader.skip_container();
  }
  return out;
}

}  // namespace tcpdp
