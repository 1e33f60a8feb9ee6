/// `tcpdp digest LOG...`: the query digest of `read --digest`, from tcpdp's own dump logs (JSON
/// or LTSV, rotated ones too, gzip'd or not).
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace tcpdp {

struct DigestOptions {
  std::vector<std::string> files;  // "-": standard input
  size_t top = 20;
  std::string format = "text";
  size_t max_classes = 10000;
};

void add_digest_command(CLI::App& app, DigestOptions& options);
int run_digest(const DigestOptions& options);

}  // namespace tcpdp
