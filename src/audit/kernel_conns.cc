#include "audit/kernel_conns.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "common/conn.h"
#include "records/catalogue.h"

namespace tcpdp::audit {

namespace {

std::string hex_address(uint64_t skaddr) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x0000000000000000";
  for (size_t i = out.size(); skaddr; skaddr >>= 4) out[--i] = kDigits[skaddr & 15];
  return out;
}
// A process as tcpdp could know it: all of it from /proc while it ran, or only the command name
// the kernel kept once it was gone.
TaskOwner owner_of_task(int tid, TaskLookup& tasks, CommCache& comms) {
  TaskOwner o{tasks.find(tid), ""};
  if (!o.info) o.comm = comms.comm(tid);
  return o;
}

}  // namespace

// A connection: one socket, or two when both ends are on this host.
struct KernelConns::Conn {
  std::string conn_id;
  GroupRef fields;  // conn_id, src_ip, src_port, dst_ip, dst_port (src: the client)
  ConnKey key;
  bool keyed = false;
  bool targeted = true;
  bool listener = false;
  Timestamp start, end;
  uint32_t records = 0;
  int open_sockets = 0;
  int client_state = 0, server_state = 0;  // the kernel's last word on each local end
  const char* closed_by = nullptr;
  const char* close_reason = nullptr;
  bool established = false;
  bool connect_failed = false;
  bool mid_stream = false;
  std::optional<TaskOwner> client;  // who called connect(), when the connect was seen
  std::optional<TaskOwner> server;  // who owned the listening socket it came through
};

struct KernelConns::Socket {
  enum class Role { kClient, kServer, kListener } role = Role::kClient;
  uint64_t skaddr = 0;
  std::shared_ptr<Conn> conn;
  std::list<std::unique_ptr<Socket>>::iterator at;
  // connect() moves a socket to SYN-SENT before it has a port: that change waits for the next.
  bool holding = false;
  KernelStateChange held;
  Timestamp held_ts;
  TaskOwner who;  // who called connect()
};

KernelConns::KernelConns(const KernelConnsOptions& options, RecordSink& out, CommCache& comms)
    : options_(options), out_(out), comms_(comms) {}

KernelConns::~KernelConns() = default;

void KernelConns::add_listening(const Endpoint& local, TaskOwner owner) {
  listening_[local] = std::move(owner);
}

const TaskOwner* KernelConns::listener(const Endpoint& local) const {
  if (auto it = listening_.find(local); it != listening_.end()) return &it->second;
  // A socket bound to every address, of either family (an IPv6 one takes IPv4 too).
  for (const IpAddr& any : {IpAddr{}, IpAddr{6, {}}})
    if (auto it = listening_.find(Endpoint{any, local.port}); it != listening_.end())
      return &it->second;
  return nullptr;
}

KernelConns::Socket* KernelConns::start_socket(const KernelStateChange& c) {
  if (sockets_.size() >= options_.max_sockets && !order_.empty()) {
    Socket& oldest = *order_.front();
    ++stats_.evicted;
    if (oldest.holding) open_held(oldest, oldest.held);
    if (!oldest.conn->close_reason) oldest.conn->close_reason = "evicted";
    end_socket(oldest);
  }
  auto s = std::make_unique<Socket>();
  s->skaddr = c.skaddr;
  using Role = Socket::Role;
  if (c.new_state == kTcpListen || (c.old_state == kTcpListen && c.new_state == kTcpClose)) {
    s->role = Role::kListener;
  } else if (c.old_state == kTcpClose && c.new_state == kTcpSynSent) {
    s->role = Role::kClient;
  } else if (c.old_state == kTcpListen || c.new_state == kTcpSynRecv) {
    s->role = Role::kServer;
  } else {
    // Opened before the reading began: a server's socket if its port was listening then.
    s->role = listener(c.src) ? Role::kServer : Role::kClient;
  }
  Socket* raw = s.get();
  order_.push_back(std::move(s));
  raw->at = std::prev(order_.end());
  sockets_[c.skaddr] = raw->at;
  return raw;
}

