#include "cmd/pidfile.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace tcpdp {

namespace {

// The process id in the file at path, or 0 when there is none or it does not read as one.
pid_t pid_in(const std::string& path) {
  std::ifstream f(path);
  long pid = 0;
  if (!(f >> pid) || pid <= 0) return 0;
  return static_cast<pid_t>(pid);
}

bool alive(pid_t pid) { return kill(pid, 0) == 0 || errno == EPERM; }

}  // namespace

bool Pidfile::create(const std::string& path, std::string* error, bool take_over) {
  // The whole file is written under another name, then linked into place: the link fails when
  // the name exists, so two starting processes cannot both take it.
  const std::string tmp = path + "." + std::to_string(getpid()) + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    *error = "cannot write the pidfile " + path + ": " + std::strerror(errno);
    return false;
  }
  const std::string text = std::to_string(getpid()) + "\n";
  const bool written = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!written) {
    *error = "cannot write the pidfile " + path + ": " + std::strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  if (take_over) {
    if (rename(tmp.c_str(), path.c_str()) == 0) {
      path_ = path;
      return true;
    }
    *error = "cannot make the pidfile " + path + ": " + std::strerror(errno);
    unlink(tmp.c_str());
    return false;
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (link(tmp.c_str(), path.c_str()) == 0) {
      unlink(tmp.c_str());
      path_ = path;
      return true;
    }
    if (errno != EEXIST) break;
    const pid_t holder = pid_in(path);
    if (holder > 0 && holder != getpid() && alive(holder)) {
      *error = "the pidfile " + path + " names process " + std::to_string(holder) +
               ", which is running: is tcpdp running already? (stop it, or set [tcpdp] pidfile)";
      unlink(tmp.c_str());
      return false;
    }
    unlink(path.c_str());  // left by a process that is gone: take its place
  }
  *error = "cannot make the pidfile " + path + ": " + std::strerror(errno);
  unlink(tmp.c_str());
  return false;
}

Pidfile::~Pidfile() {
  if (!path_.empty() && pid_in(path_) == getpid()) unlink(path_.c_str());
}

}  // namespace tcpdp
