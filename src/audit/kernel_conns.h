/// Connections as the kernel's state changes show them: each socket is followed by its kernel
/// address from its first change to CLOSED, and the sockets of one connection (both ends, when
/// both are on this host) share a conn_id. Writes a state record for every change of a
/// targeted socket, with the task that was on the CPU, and a summary when a connection's sockets
/// are all closed, in the words read, probe and proxy use.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "audit/task_info.h"
#include "audit/tcp_state_event.h"
#include "common/endpoint.h"
#include "common/record.h"
#include "common/timestamp.h"
#include "tcptrack/process.h"
#include "tcptrack/target.h"

namespace tcpdp::audit {

/// A process as tcpdp could know it: all of it from /proc while it ran, or only the command name
/// the kernel kept once it was gone.
struct TaskOwner {
  std::optional<ProcessInfo> info;
  std::string comm;
};

struct KernelConnsOptions {
  std::optional<Targets> targets;  // nothing or empty: every connection
  std::string hostname;            // this host's name, on the connecting process's records
  size_t max_sockets = 262144;     // sockets followed at once; past it the oldest is let go
};

struct KernelConnsStats {
  uint64_t changes = 0;      // state changes read
  uint64_t written = 0;      // state records written (targeted sockets)
  uint64_t connections = 0;  // summaries written
  uint64_t evicted = 0;      // sockets let go at the bound
};

class KernelConns {
 public:
  KernelConns(const KernelConnsOptions& options, RecordSink& out, CommCache& comms);
  ~KernelConns();

  /// A socket listening when the reading starts, and its owner: a socket first seen after its
  /// opening is a server's when its local port is listening, and the listener's owner is the
  /// server's process.
  void add_listening(const Endpoint& local, TaskOwner owner);
  void on_change(const KernelStateChange& change, Timestamp ts);
  /// Before each reading of the kernel's events: what was learnt of tasks may have changed.
  void new_batch() {
    tasks_.new_batch();
    comms_.refresh();
  }
  /// At the stop: held records written, summaries of the connections still open.
  void finish();
  const KernelConnsStats& stats() const { return stats_; }

 private:
  struct Conn;
  struct Socket;
  Socket* start_socket(const KernelStateChange& c);
  void attach(Socket& s, const KernelStateChange& c, Timestamp start);
  void hold(Socket& s, const KernelStateChange& c, Timestamp ts);
  void open_held(Socket& s, const KernelStateChange& opened);
  void write_state(const Socket& s, const KernelStateChange& c, Timestamp ts, const TaskOwner* who);
  void follow(Conn& conn, const Socket& s, const KernelStateChange& c);
  void end_socket(Socket& s);
  void write_summary(Conn& conn);
  const TaskOwner* listener(const Endpoint& local) const;

  KernelConnsOptions options_;
  RecordSink& out_;
  CommCache& comms_;
  TaskLookup tasks_;
  std::list<std::unique_ptr<Socket>> order_;  // oldest first
  std::unordered_map<uint64_t, std::list<std::unique_ptr<Socket>>::iterator> sockets_;
  std::unordered_map<ConnKey, std::shared_ptr<Conn>, ConnKeyHash> conns_;  // open, by ends
  std::map<Endpoint, TaskOwner> listening_;  // listening sockets and their owners
  uint32_t counter_ = 0;
  KernelConnsStats stats_;
};

/// Tells conns the sockets listening now (/proc/net/tcp and tcp6, state LISTEN) and their
/// owners (sock_diag and /proc).
void read_listening(KernelConns& conns);

}  // namespace tcpdp::audit
