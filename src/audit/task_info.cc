#include "audit/task_info.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <fstream>
#include <string_view>
#include <vector>

namespace tcpdp::audit {

namespace {

// The first number after a "Key:\t" line's tab.
template <typename T>
bool number(std::string_view value, T& out) {
  while (!value.empty() && (value.front() == '\t' || value.front() == ' ')) value.remove_prefix(1);
  return std::from_chars(value.data(), value.data() + value.size(), out).ec == std::errc();
}

}  // namespace

std::optional<ProcessInfo> TaskLookup::find(int tid) {
  if (tid <= 0) return std::nullopt;
  if (auto it = tids_.find(tid); it != tids_.end()) return it->second;
  std::optional<ProcessInfo>& entry = tids_[tid];
  char path[32];
  std::snprintf(path, sizeof path, "/proc/%d/status", tid);
  const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return entry;
  char buf[8192];
  const ssize_t n = ::read(fd, buf, sizeof buf);
  ::close(fd);
  if (n <= 0) return entry;
  ProcessInfo p;
  bool have_pid = false, have_uid = false;
  std::string_view text(buf, static_cast<size_t>(n));
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, colon), value = line.substr(colon + 1);
    if (key == "Name") {
      const size_t start = value.find_first_not_of("\t ");
      p.comm = std::string(start == std::string_view::npos ? "" : value.substr(start));
    } else if (key == "Tgid") {
      have_pid = number(value, p.pid);
    } else if (key == "PPid") {
      number(value, p.ppid);
    } else if (key == "Uid") {
      have_uid = number(value, p.uid);  // the real uid comes first
      break;                            // the lines wanted come before it
    }
  }
  if (!have_pid || !have_uid) return entry;
  p.user = user_name(p.uid);
  entry = std::move(p);
  return entry;
}

const std::string& TaskLookup::user_name(uint32_t uid) {
  const auto now = std::chrono::steady_clock::now();
  if (now - users_since_ > std::chrono::minutes(1)) {
    users_.clear();
    users_since_ = now;
  }
  if (auto it = users_.find(uid); it != users_.end()) return it->second;
  std::string& name = users_[uid];
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(4096);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) name = pw.pw_name;
  return name;
}

const std::string& CommCache::comm(int pid) {
  static const std::string kNone;
  auto it = names_.find(pid);
  if (it == names_.end() && may_read_) {
    read();
    it = names_.find(pid);
  }
  return it == names_.end() ? kNone : it->second;
}

void CommCache::read() {
  may_read_ = false;
  names_.clear();
  std::ifstream in(path_);
  int pid = 0;
  std::string name;
  while (in >> pid && std::getline(in >> std::ws, name)) names_[pid] = name;
}

}  // namespace tcpdp::audit
