/// The PostgreSQL sink as the commands set it up ([pg], --pg, --pg-dumps), and
/// `tcpdp pg-schema`: the DDL it uses.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <optional>
#include <string>

#include "cmd/config.h"
#include "sinks/pg_sink.h"

namespace tcpdp {

/// The flags read, probe and proxy share.
struct PgOptions {
  std::optional<std::string> conninfo;  // --pg
  bool dumps = false;                   // --pg-dumps
};
void add_pg_flags(CLI::App& command, PgOptions& options);
/// The flags over [pg].
void apply_pg_flags(const PgOptions& options, Config& config);
/// After apply_pg_flags: what is wrong with the flags (--pg-dumps without a sink to store the
/// records in), or "".
std::string pg_flags_error(const PgOptions& options, const Config& config);

/// The sink, started, when [pg] enable (or --pg) asks for it; nullptr when not asked for.
/// When PostgreSQL cannot be used at start: with onStartupError exit (auto with --pg) *error
/// says why and nullptr comes back with *failed set; with warn the reason goes to `report` and
/// the sink keeps trying.
/// `wait_when_full`: for `read`, whose input can wait for the database.
std::unique_ptr<PgSink> start_pg_sink(const Config& config, const PgOptions& options,
                                      bool wait_when_full, PgSink::Report report, bool* failed,
                                      std::string* error);

/// Stops the sink (sending what it can within [pg] shutdownTimeout) and reports its counts.
void finish_pg_sink(PgSink& sink, const Config& config, const PgSink::Report& report);

struct PgSchemaOptions {
  std::string config_file;
  std::optional<std::string> schema;
};
void add_pg_schema_command(CLI::App& app, PgSchemaOptions& options);
int run_pg_schema(const PgSchemaOptions& options);

}  // namespace tcpdp
