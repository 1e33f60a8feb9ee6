#include "tcptrack/process.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "tcptrack/sock_diag.h"

namespace tcpdp {

namespace {

// The inode of a /proc/PID/fd link that names a socket ("socket:[12345]"), or 0.
uint64_t socket_inode(const char* link) {
  constexpr std::string_view kPrefix = "socket:[";
  std::string_view s(link);
  if (s.substr(0, kPrefix.size()) != kPrefix || s.back() != ']') return 0;
  uint64_t inode = 0;
  for (char c : s.substr(kPrefix.size(), s.size() - kPrefix.size() - 1)) {
    if (c < '0' || c > '9') return 0;
    inode = inode * 10 + static_cast<uint64_t>(c - '0');
  }
  return inode;
}

bool all_digits(const char* s) {
  if (!*s) return false;
  for (; *s; ++s) {
    if (*s < '0' || *s > '9') return false;
  }
  return true;
}

// The inode of the socket open as fd of pid, or 0.
uint64_t socket_at(int pid, int fd) {
  const std::string path = "/proc/" + std::to_string(pid) + "/fd/" + std::to_string(fd);
  char link[64];
  const ssize_t len = readlink(path.c_str(), link, sizeof link - 1);
  if (len <= 0) return 0;
  link[len] = '\0';
  return socket_inode(link);
}

// Calls fn(fd, inode) for each socket among the open files of pid. Processes that are gone or
// whose files cannot be read have none.
template <typename Fn>
void for_each_socket(int pid, Fn&& fn) {
  const std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  DIR* fds = opendir(dir.c_str());
  if (!fds) return;
  char link[64];
  while (dirent* f = readdir(fds)) {
    if (!all_digits(f->d_name)) continue;
    const std::string path = dir + "/" + f->d_name;
    const ssize_t len = readlink(path.c_str(), link, sizeof link - 1);
    if (len <= 0) continue;
    link[len] = '\0';
    if (const uint64_t inode = socket_inode(link)) fn(std::atoi(f->d_name), inode);
  }
  closedir(fds);
}

}  // namespace

std::optional<ProcessLookup::Socket> ProcessLookup::diag(const Endpoint& local,
                                                         const Endpoint& remote) {
  const auto found = find_tcp_socket(local, remote);
  if (!found || found->inode == 0) return std::nullopt;  // a timewait or request socket: no owner
  return Socket{found->inode, found->uid};
}

void ProcessLookup::rescan() {
  owner_.clear();
  DIR* proc = opendir("/proc");
  if (!proc) return;
  while (dirent* e = readdir(proc)) {
    if (!all_digits(e->d_name)) continue;
    const int pid = std::atoi(e->d_name);
    for_each_socket(pid, [&](int fd, uint64_t inode) { owner_.emplace(inode, Owner{pid, fd}); });
  }
  closedir(proc);
}

std::optional<ProcessInfo> ProcessLookup::describe(int pid, uint32_t uid) const {
  ProcessInfo info;
  info.pid = pid;
  info.uid = uid;
  const std::string dir = "/proc/" + std::to_string(pid);
  {
    std::ifstream comm(dir + "/comm");
    if (!std::getline(comm, info.comm)) return std::nullopt;  // exited meanwhile
  }
  {
    // "PID (COMM) STATE PPID ...": COMM may hold spaces and parentheses, so start after the last
    // ')'.
    std::ifstream stat(dir + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return std::nullopt;
    const size_t close = line.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    char state = 0;
    if (std::sscanf(line.c_str() + close + 1, " %c %d", &state, &info.ppid) != 2) {
      return std::nullopt;
    }
  }
  passwd pw;
  passwd* found = nullptr;
  std::vector<char> buf(4096);
  if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) info.user = pw.pw_name;
  return info;
}

std::optional<ProcessInfo> ProcessLookup::find(const Endpoint& local, const Endpoint& remote) {
  const std::optional<Socket> socket = diag(local, remote);
  if (!socket) return std::nullopt;
  for (int attempt = 0; attempt < 2; ++attempt) {
    // The table may be stale (the fd closed since, the inode reused): check the process still
    // holds the socket before naming it.
    if (auto it = owner_.find(socket->inode);
        it != owner_.end() && socket_at(it->second.pid, it->second.fd) == socket->inode) {
      return describe(it->second.pid, socket->uid);
    }
    const auto now = std::chrono::steady_clock::now();
    if (scanned_ && now - last_scan_ < rescan_interval_) return std::nullopt;
    rescan();
    scanned_ = true;
    last_scan_ = now;
  }
  return std::nullopt;
}

void add_process(Record& r, bool client, const std::optional<ProcessInfo>& process,
                 std::string_view comm_when_gone) {
  const char* keys[] = {
      client ? "client_pid" : "server_pid", client ? "client_ppid" : "server_ppid",
      client ? "client_comm" : "server_comm", client ? "client_uid" : "server_uid",
      client ? "client_user" : "server_user"};
  if (!process) {
    for (const char* k : keys) {
      if (k == keys[2] && !comm_when_gone.empty()) {
        r.add(k, comm_when_gone);
      } else {
        r.add(k, nullptr);
      }
    }
    return;
  }
  r.add(keys[0], process->pid);
  r.add(keys[1], process->ppid);
  r.add(keys[2], process->comm);
  r.add(keys[3], process->uid);
  if (process->user.empty()) {
    r.add(keys[4], nullptr);
  } else {
    r.add(keys[4], process->user);
  }
}

}  // namespace tcpdp
