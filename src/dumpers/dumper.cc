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

GroupRef connection_fields(const ConnInfo& conn, Direction dir, const Record& extra) {
  Record fields;
  fields.add("conn_id", conn.conn_id);
  fields.add("src_addr", conn.source(dir).to_string());
  fields.add("dst_addr", conn.destination(dir).to_string());
  fields.add("direction", direction_arrow(dir));
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

Record base_record(const ConnInfo& conn, Direction dir, Timestamp ts) {
  const GroupRef& made = conn.fields[dir == Direction::kClientToServer ? 0 : 1];
  return base_record(made ? made : connection_fields(conn, dir), ts);
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
  if (name == "conn") return std::make_unique<ConnDumper>();
  return nullptr;
}

}  // namespace tcpdp
