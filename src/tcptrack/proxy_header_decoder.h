/// --proxy-protocol for captured streams: a Decoder in front of the dumper's that takes a PROXY
/// protocol header off the start of the client's stream, so the dumper sees only what follows,
/// and every record of the connection (its summary too) names the client the header named.
#pragma once

#include <memory>
#include <vector>

#include "dumpers/dumper.h"
#include "tcptrack/proxy_protocol.h"

namespace tcpdp {

class ProxyHeaderDecoder : public Decoder {
 public:
  /// The dumper's decoder is opened once the start of the client's stream has told whether a
  /// header is there; until then both directions' bytes are held, in the order they came.
  ProxyHeaderDecoder(Dumper& dumper, const ConnInfo& conn, Timestamp ts);

  void on_data(Direction dir, Timestamp ts, std::span<const uint8_t> bytes) override;
  void on_gap(Direction dir, Timestamp ts, uint64_t missed) override;
  void on_close(Timestamp ts, CloseReason reason) override;
  /// proxy_protocol_src_addr and proxy_protocol_dst_addr, or proxy_protocol_error for a header
  /// that does not parse; then the dumper's own.
  void describe(Record& r) const override;
  /// The dumper's decoder's, once it is opened.
  DecoderState state() const override { return inner_ ? inner_->state() : DecoderState::kInSync; }

 private:
  // Bytes of one direction that came together, held until the header is settled.
  struct Held {
    Direction dir;
    Timestamp ts;
    std::vector<uint8_t> bytes;
    uint64_t gap = 0;  // or, instead of bytes, this many missed
  };
  // Opens the dumper's decoder, with the header's addresses when there was one, and hands it
  // everything held, in order, but the header.
  void settle(const ProxyHeader& header);

  Dumper& dumper_;
  ConnInfo conn_;
  Timestamp opened_;
  std::vector<uint8_t> client_start_;  // the client's bytes so far, for the parser
  std::vector<Held> held_;
  size_t server_held_ = 0;
  std::unique_ptr<Decoder> inner_;
  std::string error_;
};

}  // namespace tcpdp
