/// A log file that rotates by time (and optionally size): records go to DIR/NAME.PERIOD (for
/// hourly rotation dump.log.2026112314), DIR/NAME is a symlink to the current one, the oldest
/// are deleted past a count, and a hook program runs after each rotation with the previous and
/// the current file names as its arguments: started directly (no shell), never waited for by the
/// writer, its exit status and error output reported when it ends. One hook runs at a time: a
/// rotation while the last one still runs starts none (skipped, counted and reported), so a slow
/// hook with a short period cannot pile up. At the end, hooks still running are waited for up
/// to a limit and the ones left running are named.
///
/// Write failures (a full disk, a removed directory) never throw: they are reported through the
/// report callback at most once a minute while they last, the bytes of failed writes are counted
/// as lost, and writing resumes when it works again (the directory is made again if needed).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <functional>
#include <string>
#include <vector>

namespace tcpdp {

struct RotationSettings {
  std::string dir = ".";
  std::string file_name;
  bool rotate = true;
  std::string period = "daily";               // secondly, minutely, hourly, daily
  uint64_t keep = 7;                          // rotated files kept, the current one included
  std::string hook;                           // program to run after a rotation; empty for none
  uint64_t max_size = 0;                      // bytes; 0: by time only
  std::chrono::milliseconds hook_wait{2000};  // at the end, for hooks still running
};

class RotatingFile {
 public:
  using Clock = std::function<std::time_t()>;
  /// Problems and hook outcomes, one line each (the program's own log takes them).
  using Report = std::function<void(const std::string&)>;

  RotatingFile(RotationSettings settings, Report report, Clock clock = nullptr);
  ~RotatingFile();
  RotatingFile(const RotatingFile&) = delete;
  RotatingFile& operator=(const RotatingFile&) = delete;

  /// Appends the bytes, rotating first when the period (or the size) says so.
  void write(const char* data, size_t n);
  /// Pushes what is buffered to the file.
  void flush();
  /// Closes and opens the file again (SIGHUP: after logrotate moved it).
  void reopen();
  /// Hooks still running are waited for, for at most `limit`; their outcomes are reported.
  void wait_for_hooks(std::chrono::milliseconds limit);
  /// Rotations that started no hook because the previous one was still running.
  uint64_t skipped_hooks() const { return skipped_hooks_; }

  /// The file written now (the symlink's target), and the bytes lost to failed writes so far.
  const std::string& current_path() const { return path_; }
  uint64_t lost_bytes() const { return lost_; }

 private:
  std::string path_for(std::time_t now, unsigned part) const;
  bool open_current(std::time_t now);
  void rotate(std::time_t now);
  void prune();
  unsigned last_part(const std::string& key) const;  // the highest part of a period on disk
  void run_hook(const std::string& previous, const std::string& current);
  void reap_hooks();  // reports the hooks that ended; never waits
  void skip_hook(const std::string& previous, const std::string& current);
  void problem(const std::string& what);

  RotationSettings s_;
  Report report_;
  Clock clock_;
  std::FILE* file_ = nullptr;
  std::string path_;
  std::string period_key_;  // the period the open file belongs to
  unsigned part_ = 0;       // size rotations within the period
  uint64_t size_ = 0;
  uint64_t lost_ = 0;
  std::time_t last_problem_ = 0;
  struct Hook {
    pid_t pid;
    int err_fd;  // the hook's stderr, drained while it runs
    std::string previous, current;
    std::string output;  // the start of what it wrote to stderr
  };
  std::vector<Hook> hooks_;
  uint64_t skipped_hooks_ = 0;
  std::time_t last_skip_report_ = 0;
};

}  // namespace tcpdp
