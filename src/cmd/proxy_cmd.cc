#include "cmd/proxy_cmd.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>

#include "cmd/config_cmd.h"
#include "cmd/digest_cmd.h"
#include "cmd/pidfile.h"
#include "dumpers/dumper.h"
#include "pipeline/logs.h"
#include "proxy/proxy_server.h"
#include "proxy/self_loop.h"

namespace tcpdp {

namespace {

unsigned default_proxy_workers() {
  return std::clamp(std::thread::hardware_concurrency() / 2, 1U, 8U);
}

std::string names_of(const std::vector<Listener>& listeners) {
  std::string out;
  for (const Listener& l : listeners) out += (out.empty() ? "" : ", ") + l.local.to_string();
  return out;
}

}  // namespace

void add_proxy_command(CLI::App& app, ProxyOptions& o) {
  CLI::App* p = app.add_subcommand("proxy", "Relay TCP connections to a remote, decoding them");
  p->footer(
      "Examples:\n"
      "  tcpdp proxy -l localhost:55432 -r db.example.com:5432 -d pg\n"
      "  start_server --port 33306 -- tcpdp proxy -s -r db.example.com:3306 -d mysql\n"
      "  tcpdp proxy -c /etc/tcpdp/proxy.toml");
  p->add_option("-c,--config", o.config_file, "Config file; flags override it");
  p->add_option("-l,--listen", o.listen, "HOST:PORT to listen on (default: [proxy] listenAddr)");
  p->add_option("-r,--remote", o.remote,
                "HOST:PORT to relay to; a name is looked up at start and again every second "
                "(default: [proxy] remoteAddr)");
  p->add_option("-d,--dumper", o.dumper,
                "Dumper: hex, pg, mysql, conn, or auto (by the remote's port) (default: [tcpdp] "
                "dumper)")
      ->check(CLI::IsMember(dumper_names()));
  p->add_flag("-s,--use-server-starter", o.use_server_starter,
              "Listen on the sockets start_server passes down (SERVER_STARTER_PORT)");
  p->add_option("--workers", o.workers, "Event-loop threads (default: [proxy] workers, auto)")
      ->check(CLI::Range(1, 255));
  p->add_flag("--proxy-protocol", o.proxy_protocol,
              "Clients start with a PROXY protocol header (v1/v2) from a load balancer: log "
              "the client it names, take the header off");
  p->add_flag("--proxy-protocol-forward", o.forward_proxy_header,
              "With --proxy-protocol: pass the header on to the remote instead");
  p->add_flag("--stdout", o.to_stdout, "Also write the dump and conn records to standard output");
  p->add_flag("--no-response", o.no_response,
              "pg, mysql: write each client message at once, without the server's answer");
  add_pg_flags(*p, o.pg);
  add_digest_interval_flags(*p, o.digest);
}

int run_proxy(const ProxyOptions& o) {
  Config config;
  std::string error;
  if (!effective_config(o.config_file, config, &error)) return fail(error, 2);
  if (o.listen) config.proxy.listen_addr = *o.listen;
  if (o.remote) config.proxy.remote_addr = *o.remote;
  if (o.dumper) config.tcpdp.dumper = *o.dumper;
  if (const std::string e = digest_interval_error(o.digest, config.tcpdp.dumper); !e.empty()) {
    return fail(e, 2);
  }
  if (o.workers) config.proxy.workers = *o.workers;
  if (o.use_server_starter) config.proxy.use_server_starter = true;
  if (o.proxy_protocol) config.tcpdp.proxy_protocol = true;
  if (o.forward_proxy_header) config.proxy.forward_proxy_header = true;
  if (o.no_response) config.tcpdp.pair_responses = false;
  apply_pg_flags(o.pg, config);
  if (const std::string e = pg_flags_error(o.pg, config); !e.empty()) return fail(e, 2);
  if (!check_log_dirs(config, &error)) return fail(error, 2);

  ProxySettings settings;
  const auto remote = parse_host_port(config.proxy.remote_addr, &error);
  if (!remote || remote->host.empty()) {
    return fail(
        "-r " + config.proxy.remote_addr + ": " + (remote ? "the remote needs a host" : error), 2);
  }
  std::vector<IpAddr> resolved;
  if (!resolve_host(remote->host, resolved, &error))
    return fail("-r " + remote->text + ": " + error);
  settings.remote = *remote;
  settings.remote_addresses = resolved;
  if (config.proxy.use_server_starter) {
    if (!inherited_listeners(std::getenv("SERVER_STARTER_PORT"), settings.listeners, &error)) {
      return fail(error);
    }
  } else {
    const auto listen = parse_host_port(config.proxy.listen_addr, &error);
    if (!listen) return fail("-l " + config.proxy.listen_addr + ": " + error, 2);
    if (!open_listeners(*listen, settings.listeners, &error)) return fail(error);
  }
  if (const std::string loop = self_loop_error(settings.listeners, *remote, resolved);
      !loop.empty()) {
    return fail(loop, 2);
  }
  settings.workers =
      config.proxy.workers ? static_cast<unsigned>(config.proxy.workers) : default_proxy_workers();
  settings.buffer_size = config.proxy.buffer_size;  // the configuration allows 4 KiB or more
  settings.proxy_protocol = config.tcpdp.proxy_protocol;
  settings.forward_proxy_header = config.proxy.forward_proxy_header;
  settings.connect_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(config.proxy.connect_timeout * 1000));
  settings.header_timeout =
      std::chrono::milliseconds(static_cast<int64_t>(config.proxy.header_timeout * 1000));

