#include "common/record.h"

#include <algorithm>
#include <cassert>

namespace tcpdp {

void Record::add_group(const GroupRef& group) {
  const FieldGroup* raw = group.get();
  if (live_groups_ == groups_.size()) {
    groups_.push_back(group);
  } else if (groups_[live_groups_] != group) {
    groups_[live_groups_] = group;
  }
  ++live_groups_;
  std::memcpy(entry(Kind::kGroup, {}, sizeof raw), &raw, sizeof raw);
}

Record& Record::operator=(const Record& other) {
  if (this == &other) return *this;
  size_ = 0;
  if (other.size_) std::memcpy(extend(other.size_), other.buf_.get(), other.size_);
  groups_.assign(other.groups_.begin(),
                 other.groups_.begin() + static_cast<std::ptrdiff_t>(other.live_groups_));
  live_groups_ = other.live_groups_;
  return *this;
}

void Record::shrink_to_fit() {
  if (capacity_ == size_) return;
  std::unique_ptr<char[]> exact;
  if (size_) {
    exact = std::make_unique_for_overwrite<char[]>(size_);
    std::memcpy(exact.get(), buf_.get(), size_);
  }
  buf_ = std::move(exact);
  capacity_ = size_;
}

char* Record::extend_slow(size_t n) {
  const size_t want = std::max<size_t>({size_ + n, 2 * capacity_, 256});
  auto bigger = std::make_unique_for_overwrite<char[]>(want);
  if (size_) std::memcpy(bigger.get(), buf_.get(), size_);
  buf_ = std::move(bigger);
  capacity_ = want;
  char* p = buf_.get() + size_;
  size_ += n;
  return p;
}

void Record::append(const Record& other) {
  assert(other.live_groups_ == 0);  // its group entries would point at groups nobody holds
  if (other.size_) std::memcpy(extend(other.size_), other.buf_.get(), other.size_);
}

FieldView Record::Reader::next() {
  FieldView f;
  f.kind = static_cast<Kind>(*p_);
  uint32_t klen;
  std::memcpy(&klen, p_ + 1, 4);
  f.key = {p_ + 5, klen};
  p_ += 5 + klen;
  switch (f.kind) {
    case Kind::kInt:
    case Kind::kDuration:
      std::memcpy(&f.i, p_, 8);
      p_ += 8;
      break;
    case Kind::kDouble:
      std::memcpy(&f.d, p_, 8);
      p_ += 8;
      break;
    case Kind::kTimestamp:
      std::memcpy(&f.ts.usec, p_, 8);
      p_ += 8;
      break;
    case Kind::kString: {
      uint32_t n;
      std::memcpy(&n, p_, 4);
      f.s = {p_ + 4, n};
      p_ += 4 + n;
      break;
    }
    case Kind::kGroup:
      std::memcpy(&f.group, p_, sizeof f.group);
      p_ += sizeof f.group;
      break;
    default:
      break;
  }
  return f;
}

void Record::Reader::skip_container() {
  for (int depth = 1; depth > 0;) {
    const Kind k = next().kind;
    if (k == Kind::kArray || k == Kind::kObject) ++depth;
    if (k == Kind::kEnd) --depth;
  }
}

std::optional<FieldView> Record::find(std::string_view encoded, std::string_view key) {
  Reader r(encoded);
  while (!r.done()) {
    FieldView f = r.next();
    if (f.kind == Kind::kGroup) {
      if (auto inner = f.group->fields().find(key)) return inner;
      continue;
    }
    if (f.key == key) return f;
    if (f.kind == Kind::kArray || f.kind == Kind::kObject) r.skip_container();
  }
  return std::nullopt;
}

}  // namespace tcpdp
