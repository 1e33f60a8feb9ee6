#include "tcptrack/target.h"

#include <charconv>
#include <cstring>

namespace tcpdp {
namespace {

std::vector<std::string> split_targets(const std::string& spec) {
  std::vector<std::string> parts;
  std::string current;
  for (size_t i = 0; i < spec.size(); ++i) {
    if (spec[i] == ',' || (spec[i] == '|' && i + 1 < spec.size() && spec[i + 1] == '|')) {
      parts.push_back(current);
      current.clear();
      if (spec[i] == '|') ++i;
      continue;
    }
    if (spec[i] != ' ') current += spec[i];
  }
  parts.push_back(current);
  return parts;
}

std::optional<uint16_t> parse_port(const std::string& s) {
  unsigned value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || value == 0 || value > 65535) {
    return std::nullopt;
  }
  return static_cast<uint16_t>(value);
}

}  // namespace

std::optional<Targets> Targets::parse(const std::string& spec, std::string* error) {
  Targets targets;
  for (const std::string& item : split_targets(spec)) {
    if (item.empty()) continue;
    Target t;
    t.text = item;
    std::string host, port;
    if (item[0] == '[') {
      const size_t close = item.find(']');
      if (close == std::string::npos || close + 1 >= item.size() || item[close + 1] != ':') {
        *error = "bad target '" + item + "': an IPv6 target is written [ADDRESS]:PORT";
        return std::nullopt;
      }
      host = item.substr(1, close - 1);
      port = item.substr(close + 2);
    } else if (const size_t colon = item.rfind(':'); colon != std::string::npos) {
      if (item.find(':') != colon) {
        *error = "bad target '" + item + "': write an IPv6 target as [ADDRESS]:PORT";
        return std::nullopt;
      }
      host = item.substr(0, colon);
      port = item.substr(colon + 1);
    } else {
      port = item;
    }
    const auto p = parse_port(port);
    if (!p) {
      *error = "bad target '" + item + "': '" + port +
               "' is not a port (1-65535); targets are PORT, HOST:PORT or [V6]:PORT";
      return std::nullopt;
    }
    t.port = *p;
    if (!host.empty() && !resolve_host(host, t.hosts, error)) return std::nullopt;
    targets.list_.push_back(std::move(t));
  }
  if (targets.list_.empty()) {
    *error = "empty target: give PORT, HOST:PORT or [V6]:PORT";
    return std::nullopt;
  }
  return targets;
}

bool Targets::matches(const Endpoint& e) const {
  for (const Target& t : list_) {
    if (t.port != e.port) continue;
    if (t.hosts.empty()) return true;
    for (const IpAddr& h : t.hosts) {
      if (h == e.ip) return true;
    }
  }
  return false;
}

}  // namespace tcpdp
