#include "proxy/proxy_server.h"

#include <unistd.h>

#include <algorithm>
#include <thread>

#include "proxy/proxy_worker.h"

namespace tcpdp {

ProxyServer::ProxyServer(ProxySettings settings, ProxyPipeline pipeline, ProgramLog& log)
    : settings_(std::move(settings)),
      pipeline_(std::move(pipeline)),
      log_(log),
      remote_(settings_.remote.host, settings_.remote_addresses, log) {
  const unsigned n = std::clamp(settings_.workers, 1U, 255U);
  for (unsigned i = 0; i < n; ++i) {
    workers_.push_back(
        std::make_unique<Worker>(settings_, pipeline_, log_, remote_, static_cast<uint8_t>(i)));
  }
}

ProxyServer::~ProxyServer() {
  close_all();
  join();
  close_listeners();
}

void ProxyServer::start() {
  for (auto& w : workers_) w->start();
}

void ProxyServer::close_listeners() {
  if (listeners_closed_) return;
  listeners_closed_ = true;
  for (const Listener& l : settings_.listeners) close(l.fd);
}

void ProxyServer::stop_accepting() {
  for (auto& w : workers_) w->command(1);
  // Closed only once no worker watches them any more: a descriptor number closed under an
  // epoll_wait could come back as another file.
  for (auto& w : workers_) {
    while (!w->stopped_listening()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  close_listeners();
}

void ProxyServer::close_all() {
  for (auto& w : workers_) w->command(2);
}

void ProxyServer::join() {
  for (auto& w : workers_) w->join();
}

ProxyStats ProxyServer::stats() const {
  ProxyStats s;
  for (const auto& w : workers_) {
    s.accepted += w->accepted.load();
    s.rejected += w->rejected.load();
    s.header_refused += w->header_refused.load();
    s.open += w->open.load();
    s.client_bytes += w->client_bytes.load();
    s.remote_bytes += w->remote_bytes.load();
  }
  return s;
}

}  // namespace tcpdp