void KernelConns::attach(Socket& s, const KernelStateChange& c, Timestamp start) {
  using Role = Socket::Role;
  const bool local_is_client = s.role == Role::kClient;
  const Endpoint client = local_is_client ? c.src : c.dst;
  const Endpoint server = local_is_client ? c.dst : c.src;
  const ConnKey key = ConnKey::of(client, server);
  if (s.role != Role::kListener) {
    if (auto it = conns_.find(key); it != conns_.end()) {
      s.conn = it->second;  // the other end of a connection within this host
      ++s.conn->open_sockets;
      if (start < s.conn->start) s.conn->start = start;
      return;
    }
  }
  auto conn = std::make_shared<Conn>();
  conn->conn_id = make_conn_id(start, 0, counter_++);
  conn->start = conn->end = start;
  conn->listener = s.role == Role::kListener;
  conn->targeted =
      !options_.targets || options_.targets->empty() || options_.targets->matches(server);
  conn->mid_stream = !(c.old_state == kTcpClose || c.old_state == kTcpListen);
  Record f;
  f.add("conn_id", conn->conn_id);
  f.add("src_ip", client.ip.to_string());
  f.add("src_port", client.port);
  f.add("dst_ip", server.ip.to_string());
  f.add("dst_port", server.port);
  conn->fields = std::make_shared<const FieldGroup>(std::move(f));
  conn->open_sockets = 1;
  if (!conn->listener) {
    conn->key = key;
    conn->keyed = true;
    conns_[key] = conn;
  }
  s.conn = std::move(conn);
}

void KernelConns::hold(Socket& s, const KernelStateChange& c, Timestamp ts) {
  s.holding = true;
  s.held = c;
  s.held_ts = ts;
  // Asked now: the caller may be gone by the time the socket has its port. Once it is gone,
  // the kernel's cache still has its command name (connect() runs in the caller's context, so
  // the task on the CPU is the caller), but no more than that.
  s.who = owner_of_task(c.pid_on_cpu, tasks_, comms_);
}

void KernelConns::write_state(const Socket& s, const KernelStateChange& c, Timestamp ts,
                              const TaskOwner* who) {
  Conn& conn = *s.conn;
  if (!conn.targeted) return;
  Record r;
  r.add("ts", ts);
  r.add("event", kind_name(RecordKind::kState));
  r.add("uid", conn.conn_id + "." + std::to_string(++conn.records));
  r.add_group(conn.fields);
  r.add("side", s.role == Socket::Role::kClient ? "client" : "server");
  r.add("old_state", kernel_tcp_state_name(c.old_state));
  r.add("new_state", kernel_tcp_state_name(c.new_state));
  r.add("pid_on_cpu", c.pid_on_cpu);
  // The kernel saves a task's name lazily (at its next switch), so a name not saved yet is
  // asked of /proc while the task runs.
  if (const std::string& saved = comms_.comm(c.pid_on_cpu); !saved.empty()) {
    r.add("comm_on_cpu", saved);
  } else if (const auto running = tasks_.find(c.pid_on_cpu)) {
    r.add("comm_on_cpu", running->comm);
  } else {
    r.add("comm_on_cpu", nullptr);
  }
  r.add("skaddr", hex_address(c.skaddr));
  if (who) {
    add_process(r, s.role == Socket::Role::kClient, who->info, who->comm);
    r.add("hostname", options_.hostname);
  }
  out_.write(r);
  ++stats_.written;
}

void KernelConns::follow(Conn& conn, const Socket& s, const KernelStateChange& c) {
  const bool client = s.role == Socket::Role::kClient;
  (client ? conn.client_state : conn.server_state) = c.new_state;
  if (c.new_state == kTcpEstablished) conn.established = true;
  // Who closed first: the end that sent the first FIN, or whose peer's FIN came first.
  if (!conn.closed_by && c.new_state == kTcpFinWait1) conn.closed_by = client ? "client" : "server";
  if (!conn.closed_by && c.new_state == kTcpCloseWait)
    conn.closed_by = client ? "server" : "client";
  if (c.new_state != kTcpClose || conn.listener) return;
  if (c.old_state == kTcpSynSent && !conn.established) {
    conn.connect_failed = true;
  } else if (!conn.close_reason) {
    const bool after_fin = c.old_state == kTcpFinWait2 || c.old_state == kTcpTimeWait ||
                           c.old_state == kTcpLastAck || c.old_state == kTcpClosing;
    conn.close_reason = after_fin ? "fin" : "reset";
  }
}

