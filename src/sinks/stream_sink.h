/// A RecordSink that formats records onto a stdio stream (stdout for `tcpdp read`), buffered.
#pragma once

#include <cstdio>
#include <string>

#include "common/record.h"
#include "sinks/format.h"

namespace tcpdp {

class StreamSink : public RecordSink {
 public:
  StreamSink(std::FILE* stream, Format format) : stream_(stream), format_(format) {}
  ~StreamSink() override { flush(); }

  void write(Record record) override;
  void flush() override;
  /// False once a write to the stream failed (a closed pipe, a full disk).
  bool ok() const { return ok_; }
  uint64_t records() const { return records_; }

 private:
  std::FILE* stream_;
  Format format_;
  std::string buffer_;
  bool ok_ = true;
  uint64_t records_ = 0;
};

}  // namespace tcpdp
