#include "common/endpoint.h"

#include <netdb.h>
#include <sys/socket.h>

#include <arpa/inet.h>

namespace tcpdp {

bool resolve_host(const std::string& host, std::vector<IpAddr>& out, std::string* error) {
  if (auto ip = IpAddr::parse(host)) {
    out.push_back(*ip);
    return true;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), nullptr, &hints, &res); rc != 0) {
    *error = "cannot resolve host '" + host + "': " + gai_strerror(rc);
    return false;
  }
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    IpAddr ip;
    if (ai->ai_family == AF_INET) {
      ip = IpAddr::v4(reinterpret_cast<const uint8_t*>(
          &reinterpret_cast<const sockaddr_in*>(ai->ai_addr)->sin_addr));
    } else if (ai->ai_family == AF_INET6) {
      ip = IpAddr::v6(reinterpret_cast<const uint8_t*>(
          &reinterpret_cast<const sockaddr_in6*>(ai->ai_addr)->sin6_addr));
    } else {
      continue;
    }
    bool seen = false;
    for (const IpAddr& o : out) seen |= (o == ip);
    if (!seen) out.push_back(ip);
  }
  freeaddrinfo(res);
  return true;
}


std::optional<IpAddr> IpAddr::parse(std::string_view text) {
  const std::string s(text);
  IpAddr a;
  if (inet_pton(AF_INET, s.c_str(), a.bytes.data()) == 1) return a;
  a.family = 6;
  if (inet_pton(AF_INET6, s.c_str(), a.bytes.data()) == 1) return a;
  return std::nullopt;
}

std::string IpAddr::to_string() const {
  if (family == 4) {  // by hand: inet_ntop goes through sprintf, and this runs for every connection
    std::string out;
    out.reserve(15);
    for (int i = 0; i < 4; ++i) {
      if (i) out += '.';
      const unsigned b = bytes[static_cast<size_t>(i)];
      if (b >= 100) out += static_cast<char>('0' + b / 100);
      if (b >= 10) out += static_cast<char>('0' + b / 10 % 10);
      out += static_cast<char>('0' + b % 10);
    }
    return out;
  }
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
  // Eight bytes at a time through a multiply-xorshift mix: one lookup per packet, so it is cheap.
  uint64_t words[4];
  std::memcpy(words, k.lo.ip.bytes.data(), 16);
  std::memcpy(words + 2, k.hi.ip.bytes.data(), 16);
  uint64_t h = (static_cast<uint64_t>(k.lo.port) << 16 | k.hi.port) ^ 0x9e3779b97f4a7c15ULL;
  for (uint64_t w : words) {
    h = (h ^ w) * 0xff51afd7ed558ccdULL;
    h ^= h >> 32;
  }
  return static_cast<size_t>(h);
}

}  // namespace tcpdp
