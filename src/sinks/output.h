/// Where a sink's formatted bytes go: standard output (or any stdio stream), or a rotating log
/// file. Only the sink's writer thread calls them.
#pragma once

#include <cstdio>
#include <memory>

#include "sinks/rotating_file.h"

namespace tcpdp {

class Output {
 public:
  virtual ~Output() = default;
  /// False once the output cannot take more (a closed pipe); a log file never says so: it
  /// reports its troubles and counts what it loses.
  virtual bool write(const char* data, size_t n) = 0;
  virtual bool flush() = 0;
  /// Closes and opens the file again (SIGHUP); nothing for a stream.
  virtual void reopen() {}
};

class StdioOutput : public Output {
 public:
  explicit StdioOutput(std::FILE* stream) : stream_(stream) {}
  bool write(const char* data, size_t n) override {
    return std::fwrite(data, 1, n, stream_) == n;
  }
  bool flush() override { return std::fflush(stream_) == 0; }

 private:
  std::FILE* stream_;
};

class FileOutput : public Output {
 public:
  explicit FileOutput(std::unique_ptr<RotatingFile> file) : file_(std::move(file)) {}
  bool write(const char* data, size_t n) override {
    file_->write(data, n);
    return true;
  }
  bool flush() override {
    file_->flush();
    return true;
  }
  void reopen() override { file_->reopen(); }

 private:
  std::unique_ptr<RotatingFile> file_;
};

}  // namespace tcpdp
