/// `tcpdp config`: print the effective configuration as TOML; and the loading every command
/// shares (-c FILE, or the default files).
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "cmd/config.h"

namespace tcpdp {

/// Defaults, then `file` when given (it must exist), else every default file that exists; the
/// files read are in config.files. False with one line in *error when a file is wrong.
bool effective_config(const std::string& file, Config& config, std::string* error);

/// config.files joined by ", ", or "none": for `tcpdp config` and the start record of tcpdp.log.
std::string config_files_text(const Config& config);

/// "tcpdp: message" on stderr; returns status (the commands' exit status).
int fail(const std::string& message, int status = 1);

struct ConfigOptions {
  std::string file;  // -c
  bool defaults = false;
  std::optional<std::string> dumper;
};

void add_config_command(CLI::App& app, ConfigOptions& options);
/// Runs `tcpdp config`; returns the process exit status.
int run_config(const ConfigOptions& options);

}  // namespace tcpdp
