#include "cmd/probe_cmd.h"

#include <csignal>
#include <cstdio>
#include <mutex>

#include "cmd/config_cmd.h"
#include "cmd/pidfile.h"
#include "dumpers/dumper.h"
#include "probe/live_source.h"
#include "reader/decode.h"
#include "sinks/stream_sink.h"
#include "tcptrack/tracker.h"

namespace tcpdp {
namespace {

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_reopen = 0;
LiveSource* g_source = nullptr;

void on_stop(int) {
  g_stop = 1;
  if (g_source) g_source->stop();
}
void on_hup(int) { g_reopen = 1; }

void install_signals() {
  struct sigaction sa {};
  sa.sa_handler = on_stop;
  sigemptyset(&sa.sa_mask);
  for (int sig : {SIGINT, SIGTERM, SIGQUIT}) sigaction(sig, &sa, nullptr);
  sa.sa_handler = on_hup;
  sigaction(SIGHUP, &sa, nullptr);
}

Timestamp now() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return Timestamp::from_parts(t.tv_sec, t.tv_nsec / 1000);
}

RotationSettings rotation_of(const LogSettings& log) {
  RotationSettings r;
  r.dir = log.dir;
  r.file_name = log.file_name;
  r.rotate = log.rotate_enable;
  r.period = log.rotation_time;
  r.keep = log.rotation_count;
  r.hook = log.rotation_hook;
  r.max_size = log.rotation_size;
  return r;
}

// tcpdp.log: the program's own records (start, warnings, statistics), from any thread.
class ProgramLog {
 public:
  explicit ProgramLog(const LogSettings& log) {
    std::vector<std::unique_ptr<Output>> outputs;
    if (log.enable) {
      // Trouble with tcpdp.log itself can only go to stderr.
      auto report = [](const std::string& what) { std::fprintf(stderr, "tcpdp: %s\n", what.c_str()); };
      outputs.push_back(std::make_unique<FileOutput>(
          std::make_unique<RotatingFile>(rotation_of(log), report)));
    }
    if (log.to_stdout) outputs.push_back(std::make_unique<StdioOutput>(stdout));
    sink_ = std::make_unique<StreamSink>(std::move(outputs), *parse_format(log.format),
                                         /*background=*/false);
  }
  /// A record with ts, level and msg; `fill` adds the rest.
  template <typename Fill>
  void log(const char* level, const std::string& msg, Fill&& fill) {
    std::lock_guard lock(mutex_);
    Record r;
    r.add("ts", now());
    r.add("level", level);
    r.add("msg", msg);
    fill(r);
    sink_->write(r);
    sink_->flush();
  }
  void log(const char* level, const std::string& msg) {
    log(level, msg, [](Record&) {});
  }
  void reopen() {
    std::lock_guard lock(mutex_);
    sink_->reopen();
  }

 private:
  std::mutex mutex_;
  std::unique_ptr<StreamSink> sink_;
};

// dump.log or conn.log (and stdout): nullptr when neither is wanted.
std::unique_ptr<StreamSink> record_sink(const LogSettings& log, bool to_stdout,
                                        ProgramLog& program) {
  std::vector<std::unique_ptr<Output>> outputs;
  if (log.enable) {
    auto report = [&program](const std::string& what) { program.log("warn", what); };
    outputs.push_back(std::make_unique<FileOutput>(
        std::make_unique<RotatingFile>(rotation_of(log), report)));
  }
  if (log.to_stdout || to_stdout) outputs.push_back(std::make_unique<StdioOutput>(stdout));
  if (outputs.empty()) return nullptr;
  return std::make_unique<StreamSink>(std::move(outputs), *parse_format(log.format),
                                      /*background=*/true);
}

// Where the dump records go when no dump log is wanted: nowhere.
class NullSink : public RecordSink {
 public:
  void write(const Record&) override {}
};

}  // namespace

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
                "Dumper: hex, pg, mysql, conn, or auto (by server port: 5432 pg, 3306 mysql, "
                "else hex) (default: [tcpdp] dumper)")
      ->check(CLI::IsMember(dumper_names()));
  p->add_option("-B,--buffer-size", o.buffer_size, "Kernel capture buffer, e.g. 8MB");
  p->add_option("-s,--snapshot-length", o.snapshot_length, "Bytes captured of each packet");
  p->add_option("--filter", o.filter, "BPF filter instead of the one made from the targets");
  p->add_flag("--immediate-mode", o.immediate_mode, "Deliver each packet at once");
  p->add_flag("--promisc", o.promiscuous, "Put the interface in promiscuous mode");
  p->add_flag("--stdout", o.to_stdout, "Also write the dump and conn records to standard output");
  p->add_flag("--no-response", o.no_response,
              "pg, mysql: write each client message at once, without the server's answer");
  p->add_option("expression", o.expression, "BPF expression, as tcpdump takes it");
}

