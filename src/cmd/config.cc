#include "cmd/config.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <string_view>
#include <toml.hpp>
#include <variant>

namespace tcpdp {

namespace {

enum class Type {
  kString,
  kBool,
  kPositive,  // an integer from 1
  kAuto,      // an integer from 1, or "auto" (kept as 0)
  kSize,      // bytes: an integer, or a string such as "2MB"
  kSeconds,   // a number above 0
  kChoice,    // one of the choices
};

using Field = std::variant<std::string*, bool*, uint64_t*, double*>;

struct Key {
  std::string section;
  std::string name;
  Type type;
  std::string comment;
  std::vector<std::string> choices;
  std::function<Field(Config&)> field;
};

const std::vector<std::string> kSections = {"tcpdp", "log", "dumpLog", "connLog",
                                            "tcptrack", "probe", "proxy", "pg"};

void add_log_keys(std::vector<Key>& keys, const std::string& section,
                  LogSettings Config::*log, const std::string& what) {
  auto f = [log](auto member) {
    return [log, member](Config& c) -> Field { return &(c.*log.*member); };
  };
  keys.push_back({section, "dir", Type::kString, "Directory of " + what, {}, f(&LogSettings::dir)});
  keys.push_back({section, "enable", Type::kBool, "Write " + what, {}, f(&LogSettings::enable)});
  keys.push_back({section, "stdout", Type::kBool, "Also write its records to standard output", {},
                  f(&LogSettings::to_stdout)});
  keys.push_back({section, "format", Type::kChoice, "Record format", {"json", "ltsv", "console"},
                  f(&LogSettings::format)});
  keys.push_back({section, "fileName", Type::kString, "File name in dir", {},
                  f(&LogSettings::file_name)});
  keys.push_back({section, "rotateEnable", Type::kBool, "Rotate the file", {},
                  f(&LogSettings::rotate_enable)});
  keys.push_back({section, "rotationTime", Type::kChoice, "Start a new file every",
                  {"secondly", "minutely", "hourly", "daily"}, f(&LogSettings::rotation_time)});
  keys.push_back({section, "rotationCount", Type::kPositive, "Rotated files kept", {},
                  f(&LogSettings::rotation_count)});
  keys.push_back({section, "rotationHook", Type::kString,
                  "Program run after each rotation with the previous and the current file name "
                  "as arguments (no shell); empty for none",
                  {},
                  f(&LogSettings::rotation_hook)});
  keys.push_back({section, "rotationSize", Type::kSize,
                  "Also start a new file when it reaches this size; 0 for none", {},
                  f(&LogSettings::rotation_size)});
}

void add_pg_keys(std::vector<Key>& k) {
  auto f = [](auto member) {
    return [member](Config& c) -> Field { return &(c.pg.*member); };
  };
  using P = decltype(Config::pg);
  k.push_back({"pg", "enable", Type::kBool,
               "Store connection events and summaries in PostgreSQL (also --pg CONNINFO)", {},
               f(&P::enable)});
  k.push_back({"pg", "conninfo", Type::kString,
               "libpq connection string or URI; empty: libpq's defaults and the PG* environment "
               "variables",
               {}, f(&P::conninfo)});
  k.push_back({"pg", "schema", Type::kString,
               "Schema of tcpdp's tables, views and functions; empty: the search_path's first", {},
               f(&P::schema)});
  k.push_back({"pg", "createSchema", Type::kBool,
               "Create the tables, views and functions when missing (tcpdp pg-schema prints them)",
               {}, f(&P::create_schema)});
  k.push_back({"pg", "dumps", Type::kBool,
               "Also store the pg and mysql dumpers' records in the queries table", {},
               f(&P::dumps)});
  k.push_back({"pg", "onStartupError", Type::kChoice,
               "When PostgreSQL cannot be used at start: exit, or warn and keep trying (records "
               "are queued and spooled meanwhile); auto: exit with --pg, warn when enabled here",
               {"auto", "exit", "warn"}, f(&P::on_startup_error)});
  k.push_back({"pg", "batchSize", Type::kPositive, "Records sent to PostgreSQL in one call", {},
               f(&P::batch_size)});
  k.push_back({"pg", "batchLatency", Type::kSeconds,
               "Seconds a record waits at most for its batch to fill", {},
               f(&P::batch_latency)});
  k.push_back({"pg", "queueMin", Type::kPositive, "Queue slots for records allocated at start",
               {}, f(&P::queue_min)});
  k.push_back({"pg", "queueDelta", Type::kPositive,
               "Queue slots added each time the queue is full, up to queueMax", {},
               f(&P::queue_delta)});
  k.push_back({"pg", "queueMax", Type::kPositive,
               "Records queued in memory at most; past it (or queueMaxSize) they are spooled", {},
               f(&P::queue_max)});
  k.push_back({"pg", "queueMaxSize", Type::kSize, "Bytes of records queued in memory at most",
               {}, f(&P::queue_max_size)});
  k.push_back({"pg", "spoolFile", Type::kString,
               "Append-only file for records the database has not taken yet (relative: in [log] "
               "dir); replayed in order, also at the next start",
               {}, f(&P::spool_file)});
  k.push_back({"pg", "spoolMaxSize", Type::kSize,
               "Bytes the spool file holds at most; records past it are dropped and counted", {},
               f(&P::spool_max_size)});
  k.push_back({"pg", "retryWaitMin", Type::kSeconds,
               "Seconds between attempts to reach PostgreSQL, at first", {},
               f(&P::retry_wait_min)});
  k.push_back({"pg", "retryWaitMax", Type::kSeconds,
               "Seconds between attempts to reach PostgreSQL, at most", {},
               f(&P::retry_wait_max)});
  k.push_back({"pg", "retryWaitGrowThreshold", Type::kPositive,
               "Failed attempts before the wait grows", {}, f(&P::retry_wait_grow_threshold)});
  k.push_back({"pg", "retryWaitDelta", Type::kSeconds,
               "Seconds the wait grows by at each further failed attempt", {},
               f(&P::retry_wait_delta)});
  k.push_back({"pg", "shutdownTimeout", Type::kSeconds,
               "Seconds a stop waits for queued and spooled records to be stored; the rest stays "
               "in the spool file",
               {}, f(&P::shutdown_timeout)});
}

const std::vector<Key>& keys() {
  static const std::vector<Key> kKeys = [] {
    std::vector<Key> k;
    auto field = [](auto get) { return std::function<Field(Config&)>(get); };
    k.push_back({"tcpdp", "pidfile", Type::kString, "Process id file of probe and proxy", {},
                 field([](Config& c) -> Field { return &c.tcpdp.pidfile; })});
    k.push_back({"tcpdp", "dumper", Type::kChoice,
                 "Protocol dumper (auto: pg for server port 5432, mysql for 3306 and 33060, else hex)",
                 {"hex", "pg", "mysql", "conn", "auto"},
                 field([](Config& c) -> Field { return &c.tcpdp.dumper; })});
    k.push_back({"tcpdp", "proxyProtocol", Type::kBool,
                 "Streams start with a PROXY protocol header (v1 or v2) from a load balancer: "
                 "taken off, its addresses logged", {},
                 field([](Config& c) -> Field { return &c.tcpdp.proxy_protocol; })});
    k.push_back({"tcpdp", "pairResponses", Type::kBool,
                 "pg, mysql: add the server's answer to each client message's record (false: "
                 "write each message at once, like --no-response)",
                 {},
                 field([](Config& c) -> Field { return &c.tcpdp.pair_responses; })});
    add_log_keys(k, "log", &Config::log, "tcpdp.log, the program's own log");
    add_log_keys(k, "dumpLog", &Config::dump_log, "dump.log, the dumper's records");
    add_log_keys(k, "connLog", &Config::conn_log,
                 "conn.log, connection state changes and summaries");
    k.push_back({"tcptrack", "idleTimeout", Type::kSeconds,
                 "Seconds without a packet after which a connection counts as closed", {},
                 field([](Config& c) -> Field { return &c.tcptrack.idle_timeout; })});
    k.push_back({"tcptrack", "maxConnections", Type::kPositive,
                 "Connections followed at once; past it the least recently seen is given up", {},
                 field([](Config& c) -> Field { return &c.tcptrack.max_connections; })});
    k.push_back({"tcptrack", "maxHeldBytes", Type::kSize,
                 "Out-of-order bytes held per direction before a hole is given up as a gap", {},
                 field([](Config& c) -> Field { return &c.tcptrack.max_held_bytes; })});
    k.push_back({"tcptrack", "maxHeldSegments", Type::kPositive,
                 "Out-of-order segments held per direction", {},
                 field([](Config& c) -> Field { return &c.tcptrack.max_held_segments; })});
    k.push_back({"tcptrack", "closedLinger", Type::kSeconds,
                 "Seconds a closed connection is kept to count its last packets", {},
                 field([](Config& c) -> Field { return &c.tcptrack.closed_linger; })});
    k.push_back({"probe", "target", Type::kString,
                 "Server side to look at: PORT, HOST:PORT or [V6]:PORT, several joined by , or ||",
                 {},
                 field([](Config& c) -> Field { return &c.probe.target; })});
    k.push_back({"probe", "interface", Type::kString, "Interface to capture on", {},
                 field([](Config& c) -> Field { return &c.probe.interface; })});
    k.push_back({"probe", "bufferSize", Type::kSize, "libpcap's capture buffer", {},
                 field([](Config& c) -> Field { return &c.probe.buffer_size; })});
    k.push_back({"probe", "immediateMode", Type::kBool,
                 "Deliver each packet at once instead of in buffer-fulls", {},
                 field([](Config& c) -> Field { return &c.probe.immediate_mode; })});
    k.push_back({"probe", "snapshotLength", Type::kAuto,
                 "Bytes captured of each packet (auto: the largest packet the interface passes, "
                 "GSO/GRO included, and its link header)",
                 {},
                 field([](Config& c) -> Field { return &c.probe.snapshot_length; })});
    k.push_back({"probe", "promiscuous", Type::kBool, "Put the interface in promiscuous mode", {},
                 field([](Config& c) -> Field { return &c.probe.promiscuous; })});
    k.push_back({"probe", "filter", Type::kString,
                 "BPF filter used instead of the one made from target (pcap-filter syntax)", {},
                 field([](Config& c) -> Field { return &c.probe.filter; })});
    k.push_back({"probe", "workers", Type::kAuto,
                 "Decode threads, each owning a share of the connections (auto: a quarter of "
                 "the cores, 1 to 8)",
                 {},
                 field([](Config& c) -> Field { return &c.probe.workers; })});
    k.push_back({"probe", "internalBufferLength", Type::kPositive,
                 "Packets queued between the capture thread and the decode threads, at most", {},
                 field([](Config& c) -> Field { return &c.probe.internal_buffer_length; })});
    k.push_back({"probe", "internalBufferSize", Type::kSize,
                 "Bytes queued between the capture thread and the decode threads, at most", {},
                 field([](Config& c) -> Field { return &c.probe.internal_buffer_size; })});
    k.push_back({"probe", "internalBufferFull", Type::kChoice,
                 "When the queue is full: wait (the kernel's buffer, bufferSize, takes the "
                 "packets meanwhile and counts its drops) or drop (count them as queue_dropped)",
                 {"wait", "drop"},
                 field([](Config& c) -> Field { return &c.probe.internal_buffer_full; })});
    k.push_back({"proxy", "useServerStarter", Type::kBool,
                 "Listen on the socket inherited from server-starter's start_server", {},
                 field([](Config& c) -> Field { return &c.proxy.use_server_starter; })});
    k.push_back({"proxy", "listenAddr", Type::kString, "Address the proxy listens on", {},
                 field([](Config& c) -> Field { return &c.proxy.listen_addr; })});
    k.push_back({"proxy", "remoteAddr", Type::kString, "Address the proxy connects to", {},
                 field([](Config& c) -> Field { return &c.proxy.remote_addr; })});
    k.push_back({"proxy", "workers", Type::kAuto,
                 "Event-loop threads, each owning the connections it accepted (auto: half the "
                 "cores, 1 to 8)",
                 {},
                 field([](Config& c) -> Field { return &c.proxy.workers; })});
    k.push_back({"proxy", "bufferSize", Type::kSize,
                 "Bytes held per direction of a connection; a side is not read from while the "
                 "other cannot take more",
                 {},
                 field([](Config& c) -> Field { return &c.proxy.buffer_size; })});
    k.push_back({"proxy", "connectTimeout", Type::kSeconds,
                 "Seconds to wait for the remote to accept a connection", {},
                 field([](Config& c) -> Field { return &c.proxy.connect_timeout; })});
    k.push_back({"proxy", "shutdownTimeout", Type::kSeconds,
                 "Seconds SIGTERM waits for open connections to end before closing them", {},
                 field([](Config& c) -> Field { return &c.proxy.shutdown_timeout; })});
    k.push_back({"proxy", "logQueueFull", Type::kChoice,
                 "When the log writers fall behind: block (relaying waits for them) or drop "
                 "(records are thrown away and counted; relaying never waits)",
                 {"block", "drop"},
                 field([](Config& c) -> Field { return &c.proxy.log_queue_full; })});
    k.push_back({"proxy", "forwardProxyHeader", Type::kBool,
                 "With proxyProtocol: pass the client's PROXY protocol header on to the remote "
                 "(else it is taken off)",
                 {},
                 field([](Config& c) -> Field { return &c.proxy.forward_proxy_header; })});
    add_pg_keys(k);
    return k;
  }();
  return kKeys;
}

std::string join(const std::vector<std::string>& items, const char* sep = ", ") {
  std::string out;
  for (const std::string& s : items) out += (out.empty() ? "" : sep) + s;
  return out;
}

std::string where(const std::string& path, const toml::value& v) {
  return path + ":" + std::to_string(v.location().line());
}

const char* wanted(const Key& k) {
  switch (k.type) {
    case Type::kString:
      return "a string";
    case Type::kBool:
      return "true or false";
    case Type::kPositive:
      return "a whole number from 1";
    case Type::kAuto:
      return "a whole number from 1 or \"auto\"";
    case Type::kSize:
      return "a size: a whole number of bytes, or a string such as \"64KB\", \"2MB\", \"1GiB\"";
    case Type::kSeconds:
      return "a number of seconds above 0";
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
    case Type::kPositive: {
      if (!v.is_integer()) return bad();
      const int64_t n = v.as_integer();
      if (n < 1) return bad();
      *std::get<uint64_t*>(f) = static_cast<uint64_t>(n);
      return true;
    }
    case Type::kAuto: {
      if (v.is_string() && v.as_string().str == "auto") {
        *std::get<uint64_t*>(f) = 0;
        return true;
      }
      if (!v.is_integer() || v.as_integer() < 1) return bad();
      *std::get<uint64_t*>(f) = static_cast<uint64_t>(v.as_integer());
      return true;
    }
    case Type::kSize: {
      uint64_t bytes = 0;
      if (v.is_integer() && v.as_integer() >= 0) {
        bytes = static_cast<uint64_t>(v.as_integer());
      } else if (!v.is_string() || !parse_size(v.as_string().str, bytes)) {
        return bad();
      }
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
      if (!(s > 0) || !std::isfinite(s)) return bad();
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

Config::Config() {
  log.file_name = "tcpdp.log";
  dump_log.file_name = "dump.log";
  dump_log.rotation_time = "hourly";
  dump_log.rotation_count = 24;
  conn_log.file_name = "conn.log";
}

std::vector<std::string> default_config_files() {
  std::vector<std::string> files = {"/etc/tcpdp/tcpdp.toml"};
  if (const char* home = std::getenv("HOME"); home && *home) {
    files.push_back(std::string(home) + "/.tcpdp/tcpdp.toml");
  }
  files.push_back("./tcpdp.toml");
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
  static constexpr Unit kUnits[] = {{"", 1},           {"B", 1},           {"KB", 1000},
                                    {"MB", 1000000},   {"GB", 1000000000}, {"KiB", 1ULL << 10},
                                    {"MiB", 1ULL << 20}, {"GiB", 1ULL << 30}};
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

bool load_config(const std::string& path, Config& config, std::string* error) {
  if (FILE* f = std::fopen(path.c_str(), "r")) {
    std::fclose(f);
  } else {
    *error = path + ": cannot open it: " + std::strerror(errno);
    return false;
  }
  toml::value data;
  try {
    data = toml::parse(path);
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
    *error = path + ": cannot read it: " + e.what();
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
    for (const std::string& s : kSections) known |= s == section;
    if (!table.is_table()) {
      problem(table, where(path, table) + ": '" + section + "' is not a section; sections are " +
                         join(kSections));
      continue;
    }
    if (!known) {
      problem(table, where(path, table) + ": unknown section [" + section + "]; sections are " +
                         join(kSections));
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
  return first_line == UINT32_MAX;
}

std::string config_to_toml(const Config& config) {
  Config c = config;  // the field accessors take a mutable Config
  std::string out =
      "# tcpdp configuration. Read from -c FILE, or else from /etc/tcpdp/tcpdp.toml,\n"
      "# $HOME/.tcpdp/tcpdp.toml and ./tcpdp.toml (later files override earlier ones);\n"
      "# command-line flags override the files. Sizes: bytes, or \"64KB\", \"2MB\", \"1GiB\".\n";
  for (const std::string& section : kSections) {
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
