#include "cmd/audit_cmd.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>

#include "audit/kernel_conns.h"
#include "audit/kernel_source.h"
#include "cmd/config_cmd.h"
#include "cmd/pidfile.h"
#include "cmd/run_signals.h"
#include "pipeline/logs.h"
#include "pipeline/pg_output.h"
#include "sinks/stream_sink.h"

namespace tcpdp {
namespace {

constexpr uint64_t kMaxBufferBytes = uint64_t{1} << 30;  // each CPU's

std::string host_name() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0) return "";
  return name;
}

}  // namespace

void add_audit_command(CLI::App& app, AuditOptions& o) {
  CLI::App* a = app.add_subcommand(
      "audit", "Every TCP state change on this host, from the kernel, with the process behind it");
  a->footer(
      "Examples:\n"
      "  tcpdp audit --stdout\n"
      "  tcpdp audit -t 5432,3306 -c /etc/tcpdp/tcpdp.toml");
  a->add_option("-c,--config", o.config_file, "Config file; flags override it");
  a->add_option("-t,--target", o.target,
                "Server side to look at: PORT, HOST:PORT or [V6]:PORT, several joined by , or || "
                "(default: every connection)");
  a->add_option("-B,--buffer-size", o.buffer_size,
                "The kernel's trace buffer for each CPU, e.g. 4MB (default 4MiB)");
  a->add_flag("--stdout", o.to_stdout, "Also write the records to standard output");
  add_pg_conninfo_flag(*a, o.pg);
}

int run_audit(const AuditOptions& o) {
  Config config;
  std::string error;
  if (!effective_config(o.config_file, config, &error)) return fail(error, 2);
  audit::KernelConnsOptions conns_options;
  if (o.target) {
    conns_options.targets = Targets::parse(*o.target, &error);
    if (!conns_options.targets) return fail(error, 2);
  }
  audit::KernelSourceOptions source_options;
  if (o.buffer_size) {
    uint64_t bytes = 0;
    if (!parse_size(*o.buffer_size, bytes) || bytes < 4096 || bytes > kMaxBufferBytes) {
      return fail("-B " + *o.buffer_size + ": a size from 4KiB to 1GiB is wanted, such as 4MB", 2);
    }
    source_options.buffer_kb = bytes / 1024;
  }
  apply_pg_flags(o.pg, config);
  config.pg.dumps = false;  // audit writes no dumper's records
  if (!check_log_dirs(config, &error)) return fail(error, 2);

  std::vector<std::string> notes;
  auto source = audit::KernelSource::open(source_options, notes, error);
  if (!source) return fail(error);
  Pidfile pidfile;
  if (!config.tcpdp.pidfile.empty() && !pidfile.create(config.tcpdp.pidfile, &error)) {
    return fail(error);
  }
  install_run_signals();
  auto program_log = make_program_log(config.log);
  ProgramLog& program = *program_log;
  for (const std::string& note : notes) program.log("info", note);
  PgSink::Report report;
  auto pg = start_logged_pg_sink(config, o.pg, program, report, &error);
  if (!error.empty()) return fail(error);
  auto conn = make_record_log(config.conn_log, o.to_stdout, program, pg.get());
  if (!conn) {
    return fail(
        "conn.log is disabled ([conn_log] enable = false) and --stdout is not given: "
        "audit would have nowhere to write",
        2);
  }

  audit::CommCache comms(source->saved_cmdlines());
  conns_options.hostname = host_name();
  audit::KernelConns conns(conns_options, *conn, comms);
  audit::read_listening(conns);
  program.log("info", "start", [&](Record& r) {
    r.add("source", source->event());
    r.add("instance", source->instance());
    r.add("target", o.target.value_or(""));
    r.add("buffer_size", static_cast<uint64_t>(source_options.buffer_kb) * 1024);
    r.add("config_files", config_files_text(config));
  });
  std::fprintf(stderr, "tcpdp: reading %s from %s\n", source->event().c_str(),
               source->instance().c_str());

  uint64_t lost = 0;
  auto last_check = std::chrono::steady_clock::now();
  const auto on_change = [&](const audit::KernelStateChange& c, Timestamp ts) {
    conns.on_change(c, ts);
  };
  int status = 0;
  while (!stop_requested()) {
    conns.new_batch();
    if (!source->read(200, on_change, error)) {
      program.log("error", error);
      status = fail(error);
      break;
    }
    if (take_reopen_request()) {
      program.reopen();
      conn->reopen();
    }
    if (std::chrono::steady_clock::now() - last_check >= std::chrono::seconds(1)) {
      last_check = std::chrono::steady_clock::now();
      if (const uint64_t now = source->lost(); now > lost) {
        program.log("warn", "the kernel dropped state changes", [&](Record& r) {
          r.add("lost", now);
          r.add("since_last", now - lost);
        });
        lost = now;
      }
    }
  }
  // What the buffers hold at the stop is read and written before exiting.
  source->flush(on_change);
  conns.finish();
  conn->flush();
  if (pg) finish_pg_sink(*pg, config, report);
  lost = source->lost();
  const audit::KernelConnsStats& st = conns.stats();
  program.log(lost ? "warn" : "info", "stop", [&](Record& r) {
    r.add("state_changes", st.changes);
    r.add("records", st.written);
    r.add("connections", st.connections);
    r.add("evicted", st.evicted);
    r.add("lost", lost);
  });
  std::fprintf(stderr,
               "tcpdp: %llu state changes read, %llu lost by the kernel; %llu connections\n",
               static_cast<unsigned long long>(st.changes), static_cast<unsigned long long>(lost),
               static_cast<unsigned long long>(st.connections));
  return status;
}

}  // namespace tcpdp
