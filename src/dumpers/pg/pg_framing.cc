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

void PgDecoder::feed(Side& s, Direction dir, Timestamp ts, std::span<const uint8_t> data) {
  std::string held;  // bytes the boundary search held, decoded from its boundary on
  while (!data.empty()) {
    switch (s.mode) {
      case Mode::kSilent:
        return;
      case Mode::kOutOfSync: {
        auto found = s.search.feed(data, Boundaries(dir));
        if (!found) return;
        if (found->skipped > 0) {
          skipped(dir, ts, found->skipped,
                  "bytes skipped to find a message boundary after a gap or pickup");
        }
        s.mode = Mode::kTyped;
        data = data.subspan(found->data_from);
        if (!found->held.empty()) {  // then data is all in it
          held = std::move(found->held);
          data = {reinterpret_cast<const uint8_t*>(held.data()), held.size()};
        }
        continue;
      }
      case Mode::kSslAnswer:
        on_ssl_answer(data[0], ts);
        data = data.subspan(1);
        continue;
      case Mode::kStartup:
      case Mode::kTyped:
        break;
    }
    if (s.skip_left > 0) {
      const size_t n = std::min<uint64_t>(s.skip_left, data.size());
      s.skip_left -= n;
      data = data.subspan(n);
      continue;
    }
    if (!s.in_body) {
      const size_t header_size = s.mode == Mode::kStartup ? 4 : 5;
      if (s.buf.empty()) s.msg_ts = ts;
      if (s.mode == Mode::kStartup && s.buf.empty() && data[0] == 0x16) {
        encrypted(ts);
        return;
      }
      const size_t take = std::min(header_size - s.buf.size(), data.size());
      s.buf.append(reinterpret_cast<const char*>(data.data()), take);
      data = data.subspan(take);
      if (s.buf.size() < header_size) return;
      const auto* h = reinterpret_cast<const uint8_t*>(s.buf.data());
      const uint8_t type = header_size == 5 ? h[0] : 0;
      const uint32_t len = be32(h + header_size - 4);
      s.buf.clear();
      if (!start_message(s, dir, type, len)) continue;
      if (!s.in_body) continue;
      if (s.body_len == 0) {
        s.in_body = false;
        dispatch(s, dir, {});
        continue;
      }
    }
    if (s.buf.empty() && data.size() >= s.body_len) {
      const auto body = data.first(s.body_len);
      data = data.subspan(s.body_len);
      s.in_body = false;
      dispatch(s, dir, body);
      continue;
    }
    const size_t take = std::min<size_t>(s.body_len - s.buf.size(), data.size());
    s.buf.append(reinterpret_cast<const char*>(data.data()), take);
    data = data.subspan(take);
    if (s.buf.size() == s.body_len) {
      const std::string body = std::move(s.buf);
      s.buf.clear();
      s.in_body = false;
      dispatch(s, dir, {reinterpret_cast<const uint8_t*>(body.data()), body.size()});
    }
  }
}

// A message header was read. Returns false when the side fell out of sync.
bool PgDecoder::start_message(Side& s, Direction dir, uint8_t type, uint32_t len) {
  if (s.mode == Mode::kStartup) {
    if (len < 8 || len > kMaxStartupPacket) {
      return lose_sync(s, dir, "startup packet length " + std::to_string(len) + " is not valid");
    }
  } else if (!known_type(dir, type)) {
    return lose_sync(s, dir, "unknown message type 0x" + hex_byte(type));
  } else if (len < 4 || len > kMaxMessageLength) {
    return lose_sync(
        s, dir, "message '" + type_name(type) + "' has impossible length " + std::to_string(len));
  }
  s.type = type;
  const uint32_t body_len = len - 4;
  // DataRow and CopyData are only counted: their bodies are passed over, never buffered.
  if ((type == 'D' && dir == Direction::kServerToClient) || type == 'd') {
    count_only(dir, type, body_len);
    s.skip_left = body_len;
    return true;
  }
  if (body_len > options_.max_message) {
    decode_error(s, dir, s.msg_ts,
                 "message '" + type_name(type) + "' of " + std::to_string(body_len) +
                     " bytes is over the limit of " + std::to_string(options_.max_message) +
                     " bytes: skipped");
    if (dir == Direction::kClientToServer) suspend_pairing();
    s.skip_left = body_len;
    return true;
  }
  s.body_len = body_len;
  s.in_body = true;
  return true;
}
bool PgDecoder::lose_sync(Side& s, Direction dir, const std::string& why) {
  decode_error(s, dir, s.msg_ts, why + "; looking for the next message");
  s.buf.clear();
  s.in_body = false;
  s.skip_left = 0;
  s.mode = Mode::kOutOfSync;
  suspend_pairing();
  return false;
}

void PgDecoder::skipped(Direction dir, Timestamp ts, uint64_t bytes, const char* why) {
  Record r = record(RecordKind::kDecodeError, dir, ts);
  r.add("skipped_bytes", bytes);
  r.add("decode_error", why);
  emit_now(std::move(r));
}

// The connection ended: a message it cut short, or bytes still searched for a boundary, are said
// rather than dropped without a word.
void PgDecoder::unfinished(Side& s, Direction dir, Timestamp ts) {
  if (s.mode == Mode::kOutOfSync && s.search.held() > 0) {
    skipped(dir, ts, s.search.held(),
            "bytes skipped: the connection ended before a message boundary was found");
    s.search.clear();
    return;
  }
  if (s.mode != Mode::kStartup && s.mode != Mode::kTyped) return;
  const std::string what = s.mode == Mode::kStartup ? std::string("the startup packet")
                                                    : "message '" + type_name(s.type) + "'";
  if (s.in_body) {
    decode_error(s, dir, s.msg_ts,
                 "the connection ended " + std::to_string(s.buf.size()) + " bytes into " + what +
                     " of " + std::to_string(s.body_len) + " bytes: not decoded");
  } else if (s.skip_left > 0) {
    decode_error(s, dir, s.msg_ts,
                 "the connection ended with " + std::to_string(s.skip_left) + " bytes of " + what +
                     " not seen");
  } else if (!s.buf.empty()) {
    decode_error(s, dir, s.msg_ts,
                 "the connection ended inside a message header (" + std::to_string(s.buf.size()) +
                     " bytes of it seen)");
  }
}

void PgDecoder::dispatch(Side& s, Direction dir, std::span<const uint8_t> body) {
  if (dir == Direction::kClientToServer) {
    if (s.mode == Mode::kStartup) {
      client_startup(body);
    } else {
      client_message(s.type, body);
    }
  } else {
    server_message(s.type, body);
  }
}

}  // namespace tcpdp::pg
