/// One direction of a TCP connection put back in order: bytes delivered by sequence number, each
/// exactly once; out-of-order segments held (bounded); retransmits and overlaps dropped; bytes the
/// capture never saw reported as gaps at their position, never glued over.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "common/timestamp.h"

namespace tcpdp {

class StreamOutput {
 public:
  virtual ~StreamOutput() = default;
  virtual void data(Timestamp ts, std::span<const uint8_t> bytes) = 0;
  virtual void gap(Timestamp ts, uint64_t missed) = 0;
};

struct ReassemblyLimits {
  size_t max_held_bytes = 4 << 20;  // out-of-order bytes held per direction
  size_t max_held_segments = 4096;
};

struct ReassemblyStats {
  uint64_t delivered_bytes = 0;
  uint64_t gap_bytes = 0;
  uint64_t gaps = 0;
  uint64_t duplicate_bytes = 0;  // retransmitted or overlapping bytes dropped
  uint64_t out_of_order_segments = 0;
  uint64_t forced_gaps = 0;  // holes given up on because the hold limit was reached
};

class Reassembler {
 public:
  /// keep_data false: only lengths are tracked and data() is never called (gaps still are).
  Reassembler(bool keep_data, ReassemblyLimits limits) : keep_data_(keep_data), limits_(limits) {}

  bool started() const { return started_; }
  /// The sequence number of the first stream byte (ISN + 1, or the first seen for a pickup).
  void start(uint32_t first_seq);
  uint32_t first_seq() const { return base_seq_; }

  /// A segment of this direction: `payload` captured, `missing` more bytes after it on the wire.
  void segment(Timestamp ts, uint32_t seq, std::span<const uint8_t> payload, uint32_t missing,
               bool fin, StreamOutput& out);
  /// The other side acknowledged everything before `ack`: a hole below it was never captured.
  void peer_ack(Timestamp ts, uint32_t ack, StreamOutput& out);
  /// Gives up on every hole: gaps for them and delivery of everything held.
  void flush(Timestamp ts, StreamOutput& out);

  bool fin_seen() const { return fin_at_.has_value(); }
  /// The FIN was seen and every byte before it delivered or reported as a gap.
  bool finished() const { return fin_at_ && next_ >= *fin_at_; }
  const ReassemblyStats& stats() const { return stats_; }

 private:
  struct Held {
    Timestamp ts;
    std::vector<uint8_t> data;
    uint32_t captured = 0;
    uint32_t missing = 0;
    uint64_t end(uint64_t at) const { return at + captured + missing; }
  };

  int64_t offset_of(uint32_t seq) const;
  void deliver(Timestamp ts, int64_t at, std::span<const uint8_t> payload, uint32_t captured,
               uint32_t missing, StreamOutput& out);
  void emit_gap(Timestamp ts, uint64_t n, StreamOutput& out);
  void drain(StreamOutput& out);
  void fill_acked_hole(Timestamp ts, StreamOutput& out);
  void enforce_limits(Timestamp ts, StreamOutput& out);

  bool keep_data_;
  ReassemblyLimits limits_;
  bool started_ = false;
  uint32_t base_seq_ = 0;
  uint64_t next_ = 0;  // stream offset of the next byte to deliver
  std::optional<uint64_t> fin_at_;
  int64_t max_acked_ = -1;
  std::map<uint64_t, Held> held_;
  size_t held_bytes_ = 0;
  ReassemblyStats stats_;
};

}  // namespace tcpdp
