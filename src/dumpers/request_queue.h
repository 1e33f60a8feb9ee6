/// The requests of one connection in the order the client sent them, each written once it is
/// done (answered, or never to be): records come out in client order, with their outcomes.
/// Bounded: past `max_pending`, the oldest request still waiting is written as it is.
///
/// Requests live in a ring of slots that are reused, records and all, so a steady stream of
/// requests allocates nothing; a request stays at the same address while it is queued.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

#include "common/record.h"

namespace tcpdp {

/// State is what a dumper keeps of a request (default-constructible, move-assignable); the
/// queue adds the record and whether the request is done.
template <typename State>
class RequestQueue {
 public:
  struct Request : State {
    Record rec;
    bool done = false;
  };

  RequestQueue(RecordSink& sink, size_t max_pending) : sink_(sink), max_pending_(max_pending) {}

  /// A new request at the end, its record empty. Call flush() afterwards: the bound may have
  /// given one up.
  Request& push() {
    if (size_ >= max_pending_) {
      if (Request* oldest = waiting()) oldest->done = true;
    }
    if (size_ == slots_.size()) grow();
    std::unique_ptr<Request>& slot = slots_[(head_ + size_) & (slots_.size() - 1)];
    ++size_;
    if (!slot) {
      slot = std::make_unique<Request>();
    } else {
      static_cast<State&>(*slot) = State();
      slot->done = false;
      if (slot->rec.capacity() > kKeepRecordRoom) {
        slot->rec = Record();
      } else {
        slot->rec.clear();
      }
    }
    return *slot;
  }

  /// A record that answers nothing, to be written after everything queued before it.
  void push_done(Record record) {
    Request& r = push();
    r.rec = std::move(record);
    r.done = true;
  }

  /// The oldest request still waiting for its answer.
  Request* waiting() {
    for (Request& r : *this) {
      if (!r.done) return &r;
    }
    return nullptr;
  }

  /// Writes the done requests at the front; `forget(request)` is called before each goes, so
  /// the caller can drop pointers to it.
  template <typename Forget>
  void flush(Forget&& forget) {
    while (size_ > 0 && front().done) {
      forget(front());
      sink_.write(front().rec);
      head_ = (head_ + 1) & (slots_.size() - 1);
      --size_;
    }
  }

  class iterator {
   public:
    iterator(RequestQueue* q, size_t i) : q_(q), i_(i) {}
    Request& operator*() const { return *q_->slots_[(q_->head_ + i_) & (q_->slots_.size() - 1)]; }
    iterator& operator++() {
      ++i_;
      return *this;
    }
    bool operator!=(const iterator& o) const { return i_ != o.i_; }

   private:
    RequestQueue* q_;
    size_t i_;
  };
  iterator begin() { return {this, 0}; }
  iterator end() { return {this, size_}; }

 private:
  // A record whose buffer grew past this (a huge query) gives its room back when reused.
  static constexpr size_t kKeepRecordRoom = 64 * 1024;

  Request& front() { return *slots_[head_]; }

  // Full: the queued requests move to the front of a ring twice the size (the requests
  // themselves stay where they are). The size is always a power of two.
  void grow() {
    std::rotate(slots_.begin(), slots_.begin() + static_cast<std::ptrdiff_t>(head_), slots_.end());
    head_ = 0;
    slots_.resize(std::max<size_t>(8, slots_.size() * 2));
  }

  RecordSink& sink_;
  size_t max_pending_;
  std::vector<std::unique_ptr<Request>> slots_;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace tcpdp
