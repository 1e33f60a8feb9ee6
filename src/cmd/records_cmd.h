/// `tcpdp records`: the record catalogue, printed, so that a pipeline knows every kind of record,
/// its keys, their types and their closed sets of values before it sees one.
#pragma once

#include <CLI/CLI.hpp>
#include <string>
#include <vector>

namespace tcpdp {

struct RecordsOptions {
  std::string format = "text";
  std::vector<std::string> kinds;  // empty: all
};
void add_records_command(CLI::App& app, RecordsOptions& options);
int run_records(const RecordsOptions& options);

}  // namespace tcpdp
