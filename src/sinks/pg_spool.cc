// The PostgreSQL sink's spool file: records that could not be sent yet, appended as lines,
// read back in order, emptied once read to its end, and kept across a stop.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "sinks/pg_sink.h"

namespace tcpdp {
namespace {

// Spool lines read for one batch, at most this many bytes at a time.
constexpr size_t kSpoolChunk = 1 << 20;
// A read buffer that grew past this for a long line gives the room back once done with it.
constexpr size_t kBufferKeep = 4 << 20;

bool read_at(int fd, char* p, size_t n, uint64_t at) {
  while (n > 0) {
    const ssize_t got = pread(fd, p, n, static_cast<off_t>(at));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    p += got;
    n -= static_cast<size_t>(got);
    at += static_cast<uint64_t>(got);
  }
  return true;
}

bool write_all(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

// A run that died while writing the spool file may have left half a record at its end.
void PgSink::cut_torn_line() {
  uint64_t end = spool_size_;
  char tail[4096];
  while (end > 0) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(sizeof tail, end));
    if (!read_at(spool_fd_, tail, n, end - n)) return;
    size_t i = n;
    while (i > 0 && tail[i - 1] != '\n') --i;
    if (i > 0) {
      end -= n - i;
      break;
    }
    end -= n;
  }
  if (end == spool_size_) return;
  if (ftruncate(spool_fd_, static_cast<off_t>(end)) == 0) {
    report_("warn", "spool file " + settings_.spool_file + ": " +
                        std::to_string(spool_size_ - end) +
                        " bytes of a record cut short by an interrupted run were taken off");
    spool_size_ = end;
  }
}

bool PgSink::spool_append(std::string_view row) {
  if (spool_fd_ < 0 || spool_size_ + row.size() + 1 > settings_.spool_max_size) return false;
  std::string line;
  line.reserve(row.size() + 1);
  line.append(row).push_back('\n');
  if (!write_all(spool_fd_, line.data(), line.size())) {
    // A partial line would spoil the rest: cut the file back to its last whole line.
    if (ftruncate(spool_fd_, static_cast<off_t>(spool_size_)) != 0) {
      std::fprintf(stderr, "tcpdp: spool file %s: %s\n", settings_.spool_file.c_str(),
                   std::strerror(errno));
    }
    return false;
  }
  if (spool_read_ == spool_size_) wake_.notify_all();  // its first unread record
  spool_size_ += line.size();
  ++stats_.spooled;
  return true;
}

// Whole lines of the spool from `at` (before `to`, which ends a line) into batch_; returns
// where the next batch starts. Runs without the lock: only this thread reads the file or cuts
// it, and take() only appends past `to`.
uint64_t PgSink::read_spool(uint64_t at, uint64_t to) {
  std::string& buf = spool_chunk_;
  while (batch_.size() < settings_.batch_size && at < to) {
    buf.resize(static_cast<size_t>(std::min<uint64_t>(kSpoolChunk, to - at)));
    if (!read_at(spool_fd_, buf.data(), buf.size(), at)) break;
    size_t nl = buf.find('\n');
    while (nl == std::string::npos && buf.size() < to - at) {  // a line longer than a chunk
      const size_t old = buf.size();
      buf.resize(static_cast<size_t>(std::min<uint64_t>(old * 2, to - at)));
      if (!read_at(spool_fd_, buf.data() + old, buf.size() - old, at + old)) break;
      nl = buf.find('\n', old);
    }
    if (nl == std::string::npos) break;
    size_t from = 0;
    for (; nl != std::string::npos && batch_.size() < settings_.batch_size;
         nl = buf.find('\n', from)) {
      batch_.emplace_back(buf, from, nl - from);
      from = nl + 1;
    }
    at += from;
  }
  if (buf.capacity() > kBufferKeep) {
    buf.clear();
    buf.shrink_to_fit();
  }
  return at;
}

// Under mutex_, once the rows read from the spool are stored: a spool read to its end is
// emptied. True when it was.
bool PgSink::settle_spool() {
  if (spooling_ || spool_size_ == 0 || spool_read_ < spool_size_) return false;
  if (ftruncate(spool_fd_, 0) != 0) return false;  // tried again after the next batch
  spool_size_ = spool_read_ = 0;
  return true;
}

// After the thread stopped: the unsent batch, the queue and the unread spool, in that order
// (their records' order), become the spool file the next start sends first.
void PgSink::save_leftovers() {
  std::lock_guard lock(mutex_);
  const uint64_t records = batch_.size() + count_;
  if (records == 0 && spool_read_ >= spool_size_) return;
  if (spool_fd_ < 0) {
    stats_.dropped += records;
    report_("warn",
            "PostgreSQL sink: " + std::to_string(records) + " records not stored (no spool file)");
    return;
  }
  const std::string tmp = settings_.spool_file + ".new";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  bool ok = fd >= 0;
  uint64_t left = 0;
  const auto put = [&](std::string_view row) {
    ok = ok && write_all(fd, row.data(), row.size()) && write_all(fd, "\n", 1);
    ++left;
  };
  for (const std::string& row : batch_) put(row);
  for (size_t i = 0; i < count_; ++i) put(slots_[(head_ + i) % slots_.size()]);
  std::string chunk;
  for (uint64_t at = spool_read_; ok && at < spool_size_;) {
    chunk.resize(static_cast<size_t>(std::min<uint64_t>(kSpoolChunk, spool_size_ - at)));
    ok = read_at(spool_fd_, chunk.data(), chunk.size(), at) &&
         write_all(fd, chunk.data(), chunk.size());
    left += static_cast<uint64_t>(std::count(chunk.begin(), chunk.end(), '\n'));
    at += chunk.size();
  }
  if (fd >= 0) {
    ok = fsync(fd) == 0 && ok;
    ok = ::close(fd) == 0 && ok;
  }
  if (ok && std::rename(tmp.c_str(), settings_.spool_file.c_str()) == 0) {
    // The rename itself made durable too.
    const size_t slash = settings_.spool_file.rfind('/');
    const std::string dir =
        slash == std::string::npos ? "." : settings_.spool_file.substr(0, slash);
    if (const int d = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); d >= 0) {
      fsync(d);
      ::close(d);
    }
    stats_.left = left;
    report_("warn", "PostgreSQL sink: " + std::to_string(left) + " records not yet stored are " +
                        "kept in " + settings_.spool_file + " and sent at the next start");
  } else {
    report_("error", "PostgreSQL sink: cannot keep the records not yet stored in " + tmp + ": " +
                         std::strerror(errno));
    stats_.dropped += left;
    ::unlink(tmp.c_str());
  }
  count_ = 0;
  batch_.clear();
}

}  // namespace tcpdp
