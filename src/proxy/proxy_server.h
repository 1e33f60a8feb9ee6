/// `tcpdp proxy`'s engine: a few worker threads, each an epoll loop owning the connections it
/// accepted. A connection relays bytes both ways as they come (non-blocking sockets, a bounded
/// buffer per direction: a side whose peer does not keep up is not read from), passes
/// half-closes and resets on, and hands the dumper what it forwarded, after forwarding it.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dumpers/dumper.h"
#include "proxy/net.h"
#include "proxy/remote_resolver.h"
#include "sinks/program_log.h"
#include "sinks/stream_sink.h"

namespace tcpdp {

struct ProxySettings {
  std::vector<Listener> listeners;
  HostPort remote;
  std::vector<IpAddr> remote_addresses;  // what its name resolved to at startup
  unsigned workers = 1;
  size_t buffer_size = 64 * 1024;     // per direction of a connection
  bool proxy_protocol = false;        // clients start with a PROXY protocol header
  bool forward_proxy_header = false;  // pass that header on to the remote too
  // A client without a whole header by then is closed; the remote is connected to only after it.
  std::chrono::milliseconds header_timeout{5000};
  std::chrono::milliseconds connect_timeout{10000};
};

/// Where records go; each worker gets its own ways into the sinks and a dumper per connection.
struct ProxyPipeline {
  StreamSink* dump = nullptr;  // nullptr: no dump records wanted
  StreamSink* conn = nullptr;  // nullptr: no connection log
  std::string dumper;
  DumperOptions dumper_options;
};

struct ProxyStats {
  uint64_t accepted = 0;
  uint64_t rejected = 0;        // the remote refused, could not be reached, or no PROXY header came
  uint64_t header_refused = 0;  // of those: no valid PROXY header came in time
  uint64_t open = 0;
  uint64_t client_bytes = 0;  // forwarded client -> remote
  uint64_t remote_bytes = 0;  // forwarded remote -> client
};

class ProxyServer {
 public:
  ProxyServer(ProxySettings settings, ProxyPipeline pipeline, ProgramLog& log);
  ~ProxyServer();

  void start();
  /// No new connections (the listening sockets are closed); the open ones go on to their end.
  void stop_accepting();
  /// Every open connection is closed now.
  void close_all();
  /// Returns once stop_accepting() or close_all() was called and no connection is left.
  void join();
  ProxyStats stats() const;

 private:
  class Worker;
  void close_listeners();
  ProxySettings settings_;
  ProxyPipeline pipeline_;
  ProgramLog& log_;
  RemoteResolver remote_;
  std::vector<std::unique_ptr<Worker>> workers_;
  bool listeners_closed_ = false;
};

}  // namespace tcpdp
