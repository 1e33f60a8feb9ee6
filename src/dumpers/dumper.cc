#include "dumpers/dumper.h"

#include "dumpers/conn/conn_dumper.h"
#include "dumpers/hex/hex_dumper.h"
#include "dumpers/mysql/mysql_dumper.h"
#include "dumpers/pg/pg_dumper.h"

namespace tcpdp {

const char* close_reason_name(CloseReason r) {
  switch (r) {
    case CloseReason::kFin:
      return "fin";
    case CloseReason::kReset:
      return "reset";
    case CloseReason::kIdle:
      return "idle";
    case CloseReason::kEndOfCapture:
      return "end_of_capture";
    case CloseReason::kEvicted:
      return "evicted";
    case CloseReason::kReused:
      return "reused";
  }
  return "?";
}

GroupRef connection_fields(RecordKind kind, const ConnInfo& conn, Direction dir,
                           const Record& extra) {
  Record fields;
  fields.add("event", kind_name(kind));
  fields.add("conn_id", conn.conn_id);
  if (conn.relayed_by) {
    fields.add("client_addr", conn.client.to_string());
    fields.add("proxy_listen_addr", conn.relayed_by->listen.to_string());
    fields.add("proxy_client_addr", conn.relayed_by->local.to_string());
    fields.add("remote_addr", conn.server.to_string());
  } else {
    fields.add("src_addr", conn.source(dir).to_string());
    fields.add("dst_addr", conn.destination(dir).to_string());
  }
  fields.add("direction", direction_arrow(dir));
  if (conn.proxy_source) {
    fields.add("proxy_protocol_src_addr", conn.proxy_source->to_string());
    fields.add("proxy_protocol_dst_addr", conn.proxy_destination->to_string());
  }
  fields.append(extra);
  return std::make_shared<const FieldGroup>(std::move(fields));
}

void start_record(Record& r, const GroupRef& fields, Timestamp ts) {
  r.clear();
  r.add("ts", ts);
  r.add_group(fields);
}

Record base_record(const GroupRef& fields, Timestamp ts) {
  Record r;
  start_record(r, fields, ts);
  return r;
}

Record gap_record(const ConnInfo& conn, Direction dir, Timestamp ts, uint64_t missed) {
  Record r = base_record(connection_fields(RecordKind::kGap, conn, dir), ts);
  r.add("gap_bytes", missed);
  return r;
}

const char* decoder_state_name(DecoderState s) {
  switch (s) {
    case DecoderState::kInSync:
      return "in_sync";
    case DecoderState::kResynchronising:
      return "resynchronising";
    case DecoderState::kEncrypted:
      return "encrypted";
    case DecoderState::kStopped:
      return "stopped";
    case DecoderState::kClosed:
      return "closed";
  }
  return "in_sync";
}

DecoderState decoder_state_of(Framer::State client, Framer::State server, bool encrypted,
                              bool closed) {
  if (closed) return DecoderState::kClosed;
  if (encrypted) return DecoderState::kEncrypted;
  if (client == Framer::State::kSilent || server == Framer::State::kSilent) {
    return DecoderState::kStopped;
  }
  if (client == Framer::State::kOutOfSync || server == Framer::State::kOutOfSync) {
    return DecoderState::kResynchronising;
  }
  return DecoderState::kInSync;
}

void fill_encrypted(Record& r, std::string_view protocol, Negotiation how) {
  r.add("protocol", protocol);
  switch (how) {
    case Negotiation::kSslRequest:
      r.add("negotiation", "SSLRequest");
      r.add("encryption", "tls");
      break;
    case Negotiation::kGssencRequest:
      r.add("negotiation", "GSSENCRequest");
      r.add("encryption", "gssapi");
      break;
    case Negotiation::kDirect:
      r.add("negotiation", "direct");
      r.add("encryption", "tls");
      break;
  }
}

namespace {

PgOptions pg_options(const DumperOptions& o) {
  PgOptions pg;
  pg.pair_responses = o.pair_responses;
  return pg;
}

MysqlOptions mysql_options(const DumperOptions& o) {
  MysqlOptions mysql;
  mysql.pair_responses = o.pair_responses;
  return mysql;
}

// -d auto: each connection gets the dumper of its server port's protocol.
class AutoDumper : public Dumper {
 public:
  AutoDumper(RecordSink& sink, const DumperOptions& o)
      : pg_(sink, pg_options(o)), mysql_(sink, mysql_options(o)), hex_(sink) {}
  std::unique_ptr<Decoder> open(const ConnInfo& conn, Timestamp ts) override {
    switch (conn.server.port) {
      case 5432:
        return pg_.open(conn, ts);
      case 3306:
      case 33060:  // MySQL's X Protocol: the mysql dumper names it once and decodes nothing
        return mysql_.open(conn, ts);
      default:
        return hex_.open(conn, ts);
    }
  }

 private:
  PgDumper pg_;
  MysqlDumper mysql_;
  HexDumper hex_;
};

}  // namespace

const std::vector<std::string>& dumper_names() {
  static const std::vector<std::string> kNames = {"hex", "pg", "mysql", "conn", "auto"};
  return kNames;
}

std::string dumper_names_text() {
  std::string text;
  for (const std::string& n : dumper_names()) text += (text.empty() ? "" : ", ") + n;
  return text;
}

std::unique_ptr<Dumper> make_dumper(std::string_view name, RecordSink& sink,
                                    const DumperOptions& options) {
  if (name == "hex") return std::make_unique<HexDumper>(sink);
  if (name == "pg") return std::make_unique<PgDumper>(sink, pg_options(options));
  if (name == "mysql") return std::make_unique<MysqlDumper>(sink, mysql_options(options));
  if (name == "conn") return std::make_unique<ConnDumper>();
  if (name == "auto") return std::make_unique<AutoDumper>(sink, options);
  return nullptr;
}

}  // namespace tcpdp
