/// `tcpdp read`: decode a pcap/pcapng file or standard input.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "cmd/digest_cmd.h"
#include "cmd/pg_cmd.h"

namespace tcpdp {

struct ReadOptions {
  std::string file = "-";
  std::string config_file;  // -c; else the default files
  // Unset: the configuration's value ([tcpdp] dumper, [tcptrack] ...).
  std::optional<std::string> dumper;
  std::string target;
  std::string format = "json";
  bool no_response = false;
  bool proxy_protocol = false;
  bool conn = false;       // connection lifecycle records too (always with -d conn)
  bool processes = false;  // local owners of the connections' ends, in the summaries
  bool quiet = false;      // no progress line or statistics on a terminal
  bool stats = false;      // the statistics at the end even when stderr is not a terminal
  std::optional<double> idle_timeout;
  std::optional<size_t> max_connections;
  PgOptions pg;
  bool digest = false;  // a query digest on stdout instead of the records
  DigestReportOptions digest_report;
};

void add_read_command(CLI::App& app, ReadOptions& options);
/// Runs the read; returns the process exit status.
int run_read(const ReadOptions& options);

}  // namespace tcpdp
