/// `tcpdp read`'s pipeline: the packets of a capture file (or standard input), in capture order,
/// through packet decode into one shard; what went wrong with the file ends the reading, never
/// the records of what came before it.
#pragma once

#include <string>

#include "common/timestamp.h"
#include "packet/decode.h"
#include "pipeline/shard.h"
#include "reader/pcap_source.h"

namespace tcpdp {

class FilePipeline {
 public:
  /// `source`'s link type must be one link_type_supported() takes.
  FilePipeline(PcapFileSource& source, Shard& shard);

  /// Feeds the next packet to the shard; false at the end of the input or at its first error.
  bool step();
  /// After the last step: closes every connection still open as of the latest packet's time
  /// (the end of the capture), so their last records and summaries come out.
  void finish();

  /// Whether the reading stopped before the end of the input, and why.
  bool failed() const { return failed_; }
  const std::string& error() const { return error_; }
  const DecodeStats& decode_stats() const { return decoder_.stats(); }
  const TrackerStats& tracker_stats() const { return shard_.stats(); }

 private:
  PcapFileSource& source_;
  Shard& shard_;
  PacketDecoder decoder_;
  RawPacket packet_;
  TcpSegment segment_;
  Timestamp last_;
  bool failed_ = false;
  std::string error_;
};

}  // namespace tcpdp
