#include "tcptrack/proxy_protocol.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <optional>
#include <string_view>

namespace tcpdp {
namespace {

using Status = ProxyHeader::Status;

constexpr std::string_view kV1Signature = "PROXY";
constexpr std::array<uint8_t, 12> kV2Signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
// "PROXY UNKNOWN" with two full-length IPv6 addresses, two 5-digit ports and the CRLF.
constexpr size_t kV1MaxLine = 107;
constexpr size_t kV2FixedPart = 16;
constexpr uint8_t kV2CommandLocal = 0x0;
constexpr uint8_t kV2CommandProxy = 0x1;
constexpr uint8_t kFamilyUnspec = 0x0, kFamilyInet = 0x1, kFamilyInet6 = 0x2, kFamilyUnix = 0x3;
constexpr uint8_t kTransportUnspec = 0x0, kTransportStream = 0x1, kTransportDgram = 0x2;
constexpr uint8_t kTlvTypeSsl = 0x20;
constexpr size_t kTlvHeader = 3;    // type, 16-bit length
constexpr size_t kSslTlvFixed = 5;  // client flags, 32-bit verify result; sub-TLVs follow

ProxyHeader with_status(Status status) {
  ProxyHeader h;
  h.status = status;
  return h;
}

ProxyHeader invalid(std::string error) {
  ProxyHeader h = with_status(Status::kInvalid);
  h.error = std::move(error);
  return h;
}

// True when the input and the signature agree on every byte both have.
bool agrees_with(std::span<const uint8_t> in, std::span<const uint8_t> signature) {
  const size_t n = std::min(in.size(), signature.size());
  return std::equal(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n), signature.begin());
}

std::string hex_byte(uint8_t b) {
  constexpr char kDigits[] = "0123456789abcdef";
  return {'0', 'x', kDigits[b >> 4], kDigits[b & 0xF]};
}

// A decimal number as the specification writes them: digits only, no leading zero.
std::optional<unsigned> parse_decimal(std::string_view s, unsigned max) {
  if (s.empty() || s.size() > 5 || (s[0] == '0' && s.size() > 1)) return std::nullopt;
  if (s.find_first_not_of("0123456789") != std::string_view::npos) return std::nullopt;
  unsigned value = 0;
  std::from_chars(s.data(), s.data() + s.size(), value);
  if (value > max) return std::nullopt;
  return value;
}

// Strict dotted quad, by hand: inet_pton's handling of leading zeros differs between libcs.
std::optional<IpAddr> parse_v1_ipv4(std::string_view s) {
  std::array<uint8_t, 4> octets{};
  for (size_t i = 0; i < octets.size(); ++i) {
    const size_t dot = s.find('.');
    const bool last = i + 1 == octets.size();
    if (last != (dot == std::string_view::npos)) return std::nullopt;
    const auto octet = parse_decimal(s.substr(0, dot), 255);
    if (!octet) return std::nullopt;
    octets[i] = static_cast<uint8_t>(*octet);
    if (!last) s.remove_prefix(dot + 1);
  }
  return IpAddr::v4(octets.data());
}

std::optional<IpAddr> parse_v1_ipv6(std::string_view s) {
  auto ip = IpAddr::parse(s);
  if (!ip || ip->family != 6) return std::nullopt;
  return ip;
}

// Checks what has arrived of a v1 line whose CRLF has not, so that a stream which only starts
// like "PROXY" is turned away at once rather than after 107 bytes. Empty when it may still be
// a valid line.
std::string check_v1_start(std::string_view partial) {
  std::string_view rest = partial.substr(kV1Signature.size());
  if (rest.empty()) return {};
  if (rest[0] != ' ') return "PROXY v1 line needs one space after PROXY";
  rest.remove_prefix(1);
  for (std::string_view protocol : {"TCP4", "TCP6", "UNKNOWN"}) {
    const size_t n = std::min(rest.size(), protocol.size());
    if (rest.substr(0, n) != protocol.substr(0, n)) continue;
    if (rest.size() == n || protocol == "UNKNOWN") return {};
    if (rest.substr(n).find_first_not_of("0123456789abcdefABCDEF.: ") != std::string_view::npos) {
      return "PROXY v1 " + std::string(protocol) + " line has a character that belongs in no " +
             "address or port";
    }
    return {};
  }
  return "PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN";
}

// `line` is the whole line without its CRLF; `length` counts the CRLF.
ProxyHeader parse_v1_line(std::string_view line, size_t length) {
  if (std::string error = check_v1_start(line); !error.empty()) return invalid(error);
  std::string_view rest = line.substr(kV1Signature.size());
  if (rest.size() < 2) return invalid("PROXY v1 line has no protocol after PROXY");
  rest.remove_prefix(1);

  ProxyHeader h = with_status(Status::kParsed);
  h.length = length;
  // The receiver ignores whatever UNKNOWN is followed by.
  if (rest == "UNKNOWN" || rest.starts_with("UNKNOWN ")) {
    h.local = true;
    return h;
  }

  if (std::ranges::count(rest, ' ') != 4) {
    return invalid(
        "PROXY v1 line must hold a protocol, two addresses and two ports separated by single "
        "spaces");
  }
  std::array<std::string_view, 5> fields;  // protocol, source, destination, their ports
  for (std::string_view& field : fields) {
    const size_t space = rest.find(' ');
    field = rest.substr(0, space);
    rest.remove_prefix(space == std::string_view::npos ? rest.size() : space + 1);
  }
  const bool v4 = fields[0] == "TCP4";
  if (!v4 && fields[0] != "TCP6") return invalid("PROXY v1 protocol is not TCP4, TCP6 or UNKNOWN");
  std::array<Endpoint, 2> ends;
  for (size_t i = 0; i < ends.size(); ++i) {
    const std::string_view address = fields[1 + i], port_text = fields[3 + i];
    const auto ip = v4 ? parse_v1_ipv4(address) : parse_v1_ipv6(address);
    if (!ip) {
      return invalid("PROXY v1 " + std::string(fields[0]) + " address '" + std::string(address) +
                     "' is not a valid " + (v4 ? "IPv4" : "IPv6") + " address");
    }
    const auto port = parse_decimal(port_text, 65535);
    if (!port) {
      return invalid("PROXY v1 port '" + std::string(port_text) +
                     "' is not a decimal number from 0 to 65535 without leading zeros");
    }
    ends[i] = Endpoint{*ip, static_cast<uint16_t>(*port)};
  }
  h.source = ends[0];
  h.destination = ends[1];
  return h;
}

ProxyHeader parse_v1(std::span<const uint8_t> in) {
  const std::string_view text(reinterpret_cast<const char*>(in.data()),
                              std::min(in.size(), kV1MaxLine));
  const size_t cr = text.find('\r');
  const std::string_view line = text.substr(0, cr);
  if (const auto bad = std::ranges::find_if(line, [](char c) { return c < 0x20 || c > 0x7E; });
      bad != line.end()) {
    return invalid(*bad == '\n' ? "PROXY v1 line ends in a bare LF instead of CRLF"
                                : "PROXY v1 line has a byte that is not printable US-ASCII");
  }
  if (cr == std::string_view::npos || cr + 1 == text.size()) {
    if (text.size() == kV1MaxLine) {
      return invalid("PROXY v1 line has no CRLF in its first 107 bytes");
    }
    if (std::string error = check_v1_start(line); !error.empty()) return invalid(error);
    return with_status(Status::kNeedMore);
  }
  if (text[cr + 1] != '\n') return invalid("PROXY v1 line has a bare CR instead of CRLF");
  return parse_v1_line(line, cr + 2);
}

// Empty when every TLV in `tlvs` lies inside it; otherwise what is wrong. `where` names the
// enclosing block for the message.
std::string check_tlvs(std::span<const uint8_t> tlvs, std::string_view where) {
  size_t pos = 0;
  while (pos < tlvs.size()) {
    const size_t left = tlvs.size() - pos;
    if (left < kTlvHeader) {
      return "PROXY v2 " + std::string(where) + " ends in " + std::to_string(left) +
             " stray bytes, too few for a TLV";
    }
    const uint8_t type = tlvs[pos];
    const size_t length = static_cast<size_t>(tlvs[pos + 1] << 8 | tlvs[pos + 2]);
    if (length > left - kTlvHeader) {
      return "PROXY v2 TLV of type " + hex_byte(type) + " declares " + std::to_string(length) +
             " bytes but only " + std::to_string(left - kTlvHeader) + " are left in the " +
             std::string(where);
    }
    if (type == kTlvTypeSsl) {
      if (length < kSslTlvFixed) {
        return "PROXY v2 SSL TLV is " + std::to_string(length) +
               " bytes long, shorter than its 5 fixed bytes";
      }
      const auto sub = tlvs.subspan(pos + kTlvHeader + kSslTlvFixed, length - kSslTlvFixed);
      if (std::string error = check_tlvs(sub, "SSL TLV"); !error.empty()) return error;
    }
    pos += kTlvHeader + length;
  }
  return {};
}

ProxyHeader parse_v2(std::span<const uint8_t> in) {
  if (in.size() <= 12) return with_status(Status::kNeedMore);
  const uint8_t version = in[12] >> 4, command = in[12] & 0xF;
  if (version != 2) {
    return invalid("PROXY v2 header has version " + std::to_string(version) + "; only 2 exists");
  }
  if (command != kV2CommandLocal && command != kV2CommandProxy) {
    return invalid("PROXY v2 command " + std::to_string(command) +
                   " is neither LOCAL (0) nor PROXY (1)");
  }
  if (in.size() <= 13) return with_status(Status::kNeedMore);
  // LOCAL (a health check by the proxy itself) ignores the family byte and the whole block.
  const bool proxy = command == kV2CommandProxy;
  const uint8_t family = in[13] >> 4, transport = in[13] & 0xF;
  if (proxy && family > kFamilyUnix) {
    return invalid("PROXY v2 address family " + std::to_string(family) + " is not defined");
  }
  if (proxy && transport > kTransportDgram) {
    return invalid("PROXY v2 transport protocol " + std::to_string(transport) + " is not defined");
  }
  if (in.size() < kV2FixedPart) return with_status(Status::kNeedMore);
  const size_t length = kV2FixedPart + static_cast<size_t>(in[14] << 8 | in[15]);

  // With either half unspecified the block has no defined layout and is ignored.
  const bool laid_out = proxy && family != kFamilyUnspec && transport != kTransportUnspec;
  const size_t address_size = !laid_out                ? 0
                              : family == kFamilyInet  ? 12
                              : family == kFamilyInet6 ? 36
                                                       : 216;
  if (length - kV2FixedPart < address_size) {
    return invalid("PROXY v2 header announces " + std::to_string(length - kV2FixedPart) +
                   " bytes after its fixed part, fewer than the " + std::to_string(address_size) +
                   " of its address block");
  }
  if (in.size() < length) return with_status(Status::kNeedMore);

  ProxyHeader h = with_status(Status::kParsed);
  h.length = length;
  if (laid_out) {
    const auto tlvs = in.subspan(kV2FixedPart + address_size, length - kV2FixedPart - address_size);
    if (std::string error = check_tlvs(tlvs, "header"); !error.empty()) return invalid(error);
  }
  // Only TCP gives endpoints; the rest falls back to the real connection's, as the spec allows.
  if (!laid_out || family == kFamilyUnix || transport != kTransportStream) {
    h.local = true;
    return h;
  }
  const uint8_t* block = in.data() + kV2FixedPart;
  const size_t ip_size = family == kFamilyInet ? 4 : 16;
  const auto ip_at = [&](size_t offset) {
    return family == kFamilyInet ? IpAddr::v4(block + offset) : IpAddr::v6(block + offset);
  };
  const auto port_at = [&](size_t offset) {
    return static_cast<uint16_t>(block[offset] << 8 | block[offset + 1]);
  };
  h.source = Endpoint{ip_at(0), port_at(2 * ip_size)};
  h.destination = Endpoint{ip_at(ip_size), port_at(2 * ip_size + 2)};
  return h;
}

}  // namespace

ProxyHeader parse_proxy_header(std::span<const uint8_t> stream_start) {
  const std::span<const uint8_t> v1_signature(reinterpret_cast<const uint8_t*>(kV1Signature.data()),
                                              kV1Signature.size());
  if (agrees_with(stream_start, v1_signature)) {
    if (stream_start.size() < v1_signature.size()) return with_status(Status::kNeedMore);
    return parse_v1(stream_start);
  }
  if (agrees_with(stream_start, kV2Signature)) {
    if (stream_start.size() < kV2Signature.size()) return with_status(Status::kNeedMore);
    return parse_v2(stream_start);
  }
  return with_status(Status::kNotProxy);
}

}  // namespace tcpdp
