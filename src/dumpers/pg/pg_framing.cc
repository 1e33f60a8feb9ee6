#include <string>

#include "dumpers/pg/pg_decoder.h"

namespace tcpdp::pg {
namespace {

constexpr size_t kMaxStartupPacket = 10000;       // the server refuses larger startup packets
constexpr uint32_t kMaxMessageLength = 1u << 30;  // the server refuses larger messages
constexpr size_t kResyncWindow = 1 << 20;  // bytes searched for a boundary before giving up on them

uint32_t be32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}

std::string hex_byte(uint8_t b) {
  static constexpr char kHex[] = "0123456789abcdef";
  return {kHex[b >> 4], kHex[b & 15]};
}

}  // namespace

void PgDecoder::feed(Side& s, Direction dir, Timestamp ts, std::span<const uint8_t> data) {
  while (!data.empty()) {
    switch (s.mode) {
      case Mode::kSilent:
        return;
      case Mode::kOutOfSync:
        resync(s, dir, ts, data);
        return;
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

// Out of sync: search the bytes for a message that parses completely and is followed by a
// plausible header (or ends exactly where the data ends). Nothing is decoded before that.
void PgDecoder::resync(Side& s, Direction dir, Timestamp ts, std::span<const uint8_t> data) {
  s.buf.append(reinterpret_cast<const char*>(data.data()), data.size());
  const auto* b = reinterpret_cast<const uint8_t*>(s.buf.data());
  const size_t n = s.buf.size();
  size_t keep_from = n > 4 ? n - 4 : 0;  // a header may still be starting in the last bytes
  for (size_t pos = 0; pos + 5 <= n; ++pos) {
    const uint8_t type = b[pos];
    if (!known_type(dir, type)) continue;
    const uint32_t len = be32(b + pos + 1);
    if (len < 4 || len > kResyncWindow) continue;
    const size_t end = pos + 1 + len;
    if (end > n) {  // cannot judge it yet; a later candidate that can be judged wins
      keep_from = std::min(keep_from, pos);
      continue;
    }
    if (!plausible_message(dir, type, {b + pos + 5, len - 4})) continue;
    if (end + 5 <= n) {
      const uint32_t next_len = be32(b + end + 1);
      if (!known_type(dir, b[end]) || next_len < 4 || next_len > kMaxMessageLength) continue;
    } else if (end != n) {
      keep_from = std::min(keep_from, pos);
      continue;
    }
    s.skipped += pos;
    if (s.skipped > 0) {
      Record r = record(dir, ts);
      r.add("skipped_bytes", s.skipped);
      r.add("decode_error", "bytes skipped to find a message boundary after a gap or pickup");
      emit_now(std::move(r));
    }
    s.skipped = 0;
    s.mode = Mode::kTyped;
    const std::string rest = s.buf.substr(pos);
    s.buf.clear();
    feed(s, dir, ts, {reinterpret_cast<const uint8_t*>(rest.data()), rest.size()});
    return;
  }
  if (keep_from == 0 && n > kResyncWindow) keep_from = n - kResyncWindow / 2;
  s.skipped += keep_from;
  s.buf.erase(0, keep_from);
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
