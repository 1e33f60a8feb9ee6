#include "sinks/stream_sink.h"

#include <doctest/doctest.h>

#include <cstdio>
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
