/// tcpdp.log: the program's own records (start, warnings, statistics, errors), from any thread,
/// each one written out at once.
#pragma once

#include <time.h>

#include <memory>
#include <mutex>
#include <string>

#include "common/record.h"
#include "records/catalogue.h"
#include "sinks/stream_sink.h"

namespace tcpdp {

class ProgramLog {
 public:
  explicit ProgramLog(std::unique_ptr<StreamSink> sink) : sink_(std::move(sink)) {}

  /// A record with ts (now), level and msg; `fill(Record&)` adds the rest.
  template <typename Fill>
  void log(const char* level, const std::string& msg, Fill&& fill) {
    timespec t{};
    clock_gettime(CLOCK_REALTIME, &t);
    std::lock_guard lock(mutex_);
    Record r;
    r.add("ts", Timestamp::from_parts(t.tv_sec, t.tv_nsec / 1000));
    r.add("event", kind_name(RecordKind::kLog));
    r.add("level", level);
    r.add("msg", msg);
    fill(r);
    sink_->write(r);
    sink_->flush();
  }
  void log(const char* level, const std::string& msg) {
    log(level, msg, [](Record&) {});
  }
  void reopen() {
    std::lock_guard lock(mutex_);
    sink_->reopen();
  }

 private:
  std::mutex mutex_;
  std::unique_ptr<StreamSink> sink_;
};

}  // namespace tcpdp
