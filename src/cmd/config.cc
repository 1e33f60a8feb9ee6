#include "cmd/config.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string_view>
#include <toml.hpp>
#include <variant>

#include "cmd/config_file.h"
#include "cmd/config_keys.h"

namespace tcpdp {

namespace {

using config_keys::Field;
using config_keys::Key;
using config_keys::keys;
using config_keys::sections;
using config_keys::Type;

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string where(const std::string& path, const toml::value& v) {
  return path + ":" + std::to_string(v.location().line());
}

std::string size_text(uint64_t bytes);

// The smallest value a whole number or size key takes.
uint64_t lowest(const Key& k) {
  return std::max<uint64_t>(k.bounds.min, k.type == Type::kSize ? 0 : 1);
}

bool in_bounds(const Key& k, uint64_t n) { return n >= lowest(k) && n <= k.bounds.max; }

// " from 1", " from 1 to 255", " up to 1GiB": the key's bounds, in its unit.
std::string range_text(const Key& k) {
  const auto text = [&k](uint64_t n) {
    std::string s = k.type == Type::kSize ? size_text(n) : std::to_string(n);
    std::erase(s, '"');
    return s;
  };
  std::string out;
  if (lowest(k) > 0) out += " from " + text(lowest(k));
  if (k.bounds.max != UINT64_MAX) out += (out.empty() ? " up to " : " to ") + text(k.bounds.max);
  return out;
}

std::string wanted(const Key& k) {
  switch (k.type) {
    case Type::kString:
      return "a string";
    case Type::kBool:
      return "true or false";
    case Type::kPositive:
      return "a whole number" + range_text(k);
    case Type::kAuto:
      return "a whole number" + range_text(k) + " or \"auto\"";
    case Type::kSize:
      return "a size" + range_text(k) +
             ": a whole number of bytes, or a string such as \"64KB\", \"2MB\", \"1GiB\"";
    case Type::kSeconds:
      return "a number of seconds above 0 and at most " +
             std::to_string(static_cast<int64_t>(kMaxSeconds)) + " (a year)";
    case Type::kChoice:
      return "one of";
  }
  return "?";
}

// Sets the key from v; false (and *error) when v does not fit.
bool set(const Key& k, const toml::value& v, Config& config, const std::string& path,
         std::string* error) {
  const auto bad = [&] {
    std::string accepted = wanted(k);
    if (k.type == Type::kChoice) accepted += " " + join(k.choices);
    *error = where(path, v) + ": [" + k.section + "] " + k.name + ": " + accepted + " is wanted";
    return false;
  };
  Field f = k.field(config);
  switch (k.type) {
    case Type::kString:
      if (!v.is_string()) return bad();
      *std::get<std::string*>(f) = v.as_string().str;
      return true;
    case Type::kChoice: {
      if (!v.is_string()) return bad();
      const std::string& s = v.as_string().str;
      for (const std::string& c : k.choices) {
        if (s == c) {
          *std::get<std::string*>(f) = s;
          return true;
        }
      }
      return bad();
    }
    case Type::kBool:
      if (!v.is_boolean()) return bad();
      *std::get<bool*>(f) = v.as_boolean();
      return true;
    case Type::kPositive:
    case Type::kAuto: {
      if (k.type == Type::kAuto && v.is_string() && v.as_string().str == "auto") {
        *std::get<uint64_t*>(f) = 0;
        return true;
      }
      if (!v.is_integer() || v.as_integer() < 0) return bad();
      const auto n = static_cast<uint64_t>(v.as_integer());
      if (!in_bounds(k, n)) return bad();
      *std::get<uint64_t*>(f) = n;
      return true;
    }
    case Type::kSize: {
      uint64_t bytes = 0;
      if (v.is_integer() && v.as_integer() >= 0) {
        bytes = static_cast<uint64_t>(v.as_integer());
      } else if (!v.is_string() || !parse_size(v.as_string().str, bytes)) {
        return bad();
      }
      if (!in_bounds(k, bytes)) return bad();
      *std::get<uint64_t*>(f) = bytes;
      return true;
    }
    case Type::kSeconds: {
      double s = 0;
      if (v.is_integer()) {
        s = static_cast<double>(v.as_integer());
      } else if (v.is_floating()) {
        s = v.as_floating();
      } else {
        return bad();
      }
      if (!(s > 0 && s <= kMaxSeconds)) return bad();
      *std::get<double*>(f) = s;
      return true;
    }
  }
  return bad();
}

std::string toml_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (b < 0x20 || b == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", b);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The exact size in its largest whole unit: "2MB", "4MiB", or a plain number of bytes.
std::string size_text(uint64_t bytes) {
  struct Unit {
    uint64_t size;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{1ULL << 30, "GiB"}, {1000000000ULL, "GB"}, {1ULL << 20, "MiB"},
                                    {1000000ULL, "MB"},  {1ULL << 10, "KiB"},   {1000ULL, "KB"}};
  if (bytes == 0) return "0";
  for (const Unit& u : kUnits) {
    if (bytes % u.size == 0) return "\"" + std::to_string(bytes / u.size) + u.name + "\"";
  }
  return std::to_string(bytes);
}

std::string value_text(const Key& k, Config& c) {
  const Field f = k.field(c);
  switch (k.type) {
    case Type::kString:
    case Type::kChoice:
      return toml_string(*std::get<std::string*>(f));
    case Type::kBool:
      return *std::get<bool*>(f) ? "true" : "false";
    case Type::kPositive:
      return std::to_string(*std::get<uint64_t*>(f));
    case Type::kAuto: {
      const uint64_t n = *std::get<uint64_t*>(f);
      return n == 0 ? "\"auto\"" : std::to_string(n);
    }
    case Type::kSize:
      return size_text(*std::get<uint64_t*>(f));
    case Type::kSeconds: {
      // The shortest text that reads back the same: 300 (a TOML integer) or 0.25 (a float).
      char buf[32];
      return std::string(buf, std::to_chars(buf, buf + sizeof buf, *std::get<double*>(f)).ptr);
    }
  }
  return "";
}

}  // namespace

std::vector<std::string> default_config_files() {
  std::vector<std::string> files = {"/etc/tcpdp/tcpdp.toml"};
  if (const char* home = std::getenv("HOME"); home && *home) {
    files.push_back(std::string(home) + "/.tcpdp/tcpdp.toml");
  }
  return files;
}

bool parse_size(const std::string& text, uint64_t& bytes) {
  uint64_t n = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, n);
  if (ec != std::errc() || p == text.data()) return false;
  std::string_view unit(p, static_cast<size_t>(end - p));
  if (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  struct Unit {
    std::string_view name;
    uint64_t size;
  };
  static constexpr Unit kUnits[] = {{"", 1},
                                    {"B", 1},
                                    {"KB", 1000},
                                    {"MB", 1000000},
                                    {"GB", 1000000000},
                                    {"KiB", 1ULL << 10},
                                    {"MiB", 1ULL << 20},
                                    {"GiB", 1ULL << 30}};
  for (const Unit& u : kUnits) {
    if (unit == u.name) {
      if (n > UINT64_MAX / u.size) return false;
      bytes = n * u.size;
      return true;
    }
  }
  return false;
}

bool parse_seconds(const std::string& text, double& seconds) {
  if (text.empty()) return false;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end == text.c_str()) return false;
  const std::string_view unit(end);
  const double scale = unit.empty() || unit == "s" ? 1 : unit == "m" ? 60 : unit == "h" ? 3600 : 0;
  if (scale == 0 || !(v > 0) || !std::isfinite(v)) return false;
  seconds = v * scale;
  return true;
}

namespace {

// Keys that bound another in the same section: {section, lower, upper}. They are checked on the
// whole configuration once a file is applied, as the two may come from different files.
constexpr const char* kOrdered[][3] = {{"pg", "queueMin", "queueMax"},
                                       {"pg", "retryWaitMin", "retryWaitMax"}};

const Key& key_named(const std::string& section, const std::string& name) {
  for (const Key& k : keys()) {
    if (k.section == section && k.name == name) return k;
  }
  std::abort();  // kOrdered names a key the table lacks
}

double number_of(const Key& k, Config& c) {
  const Field f = k.field(c);
  return std::holds_alternative<double*>(f) ? *std::get<double*>(f)
                                            : static_cast<double>(*std::get<uint64_t*>(f));
}

bool keys_in_order(const toml::value& data, const std::string& path, Config& config,
                   std::string* error) {
  for (const auto& [section, lower, upper] : kOrdered) {
    const Key& low = key_named(section, lower);
    const Key& high = key_named(section, upper);
    if (number_of(low, config) <= number_of(high, config)) continue;
    // The line of the lower key if this file sets it, else of the upper one.
    std::string at = path;
    if (data.contains(section) && data.at(section).is_table()) {
      for (const char* name : {lower, upper}) {
        if (data.at(section).contains(name)) {
          at = where(path, data.at(section).at(name));
          break;
        }
      }
    }
    *error = at + ": [" + section + "] " + lower + " " + value_text(low, config) + " is above " +
             upper + " " + value_text(high, config) + ": " + lower + " is at most " + upper;
    return false;
  }
  return true;
}

}  // namespace

bool load_config(const std::string& path, Config& config, std::string* error) {
  std::string text;
  return read_config_file(path, text, error) && load_config_text(text, path, config, error);
}

bool load_config_text(const std::string& text, const std::string& path, Config& config,
                      std::string* error) {
  // The parser recurses on nesting and slows down sharply on some shapes: they are refused
  // before it sees them.
  if (!check_config_shape(text, path, error)) return false;
  toml::value data;
  try {
    std::istringstream in(text);
    data = toml::parse(in, path);
  } catch (const toml::syntax_error& e) {
    // toml11's message spans lines (with the offending line drawn); keep its first line,
    // without the parser function's name, and say where.
    std::string what = e.what();
    what = what.substr(0, what.find('\n'));
    if (what.rfind("[error] ", 0) == 0) what = what.substr(8);
    if (what.rfind("toml::", 0) == 0 && what.find(": ") != std::string::npos) {
      what = what.substr(what.find(": ") + 2);
    }
    *error = path + ":" + std::to_string(e.location().line()) + ": not valid TOML: " + what;
    return false;
  } catch (const std::exception& e) {
    *error = path + ": not valid TOML: " + e.what();
    return false;
  }
  // Every problem is found, and the first in the file reported (tables come unordered).
  uint32_t first_line = UINT32_MAX;
  const auto problem = [&](const toml::value& at, const std::string& message) {
    if (at.location().line() < first_line) {
      first_line = at.location().line();
      *error = message;
    }
  };
  for (const auto& [section, table] : data.as_table()) {
    bool known = false;
    for (const std::string& s : sections()) known |= s == section;
    if (!table.is_table()) {
      problem(table, where(path, table) + ": '" + section + "' is not a section; sections are " +
                         join(sections()));
      continue;
    }
    if (!known) {
      problem(table, where(path, table) + ": unknown section [" + section + "]; sections are " +
                         join(sections()));
      continue;
    }
    for (const auto& [name, value] : table.as_table()) {
      const Key* key = nullptr;
      std::vector<std::string> here;
      for (const Key& k : keys()) {
        if (k.section != section) continue;
        here.push_back(k.name);
        if (k.name == name) key = &k;
      }
      std::string message;
      if (!key) {
        problem(value, where(path, value) + ": unknown key '" + name + "' in [" + section +
                           "]; keys there are " + join(here));
      } else if (!set(*key, value, config, path, &message)) {
        problem(value, message);
      }
    }
  }
  if (first_line != UINT32_MAX || !keys_in_order(data, path, config, error)) return false;
  config.files.push_back(path);
  return true;
}

std::string config_to_toml(const Config& config) {
  Config c = config;  // the field accessors take a mutable Config
  std::string out =
      "# tcpdp configuration. Read from -c FILE, or else from /etc/tcpdp/tcpdp.toml and then\n"
      "# $HOME/.tcpdp/tcpdp.toml (never from the working directory); command-line flags override\n"
      "# the files. Sizes: bytes, or \"64KB\", \"2MB\", \"1GiB\".\n";
  for (const std::string& section : sections()) {
    out += "\n[" + section + "]\n";
    for (const Key& k : keys()) {
      if (k.section != section) continue;
      out += "# " + k.comment;
      if (k.type == Type::kChoice) out += ": " + join(k.choices, ", ");
      out += "\n" + k.name + " = " + value_text(k, c) + "\n";
    }
  }
  return out;
}

}  // namespace tcpdp
