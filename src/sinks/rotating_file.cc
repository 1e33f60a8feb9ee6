#include "sinks/rotating_file.h"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <thread>

extern char** environ;

namespace tcpdp {

namespace {

constexpr size_t kHookOutputKept = 4096;   // bytes of a hook's stderr kept for the report
constexpr std::time_t kProblemEvery = 60;  // seconds between reports of the same trouble
constexpr size_t kHooksAtOnce = 1;         // hooks of one log running at the same time

std::time_t wall_clock() { return std::time(nullptr); }

// The period's part of a file name, in UTC: 20261123140506, 202611231405, 2026112314, 20261123.
std::string period_key(const std::string& period, std::time_t t) {
  std::tm tm{};
  gmtime_r(&t, &tm);
  const char* format = period == "secondly"   ? "%Y%m%d%H%M%S"
                       : period == "minutely" ? "%Y%m%d%H%M"
                       : period == "hourly"   ? "%Y%m%d%H"
                                              : "%Y%m%d";
  char buf[32];
  return std::string(buf, std::strftime(buf, sizeof buf, format, &tm));
}

// "NAME.KEY" or "NAME.KEY.PART" -> (KEY, PART); false for other names.
bool rotated_name(const std::string& name, const std::string& base, std::string& key,
                  unsigned long& part) {
  if (name.size() <= base.size() + 1 || name.compare(0, base.size(), base) != 0 ||
      name[base.size()] != '.') {
    return false;
  }
  const std::string rest = name.substr(base.size() + 1);
  const size_t dot = rest.find('.');
  key = rest.substr(0, dot);
  const auto digits = [](const std::string& t) {
    return !t.empty() &&
           std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '9'; });
  };
  if (!digits(key)) return false;
  part = 0;
  if (dot == std::string::npos) return true;
  const std::string p = rest.substr(dot + 1);
  if (!digits(p)) return false;
  part = std::stoul(p);
  return true;
}

}  // namespace

RotatingFile::RotatingFile(RotationSettings settings, Report report, Clock clock)
    : s_(std::move(settings)), report_(std::move(report)), clock_(clock ? clock : wall_clock) {}

RotatingFile::~RotatingFile() {
  flush();
  if (file_) std::fclose(file_);
  wait_for_hooks(s_.hook_wait);
  for (const Hook& h : hooks_) {
    char waited[32];
    std::snprintf(waited, sizeof waited, "%g s", s_.hook_wait.count() / 1000.0);
    report_("rotation hook " + s_.hook + " (" + h.previous + ", " + h.current +
            ") still running after " + waited + " at exit: left running as pid " +
            std::to_string(h.pid));
    close(h.err_fd);
  }
}

std::string RotatingFile::path_for(std::time_t now, unsigned part) const {
  std::string p = s_.dir + "/" + s_.file_name;
  if (!s_.rotate) return p;
  p += '.';  // appended piece by piece: g++ 12 -O3 sees a false overlap in "." + string
  p += period_key(s_.period, now);
  if (part > 0) {
    p += '.';
    p += std::to_string(part);
  }
  return p;
}

void RotatingFile::problem(const std::string& what) {
  const std::time_t now = clock_();
  if (last_problem_ != 0 && now - last_problem_ < kProblemEvery) return;
  last_problem_ = now;
  report_(what + " (" + std::to_string(lost_) + " bytes lost so far)");
}

