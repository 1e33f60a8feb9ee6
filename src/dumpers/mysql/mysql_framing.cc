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

// Compressed packets: 3-byte compressed length, sequence, 3-byte uncompressed length (0: the
// body is not compressed), then the body: a piece of the ordinary packet stream.
void MysqlDecoder::feed_compressed(Side& s, Direction dir, Timestamp ts,
                                   std::span<const uint8_t> data) {
  while (!data.empty() && s.compressed && s.mode != Mode::kSilent) {
    if (s.mode == Mode::kOutOfSync) return;  // a gap in compressed data: nothing can be trusted
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
          s, dir, ts,
          "compressed packet inflates to " + std::to_string(plain_len) + " bytes, over the limit");
      return lose(s);
    } else {
      plain.resize(plain_len);
      uLongf out_len = plain_len;
      if (uncompress(reinterpret_cast<Bytef*>(plain.data()), &out_len, h + 7, stored) != Z_OK ||
          out_len != plain_len) {
        decode_error(s, dir, ts, "compressed packet does not inflate");
        return lose(s);
      }
    }
    s.zbuf.clear();
    feed(s, dir, ts, {reinterpret_cast<const uint8_t*>(plain.data()), plain.size()});
  }
  if (!data.empty() && !s.compressed) feed(s, dir, ts, data);
}

void MysqlDecoder::feed(Side& s, Direction dir, Timestamp ts, std::span<const uint8_t> data) {
  std::string held;  // bytes the boundary search held, decoded from its boundary on
  while (!data.empty()) {
    if (s.mode == Mode::kSilent) return;
    if (s.mode == Mode::kOutOfSync) {
      auto found = s.search.feed(data, Boundaries(dir));
      if (!found) return;
      if (found->skipped > 0) {
        skipped(dir, ts, found->skipped,
                "bytes skipped to find a packet boundary after a gap or pickup");
      }
      s.mode = Mode::kPackets;
      if (dir == Direction::kServerToClient) {
        resp_ = Resp::kFirst;
        pairing_ = true;  // the server has finished an answer: the next one is the next command's
      }
      data = data.subspan(found->data_from);
      if (!found->held.empty()) {  // then data is all in it
        held = std::move(found->held);
        data = {reinterpret_cast<const uint8_t*>(held.data()), held.size()};
      }
      continue;
    }
    if (s.skip_left > 0) {
      const size_t n = std::min<uint64_t>(s.skip_left, data.size());
      s.skip_left -= n;
      data = data.subspan(n);
      continue;
    }
    if (!s.in_body) {
      if (s.buf.empty() && s.joined.empty()) s.msg_ts = ts;
      const size_t take = std::min<size_t>(4 - s.buf.size(), data.size());
      s.buf.append(reinterpret_cast<const char*>(data.data()), take);
      data = data.subspan(take);
      if (s.buf.size() < 4) return;
      const auto* h = reinterpret_cast<const uint8_t*>(s.buf.data());
      s.body_len = le24(h);
      s.seq = h[3];
      if (s.joined.empty()) s.first_seq = s.seq;
      s.buf.clear();
      if (s.joined.size() + s.body_len > options_.max_message) {
        decode_error(s, dir, s.msg_ts,
                     "payload over the limit of " + std::to_string(options_.max_message) +
                         " bytes: skipped");
        s.skip_left = s.body_len;
        s.joined.clear();
        if (dir == Direction::kClientToServer) suspend_pairing();
        continue;
      }
      s.in_body = true;
    }
    std::span<const uint8_t> payload;
    if (s.buf.empty() && data.size() >= s.body_len) {
      payload = data.first(s.body_len);
      data = data.subspan(s.body_len);
    } else {
      const size_t take = std::min<size_t>(s.body_len - s.buf.size(), data.size());
      s.buf.append(reinterpret_cast<const char*>(data.data()), take);
      data = data.subspan(take);
      if (s.buf.size() < s.body_len) return;
      payload = {reinterpret_cast<const uint8_t*>(s.buf.data()), s.buf.size()};
    }
    s.in_body = false;
    if (s.body_len == kMaxPacket || !s.joined.empty()) {
      // A payload of 16 MB or more arrives in pieces: the last one is shorter than 16 MB.
      s.joined.append(reinterpret_cast<const char*>(payload.data()), payload.size());
      s.buf.clear();
      if (s.body_len == kMaxPacket) continue;
      const std::string whole = std::move(s.joined);
      s.joined.clear();
      packet(dir, s.first_seq, {reinterpret_cast<const uint8_t*>(whole.data()), whole.size()});
      continue;
    }
    if (!s.buf.empty()) {
      const std::string whole = std::move(s.buf);
      s.buf.clear();
      packet(dir, s.seq, {reinterpret_cast<const uint8_t*>(whole.data()), whole.size()});
    } else {
      packet(dir, s.seq, payload);
    }
  }
}

