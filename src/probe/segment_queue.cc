#include "probe/segment_queue.h"

#include <bit>

namespace tcpdp {

namespace {
size_t padded(size_t n, size_t align) { return (n + align - 1) / align * align; }
}  // namespace

SegmentQueue::SegmentQueue(size_t bytes, size_t max_segments, size_t max_payload)
    : max_segments_(std::max<size_t>(max_segments, 1)) {
  const size_t largest = padded(sizeof(Header) + max_payload, kAlign);
  capacity_ = std::bit_ceil(std::max(bytes, 2 * largest));
  // Not zeroed: pages are only touched as the ring first fills.
  ring_ = std::make_unique_for_overwrite<uint8_t[]>(capacity_);
}

bool SegmentQueue::push(const TcpSegment& seg) {
  const uint64_t head = head_.load(std::memory_order_relaxed);
  if (pushed_.load(std::memory_order_relaxed) - popped_.load(std::memory_order_acquire) >=
      max_segments_) {
    return false;
  }
  const size_t size = padded(sizeof(Header) + seg.payload.size(), kAlign);
  const size_t at = head & (capacity_ - 1);
  const size_t skip = capacity_ - at < size ? capacity_ - at : 0;
  const uint64_t used = head - tail_.load(std::memory_order_acquire);
  if (used + skip + size > capacity_) return false;
  if (skip) {
    const uint32_t zero = 0;  // entries are kAlign-aligned, so the size field always fits
    std::memcpy(ring_.get() + at, &zero, sizeof zero);
  }
  uint8_t* entry = ring_.get() + (head + skip) % capacity_;
  const Header h{static_cast<uint32_t>(size), static_cast<uint32_t>(seg.payload.size()), seg};
  std::memcpy(entry, &h, sizeof h);
  if (!seg.payload.empty()) std::memcpy(entry + sizeof h, seg.payload.data(), seg.payload.size());
  head_.store(head + skip + size, std::memory_order_release);
  pushed_.store(pushed_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  return true;
}

void SegmentQueue::notify() {
  // Pairs with the fence in wait(): either the consumer sees the new head before it sleeps, or
  // this sees it waiting and wakes it.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (waiting_.load(std::memory_order_relaxed)) {
    std::lock_guard lock(mutex_);
    wake_.notify_one();
  }
}

void SegmentQueue::close() {
  closed_.store(true, std::memory_order_release);
  std::lock_guard lock(mutex_);
  wake_.notify_one();
}

void SegmentQueue::wait(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  waiting_.store(true, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  if (head_.load(std::memory_order_acquire) == tail_.load(std::memory_order_relaxed) &&
      !closed_.load(std::memory_order_acquire)) {
    wake_.wait_for(lock, timeout);
  }
  waiting_.store(false, std::memory_order_relaxed);
}

}  // namespace tcpdp
