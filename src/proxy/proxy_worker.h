/// One of the proxy's event loops: a thread with an epoll instance that accepts from the
/// listening sockets (with the other workers) and owns every connection it accepted, from the
/// client's PROXY header and the connect to the remote to the summary in conn.log.
#pragma once

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "proxy/proxy_server.h"
#include "proxy/relay.h"

namespace tcpdp {

class ProxyServer::Worker {
 public:
  Worker(const ProxySettings& settings, const ProxyPipeline& pipeline, ProgramLog& log,
         const RemoteResolver& remote, uint8_t index);
  ~Worker();

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // From another thread: 1 stop accepting, 2 close everything.
  void command(int mode);
  // True once this worker no longer watches the listening sockets.
  bool stopped_listening() const { return not_listening_.load(); }

  std::atomic<uint64_t> accepted{0}, rejected{0}, header_refused{0}, open{0}, client_bytes{0},
      remote_bytes{0};

 private:
  using Side = proxy::Side;
  using Half = proxy::Half;
  using Relay = proxy::Relay;

  void watch(int fd, uint32_t events, uint64_t tag);
  static uint64_t tag_of(Relay& r, Side s) { return reinterpret_cast<uintptr_t>(&r) | s; }
  void watch_listeners();

  void run();
  void accept_from(const Listener& l);
  bool connect_remote(Relay& r);
  bool connect_next(Relay& r);
  void connected(Relay& r);
  void on_event(Relay& r, Side s, uint32_t events);
  void read_from(Relay& r, Side s);
  void flush_to(Relay& r, Side to);
  bool header_done(Relay& r);
  void refuse_header(Relay& r, const std::string& why);
  void decode(Relay& r, Side to, const uint8_t* bytes, size_t n);
  void shut(Relay& r, Side s);
  void fail(Relay& r, Side s, int error);
  void reject(Relay& r, const std::string& why);
  void settle(Relay& r);
  void finish(Relay& r, CloseReason why, const char* reason, const char* closed_by,
              const char* conn_state);
  void bury();
  void close_half(Relay& r, Side s, bool reset);
  void observe(Relay& r, Side s, TcpState now);
  void observe(Relay& r, Side s);
  void tick();
  RecordSink& dump_sink() { return dump_lane_ ? static_cast<RecordSink&>(*dump_lane_) : null_; }

  const ProxySettings& settings_;
  const ProxyPipeline& pipeline_;
  ProgramLog& log_;
  const RemoteResolver& remote_;
  uint8_t index_;
  int epoll_ = -1;
  int wake_ = -1;
  std::atomic<int> mode_{0};
  int applied_mode_ = 0;
  std::atomic<bool> not_listening_{false};
  bool accept_paused_ = false;
  std::chrono::steady_clock::time_point accept_paused_until_;
  std::chrono::steady_clock::time_point last_accept_warning_;
  std::list<Relay*> relays_;
  std::vector<Relay*> dead_;  // finished during this batch of events
  uint32_t counter_ = 0;
  std::unique_ptr<StreamSink::Lane> dump_lane_;
  std::unique_ptr<StreamSink::Lane> conn_lane_;
  proxy::NullSink null_;
  std::thread thread_;
};

}  // namespace tcpdp
