#include "sinks/stream_sink.h"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <future>
#include <sstream>
#include <thread>

using tcpdp::Format;
using tcpdp::Record;
using tcpdp::StreamSink;

TEST_CASE("lanes: several threads write at once; each thread's records all come out, in order") {
  constexpr int kThreads = 3;
  constexpr int kRecords = 50000;
  std::FILE* file = std::tmpfile();
  REQUIRE(file);
  {
    StreamSink sink(file, Format::kLtsv, /*background=*/true);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&sink, t] {
        auto lane = sink.lane();
        Record r;
        for (int i = 0; i < kRecords; ++i) {
          r.clear();
          r.add("thread", t);
          r.add("n", i);
          lane->write(r);
          if (i % 10000 == 0) lane->tick();
        }
      });
    }
    for (auto& th : threads) th.join();
  }  // the lanes flushed when they went, the sink when it goes
  std::rewind(file);
  int next[kThreads] = {};
  bool in_order = true;
  int lines = 0;
  char line[64];
  while (std::fgets(line, sizeof line, file)) {
    int t = -1, n = -1;
    REQUIRE(std::sscanf(line, "thread:%d\tn:%d", &t, &n) == 2);
    REQUIRE(t >= 0);
    REQUIRE(t < kThreads);
    in_order = in_order && n == next[t];
    next[t] = n + 1;
    ++lines;
  }
  std::fclose(file);
  CHECK(in_order);
  CHECK(lines == kThreads * kRecords);
}

TEST_CASE("kDrop: a writer that falls behind costs records, counted, never a wait") {
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  std::FILE* out = fdopen(fds[1], "w");
  std::FILE* in = fdopen(fds[0], "r");
  constexpr int kRecords = 300000;  // some 7 MB: far more than the pipe and the queue hold
  uint64_t dropped = 0;
  int lines = 0;
  {
    StreamSink sink(out, Format::kLtsv, /*background=*/true);
    sink.set_when_full(StreamSink::WhenFull::kDrop);
    std::promise<void> written;
    std::thread writer([&] {
      auto lane = sink.lane();
      Record r;
      for (int i = 0; i < kRecords; ++i) {
        r.clear();
        r.add("n", i);
        r.add("pad", "xxxxxxxxxxxx");
        lane->write(r);
      }
      written.set_value();  // before the lane's flush, which waits for the writer
    });
    // Nobody reads the pipe yet, so the sink's writer is stuck: the records must still go.
    const bool in_time =
        written.get_future().wait_for(std::chrono::seconds(20)) == std::future_status::ready;
    CHECK(in_time);
    std::thread reader([&] {
      char line[64];
      while (std::fgets(line, sizeof line, in)) ++lines;
    });
    writer.join();
    dropped = sink.dropped_records();
    sink.flush();
    std::fclose(out);  // after the sink's last write (the sink does not own the stream)
    reader.join();
  }
  std::fclose(in);
  CHECK(dropped > 0);
  CHECK(static_cast<uint64_t>(lines) + dropped == kRecords);
}
