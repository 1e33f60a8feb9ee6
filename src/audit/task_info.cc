#include "audit/task_info.h"

#include <pwd.h>

#include <fstream>
#include <sstream>
#include <vector>

namespace tcpdp::audit {

namespace {

std::string user_name(uint32_t uid) {
  passwd pw{};
  passwd* found = nullptr;
  std::vector<char> buf(4096);
  if (::getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return "";
  return pw.pw_name;
}

}  // namespace

std::optional<ProcessInfo> task_info(int tid) {
  if (tid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(tid) + "/status");
  if (!in) return std::nullopt;
  ProcessInfo p;
  bool have_pid = false, have_uid = false;
  std::string line;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = line.substr(0, colon);
    std::istringstream value(line.substr(colon + 1));
    if (key == "Name") {
      std::getline(value >> std::ws, p.comm);
    } else if (key == "Tgid") {
      have_pid = static_cast<bool>(value >> p.pid);
    } else if (key == "PPid") {
      value >> p.ppid;
    } else if (key == "Uid") {
      have_uid = static_cast<bool>(value >> p.uid);  // the real uid comes first
    }
  }
  if (!have_pid || !have_uid) return std::nullopt;
  p.user = user_name(p.uid);
  return p;
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
