/// Packets from a live interface through libpcap, like tcpdump: not promiscuous unless asked, a
/// BPF filter, the kernel's buffer size, immediate mode, and a read timeout so the caller gets
/// control back regularly even when nothing arrives (and at once when a signal comes).
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>

#include "packet/segment.h"
#include "tcptrack/target.h"

namespace tcpdp {

struct CaptureSettings {
  std::string interface = "any";
  uint32_t snapshot_length = 262144;
  uint64_t buffer_size = 2 * 1000 * 1000;
  bool immediate_mode = false;
  bool promiscuous = false;
  std::string filter;  // BPF (pcap-filter syntax); empty: everything
};

/// The BPF expression that selects the targets' TCP traffic: `tcp and (port 5432 or (host
/// 10.0.0.1 and port 3306))`; just `tcp` without targets.
std::string filter_for(const Targets& targets);

/// `-s auto`: the largest packet the interface hands to a capture (its MTU, or the GSO/GRO
/// size when larger: the kernel passes such merged packets whole) plus its link header; for
/// `any`, the largest over all interfaces. 0 when /sys does not say.
uint32_t auto_snapshot_length(const std::string& interface);

class LiveSource {
 public:
  /// Opens and activates the capture; on failure nullptr and one sentence in *error (no such
  /// interface, no permission, a filter that does not compile, with libpcap's words).
  static std::unique_ptr<LiveSource> open(const CaptureSettings& settings, std::string* error);
  ~LiveSource();

  enum class Next { kPacket, kTimeout, kError };
  /// Hands every packet already captured to `on_packet(const RawPacket&)`, waiting up to
  /// 100 ms for the first: kPacket when some came, kTimeout when none did.
  template <typename F>
  Next dispatch(F&& on_packet);

  int link_type() const { return pcap_datalink(handle_); }
  uint32_t snapshot_length() const { return static_cast<uint32_t>(pcap_snapshot(handle_)); }
  const std::string& error() const { return error_; }

  struct Stats {
    uint64_t received = 0;
    uint64_t dropped = 0;     // by the kernel: no room in the buffer
    uint64_t if_dropped = 0;  // by the interface or its driver
  };
  bool stats(Stats& out);

 private:
  explicit LiveSource(pcap_t* handle) : handle_(handle) {}
  void wait_readable();
  pcap_t* handle_;
  std::string error_;
};

template <typename F>
LiveSource::Next LiveSource::dispatch(F&& on_packet) {
  using Callback = std::remove_reference_t<F>;
  const pcap_handler call = [](u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
    const RawPacket packet{
        Timestamp::from_parts(h->ts.tv_sec, h->ts.tv_usec), {bytes, h->caplen}, h->len};
    (*reinterpret_cast<Callback*>(user))(packet);
  };
  // Non-blocking reads and our own wait between them: libpcap's TPACKET_V3 reader would wait
  // for a full block with no timeout when nothing arrives.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int n = pcap_dispatch(handle_, -1, call, reinterpret_cast<u_char*>(&on_packet));
    if (n > 0) return Next::kPacket;
    if (n < 0) {
      error_ = pcap_geterr(handle_);
      return Next::kError;
    }
    if (attempt == 0) wait_readable();
  }
  return Next::kTimeout;
}

}  // namespace tcpdp
