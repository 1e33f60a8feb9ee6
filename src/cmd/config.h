/// The effective configuration: built-in defaults, then TOML files, then command-line flags (the
/// commands apply their flags last). Every key is described once, in config.cc's table, which
/// drives parsing, checking and printing alike.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pipeline/settings.h"

namespace tcpdp {

/// The files read when no -c is given, in order; later ones override earlier ones. Never one in
/// the working directory: where tcpdp happens to start must not choose where records go.
std::vector<std::string> default_config_files();

/// Reads a TOML file over `config` and adds it to config.files. False, with one line naming the
/// file, line and key and what is accepted, for a file that cannot be read or is not a regular
/// file or a pipe, is too large or too deeply nested, is not TOML, or holds an unknown key, a
/// value of the wrong type or out of range, or values that contradict each other.
bool load_config(const std::string& path, Config& config, std::string* error);

/// load_config's work on the text of a file named `name`, touching no file.
bool load_config_text(const std::string& text, const std::string& name, Config& config,
                      std::string* error);

/// The configuration as TOML that load_config reads back to the same values, a comment above
/// every key.
std::string config_to_toml(const Config& config);

/// "2MB", "64KiB", "4096": bytes; false for anything else. KB, MB and GB are powers of 1000,
/// KiB, MiB and GiB powers of 1024.
bool parse_size(const std::string& text, uint64_t& bytes);

/// "60", "60s", "1.5m", "1h": seconds above 0; false for anything else.
bool parse_seconds(const std::string& text, double& seconds);

}  // namespace tcpdp
