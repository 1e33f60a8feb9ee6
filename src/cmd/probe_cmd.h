/// `tcpdp probe`: live capture on an interface, like tcpdump, into the dumpers, the connection
/// tracker and the three logs.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cmd/digest_cmd.h"
#include "cmd/pg_cmd.h"

namespace tcpdp {

struct ProbeOptions {
  std::string config_file;
  // Unset: the configuration's value.
  std::optional<std::string> interface;
  std::optional<std::string> target;
  std::optional<std::string> dumper;
  std::optional<std::string> buffer_size;
  std::optional<std::string> snapshot_length;  // a number or auto
  std::optional<std::string> filter;
  std::optional<unsigned> workers;
  std::string user;  // -Z: run as this user once the capture is open
  bool immediate_mode = false;
  bool promiscuous = false;
  bool to_stdout = false;
  bool no_response = false;
  bool proxy_protocol = false;
  std::vector<std::string> expression;  // a trailing BPF expression, as tcpdump takes it
  PgOptions pg;
  DigestIntervalOptions digest;
};

void add_probe_command(CLI::App& app, ProbeOptions& options);
/// Runs the capture until SIGINT, SIGTERM or SIGQUIT; returns the process exit status.
int run_probe(const ProbeOptions& options);

}  // namespace tcpdp
