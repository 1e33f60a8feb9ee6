#include "cmd/read_progress.h"

#include <cstdio>

#include "common/record.h"
#include "records/catalogue.h"

namespace tcpdp {
namespace {

std::string bytes_text(uint64_t n) {
  char buf[32];
  if (n >= 1000000000) {
    std::snprintf(buf, sizeof buf, "%.2f GB", n / 1e9);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f MB", n / 1e6);
  }
  return buf;
}

}  // namespace

void ReadProgress::take(std::string_view encoded) {
  records_.fetch_add(1, std::memory_order_relaxed);
  // Lifecycle and digest records count as neither a decode error nor a connection skipped.
  const auto event = Record::find(encoded, "event");
  const auto kind = event ? kind_named(event->s) : std::nullopt;
  if (kind == RecordKind::kState || kind == RecordKind::kSummary || kind == RecordKind::kDigest) {
    return;
  }
  if (kind == RecordKind::kEncrypted) {
    encrypted_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (Record::find(encoded, "decode_error")) {
    decode_errors_.fetch_add(1, std::memory_order_relaxed);
  }
}

void ReadProgress::draw(const Reading& now, bool force) {
  const auto t = std::chrono::steady_clock::now();
  if (!force && t - last_draw_ < std::chrono::milliseconds(500)) return;
  last_draw_ = t;
  const double secs = std::chrono::duration<double>(t - started_).count();
  std::string line = "\rtcpdp: " + bytes_text(now.position);
  char buf[160];
  if (now.size > 0 && now.position <= now.size) {  // a file still being written can outgrow it
    const double done = static_cast<double>(now.position) / static_cast<double>(now.size);
    std::snprintf(buf, sizeof buf, " of %s (%.0f%%)", bytes_text(now.size).c_str(), 100 * done);
    line += buf;
    if (done > 0.01) {
      std::snprintf(buf, sizeof buf, ", ETA %.0f s", secs / done - secs);
      line += buf;
    }
  }
  std::snprintf(buf, sizeof buf, ", %.0f packets/s, %llu records, %llu connections",
                secs > 0 ? now.packets / secs : 0.0,
                static_cast<unsigned long long>(records_.load(std::memory_order_relaxed)),
                static_cast<unsigned long long>(now.connections));
  line += buf;
  line += "\033[K";
  std::fputs(line.c_str(), stderr);
  drawn_ = true;
}

void ReadProgress::finish(const Reading& end, uint64_t gaps) {
  if (drawn_) std::fputs("\r\033[K", stderr);
  std::fprintf(
      stderr,
      "tcpdp: %llu packets, %llu bytes, %llu connections, %llu records, %llu gaps, %llu "
      "decode errors, %llu TLS connections skipped\n",
      static_cast<unsigned long long>(end.packets), static_cast<unsigned long long>(end.position),
      static_cast<unsigned long long>(end.connections),
      static_cast<unsigned long long>(records_.load()), static_cast<unsigned long long>(gaps),
      static_cast<unsigned long long>(decode_errors_.load()),
      static_cast<unsigned long long>(encrypted_.load()));
}

}  // namespace tcpdp