  Pidfile pidfile;
  // Under start_server a new generation starts while the old one finishes its connections.
  if (!config.tcpdp.pidfile.empty() &&
      !pidfile.create(config.tcpdp.pidfile, &error, config.proxy.use_server_starter)) {
    return fail(error);
  }
  // Every thread has these blocked; this one takes them with sigtimedwait.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGINT, SIGTERM, SIGQUIT, SIGHUP}) sigaddset(&signals, sig);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // Rotation hooks still running at the end are waited for as open connections are.
  const std::chrono::milliseconds shutdown_timeout(
      static_cast<int64_t>(config.proxy.shutdown_timeout * 1000));
  auto program = make_program_log(config.log, shutdown_timeout);
  PgSink::Report report;
  auto pg = start_logged_pg_sink(config, o.pg, *program, report, &error);
  if (!error.empty()) return fail(error);
  auto dump = make_record_log(config.dump_log, o.to_stdout, *program,
                              config.pg.dumps ? pg.get() : nullptr, shutdown_timeout);
  auto conn = make_record_log(config.conn_log, o.to_stdout, *program, pg.get(), shutdown_timeout);
  std::unique_ptr<DigestClock> digest;
  if (o.digest.interval) {
    digest = make_digest_clock(o.digest, dump.get(), &error);
    if (!digest) {
      program->log("error", error);
      return fail(error, 2);
    }
  }
  for (StreamSink* sink : {dump.get(), conn.get()}) {
    if (sink && config.proxy.log_queue_full == "drop") {
      sink->set_when_full(StreamSink::WhenFull::kDrop);
    }
  }
  ProxyPipeline pipeline;
  pipeline.dump = dump.get();
  pipeline.conn = conn.get();
  pipeline.dumper = config.tcpdp.dumper;
  pipeline.dumper_options.pair_responses = config.tcpdp.pair_responses;
  const std::string listening = names_of(settings.listeners);
  const unsigned workers = settings.workers;
  ProxyServer server(std::move(settings), std::move(pipeline), *program);
  server.start();
  program->log("info", "start", [&](Record& r) {
    r.add("proxy_listen_addr", listening);
    r.add("remote_addr", remote->text);
    r.add("dumper", config.tcpdp.dumper);
    r.add("use_server_starter", config.proxy.use_server_starter);
    r.add("proxy_protocol", config.tcpdp.proxy_protocol);
    r.add("workers", static_cast<uint64_t>(workers));
    r.add("config_files", config_files_text(config));
  });
  std::fprintf(stderr, "tcpdp: relaying %s -> %s, %u event loop%s, dumper %s\n", listening.c_str(),
               remote->text.c_str(), workers, workers == 1 ? "" : "s", config.tcpdp.dumper.c_str());

  using Clock = std::chrono::steady_clock;
  bool draining = false;
  Clock::time_point deadline;
  for (;;) {
    timespec wait{0, 100 * 1000 * 1000};
    const int sig = sigtimedwait(&signals, nullptr, &wait);
    if (digest) digest->tick();
    if (sig == SIGHUP) {
      program->reopen();
      if (dump) dump->reopen();
      if (conn) conn->reopen();
    } else if (sig == SIGINT) {
      program->log("info", "SIGINT: closing every connection");
      server.close_all();
      break;
    } else if ((sig == SIGTERM || sig == SIGQUIT) && !draining) {
      draining = true;
      deadline = Clock::now() + shutdown_timeout;
      server.stop_accepting();
      program->log("info", "graceful stop: no new connections, waiting for the open ones",
                   [&](Record& r) { r.add("open", server.stats().open); });
    }
    if (draining) {
      if (server.stats().open == 0) break;
      if (Clock::now() >= deadline) {
        program->log("warn", "shutdownTimeout passed: closing the connections still open",
                     [&](Record& r) { r.add("open", server.stats().open); });
        server.close_all();
        break;
      }
    }
  }
  server.join();
  if (digest) digest->finish();
  if (dump) dump->flush();
  if (conn) conn->flush();
  if (pg) finish_pg_sink(*pg, config, report);
  const ProxyStats st = server.stats();
  program->log("info", "stop", [&](Record& r) {
    r.add("accepted", st.accepted);
    r.add("rejected", st.rejected);
    r.add("proxy_header_refused", st.header_refused);
    r.add("client_bytes", st.client_bytes);
    r.add("remote_bytes", st.remote_bytes);
    r.add("dropped_records",
          (dump ? dump->dropped_records() : 0) + (conn ? conn->dropped_records() : 0));
  });
  std::fprintf(stderr,
               "tcpdp: %llu connections relayed (%llu turned away), %llu bytes client -> remote, "
               "%llu bytes remote -> client\n",
               static_cast<unsigned long long>(st.accepted - st.rejected),
               static_cast<unsigned long long>(st.rejected),
               static_cast<unsigned long long>(st.client_bytes),
               static_cast<unsigned long long>(st.remote_bytes));
  return 0;
}

}  // namespace tcpdp
