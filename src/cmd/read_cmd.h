/// `tcpdp read`: decode a pcap/pcapng file or standard input.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace tcpdp {

struct ReadOptions {
  std::string file = "-";
  std::string dumper = "hex";
  std::string target;
  std::string format = "json";
  bool no_response = false;
  bool conn = false;  // connection lifecycle records too (always with -d conn)
  bool processes = false;  // local owners of the connections' ends, in the summaries
  double idle_timeout = 300;           // seconds of capture time without a packet
  size_t max_connections = 1u << 20;   // connections tracked at once
};

void add_read_command(CLI::App& app, ReadOptions& options);
/// Runs the read; returns the process exit status.
int run_read(const ReadOptions& options);

}  // namespace tcpdp
