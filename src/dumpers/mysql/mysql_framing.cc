#include <zlib.h>

#include <algorithm>

#include "dumpers/mysql/mysql_decoder.h"

namespace tcpdp::mysql {
namespace {
constexpr size_t kResyncWindow = 1 << 20;  // the longest packet a boundary search considers

bool plausible_command(std::span<const uint8_t> payload) {
  if (payload.empty() || !command_name(payload[0])) return false;
  const size_t fixed = fixed_length(payload[0]);
  if (fixed) return payload.size() == fixed;
  switch (payload[0]) {
    case kStmtExecute:
      return payload.size() >= 10;
    case kStmtSendLongData:
      return payload.size() >= 7;
    case kQuery:
    case kInitDb:
    case kStmtPrepare:
      return payload.size() >= 2;
    default:
      return false;  // rarer commands carry too little to recognise a boundary by
  }
}

// The end of an answer: an OK or ERR packet that parses completely.
bool plausible_answer_end(std::span<const uint8_t> payload) {
  if (payload.empty()) return false;
  Reader r(payload.subspan(1));
  if (payload[0] == 0x00) {
    uint64_t affected, insert_id;
    uint16_t status, warnings;
    return r.lenenc(affected) && r.lenenc(insert_id) && r.u16(status) && r.u16(warnings);
  }
  if (payload[0] == 0xFF) {
    uint16_t code;
    uint8_t hash;
    return r.u16(code) && r.u8(hash) && hash == '#' && r.remaining() >= 5;
  }
  return false;
}

// Out of sync, a boundary is a packet that is surely one. On the client side, a command
// (sequence 0) of the right shape followed by another plausible header or the end of the data;
// on the server side, the end of an answer (OK or ERR, sequence 1 or more), after which the
// next answer starts clean.
class Boundaries : public BoundaryRules {
 public:
  explicit Boundaries(Direction dir) : client_(dir == Direction::kClientToServer) {}
  size_t header_size() const override { return 4; }
  size_t message_size(const uint8_t* h) const override {
    const uint32_t len = le24(h);
    const uint8_t seq = h[3];
    if (len == 0 || len > kResyncWindow || (client_ ? seq != 0 : seq == 0)) return 0;
    return size_t{len} + 4;
  }
  bool plausible(std::span<const uint8_t> packet) const override {
    return client_ ? plausible_command(packet.subspan(4)) : plausible_answer_end(packet.subspan(4));
  }
  bool plausible_next(const uint8_t* h) const override {
    const uint32_t len = le24(h);
    const uint8_t seq = h[3];
    if (len == 0 || len > kMaxPacket) return false;
    return client_ ? seq == 0 || seq == 2 : seq == 1;
  }
  bool resume_after() const override { return !client_; }

