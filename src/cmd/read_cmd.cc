#include "cmd/read_cmd.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "cmd/config_cmd.h"
#include "cmd/read_progress.h"
#include "digest/digest.h"
#include "dumpers/dumper.h"
#include "packet/decode.h"
#include "pipeline/file_pipeline.h"
#include "pipeline/logs.h"
#include "reader/pcap_source.h"
#include "sinks/format.h"
#include "sinks/stream_sink.h"

namespace tcpdp {
namespace {

// A CLI11 check that the value is a number above 0, saying what is wanted when it is not.
CLI::Validator above_zero(const std::string& wanted) {
  return CLI::Validator(
      [wanted](std::string& value) -> std::string {
        char* end = nullptr;
        const double v = std::strtod(value.c_str(), &end);
        if (end == value.c_str() || *end != '\0' || !(v > 0))
          return "'" + value + "' is not " + wanted;
        return "";
      },
      "> 0");
}

}  // namespace

void add_read_command(CLI::App& app, ReadOptions& options) {
  CLI::App* read = app.add_subcommand("read", "Decode TCP streams from a pcap or pcapng file");
  read->footer(
      "Examples:\n"
      "  tcpdp read capture.pcap -d hex\n"
      "  tcpdp read capture.pcapng -d conn -t 5432 -f ltsv\n"
      "  tcpdp read postgres.pcap -d pg -t 5432 --conn\n"
      "  tcpdp read postgres.pcap -d pg -t 5432\n"
      "  tcpdp read mysql.pcap -d mysql -t 3306\n"
      "  tcpdump -i lo -w - port 5432 | tcpdp read -d hex -f console\n"
      "  tcpdp read -d hex < capture.pcap");
  read->add_option("file", options.file, "Capture file (pcap or pcapng); - or none for stdin");
  read->add_option("-c,--config", options.config_file,
                   "Config file (default: /etc/tcpdp/tcpdp.toml and $HOME/.tcpdp/tcpdp.toml, "
                   "those that exist); flags override it");
  read->add_option("-d,--dumper", options.dumper,
                   "Dumper: " + dumper_names_text() + " (default: [tcpdp] dumper, hex)");
  read->add_option("-t,--target", options.target,
                   "Server side to look at: PORT, HOST:PORT or [V6]:PORT, several joined by , "
                   "or ||; other traffic is skipped");
  read->add_option("-f,--format", options.format, "Output format: json, ltsv or console")
      ->capture_default_str();
  read->add_flag("--proxy-protocol", options.proxy_protocol,
                 "Streams start with a PROXY protocol header (v1/v2) from a load balancer: take "
                 "it off and log its addresses");
  read->add_flag("--no-response", options.no_response,
                 "pg, mysql: write each client message at once, without the server's answer");
  read->add_flag("--conn", options.conn,
                 "Also write every connection's state changes and summary (-d conn writes only "
                 "those)");
  read->add_option("--idle-timeout", options.idle_timeout,
                   "Seconds of capture time without a packet after which a connection is closed "
                   "(default: [tcptrack] idleTimeout, 300)")
      ->check(above_zero("a number of seconds above 0"));
  read->add_option("--max-connections", options.max_connections,
                   "Connections followed at once; past it the least recently seen is given up "
                   "(default: [tcptrack] maxConnections, 1048576)")
      ->check(above_zero("a whole number above 0"));
  read->add_flag("-q,--quiet", options.quiet,
                 "No progress line or closing statistics on a terminal");
  read->add_flag("--stats", options.stats,
                 "Write the closing statistics (packets, bytes, connections, records, gaps, decode "
                 "errors, TLS connections skipped) to stderr even when it is not a terminal");
  add_pg_flags(*read, options.pg);
  read->add_flag("--digest", options.digest,
                 "pg, mysql: instead of the records, a report of the statements by fingerprint "
                 "(calls, time, percentiles, rows, errors, users, clients), most time first");
  add_digest_report_flags(*read, options.digest_report, "With --digest: ");
  read->add_flag("--processes", options.processes,
                 "With --conn or -d conn: name the local process at each end of a connection in "
                 "its summary (for a live capture of this host piped in)");
}

int run_read(const ReadOptions& options) {
  Config config;
  std::string config_error;
  if (!effective_config(options.config_file, config, &config_error)) return fail(config_error, 2);
  const std::string dumper_name = options.dumper.value_or(config.tcpdp.dumper);
  if (options.idle_timeout) config.tcptrack.idle_timeout = *options.idle_timeout;
  if (options.max_connections) config.tcptrack.max_connections = *options.max_connections;
  apply_pg_flags(options.pg, config);
  if (const std::string e = pg_flags_error(options.pg, config); !e.empty()) return fail(e, 2);
  // read writes no log files; the PostgreSQL sink's spool file is in [log] dir.
  if (config.pg.enable && !check_log_dir(config.log, "log", &config_error)) {
    return fail(config_error, 2);
  }
  const auto format = parse_format(options.format);
  if (!format) {
    return fail("unknown format '" + options.format + "': use json, ltsv or console");
  }
  if (options.processes && !options.conn && dumper_name != "conn") {
    return fail("--processes names processes in connection summaries: add --conn or use -d conn");
  }
  Targets targets;
  if (!options.target.empty()) {
    std::string error;
    auto parsed = Targets::parse(options.target, &error);
    if (!parsed) return fail(error);
    targets = std::move(*parsed);
  }
  const bool from_stdin = options.file == "-";
  const std::string name = from_stdin ? "<stdin>" : options.file;
  if (from_stdin && isatty(STDIN_FILENO)) {
    return fail(
        "no capture file given and standard input is a terminal: name a file or pipe a "
        "capture in (tcpdp read --help)");
  }
  std::string error;
  auto source = PcapFileSource::open(options.file, &error);
  if (!source) return fail(name + ": " + error);
  if (!link_type_supported(source->link_type())) {
    return fail(name + ": link type " + source->link_type_name() +
                " is not supported (Ethernet, Linux cooked SLL/SLL2, BSD loopback and raw IP are)");
  }

  const PgSink::Report report = [](const char* level, const std::string& msg) {
    if (std::string_view(level) != "info")
      std::fprintf(stderr, "tcpdp: %s: %s\n", level, msg.c_str());
  };
  bool pg_failed = false;
  auto pg = start_pg_sink(config, options.pg.conninfo.has_value(),
                          /*wait_when_full=*/true, report, &pg_failed, &error);
  if (pg_failed) return fail(error);

  if (options.digest && dumper_name != "pg" && dumper_name != "mysql" && dumper_name != "auto") {
    return fail("--digest reports SQL statements: use -d pg, mysql or auto");
  }
  Digest digest(options.digest_report.max_classes);

  // Formatting and writing run on a second thread, so reading never waits for them. With
  // --digest the records only feed the digest (and the PostgreSQL sink).
  std::vector<std::unique_ptr<Output>> outputs;
  if (!options.digest) outputs.push_back(std::make_unique<StdioOutput>(stdout));
  StreamSink sink(std::move(outputs), *format, /*background=*/true);
  if (options.digest) sink.add_tap(&digest);
  const bool terminal = isatty(STDERR_FILENO) && !options.quiet;
  ReadProgress progress(terminal);
  if (terminal || options.stats) sink.add_tap(&progress);
  // With the PostgreSQL sink, the lifecycle records are made for it even when not written out.
  StreamSink lifecycle_for_pg(std::vector<std::unique_ptr<Output>>{}, *format,
                              /*background=*/false);
  if (pg) {
    sink.add_tap(pg.get());
    lifecycle_for_pg.add_tap(pg.get());
  }
  PipelineSettings settings;
  settings.dumper = dumper_name;
  settings.dumper_options.pair_responses = !options.no_response && config.tcpdp.pair_responses;
  settings.targets = std::move(targets);
  settings.tracker = tracker_options_of(config);
  if (options.proxy_protocol) settings.tracker.proxy_protocol = true;
  settings.processes = options.processes;
  const bool conn_log = options.conn || dumper_name == "conn";
  auto shard =
      Shard::make(settings, sink, conn_log ? &sink : (pg ? &lifecycle_for_pg : nullptr), 0, &error);
  if (!shard) return fail(error);
  FilePipeline pipeline(*source, *shard);
  const auto reading = [&] {
    return ReadProgress::Reading{source->position(), source->size(),
                                 pipeline.decode_stats().packets,
                                 pipeline.tracker_stats().connections};
  };
  while (pipeline.step()) progress.tick(reading);
  // Whatever went wrong with the file, what was decoded before it still comes out.
  pipeline.finish();
  sink.flush();
  if (terminal || options.stats) progress.finish(reading(), pipeline.tracker_stats().gaps);
  if (pg) finish_pg_sink(*pg, config, report);

  const DecodeStats& stats = pipeline.decode_stats();
  if (stats.truncated_payloads + stats.truncated_headers > 0) {
    std::fprintf(
        stderr,
        "tcpdp: warning: %s: %llu packets were cut short by the capture's snapshot length "
        "(%u bytes); their missing bytes are reported as gaps\n",
        name.c_str(),
        static_cast<unsigned long long>(stats.truncated_payloads + stats.truncated_headers),
        source->snapshot_length());
  }
  if (const uint64_t evicted = pipeline.tracker_stats().evicted_connections; evicted > 0) {
    std::fprintf(stderr,
                 "tcpdp: warning: %s: %llu connections were given up to keep at most %zu open; "
                 "their data after that point is not decoded\n",
                 name.c_str(), static_cast<unsigned long long>(evicted),
                 static_cast<size_t>(config.tcptrack.max_connections));
  }
  if (stats.malformed > 0) {
    std::fprintf(stderr, "tcpdp: warning: %s: %llu malformed packets skipped\n", name.c_str(),
                 static_cast<unsigned long long>(stats.malformed));
  }
  if (pipeline.failed()) {
    return fail(name + ": " + pipeline.error() + " (everything before it was decoded)");
  }
  if (options.digest) {
    if (!write_digest_report(digest, options.digest_report)) {
      return fail("cannot write to standard output");
    }
  }
  if (!sink.ok()) return fail("cannot write to standard output");
  return 0;
}

}  // namespace tcpdp