bool RotatingFile::open_current(std::time_t now) {
  std::error_code ec;
  std::filesystem::create_directories(s_.dir, ec);  // it may have been removed
  path_ = path_for(now, part_);
  file_ = std::fopen(path_.c_str(), "ae");
  if (!file_) {
    problem("cannot open " + path_ + ": " + std::strerror(errno));
    return false;
  }
  struct stat st {};
  size_ = fstat(fileno(file_), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
  if (!s_.rotate) return true;
  // DIR/NAME points at the current file; replaced atomically, never over a regular file.
  const std::string link = s_.dir + "/" + s_.file_name;
  struct stat lst {};
  if (lstat(link.c_str(), &lst) == 0 && !S_ISLNK(lst.st_mode)) {
    problem("not replacing " + link + " with a link to the current file: it is not a link");
    return true;
  }
  const std::string tmp = s_.dir + "/." + s_.file_name + ".link";
  const std::string target = path_.substr(s_.dir.size() + 1);
  unlink(tmp.c_str());
  if (symlink(target.c_str(), tmp.c_str()) != 0 || rename(tmp.c_str(), link.c_str()) != 0) {
    problem("cannot point " + link + " at " + target + ": " + std::strerror(errno));
  }
  return true;
}

void RotatingFile::rotate(std::time_t now) {
  const std::string previous = path_;
  if (file_) {
    std::fflush(file_);
    std::fclose(file_);
    file_ = nullptr;
  }
  if (!open_current(now)) return;
  if (!previous.empty() && previous != path_) {
    prune();
    if (s_.hook.empty()) return;
    if (hooks_.size() >= kHooksAtOnce) {
      skip_hook(previous, path_);
    } else {
      run_hook(previous, path_);
    }
  }
}

void RotatingFile::write(const char* data, size_t n) {
  reap_hooks();
  const std::time_t now = clock_();
  if (s_.rotate) {
    const std::string key = period_key(s_.period, now);
    if (key != period_key_) {
      period_key_ = key;
      part_ = last_part(key);  // a previous run may have written parts of this period
      rotate(now);
    }
    // Past the size (or onto parts a previous run filled): the next part of the period.
    while (s_.max_size > 0 && file_ && size_ > 0 && size_ + n > s_.max_size) {
      ++part_;
      rotate(now);
    }
  }
  if (!file_ && !open_current(now)) {
    lost_ += n;
    return;
  }
  if (std::fwrite(data, 1, n, file_) != n) {
    lost_ += n;
    problem("cannot write to " + path_ + ": " + std::strerror(errno));
    std::fclose(file_);  // opened again at the next write
    file_ = nullptr;
    return;
  }
  size_ += n;
}

void RotatingFile::flush() {
  if (file_ && std::fflush(file_) != 0) {
    problem("cannot write to " + path_ + ": " + std::strerror(errno));
    std::fclose(file_);
    file_ = nullptr;
  }
}

void RotatingFile::reopen() {
  flush();
  if (file_) {
    std::fclose(file_);
    file_ = nullptr;
  }
  open_current(clock_());
}

unsigned RotatingFile::last_part(const std::string& key) const {
  unsigned last = 0;
  DIR* d = opendir(s_.dir.c_str());
  if (!d) return 0;
  while (dirent* e = readdir(d)) {
    std::string k;
    unsigned long part = 0;
    if (rotated_name(e->d_name, s_.file_name, k, part) && k == key) {
      last = std::max(last, static_cast<unsigned>(part));
    }
  }
  closedir(d);
  return last;
}

void RotatingFile::prune() {
  struct Rotated {
    std::string key;
    unsigned long part;
    std::string name;
  };
  std::vector<Rotated> found;
  DIR* d = opendir(s_.dir.c_str());
  if (!d) return;
  while (dirent* e = readdir(d)) {
    Rotated r{"", 0, e->d_name};
    if (rotated_name(r.name, s_.file_name, r.key, r.part)) found.push_back(std::move(r));
  }
  closedir(d);
  if (found.size() <= s_.keep) return;
  std::sort(found.begin(), found.end(), [](const Rotated& a, const Rotated& b) {
    return a.key.size() != b.key.size() ? a.key.size() < b.key.size()
           : a.key != b.key             ? a.key < b.key
                                        : a.part < b.part;
  });
  for (size_t i = 0; i + s_.keep < found.size(); ++i) {
    const std::string path = s_.dir + "/" + found[i].name;
    if (path != path_) unlink(path.c_str());
  }
}

void RotatingFile::run_hook(const std::string& previous, const std::string& current) {
  int err[2];
  if (pipe2(err, O_CLOEXEC) != 0) {
    report_("rotation hook " + s_.hook + " not started: " + std::strerror(errno));
    return;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  std::vector<char*> argv = {const_cast<char*>(s_.hook.c_str()),
                             const_cast<char*>(previous.c_str()),
                             const_cast<char*>(current.c_str()), nullptr};
  // The hook starts with no signal blocked and every signal at its default, whatever the
  // thread that writes the log blocks or ignores.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, s_.hook.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  close(err[1]);
  if (rc != 0) {
    close(err[0]);
    report_("rotation hook " + s_.hook + " not started: " + std::strerror(rc));
    return;
  }
  fcntl(err[0], F_SETFL, O_NONBLOCK);
  hooks_.push_back({pid, err[0], previous, current, {}});
}

void RotatingFile::skip_hook(const std::string& previous, const std::string& current) {
  ++skipped_hooks_;
  // Said at the first skip and then once a minute at most: a period of a second would fill the
  // log with the same line.
  const std::time_t now = clock_();
  if (last_skip_report_ != 0 && now - last_skip_report_ < kProblemEvery) return;
  last_skip_report_ = now;
  const Hook& running = hooks_.front();
  report_("rotation hook " + s_.hook + " not run for (" + previous + ", " + current +
          "): the one for (" + running.previous + ", " + running.current + ") is still running (" +
          std::to_string(skipped_hooks_) + " skipped so far)");
}

void RotatingFile::reap_hooks() {
  for (auto it = hooks_.begin(); it != hooks_.end();) {
    // Read what it wrote so far, so a talkative hook never blocks on a full pipe.
    const auto drain = [&] {
      char buf[1024];
      ssize_t got;
      while ((got = read(it->err_fd, buf, sizeof buf)) > 0) {
        const size_t room = kHookOutputKept - std::min(kHookOutputKept, it->output.size());
        it->output.append(buf, std::min(room, static_cast<size_t>(got)));
      }
    };
    drain();
    int status = 0;
    if (waitpid(it->pid, &status, WNOHANG) != it->pid) {
      ++it;
      continue;
    }
    drain();
    close(it->err_fd);
    std::string line =
        "rotation hook " + s_.hook + " (" + it->previous + ", " + it->current + ") " +
        (WIFEXITED(status) ? "exited with status " + std::to_string(WEXITSTATUS(status))
                           : "was killed by signal " + std::to_string(WTERMSIG(status)));
    while (!it->output.empty() && it->output.back() == '\n') it->output.pop_back();
    if (!it->output.empty()) line += ": " + it->output;
    report_(line);
    it = hooks_.erase(it);
  }
}

void RotatingFile::wait_for_hooks(std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  reap_hooks();
  while (!hooks_.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    reap_hooks();
  }
}

}  // namespace tcpdp
