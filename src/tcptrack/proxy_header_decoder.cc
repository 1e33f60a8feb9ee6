#include "tcptrack/proxy_header_decoder.h"

namespace tcpdp {

namespace {

// A server that does not wait for the header (MySQL greets at once) may send this much before
// the client's first bytes; past it the connection is taken to have no header.
constexpr size_t kMaxServerHeld = 64 * 1024;

ProxyHeader with_status(ProxyHeader::Status status, std::string error = {}) {
  ProxyHeader h;
  h.status = status;
  h.error = std::move(error);
  return h;
}

// What the client's bytes were when no more will come.
ProxyHeader unfinished(bool nothing_held, const char* why) {
  return nothing_held ? with_status(ProxyHeader::Status::kNotProxy)
                      : with_status(ProxyHeader::Status::kInvalid, why);
}

}  // namespace

ProxyHeaderDecoder::ProxyHeaderDecoder(Dumper& dumper, const ConnInfo& conn, Timestamp ts)
    : dumper_(dumper), conn_(conn), opened_(ts) {}

void ProxyHeaderDecoder::settle(const ProxyHeader& header) {
  size_t skip = 0;
  if (header.status == ProxyHeader::Status::kParsed) {
    skip = header.length;
    if (!header.local) {
      conn_.proxy_source = header.source;
      conn_.proxy_destination = header.destination;
    }
  } else if (header.status == ProxyHeader::Status::kInvalid) {
    error_ = header.error;
  }
  inner_ = dumper_.open(conn_, opened_);
  for (const Held& h : held_) {
    if (h.gap > 0) {
      inner_->on_gap(h.dir, h.ts, h.gap);
      continue;
    }
    std::span<const uint8_t> bytes(h.bytes);
    if (h.dir == Direction::kClientToServer && skip > 0) {
      const size_t n = std::min(skip, bytes.size());
      skip -= n;
      bytes = bytes.subspan(n);
    }
    if (!bytes.empty()) inner_->on_data(h.dir, h.ts, bytes);
  }
  held_ = {};
  client_start_ = {};
}

void ProxyHeaderDecoder::on_data(Direction dir, Timestamp ts, std::span<const uint8_t> bytes) {
  if (inner_) {
    inner_->on_data(dir, ts, bytes);
    return;
  }
  held_.push_back({dir, ts, {bytes.begin(), bytes.end()}});
  if (dir == Direction::kServerToClient) {
    server_held_ += bytes.size();
    if (server_held_ > kMaxServerHeld) settle(with_status(ProxyHeader::Status::kNotProxy));
    return;
  }
  client_start_.insert(client_start_.end(), bytes.begin(), bytes.end());
  const ProxyHeader header = parse_proxy_header(client_start_);
  if (header.status != ProxyHeader::Status::kNeedMore) settle(header);
}

void ProxyHeaderDecoder::on_gap(Direction dir, Timestamp ts, uint64_t missed) {
  if (!inner_ && dir == Direction::kServerToClient) {
    held_.push_back({dir, ts, {}, missed});  // says nothing about the client's header
    return;
  }
  if (!inner_) {
    // Bytes of the header's place are missing: it cannot be read.
    settle(unfinished(false, "the start of the client's stream was not captured whole"));
  }
  inner_->on_gap(dir, ts, missed);
}

void ProxyHeaderDecoder::on_close(Timestamp ts, CloseReason reason) {
  if (!inner_) {
    settle(unfinished(client_start_.empty(), "the connection ended inside its PROXY protocol header"));
  }
  inner_->on_close(ts, reason);
}

void ProxyHeaderDecoder::describe(Record& r) const {
  if (conn_.proxy_source) {
    r.add("proxy_protocol_src_addr", conn_.proxy_source->to_string());
    r.add("proxy_protocol_dst_addr", conn_.proxy_destination->to_string());
  } else if (!error_.empty()) {
    r.add("proxy_protocol_error", error_);
  } else if (!inner_ && !client_start_.empty()) {
    r.add("proxy_protocol_error", "the connection ended inside its PROXY protocol header");
  }
  if (inner_) inner_->describe(r);
}

}  // namespace tcpdp
