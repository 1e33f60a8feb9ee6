/// probe's and proxy's --digest-interval: a digest of what dump.log's sink writes, emitted into
/// it as `event: digest` records every interval and at the stop.
#pragma once

#include <chrono>
#include <cstddef>

#include "common/timestamp.h"
#include "digest/digest.h"
#include "sinks/stream_sink.h"

namespace tcpdp {

class DigestClock {
 public:
  /// Taps `dump` from now on; the first interval starts now.
  DigestClock(std::chrono::milliseconds every, size_t max_classes, StreamSink& dump);

  /// From the one thread that uses the dump sink's own write() and flush(): emits the digest
  /// records when an interval has passed.
  void tick();
  /// After every record has gone through the sink: the last, partial interval.
  void finish();

 private:
  void emit();

  Digest digest_;
  std::chrono::milliseconds every_;
  StreamSink& dump_;
  std::chrono::steady_clock::time_point next_;
  Timestamp from_;
};

}  // namespace tcpdp