void KernelConns::on_change(const KernelStateChange& c, Timestamp ts) {
  ++stats_.changes;
  if (!kernel_tcp_state_name(c.old_state) || !kernel_tcp_state_name(c.new_state)) return;
  Socket* s = nullptr;
  if (auto it = sockets_.find(c.skaddr); it != sockets_.end()) {
    s = it->second->get();
    // The address of a socket freed unseen, now another socket's.
    if (c.old_state == kTcpClose && !s->holding) {
      end_socket(*s);
      s = nullptr;
    }
  }
  if (!s) {
    s = start_socket(c);
    if (s->role == Socket::Role::kClient && c.new_state == kTcpSynSent && c.src.port == 0) {
      hold(*s, c, ts);
      s->held.src = {};  // filled from the next change
      return;
    }
  }
  const TaskOwner* who = nullptr;  // the process to name on this change's record
  if (s->holding) {
    KernelStateChange opened = s->held;
    opened.src = c.src;  // the port connect() chose
    opened.dst = c.dst;
    open_held(*s, opened);
  } else if (!s->conn) {
    attach(*s, c, ts);
    if (s->role == Socket::Role::kServer && !s->conn->server) {
      const TaskOwner* owner = listener(c.src);
      s->conn->server = owner ? *owner : TaskOwner{};
      who = &*s->conn->server;
    }
  }
  if (c.new_state == kTcpListen) {
    // listen() runs in its caller's context: the task on the CPU owns the socket.
    add_listening(c.src, owner_of_task(c.pid_on_cpu, tasks_, comms_));
    who = &listening_[c.src];
  }
  s->conn->end = ts;
  write_state(*s, c, ts, who);
  if (c.old_state == kTcpListen && c.new_state == kTcpClose) listening_.erase(c.src);
  follow(*s->conn, *s, c);
  if (c.new_state == kTcpClose) end_socket(*s);
}

void KernelConns::open_held(Socket& s, const KernelStateChange& opened) {
  s.holding = false;
  attach(s, opened, s.held_ts);
  s.conn->client = s.who;
  write_state(s, opened, s.held_ts, &s.who);
  follow(*s.conn, s, opened);
}

void KernelConns::end_socket(Socket& s) {
  if (s.holding) open_held(s, s.held);  // never given a port: written as the kernel said it
  if (s.conn && --s.conn->open_sockets == 0) {
    if (!s.conn->listener && s.conn->targeted) write_summary(*s.conn);
    if (s.conn->keyed) conns_.erase(s.conn->key);
  }
  sockets_.erase(s.skaddr);
  order_.erase(s.at);  // destroys s
}

void KernelConns::write_summary(Conn& conn) {
  Record r;
  r.add("ts", conn.start);
  r.add("event", kind_name(RecordKind::kSummary));
  r.add_group(conn.fields);
  r.add("duration", Duration{conn.end.usec - conn.start.usec});
  if (conn.client_state) r.add("client_state", kernel_tcp_state_name(conn.client_state));
  if (conn.server_state) r.add("server_state", kernel_tcp_state_name(conn.server_state));
  if (conn.closed_by) r.add("closed_by", conn.closed_by);
  r.add("mid_stream", conn.mid_stream);
  if (conn.close_reason) r.add("close_reason", conn.close_reason);
  r.add("connect_failed", conn.connect_failed);
  if (conn.client) add_process(r, true, conn.client->info, conn.client->comm);
  if (conn.server) add_process(r, false, conn.server->info, conn.server->comm);
  if (conn.client || conn.server) r.add("hostname", options_.hostname);
  out_.write(r);
  ++stats_.connections;
}

void KernelConns::finish() {
  while (!order_.empty()) end_socket(*order_.front());
}

void read_listening(KernelConns& conns) {
  ProcessLookup processes;
  for (const char* path : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);  // the column names
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string slot, local, remote, state;
      if (!(fields >> slot >> local >> remote >> state) || state != "0A") continue;
      const size_t colon = local.find(':');
      if (colon == std::string::npos) continue;
      const std::string hex = local.substr(0, colon);
      // The address as the kernel holds it, printed 32 bits at a time in host byte order.
      uint8_t bytes[16] = {};
      if (hex.size() != 8 && hex.size() != 32) continue;
      for (size_t word = 0; word < hex.size() / 8; ++word) {
        const uint32_t v = static_cast<uint32_t>(std::stoul(hex.substr(word * 8, 8), nullptr, 16));
        std::memcpy(bytes + word * 4, &v, 4);
      }
      const auto port = static_cast<uint16_t>(std::stoul(local.substr(colon + 1), nullptr, 16));
      const IpAddr ip = hex.size() == 8 ? IpAddr::v4(bytes) : IpAddr::v6(bytes);
      const Endpoint at{ip, port};
      // The kernel finds a listening socket by its address and a peer of 0.0.0.0:0.
      conns.add_listening(at, TaskOwner{processes.find(at, Endpoint{}), ""});
    }
  }
}

}  // namespace tcpdp::audit
