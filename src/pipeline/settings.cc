#include "pipeline/settings.h"

namespace tcpdp {

TrackerOptions tracker_options_of(const Config& config) {
  TrackerOptions t;
  t.idle_timeout_usec = static_cast<int64_t>(config.tcptrack.idle_timeout * 1e6);
  t.max_connections = config.tcptrack.max_connections;
  t.closed_linger_usec = static_cast<int64_t>(config.tcptrack.closed_linger * 1e6);
  t.reassembly.max_held_bytes = config.tcptrack.max_held_bytes;
  t.reassembly.max_held_segments = config.tcptrack.max_held_segments;
  t.proxy_protocol = config.tcpdp.proxy_protocol;
  return t;
}

}  // namespace tcpdp
