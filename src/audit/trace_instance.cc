#include "audit/trace_instance.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace tcpdp::audit {

namespace {

constexpr const char* kPrefix = "tcpdp-";

bool is_dir(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// The mount points of tracefs (and debugfs) in /proc/mounts.
std::vector<std::pair<std::string, std::string>> mounts() {
  std::vector<std::pair<std::string, std::string>> out;
  std::ifstream in("/proc/mounts");
  std::string device, dir, type, rest;
  while (in >> device >> dir >> type && std::getline(in, rest)) out.emplace_back(type, dir);
  return out;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') out.emplace_back(e->d_name);
    ::closedir(d);
  }
  return out;
}

std::string why(const std::string& what, const std::string& path) {
  std::string s = what + " " + path + ": " + std::strerror(errno);
  if (errno == EACCES || errno == EPERM) s += " (tcpdp audit runs as root, or with CAP_SYS_ADMIN)";
  return s;
}

}  // namespace

void OwnedFd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::string find_tracefs(std::string& error) {
  for (const auto& [type, dir] : mounts()) {
    const std::string root = type == "debugfs" ? dir + "/tracing" : dir;
    if (type != "tracefs" && type != "debugfs") continue;
    if (is_dir(root + "/instances")) return root;
    if (errno == EACCES || errno == EPERM) {
      error = why("cannot reach tracefs at", root);
      return "";
    }
  }
  error =
      "tracefs is not mounted: mount it with `mount -t tracefs nodev /sys/kernel/tracing` "
      "(the kernel needs CONFIG_FTRACE)";
  return "";
}

std::vector<std::string> remove_stale_instances(const std::string& tracefs) {
  std::vector<std::string> removed;
  const std::string dir = tracefs + "/instances";
  for (const std::string& name : entries(dir)) {
    if (name.rfind(kPrefix, 0) != 0) continue;
    const std::string digits = name.substr(std::strlen(kPrefix));
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), ::isdigit) ||
        digits.size() > 9)
      continue;
    const pid_t pid = static_cast<pid_t>(std::stol(digits));
    if (pid == ::getpid() || ::kill(pid, 0) == 0 || errno != ESRCH) continue;
    if (::rmdir((dir + "/" + name).c_str()) == 0) removed.push_back(name);
  }
  return removed;
}

std::unique_ptr<TraceInstance> TraceInstance::create(const std::string& tracefs,
                                                     std::string& error) {
  const std::string name = kPrefix + std::to_string(::getpid());
  std::unique_ptr<TraceInstance> t(new TraceInstance(tracefs, name));
  if (::mkdir(t->path_.c_str(), 0700) != 0) {
    error = why("cannot make the trace instance", t->path_);
    t->path_.clear();  // not ours: the destructor leaves it
    return nullptr;
  }
  return t;
}

TraceInstance::~TraceInstance() {
  if (path_.empty()) return;
  std::string ignored;
  for (const std::string& event : enabled_) write("events/" + event + "/enable", "0", ignored);
  ::rmdir(path_.c_str());
}

bool TraceInstance::write(const std::string& file, const std::string& value,
                          std::string& error) const {
  const std::string p = path_ + "/" + file;
  const int fd = ::open(p.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) {
    error = why("cannot open", p);
    return false;
  }
  const ssize_t n = ::write(fd, value.data(), value.size());
  const int saved = errno;
  ::close(fd);
  if (n != static_cast<ssize_t>(value.size())) {
    errno = saved;
    error = why("cannot write '" + value + "' to", p);
    return false;
  }
  return true;
}

bool TraceInstance::read(const std::string& file, std::string& out, std::string& error) const {
  const std::string p = file.starts_with("/") ? tracefs_ + file : path_ + "/" + file;
  std::ifstream in(p);
  if (!in) {
    error = why("cannot read", p);
    return false;
  }
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return true;
}

bool TraceInstance::enable(const std::string& event, std::string& error) {
  if (!write("events/" + event + "/enable", "1", error)) return false;
  enabled_.push_back(event);
  return true;
}

std::vector<int> TraceInstance::cpus() const {
  std::vector<int> out;
  for (const std::string& name : entries(path_ + "/per_cpu"))
    if (name.rfind("cpu", 0) == 0 && name.size() > 3 &&
        std::all_of(name.begin() + 3, name.end(), ::isdigit))
      out.push_back(std::stoi(name.substr(3)));
  std::sort(out.begin(), out.end());
  return out;
}

OwnedFd TraceInstance::open_raw(int cpu, std::string& error) const {
  const std::string p = path_ + "/per_cpu/cpu" + std::to_string(cpu) + "/trace_pipe_raw";
  OwnedFd fd(::open(p.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) error = why("cannot open", p);
  return fd;
}

}  // namespace tcpdp::audit
