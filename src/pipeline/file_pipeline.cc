#include "pipeline/file_pipeline.h"

#include <algorithm>

namespace tcpdp {

FilePipeline::FilePipeline(PcapFileSource& source, Shard& shard)
    : source_(source), shard_(shard), decoder_(source.link_type()) {}

bool FilePipeline::step() {
  switch (source_.next(packet_)) {
    case PcapFileSource::Next::kPacket:
      break;
    case PcapFileSource::Next::kError:
      failed_ = true;
      error_ = source_.error();
      return false;
    case PcapFileSource::Next::kEnd:
      return false;
  }
  last_ = std::max(last_, packet_.ts);
  if (decoder_.decode(packet_.ts, packet_.data, packet_.wire_len, segment_) == DecodeResult::kTcp) {
    shard_.on_segment(segment_);
  }
  return true;
}

void FilePipeline::finish() { shard_.finish(last_); }

}  // namespace tcpdp
