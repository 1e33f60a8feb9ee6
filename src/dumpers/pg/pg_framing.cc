#include <string>

#include "dumpers/pg/pg_decoder.h"

namespace tcpdp::pg {
namespace {

constexpr size_t kMaxStartupPacket = 10000;       // the server refuses larger startup packets
constexpr uint32_t kMaxMessageLength = 1u << 30;  // the server refuses larger messages
constexpr size_t kResyncWindow = 1 << 20;         // the longest message a boundary search considers

uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

std::string hex_byte(uint8_t b) {
  static constexpr char kHex[] = "0123456789abcdef";
  return {kHex[b >> 4], kHex[b & 15]};
}

// Out of sync, a boundary is a message that parses completely and is followed by a plausible
// header (or ends exactly where the data ends). Types that carry too little structure to be
// recognised (CopyData, a password message) are never taken for one.
class Boundaries : public BoundaryRules {
 public:
  explicit Boundaries(Direction dir) : dir_(dir) {}
  size_t header_size() const override { return 5; }
  size_t message_size(const uint8_t* h) const override {
    if (!known_type(dir_, h[0])) return 0;
    const uint32_t len = be32(h + 1);
    return len < 4 || len > kResyncWindow ? 0 : size_t{len} + 1;
  }
  bool plausible(std::span<const uint8_t> message) const override {
    return plausible_message(dir_, message[0], message.subspan(5));
  }
  bool plausible_next(const uint8_t* h) const override {
    const uint32_t len = be32(h + 1);
    return known_type(dir_, h[0]) && len >= 4 && len <= kMaxMessageLength;
  }

 private:
  Direction dir_;
};

}  // namespace

size_t PgDecoder::Side::header_size() const {
  switch (phase) {
    case Phase::kStartup:
      return 4;
    case Phase::kSslAnswer:
      return 1;
    case Phase::kTyped:
      break;
  }
  return 5;
}

const BoundaryRules& PgDecoder::Side::boundaries() const {
  static const Boundaries client(Direction::kClientToServer), server(Direction::kServerToClient);
  return dir == Direction::kClientToServer ? client : server;
}

void PgDecoder::Side::on_resync(uint64_t skipped, Timestamp ts) {
  if (skipped > 0) {
    decoder.skipped(dir, ts, skipped,
                    "bytes skipped to find a message boundary after a gap or pickup");
  }
  phase = Phase::kTyped;
}

Framer::Verdict PgDecoder::Side::on_header(std::span<const uint8_t> h) {
  switch (phase) {
    case Phase::kSslAnswer:
      return Framer::Verdict::read(0);  // the answer is the header's one byte
    case Phase::kStartup:
      if (h[0] == 0x16) {  // a TLS ClientHello where a startup packet belongs
        decoder.encrypted(msg_ts());
        return Framer::Verdict::silent();
      }
      return decoder.start_message(*this, 0, be32(h.data()));
    case Phase::kTyped:
      break;
  }
  return decoder.start_message(*this, h[0], be32(h.data() + 1));
}

void PgDecoder::Side::on_message(std::span<const uint8_t> h, std::span<const uint8_t> body) {
  switch (phase) {
    case Phase::kSslAnswer:
      return decoder.on_ssl_answer(h[0], msg_ts());
    case Phase::kStartup:
      return decoder.client_startup(body);
    case Phase::kTyped:
      break;
  }
  if (dir == Direction::kClientToServer) {
    decoder.client_message(h[0], body);
  } else {
    decoder.server_message(h[0], body);
  }
}

// A message header was read: how much of what follows is its body, and what to do with it.
Framer::Verdict PgDecoder::start_message(Side& s, uint8_t type, uint32_t len) {
  const Direction dir = s.dir;
  if (s.phase == Phase::kStartup) {
    if (len < 8 || len > kMaxStartupPacket) {
      lose_sync(s, "startup packet length " + std::to_string(len) + " is not valid");
      return Framer::Verdict::lost();
    }
  } else if (!known_type(dir, type)) {
    lose_sync(s, "unknown message type 0x" + hex_byte(type));
    return Framer::Verdict::lost();
  } else if (len < 4 || len > kMaxMessageLength) {
    lose_sync(s, "message '" + type_name(type) + "' has impossible length " + std::to_string(len));
    return Framer::Verdict::lost();
  }
  const uint32_t body_len = len - 4;
  // DataRow and CopyData are only counted: their bodies are passed over, never buffered.
  if ((type == 'D' && dir == Direction::kServerToClient) || type == 'd') {
    count_only(dir, type, body_len);
    return Framer::Verdict::pass(body_len);
  }
  if (body_len > options_.max_message) {
    decode_error(s, dir, s.msg_ts(),
                 "message '" + type_name(type) + "' of " + std::to_string(body_len) +
                     " bytes is over the limit of " + std::to_string(options_.max_message) +
                     " bytes: skipped");
    if (dir == Direction::kClientToServer) suspend_pairing();
    return Framer::Verdict::pass(body_len);
  }
  return Framer::Verdict::read(body_len);
}

// Says why the side fell out of sync; its framer looks for the next message, and answers can no
// longer be paired with requests.
void PgDecoder::lose_sync(Side& s, const std::string& why) {
  decode_error(s, s.dir, s.msg_ts(), why + "; looking for the next message");
  s.framer.lose_sync();
  suspend_pairing();
}

void PgDecoder::skipped(Direction dir, Timestamp ts, uint64_t bytes, const char* why) {
  Record r = record(RecordKind::kDecodeError, dir, ts);
  r.add("skipped_bytes", bytes);
  r.add("decode_error", why);
  emit_now(std::move(r));
}

// The connection ended: a message it cut short, or bytes still searched for a boundary, are said
// rather than dropped without a word.
void PgDecoder::unfinished(Side& s, Timestamp ts) {
  const Framer::Unfinished u = s.framer.unfinished();
  if (u.what == Framer::Unfinished::kSearching) {
    skipped(s.dir, ts, u.seen,
            "bytes skipped: the connection ended before a message boundary was found");
    s.framer.clear_search();
    return;
  }
  if (s.phase == Phase::kSslAnswer) return;
  const std::string what = u.header.size() == 4 ? std::string("the startup packet")
                           : u.header.empty()   ? std::string()
                                                : "message '" + type_name(u.header[0]) + "'";
  const Timestamp at = s.msg_ts();
  switch (u.what) {
    case Framer::Unfinished::kBody:
      decode_error(s, s.dir, at,
                   "the connection ended " + std::to_string(u.seen) + " bytes into " + what +
                       " of " + std::to_string(u.size) + " bytes: not decoded");
      break;
    case Framer::Unfinished::kPassing:
      decode_error(s, s.dir, at,
                   "the connection ended with " + std::to_string(u.size) + " bytes of " + what +
                       " not seen");
      break;
    case Framer::Unfinished::kHeader:
      decode_error(s, s.dir, at,
                   "the connection ended inside a message header (" + std::to_string(u.seen) +
                       " bytes of it seen)");
      break;
    case Framer::Unfinished::kNothing:
    case Framer::Unfinished::kSearching:
      break;
  }
}

}  // namespace tcpdp::pg
