/// `tcpdp proxy`: a TCP proxy that decodes what it relays, on its own listening sockets or on
/// those start_server (server-starter) passes down.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "cmd/digest_cmd.h"
#include "cmd/pg_cmd.h"

namespace tcpdp {

struct ProxyOptions {
  std::string config_file;
  // Unset: the configuration's value.
  std::optional<std::string> listen;
  std::optional<std::string> remote;
  std::optional<std::string> dumper;
  std::optional<unsigned> workers;
  bool use_server_starter = false;
  bool proxy_protocol = false;
  bool forward_proxy_header = false;
  bool to_stdout = false;
  bool no_response = false;
  PgOptions pg;
  DigestIntervalOptions digest;
};

void add_proxy_command(CLI::App& app, ProxyOptions& options);
/// Relays until SIGTERM/SIGQUIT (graceful) or SIGINT (at once); returns the exit status.
int run_proxy(const ProxyOptions& options);

}  // namespace tcpdp
