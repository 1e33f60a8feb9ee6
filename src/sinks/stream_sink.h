/// A RecordSink that formats records onto outputs (stdout for `tcpdp read`; log files and
/// stdout for the long-running modes), buffered.
///
/// With `background`, a second thread formats and writes: write() only copies the record's
/// bytes into a batch and hands full batches over. At most kMaxQueued batches wait, so memory
/// stays bounded and the caller waits when the writer falls behind; records come out in the
/// order they were written. Several threads may write to one background sink, each through its
/// own Lane: a lane fills its own batch (no lock per record) and hands it over whole, so each
/// lane's records stay in order and lanes interleave batch by batch.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/record.h"
#include "sinks/format.h"
#include "sinks/output.h"

namespace tcpdp {

/// Sees every record a StreamSink writes, on the thread that writes it out (the PostgreSQL
/// sink). `encoded` is Record::encoded(), good during the call.
class RecordTap {
 public:
  virtual ~RecordTap() = default;
  virtual void take(std::string_view encoded) = 0;
};

class StreamSink : public RecordSink {
 public:
  StreamSink(std::FILE* stream, Format format, bool background = false);
  /// Every output gets the same formatted bytes.
  StreamSink(std::vector<std::unique_ptr<Output>> outputs, Format format, bool background);
  ~StreamSink() override;

  void write(const Record& record) override;
  /// Everything written so far is on the outputs when this returns.
  void flush() override;
  /// For a producer that may fall silent: hands over what it wrote if a second has passed since
  /// the last hand-over, so records reach the outputs within about a second.
  void tick();
  /// Has the outputs closed and opened again (SIGHUP), by the thread that writes them.
  void reopen();
  /// False once a write to an output failed (a closed pipe).
  bool ok() const { return ok_.load(std::memory_order_relaxed); }
  /// Every record written from now on is also handed to `tap` (which must outlive the sink's
  /// writing). Set before anything is written.
  void add_tap(RecordTap* tap) { taps_.push_back(tap); }

  /// Background sinks: what a writer does when kMaxQueued batches already wait. kWait (the
  /// default) waits for the writer; kDrop throws its batch away and counts the records (but
  /// flush() always waits: what is flushed is written).
  enum class WhenFull { kWait, kDrop };
  void set_when_full(WhenFull w) { when_full_ = w; }
  uint64_t dropped_records() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  struct Batch;

 public:
  /// One producer thread's way into a background sink; write(), tick() and flush() as the
  /// sink's own. Lanes must go before their sink.
  class Lane : public RecordSink {
   public:
    explicit Lane(StreamSink& sink);
    ~Lane() override;
    void write(const Record& record) override;
    void flush() override;
    void tick();

   private:
    void submit(bool must_keep = false);
    StreamSink& sink_;
    std::unique_ptr<Batch> filling_;
    std::chrono::steady_clock::time_point last_submit_ = std::chrono::steady_clock::now();
  };
  /// A new lane (background sinks only).
  std::unique_ptr<Lane> lane() { return std::make_unique<Lane>(*this); }

 private:
  struct Batch {
    std::string bytes;  // records back to back, each a 32-bit length and its encoding
    size_t records = 0;
    std::vector<GroupRef> groups;  // the groups the encodings point at, held until written
    // Groups this batch already holds, by address: most records need no new reference.
    std::array<const FieldGroup*, 64> held{};
    void clear() {
      bytes.clear();
      records = 0;
      groups.clear();
      held.fill(nullptr);
    }
  };
  static constexpr size_t kBatchBytes = 1024 * 1024;
  static constexpr size_t kBatchSlack = 64 * 1024;
  // A batch keeps the groups of its records alive (a connection's, after it closed): this many
  // at most.
  static constexpr size_t kBatchGroups = 1024;
  static constexpr size_t kMaxQueued = 2;

  void format(std::string_view encoded);  // onto the end of the output buffer
  char* room(size_t n);                   // space for n more bytes at the end of the buffer
  void write_out();                       // the output buffer to the stream
  static std::unique_ptr<Batch> new_batch();
  // Queues a lane's full batch for the writer; gives back an empty one. With kDrop and the
  // queue full, the batch is thrown away instead, unless `must_keep` (a flush: never lost).
  std::unique_ptr<Batch> hand_over(std::unique_ptr<Batch> full, bool must_keep);
  void wait_written();                    // until every queued batch is on the outputs
  void run();                             // the writer thread

  std::vector<std::unique_ptr<Output>> outputs_;
  std::vector<RecordTap*> taps_;
  Format format_;
  // The output buffer, filled by whoever formats (the writer thread, with `background`).
  // JSON is written straight into it (no zero-filling, no per-character checks).
  std::unique_ptr<char[]> buffer_;
  size_t used_ = 0;
  size_t capacity_ = 0;
  std::string scratch_;  // the other formats are built here first
  std::atomic<bool> ok_{true};

  // Background mode.
  bool background_;
  std::unique_ptr<Lane> own_;  // write(), tick() and flush() of the sink itself
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<std::unique_ptr<Batch>> queued_;  // oldest first
  std::vector<std::unique_ptr<Batch>> spare_;
  bool writing_ = false;
  bool stopping_ = false;
  std::atomic<bool> reopen_{false};
  WhenFull when_full_ = WhenFull::kWait;
  std::atomic<uint64_t> dropped_{0};
  std::thread writer_;
};

}  // namespace tcpdp
