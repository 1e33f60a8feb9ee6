#include "proxy/proxy_worker.h"

#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "tcptrack/proxy_protocol.h"
#include "tcptrack/sock_diag.h"

namespace tcpdp {

using proxy::Buffer;
using proxy::direction_to;
using proxy::kClient;
using proxy::kRemote;
using proxy::other;
using proxy::Sequenced;
using proxy::side_name;

namespace {

constexpr int kTickMs = 100;
constexpr int kAcceptBurst = 64;
// epoll tags: a connection is its address with the side in bit 0; the wake-up descriptor and
// the listeners (index << 3) have bit 1 or bit 2 set, which no aligned address has.
constexpr uint64_t kWakeTag = 2;
constexpr uint64_t kListenerTag = 4;

Timestamp wall_clock() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return Timestamp::from_parts(t.tv_sec, t.tv_nsec / 1000);
}

}  // namespace

ProxyServer::Worker::Worker(const ProxySettings& settings, const ProxyPipeline& pipeline,
                            ProgramLog& log, const RemoteResolver& remote, uint8_t index)
    : settings_(settings), pipeline_(pipeline), log_(log), remote_(remote), index_(index) {
  if (pipeline.dump) dump_lane_ = pipeline.dump->lane();
  if (pipeline.conn) conn_lane_ = pipeline.conn->lane();
  epoll_ = epoll_create1(EPOLL_CLOEXEC);
  wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  watch(wake_, EPOLLIN, kWakeTag);
  watch_listeners();
}

ProxyServer::Worker::~Worker() {
  join();
  close(wake_);
  close(epoll_);
}

void ProxyServer::Worker::command(int mode) {
  int current = mode_.load();
  while (current < mode && !mode_.compare_exchange_weak(current, mode)) {
  }
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = write(wake_, &one, sizeof one);
}

void ProxyServer::Worker::watch(int fd, uint32_t events, uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
}

void ProxyServer::Worker::watch_listeners() {
  for (size_t i = 0; i < settings_.listeners.size(); ++i) {
    // EPOLLEXCLUSIVE: one worker is woken for a new connection, not all of them.
    watch(settings_.listeners[i].fd, EPOLLIN | EPOLLEXCLUSIVE, (i << 3) | kListenerTag);
  }
}

// A socket the kernel has put in TIME-WAIT says CLOSED: TIME-WAIT is kept in a timewait socket
// of its own, which sock_diag finds by the connection's endpoints. Asked only of a socket that
// sent its FIN (none other can be in TIME-WAIT).
void ProxyServer::Worker::observe(Relay& r, Side s) {
  const Half& h = r.half[s];
  TcpState now = socket_state(h.fd);
  if (now == TcpState::kClosed && h.shut) {
    const Endpoint& local = s == kClient ? r.info.relayed_by->listen : r.info.relayed_by->local;
    const Endpoint& peer = s == kClient ? r.info.client : r.info.server;
    const auto found = find_tcp_socket(local, peer);
    if (found && found->state == TCP_TIME_WAIT) now = TcpState::kTimeWait;
  }
  observe(r, s, now);
}

void ProxyServer::Worker::run() {
  epoll_event events[256];
  auto next_tick = std::chrono::steady_clock::now();
  for (;;) {
    const int n = epoll_wait(epoll_, events, 256, kTickMs);
    for (int i = 0; i < n; ++i) {
      const uint64_t tag = events[i].data.u64;
      if (tag == kWakeTag) {
        uint64_t count;
        [[maybe_unused]] const ssize_t got = read(wake_, &count, sizeof count);
      } else if (tag & kListenerTag) {
        if (applied_mode_ == 0) accept_from(settings_.listeners[tag >> 3]);
      } else {
        Relay& r = *reinterpret_cast<Relay*>(tag & ~uint64_t{1});
        if (!r.done) on_event(r, static_cast<Side>(tag & 1), events[i].events);
      }
    }
    bury();
    const int mode = mode_.load();
    if (mode > applied_mode_) {
      if (applied_mode_ == 0) {
        for (const Listener& l : settings_.listeners)
          epoll_ctl(epoll_, EPOLL_CTL_DEL, l.fd, nullptr);
        not_listening_ = true;
      }
      if (mode == 2) {
        while (!relays_.empty()) {
          finish(*relays_.front(), CloseReason::kEndOfCapture, "shutdown", "proxy", "OTH");
        }
        bury();
      }
      applied_mode_ = mode;
    }
    if (const auto now = std::chrono::steady_clock::now(); now >= next_tick) {
      next_tick = now + std::chrono::milliseconds(kTickMs);
      tick();
    }
    if (applied_mode_ > 0 && relays_.empty()) break;
  }
  if (dump_lane_) dump_lane_->flush();
  if (conn_lane_) conn_lane_->flush();
}

