#include "proxy/proxy_server.h"

#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <algorithm>
#include <cstring>
#include <list>
#include <thread>

#include "tcptrack/lifecycle.h"
#include "tcptrack/proxy_protocol.h"

namespace tcpdp {

namespace {

constexpr int kTickMs = 100;
// A load balancer sends the PROXY header as soon as it connects; a client that has not sent it by
// then is taken to have none (and a server waiting for its first bytes is not kept waiting).
constexpr auto kHeaderWait = std::chrono::seconds(3);
constexpr int kAcceptBurst = 64;
// epoll tags: a connection is its address with the side in bit 0; the wake-up descriptor and
// the listeners (index << 3) have bit 1 or bit 2 set, which no aligned address has.
constexpr uint64_t kWakeTag = 2;
constexpr uint64_t kListenerTag = 4;

enum Side : uint8_t { kClient = 0, kRemote = 1 };
Side other(Side s) { return s == kClient ? kRemote : kClient; }
const char* side_name(Side s) { return s == kClient ? "client" : "remote"; }
// Bytes leaving through `to` travel in this direction.
Direction direction_to(Side to) {
  return to == kRemote ? Direction::kClientToServer : Direction::kServerToClient;
}

Timestamp wall_clock() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return Timestamp::from_parts(t.tv_sec, t.tv_nsec / 1000);
}

// The kernel's state of a TCP socket (TCP_INFO), as tcp-audit names them.
TcpState socket_state(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return TcpState::kClosed;
  switch (info.tcpi_state) {
    case TCP_ESTABLISHED: return TcpState::kEstablished;
    case TCP_SYN_SENT: return TcpState::kSynSent;
    case TCP_SYN_RECV: return TcpState::kSynRecv;
    case TCP_FIN_WAIT1: return TcpState::kFinWait1;
    case TCP_FIN_WAIT2: return TcpState::kFinWait2;
    case TCP_TIME_WAIT: return TcpState::kTimeWait;
    case TCP_CLOSE_WAIT: return TcpState::kCloseWait;
    case TCP_LAST_ACK: return TcpState::kLastAck;
    case TCP_CLOSING: return TcpState::kClosing;
    default: return TcpState::kClosed;
  }
}

// One direction's bytes between reading them from one socket and writing them to the other.
class Buffer {
 public:
  explicit Buffer(size_t capacity) : capacity_(capacity) {}
  size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  const uint8_t* head() const { return data_.get() + begin_; }
  // Room at the end, moving what is left to the front first when that makes more.
  size_t room() {
    if (!data_) data_ = std::make_unique_for_overwrite<uint8_t[]>(capacity_);
    if (end_ == capacity_ && begin_ > 0) {
      std::memmove(data_.get(), data_.get() + begin_, size());
      end_ -= begin_;
      begin_ = 0;
    }
    return capacity_ - end_;
  }
  uint8_t* tail() { return data_.get() + end_; }
  void produced(size_t n) { end_ += n; }
  void consumed(size_t n) {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  size_t capacity() const { return capacity_; }

 private:
  std::unique_ptr<uint8_t[]> data_;
  size_t capacity_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

// A connection's dump records, numbered in the order they are written (conn_seq_num).
class Sequenced : public RecordSink {
 public:
  explicit Sequenced(RecordSink& to) : to_(to) {}
  void write(const Record& r) override {
    copy_ = r;
    copy_.add("conn_seq_num", ++n_);
    to_.write(copy_);
  }

 private:
  RecordSink& to_;
  uint64_t n_ = 0;
  Record copy_;
};

class NullSink : public RecordSink {
 public:
  void write(const Record&) override {}
};

}  // namespace

class ProxyServer::Worker {
 public:
  Worker(const ProxySettings& settings, const ProxyPipeline& pipeline, ProgramLog& log,
         const RemoteResolver& remote, uint8_t index)
      : settings_(settings), pipeline_(pipeline), log_(log), remote_(remote), index_(index) {
    if (pipeline.dump) dump_lane_ = pipeline.dump->lane();
    if (pipeline.conn) conn_lane_ = pipeline.conn->lane();
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wake_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    watch(wake_, EPOLLIN, kWakeTag);
    watch_listeners();
  }
  ~Worker() {
    join();
    close(wake_);
    close(epoll_);
  }

