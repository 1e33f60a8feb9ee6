/// The flow table: finds each segment's connection, decides who is client and server, feeds the
/// two reassemblers and hands in-order bytes, gaps and closes to the connection's decoder.
/// Bounded: connections (least recently seen evicted), held bytes per direction, idle time.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

#include "common/conn.h"
#include "common/endpoint.h"
#include "common/record.h"
#include "dumpers/dumper.h"
#include "packet/segment.h"
#include "tcptrack/lifecycle.h"
#include "tcptrack/process.h"
#include "tcptrack/reassembler.h"
#include "tcptrack/target.h"

namespace tcpdp {

struct TrackerOptions {
  ReassemblyLimits reassembly;
  size_t max_connections = 1 << 20;
  int64_t idle_timeout_usec = 300LL * 1000000;  // open connection with no packet this long: closed
  int64_t closed_linger_usec = 10LL * 1000000;  // closed connection kept to absorb late packets
  uint8_t source_id = 0;                        // goes into conn_id: the shard or capture source
  // Clients reach the server through a load balancer that starts each stream with a PROXY
  // protocol header: it is taken off and its addresses added to the connection's records.
  bool proxy_protocol = false;
  // With a connection log: the local processes owning the connections' ends go into their
  // summaries (only for traffic of this host, seen live).
  ProcessLookup* processes = nullptr;
};

struct TrackerStats {
  uint64_t segments = 0;
  uint64_t ignored_segments = 0;  // not a target, or a stray packet of no known connection
  uint64_t connections = 0;
  uint64_t mid_stream_connections = 0;
  uint64_t evicted_connections = 0;
  uint64_t idle_closed_connections = 0;
  uint64_t gaps = 0;
  uint64_t gap_bytes = 0;
  uint64_t forced_gaps = 0;
};

class Tracker {
 public:
  /// Everything about payload (gaps too) goes to the dumper's decoders. With `conn_log`, every
  /// connection's state changes and its summary go there.
  Tracker(Dumper& dumper, Targets targets, TrackerOptions options, RecordSink* conn_log = nullptr);
  ~Tracker();

  void on_segment(const TcpSegment& seg);
  /// Live capture: time passed without packets; connections idle or done lingering by `now`
  /// are let go as a packet of that time would.
  void advance(Timestamp now);
  /// The capture ended at `ts`: every open connection is closed, its holes reported as gaps,
  /// and every connection summed up.
  void finish(Timestamp ts);

  const TrackerStats& stats() const { return stats_; }
  size_t open_connections() const { return table_.size(); }

 private:
  struct Connection;
  class HalfOutput;

  Connection* create(const TcpSegment& seg, const ConnKey& key);
  void close(Connection& c, Timestamp ts, CloseReason reason);
  void erase(Connection& c);  // sums the connection up and forgets it
  void log_changes(Connection& c);
  void find_owners(Connection& c);
  void sweep(Timestamp now);
  void touch(Connection& c, Timestamp ts);

  Dumper& dumper_;
  RecordSink* conn_log_;
  std::vector<StateChange> changes_;  // scratch for one segment's state changes
  Targets targets_;
  TrackerOptions options_;
  std::unordered_map<ConnKey, std::unique_ptr<Connection>, ConnKeyHash> table_;
  std::list<Connection*> lru_;  // least recently seen first
  uint32_t next_counter_ = 0;
  int64_t next_sweep_usec_ = 0;
  TrackerStats stats_;
};

}  // namespace tcpdp
