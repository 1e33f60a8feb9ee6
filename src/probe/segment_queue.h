/// A bounded queue of TCP segments, payload included, from one producer thread (the capture
/// thread) to one consumer thread (a decode worker): one block of memory used as a ring, no
/// allocation and no lock per segment.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <type_traits>

#include "packet/segment.h"

namespace tcpdp {

class SegmentQueue {
 public:
  /// Room for `bytes` of segments (rounded up to a power of two, at least two of the largest,
  /// whose payload is `max_payload`) and at most `max_segments` of them.
  SegmentQueue(size_t bytes, size_t max_segments, size_t max_payload);

  // Producer side.
  /// False, and nothing queued, when there is no room.
  bool push(const TcpSegment& seg);
  /// Wakes the consumer if it waits; after a batch of pushes.
  void notify();
  /// No more pushes: the consumer takes what is left, then sees drained().
  void close();

  // Consumer side.
  /// Hands up to `max` queued segments, oldest first, to `f`; their payload stays valid until
  /// `f` returns. Returns how many.
  template <typename F>
  size_t pop(F&& f, size_t max);
  /// Until something is queued, close() was called, or `timeout` passed.
  void wait(std::chrono::milliseconds timeout);
  /// Closed and empty: nothing will come any more.
  bool drained() const {
    return closed_.load(std::memory_order_acquire) &&
           head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_relaxed);
  }

  size_t capacity() const { return capacity_; }

 private:
  // Each entry: this header, then the payload, padded to kAlign. size 0 marks the rest of the
  // ring as unused: the next entry starts at its beginning.
  struct Header {
    uint32_t size;
    uint32_t payload;
    TcpSegment seg;  // its payload span is set again when popped
  };
  static_assert(std::is_trivially_copyable_v<TcpSegment>);
  static constexpr size_t kAlign = alignof(Header);

  std::unique_ptr<uint8_t[]> ring_;
  size_t capacity_;
  size_t max_segments_;

  alignas(64) std::atomic<uint64_t> head_{0};  // bytes ever written (producer)
  std::atomic<uint64_t> pushed_{0};            // segments ever written (producer)
  alignas(64) std::atomic<uint64_t> tail_{0};  // bytes ever consumed (consumer)
  std::atomic<uint64_t> popped_{0};            // segments ever consumed (consumer)
  alignas(64) std::atomic<bool> waiting_{false};
  std::atomic<bool> closed_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
};

template <typename F>
size_t SegmentQueue::pop(F&& f, size_t max) {
  const uint64_t head = head_.load(std::memory_order_acquire);
  uint64_t tail = tail_.load(std::memory_order_relaxed);
  size_t n = 0;
  while (tail != head && n < max) {
    const size_t at = tail & (capacity_ - 1);
    uint32_t size;  // a marker at the ring's end may be followed by less than a header
    std::memcpy(&size, ring_.get() + at, sizeof size);
    if (size == 0) {  // skip to the start of the ring
      tail += capacity_ - at;
      continue;
    }
    Header h;
    std::memcpy(&h, ring_.get() + at, sizeof h);
    h.seg.payload = {ring_.get() + at + sizeof h, h.payload};
    f(static_cast<const TcpSegment&>(h.seg));
    tail += h.size;
    ++n;
    tail_.store(tail, std::memory_order_release);
    popped_.fetch_add(1, std::memory_order_release);
  }
  tail_.store(tail, std::memory_order_release);
  return n;
}

}  // namespace tcpdp