 private:
  bool client_;
};

}  // namespace

const BoundaryRules& MysqlDecoder::Side::boundaries() const {
  static const Boundaries client(Direction::kClientToServer), server(Direction::kServerToClient);
  return dir == Direction::kClientToServer ? client : server;
}

void MysqlDecoder::Side::on_resync(uint64_t skipped, Timestamp ts) {
  if (skipped > 0) {
    decoder.skipped(dir, ts, skipped, "bytes skipped to find a packet boundary after a gap or pickup");
  }
  if (dir == Direction::kServerToClient) {
    decoder.resp_ = Resp::kFirst;
    decoder.pairing_ = true;  // the server has finished an answer: the next one is the next command's
  }
}

// A packet header: 3-byte payload length, sequence number. A payload of 16 MB or more comes in
// pieces, the first one's time and sequence number being the payload's.
Framer::Verdict MysqlDecoder::Side::on_header(std::span<const uint8_t> h) {
  const uint32_t len = le24(h.data());
  if (joined.empty()) {
    msg_ts = framer.message_ts();
    first_seq = h[3];
  }
  if (joined.size() + len > decoder.options_.max_message) {
    decoder.decode_error(*this, dir, msg_ts,
                         "payload over the limit of " +
                             std::to_string(decoder.options_.max_message) + " bytes: skipped");
    joined.clear();
    if (dir == Direction::kClientToServer) decoder.suspend_pairing();
    return Framer::Verdict::pass(len);
  }
  return Framer::Verdict::read(len);
}

void MysqlDecoder::Side::on_message(std::span<const uint8_t> h, std::span<const uint8_t> payload) {
  const uint32_t len = le24(h.data());
  if (len == kMaxPacket || !joined.empty()) {
    // The last piece of a long payload is shorter than 16 MB.
    joined.append(reinterpret_cast<const char*>(payload.data()), payload.size());
    if (len == kMaxPacket) return;
    const std::string whole = std::move(joined);
    joined.clear();
    decoder.packet(dir, first_seq, {reinterpret_cast<const uint8_t*>(whole.data()), whole.size()});
    return;
  }
  decoder.packet(dir, h[3], payload);
}

// Compressed packets: 3-byte compressed length, sequence, 3-byte uncompressed length (0: the
// body is not compressed), then the body: a piece of the ordinary packet stream.
void MysqlDecoder::feed_compressed(Side& s, Timestamp ts, std::span<const uint8_t> data) {
  while (!data.empty() && s.compressed && s.framer.state() == Framer::State::kInSync) {
    const size_t have = s.zbuf.size();
    size_t need = 7;
    if (have >= 7) need = 7 + le24(reinterpret_cast<const uint8_t*>(s.zbuf.data()));
    const size_t take = std::min(need - have, data.size());
    s.zbuf.append(reinterpret_cast<const char*>(data.data()), take);
    data = data.subspan(take);
    if (s.zbuf.size() < need) continue;
    const auto* h = reinterpret_cast<const uint8_t*>(s.zbuf.data());
    // The header is complete and its body comes next, unless the body is empty.
    if (have < 7 && le24(h) != 0) continue;
    const uint32_t stored = le24(h);
    const uint32_t plain_len = le24(h + 4);
    std::string plain;
    if (plain_len == 0) {
      plain.assign(s.zbuf, 7, stored);
    } else if (plain_len > options_.max_message) {
      decode_error(
          s, s.dir, ts,
          "compressed packet inflates to " + std::to_string(plain_len) + " bytes, over the limit");
      return lose(s);
    } else {
      plain.resize(plain_len);
      uLongf out_len = plain_len;
      if (uncompress(reinterpret_cast<Bytef*>(plain.data()), &out_len, h + 7, stored) != Z_OK ||
          out_len != plain_len) {
        decode_error(s, s.dir, ts, "compressed packet does not inflate");
        return lose(s);
      }
    }
    s.zbuf.clear();
    s.framer.feed({reinterpret_cast<const uint8_t*>(plain.data()), plain.size()}, ts, s);
  }
  // A gap in compressed data leaves the framer out of sync for good: nothing can be trusted.
  if (!data.empty() && !s.compressed) s.framer.feed(data, ts, s);
}

void MysqlDecoder::lose(Side& s) {
  s.joined.clear();
  s.zbuf.clear();
  if (s.compressed) {
    s.framer.silence();
  } else {
    s.framer.lose_sync();
  }
  suspend_pairing();
}

void MysqlDecoder::go_silent() {
  client_.framer.silence();
  server_.framer.silence();
}

void MysqlDecoder::skipped(Direction dir, Timestamp ts, uint64_t bytes, const char* why) {
  Record r = record(RecordKind::kDecodeError, dir, ts);
  r.add("skipped_bytes", bytes);
  r.add("decode_error", why);
  emit_now(std::move(r));
}

// The connection ended: a packet it cut short, or bytes still searched for a boundary, are said
// rather than dropped without a word.
void MysqlDecoder::unfinished(Side& s, Timestamp ts) {
  const Framer::Unfinished u = s.framer.unfinished();
  if (u.what == Framer::Unfinished::kSearching) {
    skipped(s.dir, ts, u.seen,
            "bytes skipped: the connection ended before a packet boundary was found");
    s.framer.clear_search();
    return;
  }
  if (s.framer.state() != Framer::State::kInSync) return;
  if (!s.zbuf.empty()) {
    decode_error(s, s.dir, s.msg_ts,
                 "the connection ended inside a compressed packet (" +
                     std::to_string(s.zbuf.size()) + " bytes of it seen): not decoded");
  } else if (u.what == Framer::Unfinished::kBody || !s.joined.empty()) {
    decode_error(s, s.dir, s.msg_ts,
                 "the connection ended " + std::to_string(s.joined.size() + u.seen) +
                     " bytes into a payload: not decoded");
  } else if (u.what == Framer::Unfinished::kPassing) {
    decode_error(s, s.dir, s.msg_ts,
                 "the connection ended with " + std::to_string(u.size) +
                     " bytes of a skipped payload not seen");
  } else if (u.what == Framer::Unfinished::kHeader) {
    decode_error(s, s.dir, s.msg_ts,
                 "the connection ended inside a packet header (" + std::to_string(u.seen) +
                     " bytes of it seen)");
  }
}

// The classic protocol's server speaks first. What a client says before any greeting is either a
// HandshakeResponse whose greeting the capture lost (a packet of sequence number 1), decoded as
// usual, or something else: MySQL's X Protocol (port 33060: frames of a 4-byte length and a
// message type, the first one a CapabilitiesGet or an authentication start) is named, anything
// else too, once, and nothing of it is decoded. What the client said is in early_.
void MysqlDecoder::first_client_bytes() {
  const std::string held = std::move(early_);
  early_.clear();
  const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(held.data()), held.size());
  if (data.size() >= 4 && data[3] == 1 && le24(data.data()) >= 2) {
    client_.heard = true;
    client_.framer.feed(data, early_ts_, client_);
    return;
  }
  Record r = record(RecordKind::kDecodeError, Direction::kClientToServer, early_ts_);
  const bool x_frame = data.size() >= 5 && data[3] == 0 && le24(data.data()) >= 1 && data[4] >= 1 &&
                       data[4] <= 4;  // CapabilitiesGet/Set, Close, AuthStart
  if (x_frame) {
    r.add("message_type", "XProtocol");
    r.add("decode_error", "MySQL X Protocol (mysqlx): not decoded");
  } else {
    r.add("decode_error", "the client spoke before the server's greeting: not the MySQL protocol");
  }
  emit_now(std::move(r));
  go_silent();
}

}  // namespace tcpdp::mysql
