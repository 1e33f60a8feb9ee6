/// IP addresses, TCP endpoints and the key that names one TCP connection whichever way a packet
/// goes.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tcpdp {

struct IpAddr {
  uint8_t family = 4;               // 4 or 6
  std::array<uint8_t, 16> bytes{};  // IPv4 in the first four bytes, the rest zero

  static IpAddr v4(const uint8_t* four) {
    IpAddr a;
    std::memcpy(a.bytes.data(), four, 4);
    return a;
  }
  static IpAddr v6(const uint8_t* sixteen) {
    IpAddr a;
    a.family = 6;
    std::memcpy(a.bytes.data(), sixteen, 16);
    return a;
  }
  /// Parses dotted IPv4 or textual IPv6 (no brackets).
  static std::optional<IpAddr> parse(std::string_view text);

  std::string to_string() const;

  friend bool operator==(const IpAddr&, const IpAddr&) = default;
  friend auto operator<=>(const IpAddr&, const IpAddr&) = default;
};

struct Endpoint {
  IpAddr ip;
  uint16_t port = 0;

  /// `127.0.0.1:5432`, `[::1]:5432`.
  std::string to_string() const;
  void append_to(std::string& out) const;

  friend bool operator==(const Endpoint&, const Endpoint&) = default;
  friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

/// The two endpoints of a connection in a fixed order, so both directions find the same entry.
struct ConnKey {
  Endpoint lo;
  Endpoint hi;

  static ConnKey of(const Endpoint& a, const Endpoint& b) {
    return a < b ? ConnKey{a, b} : ConnKey{b, a};
  }
  friend bool operator==(const ConnKey&, const ConnKey&) = default;
};

/// Appends the addresses `host` names: an IP literal as it is, a name through the resolver
/// (IPv4 and IPv6, each once). False and a sentence in *error when it names none.
bool resolve_host(const std::string& host, std::vector<IpAddr>& out, std::string* error);

struct ConnKeyHash {
  size_t operator()(const ConnKey& k) const noexcept;
};

}  // namespace tcpdp
