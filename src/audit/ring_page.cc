#include "audit/ring_page.h"

#include <cstring>

#include "audit/event_format.h"

namespace tcpdp::audit {

namespace {

// The kinds a 5-bit type_len can name besides "data of type_len * 4 bytes" (1..28) and "data
// whose length is in the next word" (0).
constexpr uint32_t kPadding = 29;
constexpr uint32_t kTimeExtend = 30;
constexpr uint32_t kTimeStamp = 31;
constexpr unsigned kTimeShift = 27;  // a time delta's width; extensions carry the bits above
// Flags in the commit word above the byte count.
constexpr uint64_t kMissedEvents = uint64_t{1} << 31;
constexpr uint64_t kMissedStored = uint64_t{1} << 30;
constexpr uint64_t kCommitMask = (uint64_t{1} << 30) - 1;

uint32_t word_at(std::span<const uint8_t> page, size_t at) {
  uint32_t v;
  std::memcpy(&v, page.data() + at, 4);
  return v;
}

uint64_t long_at(std::span<const uint8_t> page, size_t at, size_t size) {
  if (size == 4) return word_at(page, at);
  uint64_t v;
  std::memcpy(&v, page.data() + at, 8);
  return v;
}

bool place(const EventFormat& f, const char* name, size_t& offset, size_t* size) {
  const FieldFormat* field = f.field(name);
  if (!field) return false;
  offset = field->offset;
  if (size) *size = field->size;
  return true;
}

}  // namespace

bool PageLayout::parse(const std::string& text, PageLayout& out, std::string& error) {
  EventFormat f;
  if (!EventFormat::parse(text, f, error)) return false;
  PageLayout l;
  if (!place(f, "timestamp", l.timestamp_offset, nullptr) ||
      !place(f, "commit", l.commit_offset, &l.commit_size) ||
      !place(f, "data", l.data_offset, nullptr)) {
    error = "the page header has no timestamp, commit or data field";
    return false;
  }
  if ((l.commit_size != 4 && l.commit_size != 8) || l.timestamp_offset + 8 > l.data_offset ||
      l.commit_offset + l.commit_size > l.data_offset) {
    error = "the page header's fields are not where a page header can have them";
    return false;
  }
  out = l;
  return true;
}

namespace detail {

PageSummary walk_page(std::span<const uint8_t> page, const PageLayout& layout,
                      void (*emit)(void* ctx, const RingEvent& e), void* ctx) {
  PageSummary summary;
  if (page.size() < layout.data_offset) {
    summary.error = "a page shorter than its header";
    return summary;
  }
  uint64_t ts = long_at(page, layout.timestamp_offset, 8);
  const uint64_t commit = long_at(page, layout.commit_offset, layout.commit_size);
  const size_t size = commit & kCommitMask;
  const size_t end = layout.data_offset + size;
  if (size > page.size() - layout.data_offset) {
    summary.error = "a page that says it holds more than its size";
    return summary;
  }
  if (commit & kMissedEvents) {
    summary.lost_before = true;
    summary.lost_count = -1;
    // The count, when stored, follows the data.
    if ((commit & kMissedStored) && end + layout.commit_size <= page.size())
      summary.lost_count = static_cast<int64_t>(long_at(page, end, layout.commit_size));
  }
  size_t at = layout.data_offset;
  while (at + 4 <= end) {
    const uint32_t header = word_at(page, at);
    const uint32_t type_len = header & 31;
    const uint64_t delta = header >> 5;
    const bool has_word = at + 8 <= end;  // the word after the header, where one is needed
    if (type_len == kPadding) {
      if (delta == 0) break;  // the rest of the page is unused
      if (!has_word || word_at(page, at + 4) > end - at - 4) {
        summary.error = "a discarded event runs past the page";
        return summary;
      }
      ts += delta;
      at += 4 + word_at(page, at + 4);
      continue;
    }
    if (type_len == kTimeExtend || type_len == kTimeStamp) {
      if (!has_word) {
        summary.error = "a time extension cut by the page's end";
        return summary;
      }
      const uint64_t value = (uint64_t{word_at(page, at + 4)} << kTimeShift) + delta;
      if (type_len == kTimeExtend) {
        ts += value;
      } else {
        // An absolute time keeps the page's top bits, which its 59 bits cannot hold.
        constexpr uint64_t kLow = (uint64_t{1} << 59) - 1;
        ts = (ts & ~kLow) | (value & kLow);
      }
      at += 8;
      continue;
    }
    size_t data_at = at + 4;
    size_t length = type_len * 4;
    if (type_len == 0) {
      if (!has_word || word_at(page, at + 4) < 4) {
        summary.error = "an event without its length";
        return summary;
      }
      length = word_at(page, at + 4) - 4;
      data_at = at + 8;
    }
    if (length > end - data_at) {
      summary.error = "an event runs past the page";
      return summary;
    }
    ts += delta;
    emit(ctx, RingEvent{ts, page.subspan(data_at, length)});
    ++summary.events;
    at = data_at + ((length + 3) & ~size_t{3});
  }
  return summary;
}

}  // namespace detail

}  // namespace tcpdp::audit
