#include "dumpers/boundary_search.h"

#include <algorithm>
#include <functional>

namespace tcpdp {
std::optional<BoundarySearch::Found> BoundarySearch::feed(std::span<const uint8_t> data,
                                                          const BoundaryRules& rules) {
  // With nothing held the data is searched where it is; otherwise after what is held.
  const bool in_place = buf_.empty();
  if (in_place) {
    view_ = data;
    view_base_ = end_;
  } else {
    buf_.append(reinterpret_cast<const char*>(data.data()), data.size());
    view_ = {reinterpret_cast<const uint8_t*>(buf_.data()), buf_.size()};
    view_base_ = base_;
  }
  end_ += data.size();
  budget_ += kWorkPerByte * data.size();
  // Candidates that waited for these bytes, judged in the order of their offsets.
  std::vector<uint64_t> due;
  while (!queue_.empty() && queue_.front().judge_at <= end_) {
    std::pop_heap(queue_.begin(), queue_.end(), std::greater<>());
    due.push_back(queue_.back().pos);
    queue_.pop_back();
  }
  std::sort(due.begin(), due.end());
  for (const uint64_t pos : due) {
    uint64_t judge_at = 0;
    switch (judge(pos, rules, &judge_at)) {
      case Verdict::kAccept:
        return found(pos, rules, in_place, data.size());
      case Verdict::kReject:
        waiting_.erase(pos);
        break;
      case Verdict::kWait:
        queue_.push_back({judge_at, pos});
        std::push_heap(queue_.begin(), queue_.end(), std::greater<>());
        break;
    }
  }
  const size_t header = rules.header_size();
  for (; scan_ + header <= end_; ++scan_) {
    if (rules.message_size(at(scan_)) == 0) continue;
    uint64_t judge_at = 0;
    switch (judge(scan_, rules, &judge_at)) {
      case Verdict::kAccept:
        return found(scan_, rules, in_place, data.size());
      case Verdict::kReject:
        break;
      case Verdict::kWait:
        wait(scan_, judge_at);
        break;
    }
  }
  keep(in_place);
  return std::nullopt;
}

BoundarySearch::Verdict BoundarySearch::judge(uint64_t pos, const BoundaryRules& rules,
                                              uint64_t* judge_at) {
  const size_t size = rules.message_size(at(pos));
  const uint64_t end = pos + size;
  if (end > end_) {
    *judge_at = end;  // judged when the data reaches its end, or passes it
    return Verdict::kWait;
  }
  if (size > budget_) return Verdict::kReject;
  budget_ -= size;
  if (!rules.plausible({at(pos), size})) return Verdict::kReject;
  const size_t header = rules.header_size();
  if (end + header <= end_)
    return rules.plausible_next(at(end)) ? Verdict::kAccept : Verdict::kReject;
  if (end == end_) return Verdict::kAccept;  // the data ends with it
  *judge_at = end + header;
  return Verdict::kWait;
}

void BoundarySearch::wait(uint64_t pos, uint64_t judge_at) {
  // Past the bound a candidate is not kept: the search goes on with later ones.
  if (waiting_.size() >= kMaxWaiting) return;
  waiting_.insert(pos);
  queue_.push_back({judge_at, pos});
  std::push_heap(queue_.begin(), queue_.end(), std::greater<>());
}

BoundarySearch::Found BoundarySearch::found(uint64_t pos, const BoundaryRules& rules, bool in_place,
                                            size_t data_size) {
  const uint64_t from = rules.resume_after() ? pos + rules.message_size(at(pos)) : pos;
  Found f;
  f.skipped = passed_ + from;
  if (in_place) {
    f.data_from = from - view_base_;
  } else {
    f.data_from = data_size;  // all of it was appended to what is held
    buf_.erase(0, from - base_);
    f.held = std::move(buf_);
  }
  clear();
  return f;
}

// No boundary yet: what a waiting candidate or the next header may need is held for the next
// call; the bytes before it are dropped.
void BoundarySearch::keep(bool in_place) {
  uint64_t keep_from = scan_;
  if (!waiting_.empty()) keep_from = std::min(keep_from, *waiting_.begin());
  if (in_place) {
    buf_.assign(reinterpret_cast<const char*>(at(keep_from)), end_ - keep_from);
    base_ = keep_from;
  } else {
    // Dropped once there are at least as many as are kept: each byte is moved O(1) times.
    const uint64_t dead = keep_from - base_;
    if (dead == 0 || dead < buf_.size() - dead) return;
    buf_.erase(0, dead);
    base_ = keep_from;
  }
  view_ = {};
}

void BoundarySearch::restart() {
  const uint64_t passed = passed_ + end_;
  clear();
  passed_ = passed;
}

void BoundarySearch::clear() {
  std::string().swap(buf_);  // a held window may have been large: give its memory back
  base_ = end_ = scan_ = passed_ = budget_ = 0;
  std::vector<Waiting>().swap(queue_);
  waiting_.clear();
  view_ = {};
}

}  // namespace tcpdp
