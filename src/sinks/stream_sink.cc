#include "sinks/stream_sink.h"

#include <cstring>

namespace tcpdp {

namespace {
constexpr size_t kFlushThreshold = 256 * 1024;
}

StreamSink::StreamSink(std::FILE* stream, Format format, bool background)
    : StreamSink(
          [stream] {
            std::vector<std::unique_ptr<Output>> one;
            one.push_back(std::make_unique<StdioOutput>(stream));
            return one;
          }(),
          format, background) {}

StreamSink::StreamSink(std::vector<std::unique_ptr<Output>> outputs, Format format,
                       bool background)
    : outputs_(std::move(outputs)), format_(format), background_(background) {
  if (background_) {
    own_ = lane();
    writer_ = std::thread([this] { run(); });
  }
}

StreamSink::~StreamSink() {
  flush();
  if (background_) {
    own_.reset();
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    changed_.notify_all();
    writer_.join();
  }
}

char* StreamSink::room(size_t n) {
  if (used_ + n > capacity_) {
    const size_t want = std::max(used_ + n, kFlushThreshold * 2);
    auto bigger = std::make_unique_for_overwrite<char[]>(want);
    if (used_) std::memcpy(bigger.get(), buffer_.get(), used_);
    buffer_ = std::move(bigger);
    capacity_ = want;
  }
  return buffer_.get() + used_;
}

void StreamSink::format(std::string_view encoded) {
  for (RecordTap* tap : taps_) tap->take(encoded);
  if (outputs_.empty()) return;
  if (format_ == Format::kJson) {
    char* end = write_json(encoded, room(json_bound(encoded)));
    used_ = static_cast<size_t>(end - buffer_.get());
  } else {
    scratch_.clear();
    append_formatted(encoded, format_, scratch_);
    std::memcpy(room(scratch_.size()), scratch_.data(), scratch_.size());
    used_ += scratch_.size();
  }
}

void StreamSink::write_out() {
  if (reopen_.exchange(false)) {
    for (auto& out : outputs_) out->reopen();
  }
  if (used_ > 0 && ok()) {
    for (auto& out : outputs_) {
      if (!out->write(buffer_.get(), used_) || !out->flush()) ok_ = false;
    }
  }
  used_ = 0;
}

void StreamSink::write(const Record& record) {
  if (!background_) {
    format(record.encoded());
    if (used_ >= kFlushThreshold) write_out();
    return;
  }
  own_->write(record);
}

StreamSink::Lane::Lane(StreamSink& sink) : sink_(sink), filling_(new_batch()) {}

StreamSink::Lane::~Lane() { flush(); }

void StreamSink::Lane::write(const Record& record) {
  Batch& b = *filling_;
  const std::string_view encoded = record.encoded();
  const auto n = static_cast<uint32_t>(encoded.size());
  b.bytes.append(reinterpret_cast<const char*>(&n), sizeof n);
  b.bytes.append(encoded);
  ++b.records;
  for (const GroupRef& g : record.groups()) {
    const FieldGroup*& slot = b.held[(reinterpret_cast<uintptr_t>(g.get()) >> 6) % b.held.size()];
    if (slot != g.get()) {
      slot = g.get();
      b.groups.push_back(g);
    }
  }
  if (b.bytes.size() >= kBatchBytes || b.groups.size() >= kBatchGroups) submit();
}

void StreamSink::Lane::submit(bool must_keep) {
  last_submit_ = std::chrono::steady_clock::now();
  filling_ = sink_.hand_over(std::move(filling_), must_keep);
}

void StreamSink::Lane::tick() {
  if (!filling_->bytes.empty() &&
      std::chrono::steady_clock::now() - last_submit_ >= std::chrono::seconds(1)) {
    submit();
  }
}

void StreamSink::Lane::flush() {
  if (!filling_->bytes.empty()) submit(/*must_keep=*/true);
  sink_.wait_written();
}

std::unique_ptr<StreamSink::Batch> StreamSink::new_batch() {
  auto b = std::make_unique<Batch>();
  // Room for a full batch and the record that fills it, so it never doubles on the way.
  b->bytes.reserve(kBatchBytes + kBatchSlack);
  return b;
}

void StreamSink::tick() {
  if (background_) {
    own_->tick();
  } else {
    write_out();
  }
}

void StreamSink::reopen() {
  reopen_ = true;
  if (!background_) {
    write_out();
    return;
  }
  std::lock_guard lock(mutex_);  // the writer reopens even when nothing is being written
  changed_.notify_all();
}

std::unique_ptr<StreamSink::Batch> StreamSink::hand_over(std::unique_ptr<Batch> full,
                                                        bool must_keep) {
  std::unique_lock lock(mutex_);
  if (when_full_ == WhenFull::kDrop && !must_keep && queued_.size() >= kMaxQueued) {
    dropped_.fetch_add(full->records, std::memory_order_relaxed);
    full->clear();
    return full;
  }
  changed_.wait(lock, [this] { return queued_.size() < kMaxQueued; });
  queued_.push_back(std::move(full));
  changed_.notify_all();
  if (spare_.empty()) return new_batch();
  std::unique_ptr<Batch> empty = std::move(spare_.back());
  spare_.pop_back();
  return empty;
}

void StreamSink::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    changed_.wait(lock, [this] { return !queued_.empty() || stopping_ || reopen_; });
    if (queued_.empty()) {
      if (stopping_) return;
      lock.unlock();
      write_out();  // a reopen asked for while idle
      lock.lock();
      continue;
    }
    std::unique_ptr<Batch> batch = std::move(queued_.front());
    queued_.pop_front();
    writing_ = true;
    lock.unlock();
    const std::string& bytes = batch->bytes;
    for (size_t at = 0; at < bytes.size();) {
      uint32_t n;
      std::memcpy(&n, bytes.data() + at, sizeof n);
      format({bytes.data() + at + sizeof n, n});
      at += sizeof n + n;
      if (used_ >= kFlushThreshold) write_out();
    }
    write_out();
    batch->clear();
    lock.lock();
    spare_.push_back(std::move(batch));
    writing_ = false;
    changed_.notify_all();
  }
}

void StreamSink::flush() {
  if (background_) {
    own_->flush();
  } else {
    write_out();
  }
}

void StreamSink::wait_written() {
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [this] { return queued_.empty() && !writing_; });
}

}  // namespace tcpdp