void ProxyServer::Worker::tick() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = relays_.begin(); it != relays_.end();) {
    Relay& r = **it++;  // finishing r erases its own position
    if (r.header_pending && now >= r.header_deadline) {
      char limit[32];
      std::snprintf(limit, sizeof limit, "%g s", settings_.header_timeout.count() / 1000.0);
      refuse_header(r, std::string("no whole PROXY protocol header came within ") + limit);
      continue;
    }
    if (r.connecting && now >= r.connect_deadline) {
      close_half(r, kRemote, false);
      errno = ETIMEDOUT;
      if (connect_next(r)) settle(r);
    }
  }
  bury();
  if (accept_paused_ && now >= accept_paused_until_ && applied_mode_ == 0) {
    accept_paused_ = false;
    watch_listeners();
  }
  if (dump_lane_) dump_lane_->tick();
  if (conn_lane_) conn_lane_->tick();
}

void ProxyServer::Worker::accept_from(const Listener& l) {
  for (int i = 0; i < kAcceptBurst; ++i) {
    sockaddr_storage sa{};
    socklen_t len = sizeof sa;
    const int fd =
        accept4(l.fd, reinterpret_cast<sockaddr*>(&sa), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == ECONNABORTED || errno == EINTR) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The connection waits in the backlog, and the listener stays readable: stop watching
        // it for a moment instead of failing again at every wait; say so once a second.
        const auto now = std::chrono::steady_clock::now();
        if (now - last_accept_warning_ >= std::chrono::seconds(1)) {
          last_accept_warning_ = now;
          log_.log("warn", std::string("cannot accept a connection: ") + std::strerror(errno),
                   [&](Record& rec) { rec.add("proxy_listen_addr", l.local.to_string()); });
        }
        for (const Listener& each : settings_.listeners) {
          epoll_ctl(epoll_, EPOLL_CTL_DEL, each.fd, nullptr);
        }
        accept_paused_until_ = now + std::chrono::milliseconds(kTickMs);
        accept_paused_ = true;
      }
      return;
    }
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    auto* r = new Relay(settings_.buffer_size);
    r->pos = relays_.insert(relays_.end(), r);
    ++accepted;
    ++open;
    r->half[kClient].fd = fd;
    r->opened = wall_clock();
    r->info.conn_id = make_conn_id(r->opened, index_, counter_++);
    r->info.client = from_sockaddr(sa).value_or(Endpoint{});
    r->info.first_seen = r->opened;
    r->info.relayed_by = ConnInfo::ProxyEnds{local_endpoint(fd).value_or(l.local), {}};
    r->header_pending = settings_.proxy_protocol;
    r->header_deadline = std::chrono::steady_clock::now() + settings_.header_timeout;
    if (pipeline_.conn) {
      // conn.log names the client's connection to the proxy as read and probe name a connection
      // they see: src the client, dst the address it connected to.
      Record f;
      f.add("conn_id", r->info.conn_id);
      f.add("src_ip", r->info.client.ip.to_string());
      f.add("src_port", r->info.client.port);
      f.add("dst_ip", r->info.relayed_by->listen.ip.to_string());
      f.add("dst_port", r->info.relayed_by->listen.port);
      r->life_fields = std::make_shared<const FieldGroup>(std::move(f));
    }
    watch(fd, 0, tag_of(*r, kClient));
    observe(*r, kClient);
    // With --proxy-protocol the remote is connected to once the header has come: a client
    // that sends none costs the remote nothing (MySQL counts such connections against
    // max_connect_errors and blocks the host they come from).
    if (r->header_pending || connect_remote(*r)) settle(*r);
  }
}

bool ProxyServer::Worker::connect_remote(Relay& r) {
  r.remotes = *remote_.addresses();
  r.next_remote = 0;
  return connect_next(r);
}

