/// A proxy whose remote is one of its own listening sockets relays every connection to itself,
/// and that one to itself again, until it runs out of descriptors: found at start instead.
#pragma once

#include <string>
#include <vector>

#include "common/endpoint.h"
#include "proxy/net.h"

namespace tcpdp {

/// Where the proxy listens, as far as the loop check needs it.
struct ListenAddress {
  Endpoint at;              // 0.0.0.0 or :: for every address of the host
  bool takes_ipv4 = false;  // an IPv6 socket that accepts IPv4 connections too (IPV6_V6ONLY off)
  std::string name;         // what the user or server-starter called it
};

/// The first listening address a connection to one of `remotes` would reach, or nullptr.
/// `local` holds the host's own addresses (its interfaces'), which a wildcard listen takes;
/// 127.0.0.0/8, ::1 and the unspecified addresses always count as the host's own.
const ListenAddress* listener_reached(const std::vector<ListenAddress>& listening,
                                      const std::vector<Endpoint>& remotes,
                                      const std::vector<IpAddr>& local);

/// The check on the proxy's real sockets and the host's interfaces: a sentence naming the
/// remote and the listening address it reaches, or "" when the remote is elsewhere.
std::string self_loop_error(const std::vector<Listener>& listeners, const HostPort& remote,
                            const std::vector<IpAddr>& remote_addresses);

}  // namespace tcpdp
