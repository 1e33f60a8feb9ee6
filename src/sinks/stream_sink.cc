#include "sinks/stream_sink.h"

namespace tcpdp {

namespace {
constexpr size_t kFlushThreshold = 256 * 1024;
}

void StreamSink::write(Record record) {
  append_formatted(record, format_, buffer_);
  ++records_;
  if (buffer_.size() >= kFlushThreshold) flush();
}

void StreamSink::flush() {
  if (!buffer_.empty() && ok_) {
    ok_ = std::fwrite(buffer_.data(), 1, buffer_.size(), stream_) == buffer_.size();
  }
  buffer_.clear();
  if (ok_) ok_ = std::fflush(stream_) == 0;
}

}  // namespace tcpdp
