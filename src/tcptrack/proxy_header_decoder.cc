#include "tcptrack/proxy_header_decoder.h"

namespace tcpdp {

namespace {

ProxyHeader with_status(ProxyHeader::Status status, std::string error = {}) {
  ProxyHeader h;
  h.status = status;
  h.error = std::move(error);
  return h;
}

// What the held bytes were when no more will come.
ProxyHeader unfinished(bool nothing_held, const char* why) {
  return nothing_held ? with_status(ProxyHeader::Status::kNotProxy)
                      : with_status(ProxyHeader::Status::kInvalid, why);
}

}  // namespace

ProxyHeaderDecoder::ProxyHeaderDecoder(Dumper& dumper, const ConnInfo& conn, Timestamp ts)
    : dumper_(dumper), conn_(conn), opened_(ts) {}

void ProxyHeaderDecoder::settle(Timestamp ts, const ProxyHeader& header) {
  size_t skip = 0;
  if (header.status == ProxyHeader::Status::kParsed) {
    skip = header.length;
    if (!header.local) {
      conn_.proxy_source = header.source;
      conn_.proxy_destination = header.destination;
      for (Direction d : {Direction::kClientToServer, Direction::kServerToClient}) {
        if (conn_.fields[d == Direction::kClientToServer ? 0 : 1]) {
          conn_.fields[d == Direction::kClientToServer ? 0 : 1] = connection_fields(conn_, d);
        }
      }
    }
  } else if (header.status == ProxyHeader::Status::kInvalid) {
    error_ = header.error;
  }
  inner_ = dumper_.open(conn_, opened_);
  if (held_.size() > skip) {
    inner_->on_data(Direction::kClientToServer, ts,
                    std::span<const uint8_t>(held_).subspan(skip));
  }
  held_ = {};
}

void ProxyHeaderDecoder::on_data(Direction dir, Timestamp ts, std::span<const uint8_t> bytes) {
  if (!inner_) {
    if (dir == Direction::kServerToClient) {
      // The server spoke first: what the client sent so far was not waiting on a header.
      settle(ts, with_status(ProxyHeader::Status::kNotProxy));
    } else {
      held_.insert(held_.end(), bytes.begin(), bytes.end());
      const ProxyHeader header = parse_proxy_header(held_);
      if (header.status == ProxyHeader::Status::kNeedMore) return;
      settle(ts, header);
      return;
    }
  }
  inner_->on_data(dir, ts, bytes);
}

void ProxyHeaderDecoder::on_gap(Direction dir, Timestamp ts, uint64_t missed) {
  if (!inner_) {
    settle(ts, unfinished(held_.empty(), "the start of the client's stream was not captured whole"));
  }
  inner_->on_gap(dir, ts, missed);
}

void ProxyHeaderDecoder::on_close(Timestamp ts, CloseReason reason) {
  if (!inner_) {
    settle(ts, unfinished(held_.empty(), "the connection ended inside its PROXY protocol header"));
  }
  inner_->on_close(ts, reason);
}

void ProxyHeaderDecoder::describe(Record& r) const {
  if (conn_.proxy_source) {
    r.add("proxy_protocol_src_addr", conn_.proxy_source->to_string());
    r.add("proxy_protocol_dst_addr", conn_.proxy_destination->to_string());
  } else if (!error_.empty()) {
    r.add("proxy_protocol_error", error_);
  } else if (!inner_ && !held_.empty()) {
    r.add("proxy_protocol_error", "the connection ended inside its PROXY protocol header");
  }
  if (inner_) inner_->describe(r);
}

}  // namespace tcpdp
