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
  }
  return "?";
}

Record base_record(const ConnInfo& conn, Direction dir, Timestamp ts) {
  Record r;
  const bool c2s = dir == Direction::kClientToServer;
  // The tracker sets the text once per connection; a ConnInfo made by hand may lack it.
  const std::string client = conn.client_text.empty() ? conn.client.to_string() : std::string();
  const std::string server = conn.server_text.empty() ? conn.server.to_string() : std::string();
  const std::string& client_text = client.empty() ? conn.client_text : client;
  const std::string& server_text = server.empty() ? conn.server_text : server;
  r.add("ts", ts);
  r.add("conn_id", conn.conn_id);
  r.add("src_addr", c2s ? client_text : server_text);
  r.add("dst_addr", c2s ? server_text : client_text);
  r.add("direction", direction_arrow(dir));
  return r;
}

const std::vector<std::string>& dumper_names() {
  static const std::vector<std::string> kNames = {"hex", "pg", "mysql", "conn"};
  return kNames;
}

std::unique_ptr<Dumper> make_dumper(std::string_view name, RecordSink& sink,
                                    const DumperOptions& options) {
  if (name == "hex") return std::make_unique<HexDumper>(sink);
  if (name == "pg") {
    PgOptions pg;
    pg.pair_responses = options.pair_responses;
    return std::make_unique<PgDumper>(sink, pg);
  }
  if (name == "mysql") {
    MysqlOptions mysql;
    mysql.pair_responses = options.pair_responses;
    return std::make_unique<MysqlDumper>(sink, mysql);
  }
  if (name == "conn") return std::make_unique<ConnDumper>(sink);
  return nullptr;
}

}  // namespace tcpdp
