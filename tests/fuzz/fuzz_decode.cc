/// libFuzzer target: arbitrary bytes as a stream of packets of several link types, through packet
/// decode, IP defragmentation, the tracker and reassembly into the hex dumper.
///
/// Input layout, repeated: 1 byte link-type selector, 2 bytes packet length, 2 bytes of "wire
/// extra" (how much longer the packet was on the wire), then the packet bytes.
#include <pcap/dlt.h>

#include <cstddef>
#include <cstdint>

#include "dumpers/hex/hex_dumper.h"
#include "linear_guard.h"
#include "packet/decode.h"
#include "tcptrack/tracker.h"

namespace {

class NullSink : public tcpdp::RecordSink {
 public:
  void write(const tcpdp::Record&) override {}
};

constexpr int kLinkTypes[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2,
                              DLT_NULL,   DLT_LOOP,      DLT_RAW};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tcpdp::fuzz::LinearGuard guard(size);
  NullSink sink;
  tcpdp::HexDumper dumper(sink);
  tcpdp::TrackerOptions options;
  options.reassembly.max_held_bytes = 4096;  // small bounds so the fuzzer reaches them
  options.reassembly.max_held_segments = 8;
  options.max_connections = 4;
  tcpdp::Tracker tracker(dumper, tcpdp::Targets{}, options);
  const int link = kLinkTypes[size > 0 ? data[0] % 6 : 0];
  tcpdp::PacketDecoder decoder(link);
  tcpdp::TcpSegment segment;
  int64_t clock = 0;
  size_t pos = 1;
  while (pos + 4 <= size) {
    const size_t len = static_cast<size_t>(data[pos] << 8 | data[pos + 1]);
    const uint32_t extra = static_cast<uint32_t>(data[pos + 2] << 8 | data[pos + 3]);
    pos += 4;
    const size_t n = len < size - pos ? len : size - pos;
    clock += 1000 + extra * 1000;  // time moves, sometimes far, so idle eviction runs too
    const tcpdp::Timestamp ts{clock};
    if (decoder.decode(ts, {data + pos, n}, static_cast<uint32_t>(n) + extra, segment) ==
        tcpdp::DecodeResult::kTcp) {
      tracker.on_segment(segment);
    }
    pos += n;
  }
  tracker.finish(tcpdp::Timestamp{clock});
  return 0;
}