// Tries the remote's next address; with none left, the client is turned away (false).
bool ProxyServer::Worker::connect_next(Relay& r) {
  int last_error = errno;
  r.connecting = true;
  while (r.next_remote < r.remotes.size()) {
    const Endpoint to{r.remotes[r.next_remote++], settings_.remote.port};
    r.info.server = to;
    const int fd = start_connect(to);
    if (fd < 0) {
      last_error = errno;
      continue;
    }
    r.half[kRemote].fd = fd;
    r.half[kRemote].state = TcpState::kClosed;
    r.info.relayed_by->local = local_endpoint(fd).value_or(Endpoint{});  // bound by connect
    r.connect_deadline = std::chrono::steady_clock::now() + settings_.connect_timeout;
    r.half[kRemote].watched = EPOLLOUT;
    watch(fd, EPOLLOUT, tag_of(r, kRemote));
    observe(r, kRemote);
    return true;
  }
  reject(r, "cannot connect to " + settings_.remote.text + " (" + r.info.server.to_string() +
                "): " + std::strerror(last_error));
  return false;
}

void ProxyServer::Worker::connected(Relay& r) {
  r.connecting = false;
  r.info.relayed_by->local = local_endpoint(r.half[kRemote].fd).value_or(Endpoint{});
  observe(r, kRemote);
  flush_to(r, kRemote);
}

void ProxyServer::Worker::on_event(Relay& r, Side s, uint32_t events) {
  Half& h = r.half[s];
  if (r.connecting && s == kRemote) {
    int error = 0;
    socklen_t len = sizeof error;
    getsockopt(h.fd, SOL_SOCKET, SO_ERROR, &error, &len);
    if (error == 0 && (events & EPOLLOUT)) {
      connected(r);
    } else if (error == ECONNRESET) {
      // The remote accepted (its SYN-ACK came) and then reset: a reset, passed on as one.
      r.info.relayed_by->local = local_endpoint(h.fd).value_or(Endpoint{});
      fail(r, kRemote, error);
      return;
    } else if (error != 0) {
      close_half(r, kRemote, false);
      errno = error;
      if (!connect_next(r)) return;
    }
  } else {
    if (events & EPOLLERR) {
      int error = 0;
      socklen_t len = sizeof error;
      getsockopt(h.fd, SOL_SOCKET, SO_ERROR, &error, &len);
      if (error != 0) {
        fail(r, s, error);
        return;
      }
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLRDHUP)) read_from(r, s);
    if (!r.done && (events & EPOLLOUT)) flush_to(r, s);
  }
  if (!r.done) settle(r);
}

void ProxyServer::Worker::read_from(Relay& r, Side s) {
  Half& in = r.half[s];
  Buffer& out = r.half[other(s)].out;
  while (!r.done && !in.eof && in.fd >= 0) {
    const size_t room = out.room();
    if (room == 0) return;
    const ssize_t n = read(in.fd, out.tail(), room);
    if (n > 0) {
      out.produced(static_cast<size_t>(n));
      // Until the client's PROXY header is whole there is no remote: a client without one
      // hears nothing (a MySQL greeting waits), and every record names the header's client.
      if (s == kClient && r.header_pending && (!header_done(r) || !connect_remote(r))) return;
      flush_to(r, other(s));  // forwarded at once
      if (static_cast<size_t>(n) < room) return;
    } else if (n == 0) {
      in.eof = true;
      if (!r.any_eof) {
        r.any_eof = true;
        r.closed_first = side_name(s);
      }
      observe(r, s);
      if (s == kClient && r.header_pending) {
        header_done(r);  // a header cut short, or none at all: refused
      } else if (out.empty()) {
        shut(r, other(s));
      }
      return;
    } else if (errno == EINTR) {
      continue;
    } else {
      if (errno != EAGAIN) fail(r, s, errno);
      return;
    }
  }
}

void ProxyServer::Worker::flush_to(Relay& r, Side to) {
  Half& h = r.half[to];
  if (r.done || h.fd < 0 || (to == kRemote && r.connecting)) return;
  while (!h.out.empty()) {
    const ssize_t n = send(h.fd, h.out.head(), h.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      decode(r, to, h.out.head(), static_cast<size_t>(n));  // after forwarding, never before
      h.out.consumed(static_cast<size_t>(n));
      h.sent += static_cast<uint64_t>(n);
      (to == kRemote ? client_bytes : remote_bytes) += static_cast<uint64_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      if (n < 0 && errno != EAGAIN) fail(r, to, errno);
      return;
    }
  }
  if (r.half[other(to)].eof && !h.shut) shut(r, to);
}

