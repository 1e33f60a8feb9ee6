/// The body of the protocol-decoder fuzz targets: arbitrary bytes through a dumper's decoder, as
/// chunks of either direction with gaps between some of them, on a connection that starts with
/// its handshake or is picked up mid-way.
///
/// Input layout: 1 byte flags (bit 0: picked up mid-way, bit 1: no response pairing), then chunks
/// of 1 control byte (bit 0: server side, bit 1: a gap before it, bits 2-7: length / 4) and data.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "dumpers/dumper.h"
#include "linear_guard.h"

namespace tcpdp::fuzz {

class NullSink : public RecordSink {
 public:
  void write(const Record&) override {}
};

template <typename DumperType, typename Options>
int run_decoder(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  LinearGuard guard(size);
  NullSink sink;
  Options options;
  options.pair_responses = (data[0] & 2) == 0;
  options.max_message = 4096;  // small bounds, so the fuzzer reaches them
  options.max_pending = 16;
  options.max_statements = 8;
  DumperType dumper(sink, options);
  ConnInfo info;
  info.conn_id = "fuzz";
  info.mid_stream = (data[0] & 1) != 0;
  auto decoder = dumper.open(info, Timestamp{0});
  int64_t clock = 0;
  size_t pos = 1;
  while (pos < size) {
    const uint8_t control = data[pos++];
    const size_t len = std::min<size_t>(static_cast<size_t>(control >> 2) * 4 + 1, size - pos);
    const auto dir = (control & 1) ? Direction::kServerToClient : Direction::kClientToServer;
    const Timestamp ts{clock += 7};
    if (control & 2) decoder->on_gap(dir, ts, 13);
    decoder->on_data(dir, ts, {data + pos, len});
    pos += len;
  }
  decoder->on_close(Timestamp{clock + 1}, CloseReason::kFin);
  return 0;
}

}  // namespace tcpdp::fuzz
