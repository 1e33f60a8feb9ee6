#include "cmd/pg_cmd.h"

#include <cstdio>

#include "cmd/config_cmd.h"

namespace tcpdp {
void add_pg_conninfo_flag(CLI::App& command, PgOptions& options) {
  command.add_option("--pg", options.conninfo,
                     "Store connection events and summaries in PostgreSQL: a libpq connection "
                     "string or URI (\"\" for the PG* environment variables)");
}

void add_pg_flags(CLI::App& command, PgOptions& options) {
  add_pg_conninfo_flag(command, options);
  command.add_flag("--pg-dumps", options.dumps,
                   "With --pg: also store the pg and mysql dumpers' records (table queries)");
}

void apply_pg_flags(const PgOptions& options, Config& config) {
  if (options.conninfo) {
    config.pg.enable = true;
    config.pg.conninfo = *options.conninfo;
  }
  if (options.dumps) config.pg.dumps = true;
}

std::string pg_flags_error(const PgOptions& options, const Config& config) {
  if (options.dumps && !config.pg.enable) {
    return "--pg-dumps: the PostgreSQL sink is off; add --pg CONNINFO (or [pg] enable = true in "
           "the configuration)";
  }
  return "";
}

std::unique_ptr<PgSink> start_logged_pg_sink(const Config& config, const PgOptions& options,
                                             ProgramLog& program, PgSink::Report& report,
                                             std::string* error) {
  report = [&program](const char* level, const std::string& msg) { program.log(level, msg); };
  bool failed = false;
  error->clear();
  auto sink = start_pg_sink(config, options.conninfo.has_value(), /*wait_when_full=*/false, report,
                            &failed, error);
  if (failed) {
    program.log("error", *error);
  } else {
    error->clear();
  }
  return sink;
}

void add_pg_schema_command(CLI::App& app, PgSchemaOptions& options) {
  CLI::App* cmd = app.add_subcommand(
      "pg-schema", "Print the PostgreSQL tables, views and functions of the PostgreSQL sink");
  cmd->footer(
      "Examples:\n"
      "  tcpdp pg-schema | psql -d audit\n"
      "  tcpdp pg-schema --schema tcpdp | psql -d audit");
  cmd->add_option("-c,--config", options.config_file, "Config file (for [pg] schema)");
  cmd->add_option("--schema", options.schema,
                  "Put everything in this schema (default: [pg] schema, none)");
}

int run_pg_schema(const PgSchemaOptions& options) {
  Config config;
  std::string error;
  if (!effective_config(options.config_file, config, &error)) return fail(error, 2);
  std::fputs(pg_schema_sql(options.schema.value_or(config.pg.schema)).c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace tcpdp
