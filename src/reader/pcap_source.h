/// Packets from a pcap or pcapng file, a FIFO or standard input ("-"). The input is opened once
/// and read in large blocks: the records of a classic pcap are taken straight from the block, the
/// way libpcap would read them; anything else (pcapng) goes to libpcap over the same blocks.
#pragma once

#include <pcap/pcap.h>
#include <sys/types.h>

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/timestamp.h"
#include "packet/segment.h"

namespace tcpdp {

class PcapFileSource {
 public:
  /// Opens path ("-" for stdin). On failure returns nullptr and a sentence in *error.
  static std::unique_ptr<PcapFileSource> open(const std::string& path, std::string* error);
  ~PcapFileSource();
  PcapFileSource(const PcapFileSource&) = delete;
  PcapFileSource& operator=(const PcapFileSource&) = delete;

  enum class Next { kPacket, kEnd, kError };
  /// The next packet, its data valid until the next call; kError leaves a sentence in error().
  Next next(RawPacket& packet);

  int link_type() const;
  std::string link_type_name() const;
  uint32_t snapshot_length() const;
  const std::string& error() const { return error_; }
  /// Bytes of the input read so far (the offset in a file), and a regular file's size when it
  /// was opened: 0 when not known (a pipe, FIFO or device).
  uint64_t position() const { return read_total_ - (end_ - begin_); }
  uint64_t size() const { return file_size_; }

 private:
  explicit PcapFileSource(int fd) : fd_(fd) {}
  bool start(std::string* error);
  // Reads until at least `want` bytes are buffered; false at the end of the input or on an error.
  bool fill(size_t want);
  Next next_record(RawPacket& packet);
  // What the end of the input means: `what`, unless a regular file was cut while being read.
  Next ended(Next what);
  // libpcap's stdio stream over the same input (fopencookie).
  static ssize_t stream_read(void* self, char* out, size_t n);

  int fd_;
  pcap_t* handle_ = nullptr;
  std::string error_;
  std::vector<uint8_t> buffer_;
  size_t begin_ = 0;         // the next unread byte in buffer_
  size_t end_ = 0;           // the end of what buffer_ holds
  uint64_t read_total_ = 0;  // input offset of buffer_[end_]
  int read_errno_ = 0;
  bool at_end_ = false;
  bool regular_ = false;
  uint64_t file_size_ = 0;
  // A classic pcap's records are read here; libpcap only reads its file header, from header_.
  bool records_ = false;
  std::array<char, 24> header_{};
  bool swapped_ = false;  // the file's byte order is not ours
  bool nanoseconds_ = false;
  uint32_t snapshot_ = 0;
};

}  // namespace tcpdp
