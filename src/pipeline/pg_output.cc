#include "pipeline/pg_output.h"

#include <unistd.h>

#include <climits>
#include <string>

namespace tcpdp {
namespace {

std::chrono::milliseconds ms(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(seconds * 1000));
}

std::string host_name() {
  char name[HOST_NAME_MAX + 1] = {};
  if (gethostname(name, sizeof name - 1) != 0) return "unknown";
  return name;
}

}  // namespace

std::unique_ptr<PgSink> start_pg_sink(const Config& config, bool asked_by_flag, bool wait_when_full,
                                      PgSink::Report report, bool* failed, std::string* error) {
  *failed = false;
  if (!config.pg.enable) return nullptr;
  PgSinkSettings s;
  s.conninfo = config.pg.conninfo;
  s.schema = config.pg.schema;
  s.create_schema = config.pg.create_schema;
  s.dumps = config.pg.dumps;
  s.wait_when_full = wait_when_full;
  s.host = host_name();
  s.batch_size = config.pg.batch_size;
  s.batch_latency = ms(config.pg.batch_latency);
  s.queue_min = config.pg.queue_min;
  s.queue_delta = config.pg.queue_delta;
  s.queue_max = config.pg.queue_max;
  s.queue_max_bytes = config.pg.queue_max_size;
  s.spool_file = config.pg.spool_file;
  if (!s.spool_file.empty() && s.spool_file.front() != '/') {
    s.spool_file = config.log.dir + "/" + s.spool_file;
  }
  s.spool_max_size = config.pg.spool_max_size;
  s.retry_min = ms(config.pg.retry_wait_min);
  s.retry_max = ms(config.pg.retry_wait_max);
  s.retry_delta = ms(config.pg.retry_wait_delta);
  s.retry_grow_threshold = static_cast<unsigned>(config.pg.retry_wait_grow_threshold);
  auto sink = std::make_unique<PgSink>(std::move(s), report);
  std::string why;
  if (sink->start(&why)) return sink;
  const bool exit = config.pg.on_startup_error == "exit" ||
                    (config.pg.on_startup_error == "auto" && asked_by_flag);
  if (exit || !sink->running()) {
    *failed = true;
    *error = "PostgreSQL sink: " + why;
    sink->finish(std::chrono::milliseconds(0));
    return nullptr;
  }
  report("warn", "PostgreSQL sink: " + why + "; records are kept and sent once it works");
  return sink;
}

void finish_pg_sink(PgSink& sink, const Config& config, const PgSink::Report& report) {
  sink.finish(ms(config.pg.shutdown_timeout));
  const PgSink::Stats st = sink.stats();
  report(st.dropped + st.rejected + st.left > 0 ? "warn" : "info",
         "PostgreSQL sink: " + std::to_string(st.received) + " records taken, " +
             std::to_string(st.sent) + " stored, " + std::to_string(st.spooled) + " spooled, " +
             std::to_string(st.left) + " left in the spool file, " + std::to_string(st.rejected) +
             " refused by the database, " + std::to_string(st.dropped) + " dropped");
}

}  // namespace tcpdp
