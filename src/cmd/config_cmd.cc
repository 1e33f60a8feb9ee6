#include "cmd/config_cmd.h"

#include <unistd.h>

#include <cstdio>

#include "dumpers/dumper.h"
#include "sinks/pg_redact.h"

namespace tcpdp {

bool effective_config(const std::string& file, Config& config, std::string* error) {
  config = Config();
  if (!file.empty()) return load_config(file, config, error);
  for (const std::string& path : default_config_files()) {
    if (access(path.c_str(), F_OK) == 0 && !load_config(path, config, error)) return false;
  }
  return true;
}

std::string config_files_text(const Config& config) {
  std::string files;
  for (const std::string& f : config.files) files += (files.empty() ? "" : ", ") + f;
  return files.empty() ? "none" : files;
}

int fail(const std::string& message, int status) {
  std::fprintf(stderr, "tcpdp: %s\n", message.c_str());
  return status;
}

void add_config_command(CLI::App& app, ConfigOptions& options) {
  CLI::App* cmd = app.add_subcommand(
      "config", "Print the effective configuration (defaults, config files, flags) as TOML");
  cmd->footer(
      "Examples:\n"
      "  tcpdp config > my.toml\n"
      "  tcpdp config -c my.toml -d pg\n"
      "  tcpdp config --default");
  cmd->add_option("-c,--config", options.file,
                  "Config file (default: /etc/tcpdp/tcpdp.toml and $HOME/.tcpdp/tcpdp.toml, "
                  "those that exist)");
  cmd->add_flag("--default", options.defaults, "Print the built-in defaults, reading no file");
  cmd->add_option("-d,--dumper", options.dumper, "Dumper: hex, pg, mysql, conn or auto")
      ->check(CLI::IsMember(dumper_names()));
}

int run_config(const ConfigOptions& options) {
  Config config;
  std::string error;
  if (!options.defaults && !effective_config(options.file, config, &error)) {
    return fail(error, 2);
  }
  if (options.dumper) config.tcpdp.dumper = *options.dumper;
  // Printed configurations end up in tickets and chats: the PostgreSQL password stays out.
  config.pg.conninfo = redact_conninfo(config.pg.conninfo);
  // Where the settings came from, above them (--default reads none and prints the defaults
  // alone, as config/tcpdp.toml holds them).
  if (!options.defaults) {
    std::printf("# Configuration files read: %s\n", config_files_text(config).c_str());
  }
  std::fputs(config_to_toml(config).c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace tcpdp
