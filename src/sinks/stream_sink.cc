#include "sinks/stream_sink.h"

#include <cstring>

namespace tcpdp {

namespace {
constexpr size_t kFlushThreshold = 256 * 1024;
}

char* StreamSink::room(size_t n) {
  if (used_ + n > capacity_) {
    const size_t want = std::max(used_ + n, kFlushThreshold * 2);
    auto bigger = std::make_unique<char[]>(want);
    if (used_) std::memcpy(bigger.get(), buffer_.get(), used_);
    buffer_ = std::move(bigger);
    capacity_ = want;
  }
  return buffer_.get() + used_;
}

void StreamSink::write(const Record& record) {
  if (format_ == Format::kJson) {
    char* end = write_json(record, room(json_bound(record)));
    used_ = static_cast<size_t>(end - buffer_.get());
  } else {
    scratch_.clear();
    append_formatted(record, format_, scratch_);
    std::memcpy(room(scratch_.size()), scratch_.data(), scratch_.size());
    used_ += scratch_.size();
  }
  ++records_;
  if (used_ >= kFlushThreshold) flush();
}

void StreamSink::flush() {
  if (used_ > 0 && ok_) ok_ = std::fwrite(buffer_.get(), 1, used_, stream_) == used_;
  used_ = 0;
  if (ok_) ok_ = std::fflush(stream_) == 0;
}

}  // namespace tcpdp
