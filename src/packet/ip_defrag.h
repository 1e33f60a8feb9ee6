/// Puts fragmented IPv4 and IPv6 datagrams back together. Bounded: pending datagrams and bytes
/// are capped, and a datagram not completed within the timeout (capture time) is dropped.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "common/endpoint.h"
#include "common/timestamp.h"

namespace tcpdp {

struct DefragStats {
  uint64_t fragments = 0;
  uint64_t reassembled = 0;
  uint64_t expired = 0;  // incomplete datagrams dropped after the timeout or over the bound
};

class IpDefragmenter {
 public:
  struct Key {
    IpAddr src;
    IpAddr dst;
    uint32_t id = 0;
    uint8_t protocol = 0;
    friend auto operator<=>(const Key&, const Key&) = default;
  };

  /// Adds one fragment (`offset` in bytes into the datagram's payload). When this completes the
  /// datagram, returns its whole payload (valid until the next call); otherwise an empty span.
  std::span<const uint8_t> add(const Key& key, Timestamp ts, uint32_t offset, bool more,
                               std::span<const uint8_t> bytes);
  const DefragStats& stats() const { return stats_; }

 private:
  struct Pending {
    Timestamp first_seen;
    std::map<uint32_t, std::vector<uint8_t>> parts;
    int64_t total = -1;  // known once the last fragment arrived
    size_t bytes = 0;
  };
  void expire(Timestamp now);

  std::map<Key, Pending> pending_;
  size_t pending_bytes_ = 0;
  std::vector<uint8_t> assembled_;
  DefragStats stats_;
};

}  // namespace tcpdp
