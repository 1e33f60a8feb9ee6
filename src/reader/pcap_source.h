/// Packets from a pcap or pcapng file, or from standard input ("-"). libpcap opens every file
/// and reads pcapng and standard input; the records of a classic pcap file on disk are read
/// straight from a memory map instead, the way libpcap would read them, but without copying.
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
  /// Bytes of the file read so far, and its size: 0 when not known (standard input).
  uint64_t position() const;
  uint64_t size() const { return file_size_; }

 private:
  explicit PcapFileSource(pcap_t* handle) : handle_(handle) {}
  // Maps a classic pcap file and takes over reading its records; false leaves it to libpcap.
  bool map(const std::string& path);
  Next next_mapped(RawPacket& packet);

  pcap_t* handle_;
  std::string error_;
  // The mapped file, when mapped.
  const uint8_t* map_ = nullptr;
  size_t map_size_ = 0;
  size_t offset_ = 0;     // the next record's header
  size_t released_ = 0;   // pages before this were given back (they count as ours otherwise)
  bool swapped_ = false;  // the file's byte order is not ours
  bool nanoseconds_ = false;
  uint32_t snapshot_ = 0;
  uint64_t file_size_ = 0;
};

}  // namespace tcpdp
