/// `tcpdp read`'s progress line and closing statistics on stderr: counted from the records as
/// they are written (a RecordTap), the rest asked of the reader and the tracker.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string_view>

#include "sinks/stream_sink.h"

namespace tcpdp {

class ReadProgress : public RecordTap {
 public:
  /// `live`: a progress line, redrawn twice a second (stderr is a terminal).
  explicit ReadProgress(bool live) : live_(live) {}

  void take(std::string_view encoded) override;

  struct Reading {
    uint64_t position = 0;  // bytes of the file read
    uint64_t size = 0;      // the file's size; 0 when unknown (standard input)
    uint64_t packets = 0;
    uint64_t connections = 0;
  };
  /// Called for every packet; every 1024th call asks `now()` for a Reading and draws the line
  /// when half a second has passed since the last.
  template <typename Now>
  void tick(Now&& now) {
    if (live_ && ++calls_ % 1024 == 0) draw(now(), false);
  }
  /// Clears the line and writes the statistics: packets, bytes, connections, records, gaps,
  /// decode errors, TLS connections skipped.
  void finish(const Reading& end, uint64_t gaps);

 private:
  void draw(const Reading& now, bool force);

  bool live_;
  uint64_t calls_ = 0;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_draw_ = started_;
  std::atomic<uint64_t> records_{0};
  std::atomic<uint64_t> decode_errors_{0};
  std::atomic<uint64_t> encrypted_{0};
};

}  // namespace tcpdp