  void start() { thread_ = std::thread([this] { run(); }); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // From another thread: 1 stop accepting, 2 close everything.
  void command(int mode) {
    int current = mode_.load();
    while (current < mode && !mode_.compare_exchange_weak(current, mode)) {
    }
    const uint64_t one = 1;
    [[maybe_unused]] const ssize_t n = write(wake_, &one, sizeof one);
  }
  // True once this worker no longer watches the listening sockets.
  bool stopped_listening() const { return not_listening_.load(); }

  std::atomic<uint64_t> accepted{0}, rejected{0}, open{0}, client_bytes{0}, remote_bytes{0};

 private:
  struct Half {
    int fd = -1;
    Buffer out;          // bytes waiting to be written to this socket
    bool eof = false;    // its peer finished sending (a read gave 0)
    bool shut = false;   // we finished sending on it (shutdown SHUT_WR)
    uint32_t watched = 0;
    uint64_t sent = 0;   // bytes written to it
    TcpState state;
    Half(size_t capacity, TcpState initial) : out(capacity), state(initial) {}
  };

  struct Relay {
    Relay(size_t capacity)
        : half{Half(capacity, TcpState::kSynRecv), Half(capacity, TcpState::kClosed)} {}
    Half half[2];
    std::list<Relay*>::iterator pos;
    bool connecting = true;
    bool done = false;  // finished; freed after the current batch of events
    const char* closed_first = "proxy";  // the side whose FIN came first
    bool any_eof = false;
    std::vector<IpAddr> remotes;  // the remote's addresses, tried in order
    size_t next_remote = 0;
    std::chrono::steady_clock::time_point connect_deadline;
    std::chrono::steady_clock::time_point header_deadline;
    bool header_pending = false;
    size_t header_skip = 0;  // header bytes forwarded to the remote but not decoded
    ConnInfo info;
    Timestamp opened;
    uint32_t changes = 0;  // state records written, for their uid
    std::unique_ptr<Sequenced> sink;
    std::unique_ptr<Dumper> dumper;
    std::unique_ptr<Decoder> decoder;
    GroupRef life_fields;
  };

  void watch(int fd, uint32_t events, uint64_t tag) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = tag;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &ev);
  }
  static uint64_t tag_of(Relay& r, Side s) { return reinterpret_cast<uintptr_t>(&r) | s; }
  void watch_listeners() {
    for (size_t i = 0; i < settings_.listeners.size(); ++i) {
      // EPOLLEXCLUSIVE: one worker is woken for a new connection, not all of them.
      watch(settings_.listeners[i].fd, EPOLLIN | EPOLLEXCLUSIVE, (i << 3) | kListenerTag);
    }
  }

  void run();
  void accept_from(const Listener& l);
  bool connect_next(Relay& r);
  void connected(Relay& r);
  void on_event(Relay& r, Side s, uint32_t events);
  void read_from(Relay& r, Side s);
  void flush_to(Relay& r, Side to);
  bool header_done(Relay& r);
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
  void observe(Relay& r, Side s) { observe(r, s, socket_state(r.half[s].fd)); }
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
  NullSink null_;
  std::thread thread_;
};

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
        for (const Listener& l : settings_.listeners) epoll_ctl(epoll_, EPOLL_CTL_DEL, l.fd, nullptr);
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
      reject(r, "the client sent no PROXY protocol header");
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
    r->header_deadline = std::chrono::steady_clock::now() + kHeaderWait;
    if (pipeline_.conn) {
      Record f;
      f.add("conn_id", r->info.conn_id);
      f.add("client_addr", r->info.client.to_string());
      f.add("proxy_listen_addr", r->info.relayed_by->listen.to_string());
      r->life_fields = std::make_shared<const FieldGroup>(std::move(f));
    }
    watch(fd, 0, tag_of(*r, kClient));
    observe(*r, kClient);
    r->remotes = *remote_.addresses();
    if (connect_next(*r)) settle(*r);
  }
}

