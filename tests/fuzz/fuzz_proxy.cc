/// libFuzzer target: the first bytes of a relayed or captured connection with --proxy-protocol.
/// The PROXY protocol header parser as the proxy runs it (again over the growing start of the
/// client's stream after each read), and the decoder that takes the header off and hands the
/// rest to a protocol dumper, whose first look decides on TLS (pg's SSLRequest, MySQL's SSL
/// request) or plaintext.
///
/// Input layout: 1 byte flags (bits 0-1: dumper pg, mysql, hex, pg; bit 2: picked up mid-way;
/// bit 3: no response pairing), then the chunks of fuzz_dumper.h: 1 control byte (bit 0: server
/// side, bit 1: a gap before it, bits 2-7: length / 4) and data.
#include <memory>
#include <optional>
#include <vector>

#include "dumpers/hex/hex_dumper.h"
#include "dumpers/mysql/mysql_dumper.h"
#include "dumpers/pg/pg_dumper.h"
#include "fuzz_dumper.h"
#include "tcptrack/proxy_header_decoder.h"
#include "tcptrack/proxy_protocol.h"

namespace {

using tcpdp::ProxyHeader;

// The error's wording may change as more of a bad line comes; what the proxy does may not.
bool same(const ProxyHeader& a, const ProxyHeader& b) {
  return a.status == b.status && a.length == b.length && a.local == b.local &&
         a.source == b.source && a.destination == b.destination;
}

// The proxy parses the whole start of the stream again after every read: once that start has
// settled the question (a header, none, or a bad one), more bytes must not change the answer,
// and it never asks for more than a header can hold.
class HeaderCheck {
 public:
  void add(const uint8_t* bytes, size_t n) {
    if (stream_.size() > tcpdp::kMaxProxyHeader) return;
    stream_.insert(stream_.end(), bytes, bytes + n);
    const ProxyHeader h = tcpdp::parse_proxy_header(stream_);
    if (h.status == ProxyHeader::Status::kParsed && (h.length == 0 || h.length > stream_.size())) {
      __builtin_trap();
    }
    if (h.status == ProxyHeader::Status::kNeedMore && stream_.size() >= tcpdp::kMaxProxyHeader) {
      __builtin_trap();
    }
    if (settled_ && !same(*settled_, h)) __builtin_trap();
    if (!settled_ && h.status != ProxyHeader::Status::kNeedMore) settled_ = h;
  }

 private:
  std::vector<uint8_t> stream_;
  std::optional<ProxyHeader> settled_;
};

std::unique_ptr<tcpdp::Dumper> dumper_for(uint8_t flags, tcpdp::RecordSink& sink) {
  const bool pair = (flags & 8) == 0;
  switch (flags & 3) {
    case 1: {
      tcpdp::MysqlOptions o;
      o.pair_responses = pair;
      o.max_message = 4096;  // small bounds, so the fuzzer reaches them
      o.max_pending = 16;
      o.max_statements = 8;
      return std::make_unique<tcpdp::MysqlDumper>(sink, o);
    }
    case 2:
      return std::make_unique<tcpdp::HexDumper>(sink);
    default: {
      tcpdp::PgOptions o;
      o.pair_responses = pair;
      o.max_message = 4096;
      o.max_pending = 16;
      o.max_statements = 8;
      return std::make_unique<tcpdp::PgDumper>(sink, o);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  tcpdp::fuzz::LinearGuard guard(size);
  tcpdp::fuzz::NullSink sink;
  auto dumper = dumper_for(data[0], sink);
  tcpdp::ConnInfo info;
  info.conn_id = "fuzz";
  info.mid_stream = (data[0] & 4) != 0;
  tcpdp::ProxyHeaderDecoder decoder(*dumper, info, tcpdp::Timestamp{0});
  HeaderCheck header;
  int64_t clock = 0;
  size_t pos = 1;
  while (pos < size) {
    const uint8_t control = data[pos++];
    const size_t len = std::min<size_t>(static_cast<size_t>(control >> 2) * 4 + 1, size - pos);
    const bool server = (control & 1) != 0;
    const auto dir = server ? tcpdp::Direction::kServerToClient : tcpdp::Direction::kClientToServer;
    const tcpdp::Timestamp ts{clock += 7};
    if (control & 2) decoder.on_gap(dir, ts, 13);
    decoder.on_data(dir, ts, {data + pos, len});
    if (!server) header.add(data + pos, len);
    pos += len;
  }
  tcpdp::Record summary;
  decoder.describe(summary);
  decoder.on_close(tcpdp::Timestamp{clock + 1}, tcpdp::CloseReason::kFin);
  return 0;
}
