#include "cmd/records_cmd.h"

#include <cstdio>

#include "cmd/config_cmd.h"
#include "records/catalogue.h"
#include "sinks/format.h"

namespace tcpdp {

namespace {

std::vector<std::string> kind_names() {
  std::vector<std::string> names;
  for (const KindDef& k : record_kinds()) names.emplace_back(k.name);
  return names;
}

void append_text(const KindDef& kind, std::string& out) {
  out += std::string(kind.name) + " (" + std::string(kind.log) + ")\n";
  size_t width = 0;
  for (const KeyDef& key : kind.keys) width = std::max(width, key.name.size());
  for (const KeyDef& key : kind.keys) {
    std::string line = "  " + std::string(key.name);
    line.resize(2 + width + 2, ' ');
    line += value_type_name(key.type);
    if (key.nullable) line += " or null";
    if (!key.values.empty()) {
      line += ":";
      for (std::string_view v : key.values) line += " " + std::string(v);
    }
    out += line + "\n";
  }
}

void append_quoted(std::string_view s, std::string& out) {
  out += '"';
  append_json_escaped(s, out);
  out += '"';
}

void append_json(const KindDef& kind, std::string& out) {
  out += "{\"name\":";
  append_quoted(kind.name, out);
  out += ",\"log\":";
  append_quoted(kind.log, out);
  out += ",\"keys\":[";
  for (size_t i = 0; i < kind.keys.size(); ++i) {
    const KeyDef& key = kind.keys[i];
    out += i ? ",{\"name\":" : "{\"name\":";
    append_quoted(key.name, out);
    out += ",\"type\":";
    append_quoted(value_type_name(key.type), out);
    out += key.nullable ? ",\"nullable\":true" : ",\"nullable\":false";
    out += ",\"values\":[";
    for (size_t j = 0; j < key.values.size(); ++j) {
      if (j) out += ',';
      append_quoted(key.values[j], out);
    }
    out += "]}";
  }
  out += "]}\n";
}

}  // namespace

void add_records_command(CLI::App& app, RecordsOptions& options) {
  CLI::App* cmd = app.add_subcommand(
      "records", "Print every kind of record tcpdp writes, with its keys and their types");
  cmd->footer(
      "Examples:\n"
      "  tcpdp records\n"
      "  tcpdp records pg summary\n"
      "  tcpdp records --format json | jq -r '.keys[].name'");
  cmd->add_option("kinds", options.kinds, "Only these kinds (the values of the event key)")
      ->check(CLI::IsMember(kind_names()));
  cmd->add_option("-f,--format", options.format, "text, or json (one object a kind)")
      ->check(CLI::IsMember({"text", "json"}));
}

int run_records(const RecordsOptions& options) {
  std::string out;
  for (const KindDef& kind : record_kinds()) {
    bool wanted = options.kinds.empty();
    for (const std::string& name : options.kinds) wanted = wanted || name == kind.name;
    if (!wanted) continue;
    if (options.format == "json") {
      append_json(kind, out);
    } else {
      if (!out.empty()) out += '\n';
      append_text(kind, out);
    }
  }
  std::fputs(out.c_str(), stdout);
  return std::fflush(stdout) == 0 ? 0 : fail("cannot write the catalogue to standard output", 1);
}

}  // namespace tcpdp
