#include "proxy/remote_resolver.h"

namespace tcpdp {

RemoteResolver::RemoteResolver(std::string host, std::vector<IpAddr> first, ProgramLog& log)
    : host_(std::move(host)),
      log_(log),
      current_(std::make_shared<const std::vector<IpAddr>>(std::move(first))) {
  if (!IpAddr::parse(host_)) thread_ = std::thread([this] { run(); });
}

RemoteResolver::~RemoteResolver() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const std::vector<IpAddr>> RemoteResolver::addresses() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void RemoteResolver::run() {
  bool failing = false;
  std::unique_lock lock(mutex_);
  while (!stop_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_; })) {
    lock.unlock();
    std::vector<IpAddr> found;
    std::string error;
    const bool ok = resolve_host(host_, found, &error);
    if (!ok && !failing) {
      log_.log("warn", error + "; connecting to the addresses it had before");
    } else if (ok && failing) {
      log_.log("info", "the remote's name resolves again", [&](Record& r) {
        r.add("host", host_);
      });
    }
    failing = !ok;
    lock.lock();
    if (ok) current_ = std::make_shared<const std::vector<IpAddr>>(std::move(found));
  }
}

}  // namespace tcpdp
