/// One sub-buffer ("page") of the kernel's trace ring buffer, as a read of a CPU's
/// trace_pipe_raw hands it over: a header (the time of its first event, how many bytes it holds
/// and whether events were lost before it), then events, each a 32-bit header (a type or length
/// in 5 bits, a time delta in 27) and its data. The layout is the one tracefs describes in
/// events/header_page and events/header_event; every length is checked against the page, so a
/// page that does not follow it ends the reading of that page, never more.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>

namespace tcpdp::audit {

/// Where the page header's fields are (tracefs events/header_page).
struct PageLayout {
  size_t timestamp_offset = 0;
  size_t commit_offset = 8;
  size_t commit_size = 8;  // a long: 8 bytes on 64-bit kernels
  size_t data_offset = 16;

  /// The layout read from the text of events/header_page; false (and why) when a field is
  /// missing or out of place.
  static bool parse(const std::string& text, PageLayout& out, std::string& error);
};

/// One event of a page: its time (the clock the trace instance was set to, in nanoseconds)
/// and its data (the trace event itself: common fields, then the event's own).
struct RingEvent {
  uint64_t ts = 0;
  std::span<const uint8_t> data;
};

struct PageSummary {
  size_t events = 0;
  /// Whether the kernel dropped events before this page (the buffer was full), and how many
  /// when it stored the count (-1: some, not counted).
  bool lost_before = false;
  int64_t lost_count = 0;
  /// Empty, or why the page stopped being read before its end.
  std::string error;
};

/// Calls on_event(const RingEvent&) for every data event of the page, in order.
template <typename OnEvent>
PageSummary read_page(std::span<const uint8_t> page, const PageLayout& layout, OnEvent&& on_event);

namespace detail {

// Reads the page's header and walks its events; `emit` gets each data event.
PageSummary walk_page(std::span<const uint8_t> page, const PageLayout& layout,
                      void (*emit)(void* ctx, const RingEvent& e), void* ctx);

}  // namespace detail

template <typename OnEvent>
PageSummary read_page(std::span<const uint8_t> page, const PageLayout& layout, OnEvent&& on_event) {
  return detail::walk_page(
      page, layout,
      [](void* ctx, const RingEvent& e) {
        (*static_cast<std::remove_reference_t<OnEvent>*>(ctx))(e);
      },
      &on_event);
}

}  // namespace tcpdp::audit
