#include "cmd/probe_cmd.h"

#include <cstdio>

#include "cmd/config_cmd.h"
#include "cmd/digest_cmd.h"
#include "cmd/pg_cmd.h"
#include "cmd/pidfile.h"
#include "cmd/privileges.h"
#include "cmd/run_signals.h"
#include "dumpers/dumper.h"
#include "pipeline/capture_engine.h"
#include "pipeline/logs.h"
#include "probe/live_source.h"
#include "sinks/stream_sink.h"

namespace tcpdp {

void add_probe_command(CLI::App& app, ProbeOptions& o) {
  CLI::App* p = app.add_subcommand("probe", "Capture live from an interface, like tcpdump");
  p->footer(
      "Examples:\n"
      "  tcpdp probe -i lo -t 5432 -d pg --stdout\n"
      "  tcpdp probe -i eth0 -t 3306 -d mysql -c /etc/tcpdp/tcpdp.toml\n"
      "  tcpdp probe -i any -d hex --stdout tcp port 6379");
  p->add_option("-c,--config", o.config_file, "Config file; flags override it");
  p->add_option("-i,--interface", o.interface, "Interface (default: [probe] interface, any)");
  p->add_option("-t,--target", o.target,
                "Server side to look at: PORT, HOST:PORT or [V6]:PORT, several joined by , or ||");
  p->add_option("-d,--dumper", o.dumper,
                "Dumper: hex, pg, mysql, conn, or auto (by server port: 5432 pg, 3306 and "
                "33060 mysql, else hex) (default: [tcpdp] dumper)")
      ->check(CLI::IsMember(dumper_names()));
  p->add_option("-B,--buffer-size", o.buffer_size, "Kernel capture buffer, e.g. 8MB");
  p->add_option("-s,--snapshot-length", o.snapshot_length,
                "Bytes captured of each packet, or auto (the interface's largest packet)");
  p->add_option("--filter", o.filter, "BPF filter instead of the one made from the targets");
  p->add_flag("--immediate-mode", o.immediate_mode, "Deliver each packet at once");
  p->add_flag("--promisc", o.promiscuous, "Put the interface in promiscuous mode");
  p->add_option("--workers", o.workers, "Decode threads (default: [probe] workers, auto)")
      ->check(CLI::Range(uint64_t{1}, kMaxWorkers));
  p->add_option("-Z,--relinquish-privileges", o.user,
                "Run as this user once the capture is open, like tcpdump -Z");
  p->add_flag("--stdout", o.to_stdout, "Also write the dump and conn records to standard output");
  p->add_flag("--proxy-protocol", o.proxy_protocol,
              "Streams start with a PROXY protocol header (v1/v2) from a load balancer: take it "
              "off and log its addresses");
  p->add_flag("--no-response", o.no_response,
              "pg, mysql: write each client message at once, without the server's answer");
  add_pg_flags(*p, o.pg);
  add_digest_interval_flags(*p, o.digest);
  p->add_option("expression", o.expression, "BPF expression, as tcpdump takes it");
}

int run_probe(const ProbeOptions& o) {
  Config config;
  std::string error;
  if (!effective_config(o.config_file, config, &error)) return fail(error, 2);
  if (o.interface) config.probe.interface = *o.interface;
  if (o.target) config.probe.target = *o.target;
  if (o.dumper) config.tcpdp.dumper = *o.dumper;
  if (const std::string e = digest_interval_error(o.digest, config.tcpdp.dumper); !e.empty()) {
    return fail(e, 2);
  }
  if (o.filter) config.probe.filter = *o.filter;
  if (o.snapshot_length) {
    if (*o.snapshot_length == "auto") {
      config.probe.snapshot_length = 0;
    } else if (!parse_size(*o.snapshot_length, config.probe.snapshot_length) ||
               config.probe.snapshot_length == 0 ||
               config.probe.snapshot_length > kMaxSnapshotLength) {
      return fail("-s " + *o.snapshot_length + ": a number of bytes from 1 to " +
                      std::to_string(kMaxSnapshotLength) + " or auto is wanted",
                  2);
    }
  }
  if (o.buffer_size &&
      (!parse_size(*o.buffer_size, config.probe.buffer_size) || config.probe.buffer_size == 0 ||
       config.probe.buffer_size > kMaxCaptureBuffer)) {
    return fail("-B " + *o.buffer_size + ": a size from 1 to " + std::to_string(kMaxCaptureBuffer) +
                    " bytes is wanted, such as 8MB or 4MiB",
                2);
  }
  if (o.workers) config.probe.workers = *o.workers;
  if (o.immediate_mode) config.probe.immediate_mode = true;
  if (o.promiscuous) config.probe.promiscuous = true;
  if (o.no_response) config.tcpdp.pair_responses = false;
  if (o.proxy_protocol) config.tcpdp.proxy_protocol = true;
  apply_pg_flags(o.pg, config);
  if (const std::string e = pg_flags_error(o.pg, config); !e.empty()) return fail(e, 2);
  if (!check_log_dirs(config, &error)) return fail(error, 2);

  std::optional<Targets> targets = Targets{};
  if (!config.probe.target.empty()) {
    targets = Targets::parse(config.probe.target, &error);
    if (!targets) return fail(error, 2);
  }
  CaptureSettings capture;
  capture.interface = config.probe.interface.empty() ? "any" : config.probe.interface;
  capture.snapshot_length = static_cast<uint32_t>(config.probe.snapshot_length);
  if (capture.snapshot_length == 0) {
    capture.snapshot_length = auto_snapshot_length(capture.interface);
    if (capture.snapshot_length == 0) {
      return fail("-s auto: the MTU of " + capture.interface +
                  " is unknown (no /sys/class/net entry); give a number of bytes");
    }
  }
  capture.buffer_size = config.probe.buffer_size;
  capture.immediate_mode = config.probe.immediate_mode;
  capture.promiscuous = config.probe.promiscuous;
  std::string expression;
  for (const std::string& word : o.expression) expression += (expression.empty() ? "" : " ") + word;
  capture.filter = !expression.empty()            ? expression
                   : !config.probe.filter.empty() ? config.probe.filter
                                                  : filter_for(*targets);
  auto source = LiveSource::open(capture, &error);
  if (!source) return fail(error);
  if (!link_type_supported(source->link_type())) {
    return fail("link type " + std::to_string(source->link_type()) + " of " + capture.interface +
                " is not supported");
  }

  Pidfile pidfile;
  if (!config.tcpdp.pidfile.empty() && !pidfile.create(config.tcpdp.pidfile, &error)) {
    return fail(error);
  }
  install_run_signals();
  // Only the capture thread takes the signals, so its wait for packets ends at once: the
  // threads started before it unblocks them never run the handlers.
  block_run_signals(true);
  auto program_log = make_program_log(config.log);
  ProgramLog& program = *program_log;
  PgSink::Report report;
  auto pg = start_logged_pg_sink(config, o.pg, program, report, &error);
  if (!error.empty()) return fail(error);
  auto dump =
      make_record_log(config.dump_log, o.to_stdout, program, config.pg.dumps ? pg.get() : nullptr);
  auto conn = make_record_log(config.conn_log, o.to_stdout, program, pg.get());
  std::unique_ptr<DigestClock> digest;
  if (o.digest.interval) {
    digest = make_digest_clock(o.digest, dump.get(), &error);
    if (!digest) {
      program.log("error", error);
      return fail(error, 2);
    }
  }

  EngineSettings engine_settings;
  engine_settings.workers =
      config.probe.workers ? static_cast<unsigned>(config.probe.workers) : default_workers();
  engine_settings.queue_bytes = config.probe.internal_buffer_size;
  engine_settings.queue_packets = config.probe.internal_buffer_length;
  engine_settings.drop_when_full = config.probe.internal_buffer_full == "drop";
  engine_settings.dump = dump.get();
  engine_settings.conn = conn.get();
  PipelineSettings pipeline;
  pipeline.dumper = config.tcpdp.dumper;
  pipeline.dumper_options.pair_responses = config.tcpdp.pair_responses;
  pipeline.targets = std::move(*targets);
  pipeline.tracker = tracker_options_of(config);
  pipeline.processes = true;  // the connections' ends on this host
  CaptureEngine engine(*source, engine_settings, std::move(pipeline));
  engine.start();
  block_run_signals(false);

  if (!o.user.empty() && !drop_privileges(o.user, &error)) {
    program.log("error", error);
    engine.stop();
    return fail(error);
  }

  program.log("info", "start", [&](Record& r) {
    r.add("interface", capture.interface);
    r.add("target", config.probe.target);
    r.add("dumper", config.tcpdp.dumper);
    r.add("filter", capture.filter);
    r.add("buffer_size", capture.buffer_size);
    r.add("immediate_mode", capture.immediate_mode);
    r.add("snapshot_length", source->snapshot_length());
    r.add("workers", static_cast<uint64_t>(engine_settings.workers));
    r.add("user", o.user.empty() ? "root" : o.user);
    r.add("config_files", config_files_text(config));
  });
  std::fprintf(stderr,
               "tcpdp: listening on %s, link-type %d, snapshot length %u bytes, %u decode "
               "thread%s, filter: %s\n",
               capture.interface.c_str(), source->link_type(), source->snapshot_length(),
               engine_settings.workers, engine_settings.workers == 1 ? "" : "s",
               capture.filter.c_str());

  const auto log_stats = [&](const char* msg, const EngineStats& st) {
    const bool lost = st.capture.dropped + st.capture.if_dropped + st.queue_dropped > 0;
    program.log(lost ? "warn" : "info", msg, [&](Record& r) {
      r.add("received", st.capture.received);
      r.add("dropped", st.capture.dropped);
      r.add("if_dropped", st.capture.if_dropped);
      r.add("queue_dropped", st.queue_dropped);
      r.add("queue_waits", st.queue_waits);
      r.add("tcp_packets", st.decode.tcp);
    });
  };
  EngineStats last{};
  auto last_stats = std::chrono::steady_clock::now();
  const bool captured = engine.capture(
      [&] {
        if (take_reopen_request()) {
          program.reopen();
          if (dump) dump->reopen();
          if (conn) conn->reopen();
        }
        if (std::chrono::steady_clock::now() - last_stats >= std::chrono::seconds(1)) {
          last_stats = std::chrono::steady_clock::now();
          const EngineStats st = engine.stats();
          if (st.capture.dropped > last.capture.dropped ||
              st.capture.if_dropped > last.capture.if_dropped ||
              st.queue_dropped > last.queue_dropped) {
            log_stats("packets dropped", st);
          }
          last = st;
        }
        if (digest) digest->tick();
        return !stop_requested();
      },
      capture.buffer_size);
  int status = 0;
  if (!captured) {
    program.log("error", "capture failed: " + source->error());
    status = fail("capture failed: " + source->error());
  }
  // Whatever was captured is decoded and written before exiting.
  engine.stop();
  if (digest) digest->finish();
  if (dump) dump->flush();
  if (conn) conn->flush();
  if (pg) finish_pg_sink(*pg, config, report);
  const EngineStats st = engine.stats();
  log_stats("stop", st);
  std::fprintf(stderr,
               "tcpdp: %llu packets received, %llu dropped by kernel, %llu dropped by "
               "interface, %llu dropped by tcpdp's queue; %llu connections\n",
               static_cast<unsigned long long>(st.capture.received),
               static_cast<unsigned long long>(st.capture.dropped),
               static_cast<unsigned long long>(st.capture.if_dropped),
               static_cast<unsigned long long>(st.queue_dropped),
               static_cast<unsigned long long>(st.tracker.connections));
  return status;
}

}  // namespace tcpdp
