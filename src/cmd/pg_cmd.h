/// The PostgreSQL sink as the commands set it up ([pg], --pg, --pg-dumps), and
/// `tcpdp pg-schema`: the DDL it uses.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "cmd/config.h"
#include "pipeline/logs.h"
#include "pipeline/pg_output.h"

namespace tcpdp {

/// The flags read, probe and proxy share.
struct PgOptions {
  std::optional<std::string> conninfo;  // --pg
  bool dumps = false;                   // --pg-dumps
};
void add_pg_flags(CLI::App& command, PgOptions& options);
/// --pg alone, for a command that writes no dumper's records (audit).
void add_pg_conninfo_flag(CLI::App& command, PgOptions& options);
/// The flags over [pg].
void apply_pg_flags(const PgOptions& options, Config& config);
/// After apply_pg_flags: what is wrong with the flags (--pg-dumps without a sink to store the
/// records in), or "".
std::string pg_flags_error(const PgOptions& options, const Config& config);

/// The PostgreSQL sink of a long-running command (probe, proxy, audit), from [pg] and --pg, its
/// messages going to tcpdp.log through `report` (which must outlive the sink). nullptr when
/// there is none; when it cannot start, the error is logged and *error says it (else "").
std::unique_ptr<PgSink> start_logged_pg_sink(const Config& config, const PgOptions& options,
                                             ProgramLog& program, PgSink::Report& report,
                                             std::string* error);

struct PgSchemaOptions {
  std::string config_file;
  std::optional<std::string> schema;
};
void add_pg_schema_command(CLI::App& app, PgSchemaOptions& options);
int run_pg_schema(const PgSchemaOptions& options);

}  // namespace tcpdp
