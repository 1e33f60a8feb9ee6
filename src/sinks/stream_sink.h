/// A RecordSink that formats records onto a stdio stream (stdout for `tcpdp read`), buffered.
#pragma once

#include <cstdio>
#include <memory>
#include <string>

#include "common/record.h"
#include "sinks/format.h"

namespace tcpdp {

class StreamSink : public RecordSink {
 public:
  StreamSink(std::FILE* stream, Format format) : stream_(stream), format_(format) {}
  ~StreamSink() override { flush(); }

  void write(const Record& record) override;
  void flush() override;
  /// False once a write to the stream failed (a closed pipe, a full disk).
  bool ok() const { return ok_; }
  uint64_t records() const { return records_; }

 private:
  char* room(size_t n);  // space for n more bytes at the end of the buffer

  std::FILE* stream_;
  Format format_;
  // JSON is written straight into this buffer (no zero-filling, no per-character checks).
  std::unique_ptr<char[]> buffer_;
  size_t used_ = 0;
  size_t capacity_ = 0;
  std::string scratch_;  // the other formats are built here first
  bool ok_ = true;
  uint64_t records_ = 0;
};

}  // namespace tcpdp
