/// The live pipeline of `tcpdp probe`: the calling thread captures (it only takes packets out
/// of libpcap, decodes their headers and queues each TCP segment for the worker that owns its
/// connection) while decode workers, each with its own Shard and ways into the sinks, turn
/// their shard of connections into records. No lock is shared on the way of a packet.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "packet/decode.h"
#include "pipeline/shard.h"
#include "probe/live_source.h"
#include "probe/segment_queue.h"

namespace tcpdp {

struct EngineSettings {
  StreamSink* dump = nullptr;  // where the workers' dump records go; nullptr: not wanted
  StreamSink* conn = nullptr;  // and their connection records; nullptr: no connection log
  unsigned workers = 1;
  size_t queue_bytes = 16 << 20;  // all workers' queues together
  size_t queue_packets = 10000;   // likewise
  bool drop_when_full = false;    // else the capture waits and the kernel's buffer fills
};

struct EngineStats {
  LiveSource::Stats capture;   // libpcap's own counts
  uint64_t queue_dropped = 0;  // packets no worker queue had room for
  uint64_t queue_waits = 0;    // times the capture waited for room
  DecodeStats decode;
  TrackerStats tracker;  // all workers' together, once they stopped
};

/// The default number of workers: a quarter of the cores, 1 to 8.
unsigned default_workers();

class CaptureEngine {
 public:
  /// pipeline.dumper must be one of dumper_names().
  CaptureEngine(LiveSource& source, const EngineSettings& settings, PipelineSettings pipeline);
  ~CaptureEngine();

  /// Starts the workers (they inherit the calling thread's signal mask).
  void start();
  /// Captures on the calling thread until `idle`, called between batches of packets and at
  /// least every 100 ms, returns false; then takes what the kernel captured until then out of
  /// its ring too (`ring_bytes`: the ring's size). False when the capture failed
  /// (source.error() says why).
  bool capture(const std::function<bool()>& idle, uint64_t ring_bytes);
  /// Lets the workers finish what is queued and close every connection; after it, stats() holds
  /// the workers' counts too.
  void stop();

  /// The capture thread's counts (and, after stop(), the workers').
  EngineStats stats();

 private:
  class Worker;
  void on_packet(const RawPacket& packet);

  LiveSource& source_;
  EngineSettings settings_;
  PacketDecoder decoder_;
  TcpSegment segment_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<uint8_t> fed_;  // per worker: given segments since the last notify
  bool stopped_ = false;
  EngineStats stats_;
};

}  // namespace tcpdp
