/// What every part knows about one TCP connection: its id, its two sides, and the direction
/// of a piece of data (client -> server is `->`).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/endpoint.h"
#include "common/timestamp.h"

namespace tcpdp {

enum class Direction : uint8_t { kClientToServer, kServerToClient };

inline const char* direction_arrow(Direction d) {
  return d == Direction::kClientToServer ? "->" : "<-";
}

struct ConnInfo {
  std::string conn_id;
  Endpoint client;
  Endpoint server;
  Timestamp first_seen;
  bool mid_stream = false;  // picked up after its handshake: the start of its streams was not seen
  // The client and server a PROXY protocol header named (--proxy-protocol): the connection's
  // own ends are then a load balancer's and the server's.
  std::optional<Endpoint> proxy_source;
  std::optional<Endpoint> proxy_destination;
  // In `tcpdp proxy`: client is the proxy's client, server its remote, and these are the
  // proxy's own two ends (where the client connected; where it connects to the remote from).
  struct ProxyEnds {
    Endpoint listen;
    Endpoint local;
  };
  std::optional<ProxyEnds> relayed_by;

  const Endpoint& source(Direction d) const {
    return d == Direction::kClientToServer ? client : server;
  }
  const Endpoint& destination(Direction d) const {
    return d == Direction::kClientToServer ? server : client;
  }
};

/// A 20-character id, sortable by time: base32hex of 4 bytes seconds, 3 bytes microseconds,
/// 1 byte source (shard) and a 4-byte counter. The same inputs always give the same id.
std::string make_conn_id(Timestamp ts, uint8_t source, uint32_t counter);

}  // namespace tcpdp
