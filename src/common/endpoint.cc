#include "common/endpoint.h"

#include <arpa/inet.h>

namespace tcpdp {

std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  const std::string s(text);
  IpAddr a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  a.family = 6;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return a;
  return std::nullopt;
}

std::string IpAddr::to_string() const {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(family == 4 ? AF_INET : AF_INET6, bytes.data(), buf, sizeof buf);
  return buf;
}

void Endpoint::append_to(std::string& out) const {
  if (ip.family == 6) out += '[';
  out += ip.to_string();
  if (ip.family == 6) out += ']';
  out += ':';
  out += std::to_string(port);
}

std::string Endpoint::to_string() const {
  std::string out;
  append_to(out);
  return out;
}

size_t ConnKeyHash::operator()(const ConnKey& k) const noexcept {
  // FNV-1a over the fields that differ between connections; cheap and well spread for ports.
  uint64_t h = 1469598103934665603ULL;
  auto mix = [&h](const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  };
  const size_t n_lo = k.lo.ip.family == 4 ? 4 : 16;
  const size_t n_hi = k.hi.ip.family == 4 ? 4 : 16;
  mix(k.lo.ip.bytes.data(), n_lo);
  mix(k.hi.ip.bytes.data(), n_hi);
  const uint8_t ports[4] = {static_cast<uint8_t>(k.lo.port >> 8), static_cast<uint8_t>(k.lo.port),
                            static_cast<uint8_t>(k.hi.port >> 8), static_cast<uint8_t>(k.hi.port)};
  mix(ports, 4);
  return static_cast<size_t>(h ^ (h >> 29));
}

}  // namespace tcpdp
