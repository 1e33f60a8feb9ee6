/// `tcpdp audit`: every TCP state change on this host, from the kernel itself (no packet
/// capture), with the task on the CPU and, for a connect(), the process that made it; into
/// conn.log, like probe's.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "cmd/pg_cmd.h"

namespace tcpdp {

struct AuditOptions {
  std::string config_file;
  std::optional<std::string> target;
  std::optional<std::string> buffer_size;  // each CPU's trace buffer
  bool to_stdout = false;
  PgOptions pg;  // --pg only
};

void add_audit_command(CLI::App& app, AuditOptions& options);
/// Reads until SIGINT, SIGTERM or SIGQUIT; returns the process exit status.
int run_audit(const AuditOptions& options);

}  // namespace tcpdp
