#include "tcptrack/reassembler.h"

#include <algorithm>

namespace tcpdp {

void Reassembler::start(uint32_t first_seq) {
  started_ = true;
  base_seq_ = first_seq;
  next_ = 0;
}

int64_t Reassembler::offset_of(uint32_t seq) const {
  // Sequence numbers wrap at 2^32; a signed distance from the next expected byte is exact for
  // anything within 2 GB of it, which is far beyond any window.
  const uint32_t next_seq = base_seq_ + static_cast<uint32_t>(next_);
  return static_cast<int64_t>(next_) + static_cast<int32_t>(seq - next_seq);
}

void Reassembler::emit_gap(Timestamp ts, uint64_t n, StreamOutput& out) {
  if (n == 0) return;
  ++stats_.gaps;
  stats_.gap_bytes += n;
  next_ += n;
  out.gap(ts, n);
}

void Reassembler::deliver(Timestamp ts, int64_t at, std::span<const uint8_t> payload,
                          uint32_t captured, uint32_t missing, StreamOutput& out) {
  const uint64_t skip = next_ - static_cast<uint64_t>(at);  // caller guarantees at <= next_
  stats_.duplicate_bytes += skip;
  if (skip < captured) {
    const uint64_t n = captured - skip;
    if (keep_data_) out.data(ts, payload.subspan(skip));
    next_ += n;
    stats_.delivered_bytes += n;
  }
  const uint64_t end = static_cast<uint64_t>(at) + captured + missing;
  if (end > next_) emit_gap(ts, end - next_, out);
}

void Reassembler::segment(Timestamp ts, uint32_t seq, std::span<const uint8_t> payload,
                          uint32_t missing, bool fin, StreamOutput& out) {
  if (!started_) start(seq);
  const auto captured = static_cast<uint32_t>(payload.size());
  const int64_t at = offset_of(seq);
  const int64_t end = at + captured + missing;
  if (fin && !fin_at_ && end >= 0) fin_at_ = static_cast<uint64_t>(end);
  if (captured + missing == 0) {  // a bare FIN: what the peer acknowledged before it is settled
    fill_acked_hole(ts, out);
    return;
  }
  if (end <= static_cast<int64_t>(next_)) {
    stats_.duplicate_bytes += captured + missing;
    return;
  }
  if (at > static_cast<int64_t>(next_)) {
    ++stats_.out_of_order_segments;
    Held h{ts, {}, captured, missing};
    if (keep_data_) h.data.assign(payload.begin(), payload.end());
    auto [it, inserted] = held_.try_emplace(static_cast<uint64_t>(at), std::move(h));
    if (!inserted) {
      // Two segments start at the same place: keep the longer, the other adds nothing new.
      if (it->second.end(it->first) < static_cast<uint64_t>(end)) {
        held_bytes_ -= it->second.captured;
        it->second = Held{ts, {}, captured, missing};
        if (keep_data_) it->second.data.assign(payload.begin(), payload.end());
      } else {
        stats_.duplicate_bytes += captured + missing;
        return;
      }
    }
    held_bytes_ += captured;
    fill_acked_hole(ts, out);
    enforce_limits(ts, out);
    return;
  }
  deliver(ts, at, payload, captured, missing, out);
  drain(out);
}

void Reassembler::drain(StreamOutput& out) {
  while (!held_.empty() && held_.begin()->first <= next_) {
    auto node = held_.extract(held_.begin());
    Held& h = node.mapped();
    held_bytes_ -= h.captured;
    if (h.end(node.key()) <= next_) {
      stats_.duplicate_bytes += h.captured + h.missing;
      continue;
    }
    deliver(h.ts, static_cast<int64_t>(node.key()), h.data, h.captured, h.missing, out);
  }
}

void Reassembler::fill_acked_hole(Timestamp ts, StreamOutput& out) {
  while (!held_.empty() && max_acked_ >= static_cast<int64_t>(held_.begin()->first)) {
    emit_gap(ts, held_.begin()->first - next_, out);
    drain(out);
  }
  // Nothing held, and the peer acknowledged every byte up to the FIN: the capture missed the
  // rest of the stream, and nothing more can come before the FIN.
  if (held_.empty() && fin_at_ && next_ < *fin_at_ &&
      max_acked_ >= static_cast<int64_t>(*fin_at_)) {
    emit_gap(ts, *fin_at_ - next_, out);
  }
}

void Reassembler::enforce_limits(Timestamp ts, StreamOutput& out) {
  while (!held_.empty() &&
         (held_bytes_ > limits_.max_held_bytes || held_.size() > limits_.max_held_segments)) {
    ++stats_.forced_gaps;
    emit_gap(ts, held_.begin()->first - next_, out);
    drain(out);
  }
}

void Reassembler::peer_ack(Timestamp ts, uint32_t ack, StreamOutput& out) {
  if (!started_) return;
  max_acked_ = std::max(max_acked_, offset_of(ack));
  fill_acked_hole(ts, out);
}

void Reassembler::flush(Timestamp ts, StreamOutput& out) {
  while (!held_.empty()) {
    emit_gap(ts, held_.begin()->first - next_, out);
    drain(out);
  }
  if (fin_at_ && next_ < *fin_at_) emit_gap(ts, *fin_at_ - next_, out);
}

}  // namespace tcpdp
