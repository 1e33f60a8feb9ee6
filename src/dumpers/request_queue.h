/// The requests of one connection in the order the client sent them, each written once it is
/// done (answered, or never to be): records come out in client order, with their outcomes.
/// Bounded: past `max_pending`, the oldest request still waiting is written as it is.
#pragma once

#include <cstddef>
#include <deque>

#include "common/record.h"

namespace tcpdp {

/// Request needs a `Record rec` and a `bool done`.
template <typename Request>
class RequestQueue {
 public:
  RequestQueue(RecordSink& sink, size_t max_pending) : sink_(sink), max_pending_(max_pending) {}

  /// A new request at the end. Call flush() afterwards: the bound may have given one up.
  Request& push() {
    if (requests_.size() >= max_pending_) {
      if (Request* oldest = waiting()) oldest->done = true;
    }
    return requests_.emplace_back();
  }

  /// A record that answers nothing, to be written after everything queued before it.
  void push_done(Record record) {
    Request& r = requests_.emplace_back();
    r.rec = std::move(record);
    r.done = true;
  }

  /// The oldest request still waiting for its answer.
  Request* waiting() {
    for (Request& r : requests_) {
      if (!r.done) return &r;
    }
    return nullptr;
  }

  /// Writes the done requests at the front; `forget(request)` is called before each goes, so
  /// the caller can drop pointers to it.
  template <typename Forget>
  void flush(Forget&& forget) {
    while (!requests_.empty() && requests_.front().done) {
      forget(requests_.front());
      sink_.write(std::move(requests_.front().rec));
      requests_.pop_front();
    }
  }

  auto begin() { return requests_.begin(); }
  auto end() { return requests_.end(); }

 private:
  RecordSink& sink_;
  size_t max_pending_;
  std::deque<Request> requests_;
};

}  // namespace tcpdp
