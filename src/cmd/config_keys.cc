#include "cmd/config_keys.h"

namespace tcpdp::config_keys {

namespace {

constexpr uint64_t kKiB = 1 << 10;
constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kGiB = 1 << 30;

void add_log_keys(std::vector<Key>& keys, const std::string& section, LogSettings Config::*log,
                  const std::string& what) {
  auto f = [log](auto member) {
    return [log, member](Config& c) -> Field { return &(c.*log.*member); };
  };
  keys.push_back({section, "dir", Type::kString, "Directory of " + what, {}, f(&LogSettings::dir)});
  keys.push_back({section, "enable", Type::kBool, "Write " + what, {}, f(&LogSettings::enable)});
  keys.push_back({section,
                  "stdout",
                  Type::kBool,
                  "Also write its records to standard output",
                  {},
                  f(&LogSettings::to_stdout)});
  keys.push_back({section,
                  "format",
                  Type::kChoice,
                  "Record format",
                  {"json", "ltsv", "console"},
                  f(&LogSettings::format)});
  keys.push_back(
      {section, "fileName", Type::kString, "File name in dir", {}, f(&LogSettings::file_name)});
  keys.push_back({section,
                  "rotateEnable",
                  Type::kBool,
                  "Rotate the file",
                  {},
                  f(&LogSettings::rotate_enable)});
  keys.push_back({section,
                  "rotationTime",
                  Type::kChoice,
                  "Start a new file every",
                  {"secondly", "minutely", "hourly", "daily"},
                  f(&LogSettings::rotation_time)});
  keys.push_back({section,
                  "rotationCount",
                  Type::kPositive,
                  "Rotated files kept",
                  {},
                  f(&LogSettings::rotation_count)});
  keys.push_back({section,
                  "rotationHook",
                  Type::kString,
                  "Program run after each rotation with the previous and the current file name "
                  "as arguments (no shell); empty for none",
                  {},
                  f(&LogSettings::rotation_hook)});
  keys.push_back({section,
                  "rotationSize",
                  Type::kSize,
                  "Also start a new file when it reaches this size; 0 for none",
                  {},
                  f(&LogSettings::rotation_size)});
}

void add_pg_keys(std::vector<Key>& k) {
  auto f = [](auto member) { return [member](Config& c) -> Field { return &(c.pg.*member); }; };
  using P = decltype(Config::pg);
  k.push_back({"pg",
               "enable",
               Type::kBool,
               "Store connection events and summaries in PostgreSQL (also --pg CONNINFO)",
               {},
               f(&P::enable)});
  k.push_back({"pg",
               "conninfo",
               Type::kString,
               "libpq connection string or URI; empty: libpq's defaults and the PG* environment "
               "variables",
               {},
               f(&P::conninfo)});
  k.push_back({"pg",
               "schema",
               Type::kString,
               "Schema of tcpdp's tables, views and functions; empty: the search_path's first",
               {},
               f(&P::schema)});
  k.push_back({"pg",
               "createSchema",
               Type::kBool,
               "Create the tables, views and functions when missing (tcpdp pg-schema prints them)",
               {},
               f(&P::create_schema)});
  k.push_back({"pg",
               "dumps",
               Type::kBool,
               "Also store the pg and mysql dumpers' records in the queries table",
               {},
               f(&P::dumps)});
  k.push_back({"pg",
               "onStartupError",
               Type::kChoice,
               "When PostgreSQL cannot be used at start: exit, or warn and keep trying (records "
               "are queued and spooled meanwhile); auto: exit with --pg, warn when enabled here",
               {"auto", "exit", "warn"},
               f(&P::on_startup_error)});
  k.push_back({"pg",
               "batchSize",
               Type::kPositive,
               "Records sent to PostgreSQL in one call",
               {},
               f(&P::batch_size),
               {1, 1000000}});
  k.push_back({"pg",
               "batchLatency",
               Type::kSeconds,
               "Seconds a record waits at most for its batch to fill",
               {},
               f(&P::batch_latency)});
  k.push_back({"pg",
               "queueMin",
               Type::kPositive,
               "Queue slots for records allocated at start",
               {},
               f(&P::queue_min),
               {1, 1 << 24}});
  k.push_back({"pg",
               "queueDelta",
               Type::kPositive,
               "Queue slots added each time the queue is full, up to queueMax",
               {},
               f(&P::queue_delta),
               {1, 1 << 24}});
  k.push_back({"pg",
               "queueMax",
               Type::kPositive,
               "Records queued in memory at most; past it (or queueMaxSize) they are spooled",
               {},
               f(&P::queue_max),
               {1, 1 << 24}});
  k.push_back({"pg",
               "queueMaxSize",
               Type::kSize,
               "Bytes of records queued in memory at most",
               {},
               f(&P::queue_max_size)});
  k.push_back({"pg",
               "spoolFile",
               Type::kString,
               "Append-only file for records the database has not taken yet (relative: in [log] "
               "dir); replayed in order, also at the next start",
               {},
               f(&P::spool_file)});
  k.push_back({"pg",
               "spoolMaxSize",
               Type::kSize,
               "Bytes the spool file holds at most; records past it are dropped and counted",
               {},
               f(&P::spool_max_size)});
  k.push_back({"pg",
               "retryWaitMin",
               Type::kSeconds,
               "Seconds between attempts to reach PostgreSQL, at first",
               {},
               f(&P::retry_wait_min)});
  k.push_back({"pg",
               "retryWaitMax",
               Type::kSeconds,
               "Seconds between attempts to reach PostgreSQL, at most",
               {},
               f(&P::retry_wait_max)});
  k.push_back({"pg",
               "retryWaitGrowThreshold",
               Type::kPositive,
               "Failed attempts before the wait grows",
               {},
               f(&P::retry_wait_grow_threshold),
               {1, 1000000}});
  k.push_back({"pg",
               "retryWaitDelta",
               Type::kSeconds,
               "Seconds the wait grows by at each further failed attempt",
               {},
               f(&P::retry_wait_delta)});
  k.push_back({"pg",
               "shutdownTimeout",
               Type::kSeconds,
               "Seconds a stop waits for queued and spooled records to be stored; the rest stays "
               "in the spool file",
               {},
               f(&P::shutdown_timeout)});
}

}  // namespace

const std::vector<std::string>& sections() {
  static const std::vector<std::string> kSections = {"tcpdp",    "log",   "dumpLog", "connLog",
                                                     "tcptrack", "probe", "proxy",   "pg"};
  return kSections;
}

const std::vector<Key>& keys() {
  static const std::vector<Key> kKeys = [] {
    std::vector<Key> k;
    auto field = [](auto get) { return std::function<Field(Config&)>(get); };
    k.push_back({"tcpdp",
                 "pidfile",
                 Type::kString,
                 "Process id file of probe and proxy",
                 {},
                 field([](Config& c) -> Field { return &c.tcpdp.pidfile; })});
    k.push_back(
        {"tcpdp",
         "dumper",
         Type::kChoice,
         "Protocol dumper (auto: pg for server port 5432, mysql for 3306 and 33060, else hex)",
         {"hex", "pg", "mysql", "conn", "auto"},
         field([](Config& c) -> Field { return &c.tcpdp.dumper; })});
    k.push_back({"tcpdp",
                 "proxyProtocol",
                 Type::kBool,
                 "Streams start with a PROXY protocol header (v1 or v2) from a load balancer: "
                 "taken off, its addresses logged",
                 {},
                 field([](Config& c) -> Field { return &c.tcpdp.proxy_protocol; })});
    k.push_back({"tcpdp",
                 "pairResponses",
                 Type::kBool,
                 "pg, mysql: add the server's answer to each client message's record (false: "
                 "write each message at once, like --no-response)",
                 {},
                 field([](Config& c) -> Field { return &c.tcpdp.pair_responses; })});
    add_log_keys(k, "log", &Config::log, "tcpdp.log, the program's own log");
    add_log_keys(k, "dumpLog", &Config::dump_log, "dump.log, the dumper's records");
    add_log_keys(k, "connLog", &Config::conn_log,
                 "conn.log, connection state changes and summaries");
    k.push_back({"tcptrack",
                 "idleTimeout",
                 Type::kSeconds,
                 "Seconds without a packet after which a connection counts as closed",
                 {},
                 field([](Config& c) -> Field { return &c.tcptrack.idle_timeout; })});
    k.push_back({"tcptrack",
                 "maxConnections",
                 Type::kPositive,
                 "Connections followed at once; past it the least recently seen is given up",
                 {},
                 field([](Config& c) -> Field { return &c.tcptrack.max_connections; }),
                 {1, kMaxConnections}});
    k.push_back({"tcptrack",
                 "maxHeldBytes",
                 Type::kSize,
                 "Out-of-order bytes held per direction before a hole is given up as a gap",
                 {},
                 field([](Config& c) -> Field { return &c.tcptrack.max_held_bytes; }),
                 {0, kGiB}});
    k.push_back({"tcptrack",
                 "maxHeldSegments",
                 Type::kPositive,
                 "Out-of-order segments held per direction",
                 {},
                 field([](Config& c) -> Field { return &c.tcptrack.max_held_segments; }),
                 {1, 1 << 20}});
    k.push_back({"tcptrack",
                 "closedLinger",
                 Type::kSeconds,
                 "Seconds a closed connection is kept to count its last packets",
                 {},
                 field([](Config& c) -> Field { return &c.tcptrack.closed_linger; })});
    k.push_back({"probe",
                 "target",
                 Type::kString,
                 "Server side to look at: PORT, HOST:PORT or [V6]:PORT, several joined by , or ||",
                 {},
                 field([](Config& c) -> Field { return &c.probe.target; })});
    k.push_back({"probe",
                 "interface",
                 Type::kString,
                 "Interface to capture on",
                 {},
                 field([](Config& c) -> Field { return &c.probe.interface; })});
    k.push_back({"probe",
                 "bufferSize",
                 Type::kSize,
                 "libpcap's capture buffer",
                 {},
                 field([](Config& c) -> Field { return &c.probe.buffer_size; }),
                 {1, kMaxCaptureBuffer}});
    k.push_back({"probe",
                 "immediateMode",
                 Type::kBool,
                 "Deliver each packet at once instead of in buffer-fulls",
                 {},
                 field([](Config& c) -> Field { return &c.probe.immediate_mode; })});
    k.push_back({"probe",
                 "snapshotLength",
                 Type::kAuto,
                 "Bytes captured of each packet (auto: the largest packet the interface passes, "
                 "GSO/GRO included, and its link header)",
                 {},
                 field([](Config& c) -> Field { return &c.probe.snapshot_length; }),
                 {1, kMaxSnapshotLength}});
    k.push_back({"probe",
                 "promiscuous",
                 Type::kBool,
                 "Put the interface in promiscuous mode",
                 {},
                 field([](Config& c) -> Field { return &c.probe.promiscuous; })});
    k.push_back({"probe",
                 "filter",
                 Type::kString,
                 "BPF filter used instead of the one made from target (pcap-filter syntax)",
                 {},
                 field([](Config& c) -> Field { return &c.probe.filter; })});
    k.push_back({"probe",
                 "workers",
                 Type::kAuto,
                 "Decode threads, each owning a share of the connections (auto: a quarter of "
                 "the cores, 1 to 8)",
                 {},
                 field([](Config& c) -> Field { return &c.probe.workers; }),
                 {1, kMaxWorkers}});
    k.push_back({"probe",
                 "internalBufferLength",
                 Type::kPositive,
                 "Packets queued between the capture thread and the decode threads, at most",
                 {},
                 field([](Config& c) -> Field { return &c.probe.internal_buffer_length; }),
                 {1, 1 << 24}});
    k.push_back({"probe",
                 "internalBufferSize",
                 Type::kSize,
                 "Bytes queued between the capture thread and the decode threads, at most",
                 {},
                 field([](Config& c) -> Field { return &c.probe.internal_buffer_size; }),
                 {0, kGiB}});
    k.push_back({"probe",
                 "internalBufferFull",
                 Type::kChoice,
                 "When the queue is full: wait (the kernel's buffer, bufferSize, takes the "
                 "packets meanwhile and counts its drops) or drop (count them as queue_dropped)",
                 {"wait", "drop"},
                 field([](Config& c) -> Field { return &c.probe.internal_buffer_full; })});
    k.push_back({"proxy",
                 "useServerStarter",
                 Type::kBool,
                 "Listen on the socket inherited from server-starter's start_server",
                 {},
                 field([](Config& c) -> Field { return &c.proxy.use_server_starter; })});
    k.push_back({"proxy",
                 "listenAddr",
                 Type::kString,
                 "Address the proxy listens on",
                 {},
                 field([](Config& c) -> Field { return &c.proxy.listen_addr; })});
    k.push_back({"proxy",
                 "remoteAddr",
                 Type::kString,
                 "Address the proxy connects to",
                 {},
                 field([](Config& c) -> Field { return &c.proxy.remote_addr; })});
    k.push_back({"proxy",
                 "workers",
                 Type::kAuto,
                 "Event-loop threads, each owning the connections it accepted (auto: half the "
                 "cores, 1 to 8)",
                 {},
                 field([](Config& c) -> Field { return &c.proxy.workers; }),
                 {1, kMaxWorkers}});
    k.push_back({"proxy",
                 "bufferSize",
                 Type::kSize,
                 "Bytes held per direction of a connection; a side is not read from while the "
                 "other cannot take more",
                 {},
                 field([](Config& c) -> Field { return &c.proxy.buffer_size; }),
                 {4 * kKiB, 64 * kMiB}});
    k.push_back({"proxy",
                 "connectTimeout",
                 Type::kSeconds,
                 "Seconds to wait for the remote to accept a connection",
                 {},
                 field([](Config& c) -> Field { return &c.proxy.connect_timeout; })});
    k.push_back({"proxy",
                 "headerTimeout",
                 Type::kSeconds,
                 "With proxyProtocol: seconds a client has to send its PROXY protocol header; "
                 "the remote is connected to only once it came",
                 {},
                 field([](Config& c) -> Field { return &c.proxy.header_timeout; })});
    k.push_back({"proxy",
                 "shutdownTimeout",
                 Type::kSeconds,
                 "Seconds SIGTERM waits for open connections to end before closing them",
                 {},
                 field([](Config& c) -> Field { return &c.proxy.shutdown_timeout; })});
    k.push_back({"proxy",
                 "logQueueFull",
                 Type::kChoice,
                 "When the log writers fall behind: block (relaying waits for them) or drop "
                 "(records are thrown away and counted; relaying never waits)",
                 {"block", "drop"},
                 field([](Config& c) -> Field { return &c.proxy.log_queue_full; })});
    k.push_back({"proxy",
                 "forwardProxyHeader",
                 Type::kBool,
                 "With proxyProtocol: pass the client's PROXY protocol header on to the remote "
                 "(else it is taken off)",
                 {},
                 field([](Config& c) -> Field { return &c.proxy.forward_proxy_header; })});
    add_pg_keys(k);
    return k;
  }();
  return kKeys;
}

}  // namespace tcpdp::config_keys