int run_probe(const ProbeOptions& o) {
  Config config;
  std::string error;
  if (!effective_config(o.config_file, config, &error)) return fail(error, 2);
  if (o.interface) config.probe.interface = *o.interface;
  if (o.target) config.probe.target = *o.target;
  if (o.dumper) config.tcpdp.dumper = *o.dumper;
  if (o.filter) config.probe.filter = *o.filter;
  if (o.snapshot_length) config.probe.snapshot_length = *o.snapshot_length;
  if (o.buffer_size && !parse_size(*o.buffer_size, config.probe.buffer_size)) {
    return fail("-B " + *o.buffer_size + ": a size is wanted, such as 8MB or 4MiB", 2);
  }
  if (o.immediate_mode) config.probe.immediate_mode = true;
  if (o.no_response) config.tcpdp.pair_responses = false;

  std::optional<Targets> targets = Targets{};
  if (!config.probe.target.empty()) {
    targets = Targets::parse(config.probe.target, &error);
    if (!targets) return fail(error, 2);
  }
  CaptureSettings capture;
  capture.interface = config.probe.interface.empty() ? "any" : config.probe.interface;
  capture.snapshot_length = static_cast<uint32_t>(config.probe.snapshot_length);
  capture.buffer_size = config.probe.buffer_size;
  capture.immediate_mode = config.probe.immediate_mode;
  capture.promiscuous = o.promiscuous;
  std::string expression;
  for (const std::string& word : o.expression) expression += (expression.empty() ? "" : " ") + word;
  capture.filter = !expression.empty()             ? expression
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
  ProgramLog program(config.log);
  auto dump = record_sink(config.dump_log, o.to_stdout, program);
  auto conn = record_sink(config.conn_log, o.to_stdout, program);
  NullSink discard;
  RecordSink& dump_sink = dump ? static_cast<RecordSink&>(*dump) : discard;

  DumperOptions dumper_options;
  dumper_options.pair_responses = config.tcpdp.pair_responses;
  auto dumper = make_dumper(config.tcpdp.dumper, dump_sink, dumper_options);
  TrackerOptions tracker_options = tracker_options_of(config);
  ProcessLookup processes;  // the connections' ends on this host
  tracker_options.processes = &processes;
  Tracker tracker(*dumper, dump_sink, std::move(*targets), tracker_options, conn.get());
  PacketDecoder decoder(source->link_type());

  program.log("info", "start", [&](Record& r) {
    r.add("interface", capture.interface);
    r.add("target", config.probe.target);
    r.add("dumper", config.tcpdp.dumper);
    r.add("filter", capture.filter);
    r.add("buffer_size", capture.buffer_size);
    r.add("immediate_mode", capture.immediate_mode);
    r.add("snapshot_length", source->snapshot_length());
  });
  std::fprintf(stderr, "tcpdp: listening on %s, link-type %d, snapshot length %u bytes, filter: %s\n",
               capture.interface.c_str(), source->link_type(), source->snapshot_length(),
               capture.filter.c_str());

  g_source = source.get();
  install_signals();
  RawPacket packet;
  TcpSegment segment;
  LiveSource::Stats last{};
  auto last_stats = std::chrono::steady_clock::now();
  const auto log_stats = [&](const char* msg, const LiveSource::Stats& st) {
    program.log(st.dropped + st.if_dropped > 0 ? "warn" : "info", msg, [&](Record& r) {
      r.add("received", st.received);
      r.add("dropped", st.dropped);
      r.add("if_dropped", st.if_dropped);
    });
  };
  int status = 0;
  while (!g_stop) {
    const LiveSource::Next next = source->next(packet);
    if (next == LiveSource::Next::kPacket) {
      if (decoder.decode(packet.ts, packet.data, packet.wire_len, segment) == DecodeResult::kTcp) {
        tracker.on_segment(segment);
      }
    } else if (next == LiveSource::Next::kError) {
      program.log("error", "capture failed: " + source->error());
      status = fail("capture failed: " + source->error());
      break;
    } else if (next == LiveSource::Next::kStopped) {
      break;
    }
    if (g_reopen) {
      g_reopen = 0;
      program.reopen();
      if (dump) dump->reopen();
      if (conn) conn->reopen();
    }
    if (dump) dump->tick();
    if (conn) conn->tick();
    if (std::chrono::steady_clock::now() - last_stats >= std::chrono::seconds(1)) {
      last_stats = std::chrono::steady_clock::now();
      LiveSource::Stats st;
      if (source->stats(st) && (st.dropped > last.dropped || st.if_dropped > last.if_dropped)) {
        log_stats("packets dropped", st);
      }
      last = st;
    }
  }
  // Whatever was captured is decoded and written before exiting.
  tracker.finish(now());
  if (dump) dump->flush();
  if (conn) conn->flush();
  LiveSource::Stats st;
  if (source->stats(st)) {
    log_stats("stop", st);
    std::fprintf(stderr,
                 "tcpdp: %llu packets received, %llu dropped by kernel, %llu dropped by "
                 "interface\n",
                 static_cast<unsigned long long>(st.received),
                 static_cast<unsigned long long>(st.dropped),
                 static_cast<unsigned long long>(st.if_dropped));
  }
  g_source = nullptr;
  return status;
}

}  // namespace tcpdp