// Tries the remote's next address; with none left, the client is turned away (false).
bool ProxyServer::Worker::connect_next(Relay& r) {
  int last_error = errno;
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
  // Until the client's PROXY header is read, the remote is not listened to: a client without
  // one hears nothing from it (a MySQL greeting waits), and every record names the header's
  // client.
  if (s == kRemote && r.header_pending) return;
  Half& in = r.half[s];
  Buffer& out = r.half[other(s)].out;
  while (!r.done && !in.eof && in.fd >= 0) {
    const size_t room = out.room();
    if (room == 0) return;
    const ssize_t n = read(in.fd, out.tail(), room);
    if (n > 0) {
      out.produced(static_cast<size_t>(n));
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
        flush_to(r, kRemote);  // a header cut short, or none at all: refused
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
  if (r.done || h.fd < 0 || (to == kRemote && (r.connecting || !header_done(r)))) return;
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
// let through); false while it is incomplete, or when the connection was refused for lacking it.
bool ProxyServer::Worker::header_done(Relay& r) {
  if (!r.header_pending) return true;
  Buffer& b = r.half[kRemote].out;
  const ProxyHeader h = parse_proxy_header({b.head(), b.size()});
  switch (h.status) {
    case ProxyHeader::Status::kNeedMore:
      if (b.size() < b.capacity() && !r.half[kClient].eof) return false;
      reject(r, b.empty() ? "the client sent no PROXY protocol header"
                          : "the PROXY protocol header is longer than the buffer or cut short");
      return false;
    case ProxyHeader::Status::kNotProxy:
      reject(r, "the client sent no PROXY protocol header");
      return false;
    case ProxyHeader::Status::kInvalid:
      reject(r, "bad PROXY protocol header: " + h.error);
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
    r.info.fields[0] = connection_fields(r.info, Direction::kClientToServer);
    r.info.fields[1] = connection_fields(r.info, Direction::kServerToClient);
    r.decoder = r.dumper->open(r.info, r.opened);
  }
  r.decoder->on_data(direction_to(to), wall_clock(), {bytes, n});
}

void ProxyServer::Worker::shut(Relay& r, Side s) {
  Half& h = r.half[s];
  // A remote still connecting gets its FIN once connected (flush_to ends with it).
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
  finish(r, reset ? CloseReason::kReset : CloseReason::kFin, reset ? "reset" : "error",
         side_name(s), reset ? (s == kClient ? "RSTO" : "RSTR") : "OTH");
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
  observe(r, s, TcpState::kClosed);
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
      if (!h.eof && r.half[other(s)].out.room() > 0 && !(s == kRemote && r.header_pending)) {
        want |= EPOLLIN | EPOLLRDHUP;
      }
      if (!h.out.empty() && !(s == kRemote && r.header_pending)) want |= EPOLLOUT;
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
  Record rec;
  rec.add("ts", wall_clock());
  rec.add("event", "state");
  rec.add("uid", r.info.conn_id + "." + std::to_string(++r.changes));
  rec.add_group(r.life_fields);
  rec.add("side", side_name(s));
  rec.add("old_state", tcp_state_name(was));
  rec.add("new_state", tcp_state_name(now));
  conn_lane_->write(rec);
}

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
    rec.add("event", "summary");
    rec.add_group(r.life_fields);
    rec.add("proxy_client_addr", r.info.relayed_by->local.to_string());
    rec.add("remote_addr", r.info.server.to_string());
    rec.add("duration", Duration{now.usec - r.opened.usec});
    rec.add("conn_state", conn_state);
    rec.add("close_reason", reason);
    rec.add("closed_by", closed_by);
    rec.add("client_bytes", r.half[kRemote].sent);
    rec.add("remote_bytes", r.half[kClient].sent);
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
    s.open += w->open.load();
    s.client_bytes += w->client_bytes.load();
    s.remote_bytes += w->remote_bytes.load();
  }
  return s;
}

}  // namespace tcpdp
