#include "dumpers/pg/pg_messages.h"

#include "dumpers/pg/pg_wire.h"

namespace tcpdp::pg {

bool parse_startup_params(std::span<const uint8_t> body, StartupParams& out) {
  ByteReader r(body);
  for (;;) {
    std::string_view name, value;
    if (!r.cstring(name)) return false;
    if (name.empty()) return r.done();
    if (!r.cstring(value)) return false;
    out.params.emplace_back(name, value);
  }
}

constexpr int32_t kMaxNegotiatedOptions = 1024;

bool parse_negotiate(std::span<const uint8_t> body, NegotiateMsg& out) {
  ByteReader r(body);
  int32_t n;
  // A server knows a few dozen options at most; a count past that is not this message.
  if (!r.i32(out.version) || !r.i32(n) || n < 0 || n > kMaxNegotiatedOptions) return false;
  // The manual calls the field the newest minor version; servers send major and minor both.
  // Only protocol 3 has this message, so a bare minor version is one of 3.
  if (out.version >= 0 && out.version < 0x10000) out.version |= kProtocol3;
  out.unrecognized_options.clear();
  for (int32_t i = 0; i < n; ++i) {
    std::string_view option;
    if (!r.cstring(option)) return false;
    out.unrecognized_options.push_back(option);
  }
  return r.done();
}

bool parse_parse(std::span<const uint8_t> body, ParseMsg& out) {
  ByteReader r(body);
  int16_t n;
  // Each count is checked against the bytes that must follow it before anything is sized by
  // it: a 20-byte message cannot make the decoder allocate for 32767 entries.
  if (!r.cstring(out.name) || !r.cstring(out.query) || !r.i16(n) || n < 0 ||
      static_cast<size_t>(n) * 4 > r.remaining()) {
    return false;
  }
  out.param_types.resize(static_cast<size_t>(n));
  for (uint32_t& t : out.param_types) {
    int32_t v;
    if (!r.i32(v)) return false;
    t = static_cast<uint32_t>(v);
  }
  return r.done();
}

bool parse_bind(std::span<const uint8_t> body, BindMsg& out) {
  ByteReader r(body);
  int16_t nformats, nparams, nresults;
  if (!r.cstring(out.portal) || !r.cstring(out.statement) || !r.i16(nformats) || nformats < 0 ||
      static_cast<size_t>(nformats) * 2 > r.remaining()) {
    return false;
  }
  out.formats.resize(static_cast<size_t>(nformats));
  for (int16_t& f : out.formats) {
    if (!r.i16(f) || (f != 0 && f != 1)) return false;
  }
  if (!r.i16(nparams) || nparams < 0 || static_cast<size_t>(nparams) * 4 > r.remaining()) {
    return false;
  }
  if (nformats > 1 && nformats != nparams) return false;
  out.params.resize(static_cast<size_t>(nparams));
  for (BindParam& p : out.params) {
    int32_t len;
    if (!r.i32(len) || len < -1) return false;
    p.is_null = len == -1;
    if (!p.is_null && !r.bytes(static_cast<size_t>(len), p.value)) return false;
  }
  if (!r.i16(nresults) || nresults < 0) return false;
  for (int16_t i = 0; i < nresults; ++i) {
    int16_t f;
    if (!r.i16(f) || (f != 0 && f != 1)) return false;
  }
  return r.done();
}

int16_t bind_format(const BindMsg& bind, size_t i) {
  if (bind.formats.empty()) return 0;
  if (bind.formats.size() == 1) return bind.formats[0];
  return bind.formats[i];
}

bool parse_execute(std::span<const uint8_t> body, ExecuteMsg& out) {
  ByteReader r(body);
  return r.cstring(out.portal) && r.i32(out.max_rows) && r.done();
}

bool parse_target(std::span<const uint8_t> body, TargetMsg& out) {
  ByteReader r(body);
  uint8_t kind;
  if (!r.u8(kind) || (kind != 'S' && kind != 'P')) return false;
  out.kind = static_cast<char>(kind);
  return r.cstring(out.name) && r.done();
}

bool parse_single_string(std::span<const uint8_t> body, std::string_view& out) {
  ByteReader r(body);
  return r.cstring(out) && r.done();
}

bool parse_error(std::span<const uint8_t> body, ErrorMsg& out) {
  ByteReader r(body);
  std::string_view localized;
  for (;;) {
    uint8_t code;
    if (!r.u8(code)) return false;
    if (code == 0) break;
    std::string_view value;
    if (!r.cstring(value)) return false;
    switch (code) {
      case 'S':
        localized = value;
        break;
      case 'V':
        out.severity = value;
        break;
      case 'C':
        out.code = value;
        break;
      case 'M':
        out.message = value;
        break;
      case 'D':
        out.detail = value;
        break;
      case 'H':
        out.hint = value;
        break;
      default:
        break;
    }
  }
  if (out.severity.empty()) out.severity = localized;
  return r.done() && !out.severity.empty() && out.code.size() == 5;
}

bool known_type(Direction dir, uint8_t type) {
  static constexpr std::string_view kClient = "QPBEDCSHFdcfXp";
  static constexpr std::string_view kServer = "RKSZCENTD123nIstGHWdcAVv";
  const std::string_view set = dir == Direction::kClientToServer ? kClient : kServer;
  return set.find(static_cast<char>(type)) != std::string_view::npos;
}

namespace {

bool empty_body(std::span<const uint8_t> body) { return body.empty(); }

bool plausible_client(uint8_t type, std::span<const uint8_t> body) {
  std::string_view s;
  switch (type) {
    case 'Q':
      return parse_single_string(body, s);
    case 'P': {
      ParseMsg m;
      return parse_parse(body, m);
    }
    case 'B': {
      BindMsg m;
      return parse_bind(body, m);
    }
    case 'E': {
      ExecuteMsg m;
      return parse_execute(body, m);
    }
    case 'D':
    case 'C': {
      TargetMsg m;
      return parse_target(body, m);
    }
    case 'S':
    case 'H':
    case 'X':
      return empty_body(body);
    default:
      return false;  // d, c, f, F, p carry too little structure to recognise a boundary by
  }
}

bool plausible_server(uint8_t type, std::span<const uint8_t> body) {
  ByteReader r(body);
  std::string_view s;
  switch (type) {
    case 'Z':
      return body.size() == 1 && (body[0] == 'I' || body[0] == 'T' || body[0] == 'E');
    case 'C':
      return parse_single_string(body, s);
    case 'E':
    case 'N': {
      ErrorMsg m;
      return parse_error(body, m);
    }
    case '1':
    case '2':
    case '3':
    case 'n':
    case 'I':
    case 's':
      return empty_body(body);
    case 'K':  // the backend's pid, then its secret key
      return body.size() >= 4 + kMinCancelKey && body.size() <= 4 + kMaxCancelKey;
    case 'v': {
      NegotiateMsg m;
      return parse_negotiate(body, m);
    }
    case 'S': {
      std::string_view a, b;
      return r.cstring(a) && r.cstring(b) && r.done();
    }
    case 't': {
      int16_t n;
      return r.i16(n) && n >= 0 && r.remaining() == static_cast<size_t>(n) * 4;
    }
    case 'T': {
      int16_t n;
      if (!r.i16(n) || n < 0) return false;
      for (int16_t i = 0; i < n; ++i) {
        std::span<const uint8_t> fixed;
        if (!r.cstring(s) || !r.bytes(18, fixed)) return false;
      }
      return r.done();
    }
    case 'D': {
      int16_t n;
      if (!r.i16(n) || n < 0) return false;
      for (int16_t i = 0; i < n; ++i) {
        int32_t len;
        std::span<const uint8_t> v;
        if (!r.i32(len) || len < -1 || (len > 0 && !r.bytes(static_cast<size_t>(len), v)))
          return false;
      }
      return r.done();
    }
    default:
      return false;
  }
}

}  // namespace

bool plausible_message(Direction dir, uint8_t type, std::span<const uint8_t> body) {
  return dir == Direction::kClientToServer ? plausible_client(type, body)
                                           : plausible_server(type, body);
}

}  // namespace tcpdp::pg