void MysqlDecoder::lose(Side& s) {
  s.buf.clear();
  s.joined.clear();
  s.zbuf.clear();
  s.in_body = false;
  s.skip_left = 0;
  s.mode = s.compressed ? Mode::kSilent : Mode::kOutOfSync;
  suspend_pairing();
}

void MysqlDecoder::skipped(Direction dir, Timestamp ts, uint64_t bytes, const char* why) {
  Record r = record(RecordKind::kDecodeError, dir, ts);
  r.add("skipped_bytes", bytes);
  r.add("decode_error", why);
  emit_now(std::move(r));
}

// The connection ended: a packet it cut short, or bytes still searched for a boundary, are said
// rather than dropped without a word.
void MysqlDecoder::unfinished(Side& s, Direction dir, Timestamp ts) {
  if (s.mode == Mode::kOutOfSync && s.search.held() > 0) {
    skipped(dir, ts, s.search.held(),
            "bytes skipped: the connection ended before a packet boundary was found");
    s.search.clear();
    return;
  }
  if (s.mode != Mode::kPackets) return;
  if (!s.zbuf.empty()) {
    decode_error(s, dir, s.msg_ts,
                 "the connection ended inside a compressed packet (" +
                     std::to_string(s.zbuf.size()) + " bytes of it seen): not decoded");
  } else if (s.in_body || !s.joined.empty()) {
    decode_error(s, dir, s.msg_ts,
                 "the connection ended " + std::to_string(s.joined.size() + s.buf.size()) +
                     " bytes into a payload: not decoded");
  } else if (s.skip_left > 0) {
    decode_error(s, dir, s.msg_ts,
                 "the connection ended with " + std::to_string(s.skip_left) +
                     " bytes of a skipped payload not seen");
  } else if (!s.buf.empty()) {
    decode_error(s, dir, s.msg_ts,
                 "the connection ended inside a packet header (" + std::to_string(s.buf.size()) +
                     " bytes of it seen)");
  }
}

// The classic protocol's server speaks first. What a client says before any greeting is either a
// HandshakeResponse whose greeting the capture lost (a packet of sequence number 1), decoded as
// usual, or something else: MySQL's X Protocol (port 33060: frames of a 4-byte length and a
// message type, the first one a CapabilitiesGet or an authentication start) is named, anything
// else too, once, and nothing of it is decoded. What the client said is in client_.buf.
void MysqlDecoder::first_client_bytes() {
  const std::string held = std::move(client_.buf);
  client_.buf.clear();
  const std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(held.data()), held.size());
  if (data.size() >= 4 && data[3] == 1 && le24(data.data()) >= 2) {
    client_.heard = true;
    feed(client_, Direction::kClientToServer, client_.msg_ts, data);
    return;
  }
  Record r = record(RecordKind::kDecodeError, Direction::kClientToServer, client_.msg_ts);
  const bool x_frame = data.size() >= 5 && data[3] == 0 && le24(data.data()) >= 1 && data[4] >= 1 &&
                       data[4] <= 4;  // CapabilitiesGet/Set, Close, AuthStart
  if (x_frame) {
    r.add("message_type", "XProtocol");
    r.add("decode_error", "MySQL X Protocol (mysqlx): not decoded");
  } else {
    r.add("decode_error", "the client spoke before the server's greeting: not the MySQL protocol");
  }
  emit_now(std::move(r));
  client_.mode = server_.mode = Mode::kSilent;
}

}  // namespace tcpdp::mysql
