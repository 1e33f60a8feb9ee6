#include "pipeline/capture_engine.h"

#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

namespace tcpdp {

namespace {

constexpr auto kTick = std::chrono::milliseconds(100);
constexpr size_t kPopBatch = 256;
// After a stop: the kernel hands over a partly filled block of its ring after 100 ms (libpcap's
// timeout, live_source.cc); and however busy the interface stays, the stop does not wait longer
// than this.
constexpr auto kDrainAtLeast = std::chrono::milliseconds(250);
constexpr auto kDrainLimit = std::chrono::seconds(5);

Timestamp wall_clock() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return Timestamp::from_parts(t.tv_sec, t.tv_nsec / 1000);
}

// Where dump records go when no dump log is wanted: nowhere.
class NullSink : public RecordSink {
 public:
  void write(const Record&) override {}
};

}  // namespace

unsigned default_workers() { return std::clamp(std::thread::hardware_concurrency() / 4, 1U, 8U); }

/// One decode worker: its queue, its shard, and its lanes into the sinks.
class CaptureEngine::Worker {
 public:
  Worker(const EngineSettings& e, const PipelineSettings& p, uint8_t shard, size_t queue_bytes,
         size_t queue_packets, size_t max_payload)
      : queue(queue_bytes, queue_packets, max_payload) {
    if (e.dump) dump_lane_ = e.dump->lane();
    if (e.conn) conn_lane_ = e.conn->lane();
    RecordSink& dump = dump_lane_ ? static_cast<RecordSink&>(*dump_lane_) : discard_;
    std::string error;
    shard_ = Shard::make(p, dump, conn_lane_.get(), shard, &error);
    if (!shard_) {  // the commands take only dumper_names(): a caller's bug, said before it ends
      std::fprintf(stderr, "tcpdp: capture engine: %s\n", error.c_str());
      std::abort();
    }
  }

  void start() {
    thread_ = std::thread([this] { run(); });
  }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  const TrackerStats& stats() const { return shard_->stats(); }

  SegmentQueue queue;

 private:
  void run() {
    auto next_tick = std::chrono::steady_clock::now() + kTick;
    for (;;) {
      const size_t n =
          queue.pop([this](const TcpSegment& seg) { shard_->on_segment(seg); }, kPopBatch);
      if (n == 0) {
        if (queue.drained()) break;
        queue.wait(kTick);
      }
      if (const auto now = std::chrono::steady_clock::now(); now >= next_tick) {
        next_tick = now + kTick;
        tick();
      }
    }
    shard_->finish(wall_clock());
    if (dump_lane_) dump_lane_->flush();
    if (conn_lane_) conn_lane_->flush();
  }

  // Records reach the logs within about a second even when traffic stops, and connections
  // that went quiet are summed up without waiting for the next packet.
  void tick() {
    shard_->advance(wall_clock());
    if (dump_lane_) dump_lane_->tick();
    if (conn_lane_) conn_lane_->tick();
  }

  std::unique_ptr<StreamSink::Lane> dump_lane_;
  std::unique_ptr<StreamSink::Lane> conn_lane_;
  NullSink discard_;
  std::unique_ptr<Shard> shard_;
  std::thread thread_;
};

CaptureEngine::CaptureEngine(LiveSource& source, const EngineSettings& settings,
                             PipelineSettings pipeline)
    : source_(source), settings_(settings), decoder_(source.link_type()) {
  const unsigned n = std::clamp(settings.workers, 1U, 255U);
  for (unsigned i = 0; i < n; ++i) {
    workers_.push_back(std::make_unique<Worker>(settings, pipeline, static_cast<uint8_t>(i),
                                                settings.queue_bytes / n,
                                                settings.queue_packets / n,
                                                // a datagram put back together from fragments
                                                // may be longer than the snapshot length
                                                std::max<size_t>(source.snapshot_length(), 65535)));
  }
  fed_.assign(n, 0);
}

CaptureEngine::~CaptureEngine() { stop(); }

void CaptureEngine::start() {
  for (auto& w : workers_) w->start();
}

void CaptureEngine::on_packet(const RawPacket& packet) {
  if (decoder_.decode(packet.ts, packet.data, packet.wire_len, segment_) != DecodeResult::kTcp) {
    return;
  }
  const size_t shard =
      workers_.size() == 1
          ? 0
          : ConnKeyHash{}(ConnKey::of(segment_.src, segment_.dst)) % workers_.size();
  Worker& w = *workers_[shard];
  fed_[shard] = 1;
  if (w.queue.push(segment_)) return;
  if (settings_.drop_when_full) {
    ++stats_.queue_dropped;
    return;
  }
  // Wait for the worker; meanwhile the kernel's buffer (-B) takes what arrives.
  ++stats_.queue_waits;
  w.queue.notify();
  while (!w.queue.push(segment_)) std::this_thread::sleep_for(std::chrono::microseconds(50));
}

bool CaptureEngine::capture(const std::function<bool()>& idle, uint64_t ring_bytes) {
  using Clock = std::chrono::steady_clock;
  bool draining = false;
  Clock::time_point stop_asked;
  uint64_t drained = 0;
  for (;;) {
    uint64_t bytes = 0;
    const LiveSource::Next next = source_.dispatch([&](const RawPacket& packet) {
      on_packet(packet);
      bytes += packet.data.size();
    });
    for (size_t i = 0; i < workers_.size(); ++i) {
      if (fed_[i]) workers_[i]->queue.notify();
      fed_[i] = 0;
    }
    if (next == LiveSource::Next::kError) return false;
    if (!draining) {
      if (!idle()) {
        draining = true;
        stop_asked = Clock::now();
      }
      continue;
    }
    // What the kernel captured before the stop is still in its ring, some of it in a block
    // only handed over when its timeout passes: read on until the ring is empty after that
    // timeout, or as many bytes as the ring holds came out, whichever is first.
    drained += bytes;
    const auto waited = Clock::now() - stop_asked;
    if (waited >= kDrainLimit) return true;
    if (waited >= kDrainAtLeast && (next != LiveSource::Next::kPacket || drained >= ring_bytes)) {
      return true;
    }
  }
}

void CaptureEngine::stop() {
  for (auto& w : workers_) w->queue.close();
  for (auto& w : workers_) w->join();
  stopped_ = true;
}

EngineStats CaptureEngine::stats() {
  EngineStats s = stats_;
  source_.stats(s.capture);
  s.decode = decoder_.stats();
  if (!stopped_) return s;  // the workers' counts are theirs until they stop
  for (auto& w : workers_) {
    const TrackerStats& t = w->stats();
    s.tracker.segments += t.segments;
    s.tracker.ignored_segments += t.ignored_segments;
    s.tracker.connections += t.connections;
    s.tracker.mid_stream_connections += t.mid_stream_connections;
    s.tracker.evicted_connections += t.evicted_connections;
    s.tracker.idle_closed_connections += t.idle_closed_connections;
    s.tracker.gaps += t.gaps;
    s.tracker.gap_bytes += t.gap_bytes;
    s.tracker.forced_gaps += t.forced_gaps;
  }
  return s;
}

}  // namespace tcpdp
