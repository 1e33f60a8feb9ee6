#include "probe/segment_queue.h"

#include <doctest/doctest.h>

#include <random>
#include <thread>
#include <vector>

using tcpdp::SegmentQueue;
using tcpdp::TcpSegment;

namespace {

// A segment whose fields and payload all follow from n, so the consumer can check it.
TcpSegment segment_of(uint32_t n, std::vector<uint8_t>& payload, size_t size) {
  payload.resize(size);
  for (size_t i = 0; i < size; ++i) payload[i] = static_cast<uint8_t>(n * 7 + i);
  TcpSegment seg;
  seg.ts.usec = n;
  seg.seq = n;
  seg.ack = ~n;
  seg.src.port = static_cast<uint16_t>(n);
  seg.missing = n % 3;
  seg.payload = payload;
  return seg;
}

bool matches(const TcpSegment& seg, uint32_t n, size_t size) {
  if (seg.ts.usec != n || seg.seq != n || seg.ack != ~n || seg.src.port != uint16_t(n) ||
      seg.missing != n % 3 || seg.payload.size() != size) {
    return false;
  }
  for (size_t i = 0; i < size; ++i) {
    if (seg.payload[i] != static_cast<uint8_t>(n * 7 + i)) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("segments come out in order, fields and payload intact, across the ring's end") {
  SegmentQueue q(4096, 1000, 1000);
  std::vector<uint8_t> buf;
  uint32_t next_in = 0, next_out = 0;
  // Sizes that do not divide the ring, so entries land on its end and skip to its start.
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 3; ++i, ++next_in) {
      REQUIRE(q.push(segment_of(next_in, buf, 300 + next_in % 200)));
    }
    const size_t popped = q.pop(
        [&](const TcpSegment& seg) {
          CHECK(matches(seg, next_out, 300 + next_out % 200));
          ++next_out;
        },
        100);
    CHECK(popped == 3);
  }
  CHECK(next_out == 150);
}

TEST_CASE("full by bytes or by count: push refuses and queues nothing") {
  std::vector<uint8_t> buf;
  SegmentQueue by_bytes(4096, 1000, 100);
  int pushed = 0;
  while (by_bytes.push(segment_of(pushed, buf, 1000))) ++pushed;
  CHECK(pushed >= 2);
  CHECK(pushed <= 4);  // 4096 bytes hold at most four 1000-byte payloads with their headers
  SegmentQueue by_count(1 << 20, 5, 100);
  for (int i = 0; i < 5; ++i) CHECK(by_count.push(segment_of(i, buf, 10)));
  CHECK_FALSE(by_count.push(segment_of(5, buf, 10)));
  int n = 0;
  by_count.pop([&](const TcpSegment& seg) { CHECK(matches(seg, n++, 10)); }, 1);
  CHECK(by_count.push(segment_of(5, buf, 10)));  // room again once one is taken
  by_count.pop([&](const TcpSegment& seg) { CHECK(matches(seg, n++, 10)); }, 100);
  CHECK(n == 6);
}

TEST_CASE("drained only once closed and empty; wait returns on close") {
  std::vector<uint8_t> buf;
  SegmentQueue q(4096, 10, 100);
  CHECK(q.push(segment_of(1, buf, 0)));
  q.close();
  CHECK_FALSE(q.drained());
  CHECK(q.pop([](const TcpSegment&) {}, 10) == 1);
  CHECK(q.drained());
  const auto start = std::chrono::steady_clock::now();
  q.wait(std::chrono::seconds(5));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
}

TEST_CASE("two threads: a million segments of random sizes, none lost, reordered or damaged") {
  constexpr uint32_t kCount = 1000000;
  SegmentQueue q(64 * 1024, 64, 2000);
  std::thread producer([&] {
    std::vector<uint8_t> buf;
    std::mt19937 rng(7);
    for (uint32_t n = 0; n < kCount; ++n) {
      const TcpSegment seg = segment_of(n, buf, (n * 2654435761u) % 2001);
      while (!q.push(seg)) {
        q.notify();
        std::this_thread::yield();
      }
      if (rng() % 16 == 0) q.notify();
    }
    q.close();
  });
  uint32_t next = 0;
  bool all_match = true;
  while (!q.drained()) {
    if (q.pop(
            [&](const TcpSegment& seg) {
              all_match = all_match && matches(seg, next, (next * 2654435761u) % 2001);
              ++next;
            },
            256) == 0) {
      q.wait(std::chrono::milliseconds(10));
    }
  }
  producer.join();
  CHECK(all_match);
  CHECK(next == kCount);
}
