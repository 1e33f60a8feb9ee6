#include "packet/ip_defrag.h"

namespace tcpdp {
namespace {
constexpr int64_t kTimeoutUsec = 30LL * 1000000;
constexpr size_t kMaxPendingDatagrams = 4096;
constexpr size_t kMaxPendingBytes = 64 << 20;
constexpr uint32_t kMaxDatagram = 65535 + 8;
}  // namespace

void IpDefragmenter::expire(Timestamp now) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now.usec - it->second.first_seen.usec > kTimeoutUsec) {
      pending_bytes_ -= it->second.bytes;
      ++stats_.expired;
      it = pending_.erase(it);
    } else {
      ++it;
    }
  }
}

std::span<const uint8_t> IpDefragmenter::add(const Key& key, Timestamp ts, uint32_t offset,
                                             bool more, std::span<const uint8_t> bytes) {
  ++stats_.fragments;
  if (offset + bytes.size() > kMaxDatagram) return {};
  if (pending_.size() >= kMaxPendingDatagrams || pending_bytes_ + bytes.size() > kMaxPendingBytes) {
    expire(ts);
    while (!pending_.empty() && (pending_.size() >= kMaxPendingDatagrams ||
                                 pending_bytes_ + bytes.size() > kMaxPendingBytes)) {
      pending_bytes_ -= pending_.begin()->second.bytes;
      ++stats_.expired;
      pending_.erase(pending_.begin());
    }
  }
  auto [it, inserted] = pending_.try_emplace(key);
  Pending& p = it->second;
  if (inserted) p.first_seen = ts;
  if (!more) p.total = offset + bytes.size();
  auto [part, added] = p.parts.try_emplace(offset, bytes.begin(), bytes.end());
  if (added) {
    p.bytes += bytes.size();
    pending_bytes_ += bytes.size();
  }
  if (p.total < 0) return {};

  // Complete when the parts cover [0, total) without a hole.
  uint64_t covered = 0;
  for (const auto& [off, data] : p.parts) {
    if (off > covered) return {};
    covered = std::max<uint64_t>(covered, off + data.size());
  }
  if (covered < static_cast<uint64_t>(p.total)) return {};

  assembled_.assign(static_cast<size_t>(p.total), 0);
  for (const auto& [off, data] : p.parts) {
    const size_t n =
        std::min<size_t>(data.size(), assembled_.size() - std::min<size_t>(off, assembled_.size()));
    std::copy_n(data.begin(), n, assembled_.begin() + off);
  }
  pending_bytes_ -= p.bytes;
  pending_.erase(it);
  ++stats_.reassembled;
  return assembled_;
}

}  // namespace tcpdp
