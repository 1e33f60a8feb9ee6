/// Packets from a pcap or pcapng file, or from standard input ("-"), through libpcap.
#pragma once

#include <pcap/pcap.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "common/timestamp.h"

namespace tcpdp {

struct RawPacket {
  Timestamp ts;
  std::span<const uint8_t> data;  // captured bytes
  uint32_t wire_len = 0;          // length on the wire
};

class PcapFileSource {
 public:
  /// Opens path ("-" for stdin). On failure returns nullptr and a sentence in *error.
  static std::unique_ptr<PcapFileSource> open(const std::string& path, std::string* error);
  ~PcapFileSource();

  enum class Next { kPacket, kEnd, kError };
  /// The next packet; kError leaves libpcap's description in error().
  Next next(RawPacket& packet);

  int link_type() const;
  std::string link_type_name() const;
  uint32_t snapshot_length() const;
  const std::string& error() const { return error_; }

 private:
  explicit PcapFileSource(pcap_t* handle) : handle_(handle) {}
  pcap_t* handle_;
  std::string error_;
};

}  // namespace tcpdp
