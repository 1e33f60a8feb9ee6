/// Packets from a live interface through libpcap, like tcpdump: not promiscuous unless asked, a
/// BPF filter, the kernel's buffer size, immediate mode, and a read timeout so the caller gets
/// control back regularly even when nothing arrives.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <string>

#include "reader/pcap_source.h"
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

class LiveSource {
 public:
  /// Opens and activates the capture; on failure nullptr and one sentence in *error (no such
  /// interface, no permission, a filter that does not compile, with libpcap's words).
  static std::unique_ptr<LiveSource> open(const CaptureSettings& settings, std::string* error);
  ~LiveSource();

  enum class Next { kPacket, kTimeout, kStopped, kError };
  Next next(RawPacket& packet);
  /// Makes next() return kStopped; safe to call from a signal handler. next() returns kTimeout
  /// at least every 100 ms when nothing arrives.
  void stop() { pcap_breakloop(handle_); }

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
  pcap_t* handle_;
  std::string error_;
};

}  // namespace tcpdp