// With --proxy-protocol: true once the client's header has been read (taken off the stream or
// let through); false while it is incomplete, or when the connection was refused for lacking it
// (its client's EOF or a full buffer end the wait for the rest).
bool ProxyServer::Worker::header_done(Relay& r) {
  if (!r.header_pending) return true;
  Buffer& b = r.half[kRemote].out;
  const ProxyHeader h = parse_proxy_header({b.head(), b.size()});
  switch (h.status) {
    case ProxyHeader::Status::kNeedMore:
      if (b.size() < b.capacity() && !r.half[kClient].eof) return false;
      refuse_header(r, b.empty()
                           ? "the client sent no PROXY protocol header"
                           : "the PROXY protocol header is longer than the buffer or cut short");
      return false;
    case ProxyHeader::Status::kNotProxy:
      refuse_header(r, "the client sent no PROXY protocol header");
      return false;
    case ProxyHeader::Status::kInvalid:
      refuse_header(r, "bad PROXY protocol header: " + h.error);
      return false;
    case ProxyHeader::Status::kParsed:
      break;
  }
  r.header_pending = false;
  if (!h.local) {
    r.info.proxy_source = h.source;
    r.info.proxy_destination = h.destination;
  }
  if (settings_.forward_proxy_header) {
    r.header_skip = h.length;
  } else {
    b.consumed(h.length);
  }
  return true;
}

void ProxyServer::Worker::refuse_header(Relay& r, const std::string& why) {
  ++header_refused;
  reject(r, why);
}

void ProxyServer::Worker::decode(Relay& r, Side to, const uint8_t* bytes, size_t n) {
  if (to == kRemote && r.header_skip > 0) {
    const size_t skip = std::min(n, r.header_skip);
    r.header_skip -= skip;
    bytes += skip;
    n -= skip;
  }
  if (n == 0) return;
  if (!r.decoder) {
    r.sink = std::make_unique<Sequenced>(dump_sink());
    r.dumper = make_dumper(pipeline_.dumper, *r.sink, pipeline_.dumper_options);
    r.decoder = r.dumper->open(r.info, r.opened);
  }
  r.decoder->on_data(direction_to(to), wall_clock(), {bytes, n});
}

void ProxyServer::Worker::shut(Relay& r, Side s) {
  Half& h = r.half[s];
  // A remote not connected yet gets its FIN once it is (flush_to ends with it).
  if (h.shut || h.fd < 0 || (s == kRemote && r.connecting)) return;
  shutdown(h.fd, SHUT_WR);
  h.shut = true;
  observe(r, s);
}

// A socket error on side s: a reset is passed on to the other side as a reset.
void ProxyServer::Worker::fail(Relay& r, Side s, int error) {
  const bool reset = error == ECONNRESET || error == EPIPE;
  if (!reset) {
    log_.log("warn", std::string(side_name(s)) + " connection failed: " + std::strerror(error),
             [&](Record& rec) {
               rec.add("conn_id", r.info.conn_id);
               rec.add("client_addr", r.info.client.to_string());
               rec.add("remote_addr", r.info.server.to_string());
             });
  }
  close_half(r, s, false);
  close_half(r, other(s), /*reset=*/true);
  // The client's connection ended with a reset unless its own socket failed otherwise.
  finish(r, reset || s == kRemote ? CloseReason::kReset : CloseReason::kFin,
         reset ? "reset" : "error", side_name(s), reset ? (s == kClient ? "RSTO" : "RSTR") : "OTH");
}

void ProxyServer::Worker::reject(Relay& r, const std::string& why) {
  ++rejected;
  log_.log("warn", why, [&](Record& rec) {
    rec.add("conn_id", r.info.conn_id);
    rec.add("client_addr", r.info.client.to_string());
    rec.add("remote", settings_.remote.text);
  });
  close_half(r, kRemote, false);
  close_half(r, kClient, false);
  finish(r, CloseReason::kFin, r.connecting ? "refused" : "rejected", "proxy",
         r.connecting ? "REJ" : "OTH");
}

