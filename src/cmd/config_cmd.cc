#include "cmd/config_cmd.h"

#include <unistd.h>

#include <cstdio>

#include "dumpers/dumper.h"

namespace tcpdp {

bool effective_config(const std::string& file, Config& config, std::string* error) {
  config = Config();
  if (!file.empty()) return load_config(file, config, error);
  for (const std::string& path : default_config_files()) {
    if (access(path.c_str(), F_OK) == 0 && !load_config(path, config, error)) return false;
  }
  return true;
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
                  "Config file (default: /etc/tcpdp/tcpdp.toml, $HOME/.tcpdp/tcpdp.toml and "
                  "./tcpdp.toml, those that exist)");
  cmd->add_flag("--default", options.defaults, "Print the built-in defaults, reading no file");
  cmd->add_option("-d,--dumper", options.dumper, "Dumper: hex, pg, mysql, conn or auto")
      ->check(CLI::IsMember(dumper_names()));
}

int run_config(const ConfigOptions& options) {
  Config config;
  std::string error;
  if (!options.defaults && !effective_config(options.file, config, &error)) {
    std::fprintf(stderr, "tcpdp: %s\n", error.c_str());
    return 2;
  }
  if (options.dumper) config.tcpdp.dumper = *options.dumper;
  std::fputs(config_to_toml(config).c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : 1;
}

}  // namespace tcpdp
