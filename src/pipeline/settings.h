/// The settings of a run, whatever mode: built-in defaults here; src/cmd/ reads them from TOML
/// files and flags over these (config.cc's table describes every key once).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tcptrack/tracker.h"

namespace tcpdp {

/// One log's settings: [log] (tcpdp.log), [dumpLog] (dump.log), [connLog] (conn.log).
struct LogSettings {
  std::string dir = ".";
  bool enable = true;
  bool to_stdout = false;
  std::string format = "json";
  std::string file_name;
  bool rotate_enable = true;
  std::string rotation_time = "daily";
  uint64_t rotation_count = 7;
  std::string rotation_hook;
  uint64_t rotation_size = 0;  // bytes; 0: by time only
};

struct Config {
  struct {
    std::string pidfile = "/run/tcpdp.pid";
    std::string dumper = "hex";
    bool proxy_protocol = false;
    bool pair_responses = true;
  } tcpdp;
  struct {
    std::string target;
    std::string interface;
    uint64_t buffer_size = 2 * 1000 * 1000;
    bool immediate_mode = false;
    uint64_t snapshot_length = 262144;  // 0: auto
    bool promiscuous = false;
    std::string filter;
    uint64_t workers = 0;  // 0: auto
    uint64_t internal_buffer_length = 10000;
    uint64_t internal_buffer_size = 16 << 20;
    std::string internal_buffer_full = "wait";
  } probe;
  struct {
    bool use_server_starter = false;
    std::string listen_addr = "localhost:8080";
    std::string remote_addr = "localhost:80";
    uint64_t workers = 0;  // 0: auto
    uint64_t buffer_size = 64 << 10;
    double connect_timeout = 10;
    double header_timeout = 5;
    double shutdown_timeout = 30;
    bool forward_proxy_header = false;
    std::string log_queue_full = "block";
  } proxy;
  struct {
    bool enable = false;
    std::string conninfo;
    std::string schema;
    bool create_schema = true;
    bool dumps = false;
    std::string on_startup_error = "auto";
    uint64_t batch_size = 1000;
    double batch_latency = 1;
    uint64_t queue_min = 1024;
    uint64_t queue_delta = 1024;
    uint64_t queue_max = 65536;
    uint64_t queue_max_size = 64 << 20;
    std::string spool_file = "pg.spool";
    uint64_t spool_max_size = 1ULL << 30;
    double retry_wait_min = 1;
    double retry_wait_max = 60;
    double retry_wait_delta = 5;
    uint64_t retry_wait_grow_threshold = 4;
    double shutdown_timeout = 10;
  } pg;
  LogSettings log;
  LogSettings dump_log;
  LogSettings conn_log;
  struct {
    double idle_timeout = 300;
    uint64_t max_connections = 1 << 20;
    uint64_t max_held_bytes = 4 << 20;
    uint64_t max_held_segments = 4096;
    double closed_linger = 10;
  } tcptrack;

  /// The files read, in order (not a key: for the record of where settings came from).
  std::vector<std::string> files;

  Config() {
    log.file_name = "tcpdp.log";
    dump_log.file_name = "dump.log";
    dump_log.rotation_time = "hourly";
    dump_log.rotation_count = 24;
    conn_log.file_name = "conn.log";
  }
};

/// Bounds of keys that flags set too, so that both refuse the same values.
inline constexpr uint64_t kMaxWorkers = 255;
inline constexpr uint64_t kMaxSnapshotLength = 262144;
inline constexpr uint64_t kMaxCaptureBuffer = 2147483647;  // libpcap takes an int
inline constexpr uint64_t kMaxConnections = 1 << 24;
/// Every key in seconds is above 0 and at most a year.
inline constexpr double kMaxSeconds = 365 * 86400;

/// The tracker's settings from [tcptrack] (the caller adds what is not configuration).
TrackerOptions tracker_options_of(const Config& config);

}  // namespace tcpdp
