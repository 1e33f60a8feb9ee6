/// tcpdp: see TCP traffic through a proxy, a live capture or a capture file, decoded.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "cmd/audit_cmd.h"
#include "cmd/config_cmd.h"
#include "cmd/digest_cmd.h"
#include "cmd/pg_cmd.h"
#include "cmd/probe_cmd.h"
#include "cmd/proxy_cmd.h"
#include "cmd/read_cmd.h"
#include "cmd/records_cmd.h"

#ifndef TCPDP_VERSION
#define TCPDP_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  CLI::App app{"tcpdp: TCP streams decoded by protocol dumpers (hex, pg, mysql, conn)", "tcpdp"};
  app.require_subcommand(1);
  app.footer("Run 'tcpdp COMMAND --help' for a command's options. See man tcpdp.");

  tcpdp::ReadOptions read_options;
  tcpdp::add_read_command(app, read_options);
  tcpdp::ProbeOptions probe_options;
  tcpdp::add_probe_command(app, probe_options);
  tcpdp::ProxyOptions proxy_options;
  tcpdp::add_proxy_command(app, proxy_options);
  tcpdp::AuditOptions audit_options;
  tcpdp::add_audit_command(app, audit_options);
  tcpdp::ConfigOptions config_options;
  tcpdp::add_config_command(app, config_options);
  tcpdp::DigestOptions digest_options;
  tcpdp::add_digest_command(app, digest_options);
  tcpdp::PgSchemaOptions pg_schema_options;
  tcpdp::add_pg_schema_command(app, pg_schema_options);
  tcpdp::RecordsOptions records_options;
  tcpdp::add_records_command(app, records_options);
  CLI::App* version = app.add_subcommand("version", "Print the version");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (version->parsed()) {
    std::printf("tcpdp %s\n", TCPDP_VERSION);
    return 0;
  }
  if (app.got_subcommand("config")) return tcpdp::run_config(config_options);
  if (app.got_subcommand("probe")) return tcpdp::run_probe(probe_options);
  if (app.got_subcommand("proxy")) return tcpdp::run_proxy(proxy_options);
  if (app.got_subcommand("audit")) return tcpdp::run_audit(audit_options);
  if (app.got_subcommand("digest")) return tcpdp::run_digest(digest_options);
  if (app.got_subcommand("pg-schema")) return tcpdp::run_pg_schema(pg_schema_options);
  if (app.got_subcommand("records")) return tcpdp::run_records(records_options);
  return tcpdp::run_read(read_options);
}
