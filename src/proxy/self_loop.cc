#include "proxy/self_loop.h"

#include <ifaddrs.h>

#include <algorithm>
#include <cstring>

namespace tcpdp {

namespace {

bool unspecified(const IpAddr& ip) {
  return std::all_of(ip.bytes.begin(), ip.bytes.end(), [](uint8_t b) { return b == 0; });
}

bool loopback(const IpAddr& ip) {
  if (ip.family == 4) return ip.bytes[0] == 127;
  IpAddr one;
  one.family = 6;
  one.bytes[15] = 1;
  return ip == one;
}

// A connection to 0.0.0.0 or :: goes to the host itself, as one to its loopback address does.
IpAddr as_connected_to(const IpAddr& ip) {
  if (!unspecified(ip)) return ip;
  uint8_t loopback_address[16] = {};
  if (ip.family == 4) {
    loopback_address[0] = 127;
    loopback_address[3] = 1;
    return IpAddr::v4(loopback_address);
  }
  loopback_address[15] = 1;
  return IpAddr::v6(loopback_address);
}

bool reaches(const ListenAddress& l, const Endpoint& remote, const std::vector<IpAddr>& local) {
  if (l.at.port != remote.port) return false;
  const IpAddr to = as_connected_to(remote.ip);
  if (l.at.ip == to) return true;
  if (!unspecified(l.at.ip)) return false;
  if (l.at.ip.family != to.family && !(l.takes_ipv4 && to.family == 4)) return false;
  return loopback(to) || std::find(local.begin(), local.end(), to) != local.end();
}

std::vector<IpAddr> interface_addresses() {
  std::vector<IpAddr> out;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return out;
  for (const ifaddrs* i = list; i; i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    sockaddr_storage sa{};
    const size_t len = i->ifa_addr->sa_family == AF_INET    ? sizeof(sockaddr_in)
                       : i->ifa_addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6)
                                                            : 0;
    if (len == 0) continue;
    std::memcpy(&sa, i->ifa_addr, len);
    if (const auto e = from_sockaddr(sa)) out.push_back(e->ip);
  }
  freeifaddrs(list);
  return out;
}

}  // namespace

const ListenAddress* listener_reached(const std::vector<ListenAddress>& listening,
                                      const std::vector<Endpoint>& remotes,
                                      const std::vector<IpAddr>& local) {
  for (const Endpoint& remote : remotes) {
    for (const ListenAddress& l : listening) {
      if (reaches(l, remote, local)) return &l;
    }
  }
  return nullptr;
}

std::string self_loop_error(const std::vector<Listener>& listeners, const HostPort& remote,
                            const std::vector<IpAddr>& remote_addresses) {
  std::vector<ListenAddress> listening;
  for (const Listener& l : listeners) {
    int v6only = 1;
    socklen_t len = sizeof v6only;
    if (l.local.ip.family == 6) getsockopt(l.fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len);
    listening.push_back({l.local, l.local.ip.family == 6 && v6only == 0, l.name});
  }
  std::vector<Endpoint> remotes;
  for (const IpAddr& ip : remote_addresses) remotes.push_back({ip, remote.port});
  const ListenAddress* hit = listener_reached(listening, remotes, interface_addresses());
  if (!hit) return "";
  const std::string at = hit->at.to_string();
  return "-r " + remote.text + ": the remote is the proxy itself (it listens on " + at +
         (hit->name == at ? "" : ", given as " + hit->name) +
         "): every connection would be relayed to the proxy again, without end";
}

}  // namespace tcpdp
