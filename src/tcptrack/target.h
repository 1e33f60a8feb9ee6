/// `-t/--target`: which server endpoints to look at. `PORT`, `HOST:PORT`, `[V6]:PORT`, several
/// joined by `,` or `||`. The target side of a connection is its server.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/endpoint.h"

namespace tcpdp {

struct Target {
  std::string text;           // as the user wrote it
  std::vector<IpAddr> hosts;  // empty: any host
  uint16_t port = 0;
};

class Targets {
 public:
  /// Parses and resolves the list; on failure returns nullopt and a sentence in *error.
  static std::optional<Targets> parse(const std::string& spec, std::string* error);

  bool empty() const { return list_.empty(); }
  bool matches(const Endpoint& e) const;
  const std::vector<Target>& list() const { return list_; }

 private:
  std::vector<Target> list_;
};

}  // namespace tcpdp
