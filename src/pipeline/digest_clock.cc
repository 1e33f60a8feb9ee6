#include "pipeline/digest_clock.h"

#include <algorithm>
#include <ctime>

namespace tcpdp {
namespace {

Timestamp wall_now() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return Timestamp::from_parts(t.tv_sec, t.tv_nsec / 1000);
}

}  // namespace

DigestClock::DigestClock(std::chrono::milliseconds every, size_t max_classes, StreamSink& dump)
    : digest_(max_classes),
      every_(std::max(every, std::chrono::milliseconds(1))),
      dump_(dump),
      next_(std::chrono::steady_clock::now() + every_),
      from_(wall_now()) {
  dump_.add_tap(&digest_);
}

void DigestClock::emit() {
  const Timestamp to = wall_now();
  digest_.emit(dump_, from_, to);
  from_ = to;
}

void DigestClock::tick() {
  const auto now = std::chrono::steady_clock::now();
  if (now < next_) return;
  while (next_ <= now) next_ += every_;  // after a stall, one interval, not a burst
  emit();
  dump_.tick();
}

void DigestClock::finish() {
  dump_.flush();  // every record through the digest first
  emit();
}

}  // namespace tcpdp