void ProxyServer::Worker::close_half(Relay& r, Side s, bool reset) {
  Half& h = r.half[s];
  if (h.fd < 0) return;
  if (reset) {
    const linger abort{1, 0};  // close sends RST
    setsockopt(h.fd, SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
  }
  observe(r, s);
  epoll_ctl(epoll_, EPOLL_CTL_DEL, h.fd, nullptr);
  close(h.fd);
  h.fd = -1;
  // What a closed socket goes through next is the kernel's alone and cannot be asked; only an
  // abortive close is certain to have left it CLOSED.
  if (reset) observe(r, s, TcpState::kClosed);
}

// Both ways done: the connection ends; else epoll watches what each side can do now.
void ProxyServer::Worker::settle(Relay& r) {
  if (r.done) return;
  for (Side s : {kClient, kRemote}) {
    Half& h = r.half[s];
    // A socket done both ways (its peer's FIN read, ours sent) has nothing more to give.
    if (h.fd >= 0 && h.eof && h.shut) close_half(r, s, false);
  }
  if (r.half[kClient].fd < 0 && r.half[kRemote].fd < 0) {
    finish(r, CloseReason::kFin, "fin", r.closed_first, "SF");
    return;
  }
  for (Side s : {kClient, kRemote}) {
    Half& h = r.half[s];
    if (h.fd < 0) continue;
    uint32_t want = 0;
    if (s == kRemote && r.connecting) {
      want = EPOLLOUT;
    } else {
      if (!h.eof && r.half[other(s)].out.room() > 0) want |= EPOLLIN | EPOLLRDHUP;
      if (!h.out.empty()) want |= EPOLLOUT;
    }
    // A socket shut both ways reports EPOLLHUP whatever is asked; while it is not to be read,
    // that is reported once (edge-triggered), not at every wait.
    if (!(want & EPOLLIN)) want |= EPOLLET;
    if (want != h.watched) {
      epoll_event ev{};
      ev.events = want;
      ev.data.u64 = tag_of(r, s);
      epoll_ctl(epoll_, EPOLL_CTL_MOD, h.fd, &ev);
      h.watched = want;
    }
  }
}

void ProxyServer::Worker::observe(Relay& r, Side s, TcpState now) {
  Half& h = r.half[s];
  if (now == h.state) return;
  const TcpState was = h.state;
  h.state = now;
  if (!conn_lane_) return;
  // The client's socket is the server end of the client's connection; the remote's socket is the
  // client end of the proxy's own connection to the remote, named by its addresses.
  Record rec;
  rec.add("ts", wall_clock());
  rec.add("event", kind_name(RecordKind::kState));
  rec.add("uid", r.info.conn_id + "." + std::to_string(++r.changes));
  if (s == kClient) {
    rec.add_group(r.life_fields);
  } else {
    rec.add("conn_id", r.info.conn_id);
    rec.add("src_ip", r.info.relayed_by->local.ip.to_string());
    rec.add("src_port", r.info.relayed_by->local.port);
    rec.add("dst_ip", r.info.server.ip.to_string());
    rec.add("dst_port", r.info.server.port);
  }
  rec.add("side", s == kClient ? "server" : "client");
  rec.add("leg", side_name(s));
  rec.add("old_state", tcp_state_name(was));
  rec.add("new_state", tcp_state_name(now));
  conn_lane_->write(rec);
}

// `reason` is the proxy's own (fin, reset, error, refused, rejected, shutdown), `closed_by` the
// side whose FIN came first (client, remote, or proxy when it closed itself); the summary says
// them in the words of read and probe too, as the client's connection was seen from it.
void ProxyServer::Worker::finish(Relay& r, CloseReason why, const char* reason,
                                 const char* closed_by, const char* conn_state) {
  if (r.done) return;
  r.done = true;
  close_half(r, kClient, false);
  close_half(r, kRemote, false);
  const Timestamp now = wall_clock();
  Record session;
  if (r.decoder) {
    r.decoder->describe(session);
    r.decoder->on_close(now, why);
  }
  if (conn_lane_) {
    Record rec;
    rec.add("ts", r.opened);
    rec.add("event", kind_name(RecordKind::kSummary));
    rec.add_group(r.life_fields);
    rec.add("duration", Duration{now.usec - r.opened.usec});
    rec.add("conn_state", conn_state);
    rec.add("closed_by", std::string_view(closed_by) == "client" ? "client" : "server");
    rec.add("client_bytes", r.half[kRemote].sent);
    rec.add("server_bytes", r.half[kClient].sent);
    rec.add("close_reason", close_reason_name(why));
    rec.add("proxy_close_reason", reason);
    rec.add("proxy_client_addr", r.info.relayed_by->local.to_string());
    rec.add("remote_addr", r.info.server.to_string());
    if (r.info.proxy_source) {
      rec.add("proxy_protocol_src_addr", r.info.proxy_source->to_string());
      rec.add("proxy_protocol_dst_addr", r.info.proxy_destination->to_string());
    }
    rec.append(session);
    conn_lane_->write(rec);
  }
  relays_.erase(r.pos);
  dead_.push_back(&r);
  --open;
}

void ProxyServer::Worker::bury() {
  for (Relay* r : dead_) delete r;
  dead_.clear();
}

}  // namespace tcpdp
