/// The remote's addresses, for the event loops, which never wait on a lookup themselves: an IP
/// literal as it is; a name looked up again every second on a thread of its own, so a changed
/// DNS answer is followed within a second and a slow resolver holds up no connection. A failed
/// lookup keeps the last answer and is logged (once, until one succeeds again).
#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/endpoint.h"
#include "sinks/program_log.h"

namespace tcpdp {

class RemoteResolver {
 public:
  /// `first`: the addresses the name had at startup.
  RemoteResolver(std::string host, std::vector<IpAddr> first, ProgramLog& log);
  ~RemoteResolver();

  std::shared_ptr<const std::vector<IpAddr>> addresses() const;

 private:
  void run();

  std::string host_;
  ProgramLog& log_;
  mutable std::mutex mutex_;
  std::condition_variable stop_;
  bool stopping_ = false;
  std::shared_ptr<const std::vector<IpAddr>> current_;
  std::thread thread_;
};

}  // namespace tcpdp
