/// The proxy's sockets: addresses written HOST:PORT, listening sockets made or inherited from
/// server-starter's start_server, outgoing connections, and Endpoint <-> sockaddr.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <vector>

#include "common/endpoint.h"
#include "tcptrack/lifecycle.h"

namespace tcpdp {

struct HostPort {
  std::string host;  // a name, an IP literal, or empty for every address
  uint16_t port = 0;
  std::string text;  // as written
};

/// `HOST:PORT`, `[V6]:PORT` or `:PORT`; nullopt and a sentence in *error for anything else.
std::optional<HostPort> parse_host_port(const std::string& text, std::string* error);

socklen_t to_sockaddr(const Endpoint& e, sockaddr_storage& out);
std::optional<Endpoint> from_sockaddr(const sockaddr_storage& sa);
std::optional<Endpoint> local_endpoint(int fd);

/// The kernel's state of a TCP socket (TCP_INFO), as tcp-audit names them; CLOSED when it has
/// none. A socket that went to TIME-WAIT says CLOSED: the kernel keeps TIME-WAIT in a timewait
/// socket of its own.
TcpState socket_state(int fd);

struct Listener {
  int fd = -1;
  Endpoint local;
  std::string name;  // what the user or server-starter called it
};

/// Non-blocking listening sockets on every address `at` names (`:PORT`: every IPv4 and IPv6
/// address). False and a sentence in *error (the address and the system's reason).
bool open_listeners(const HostPort& at, std::vector<Listener>& out, std::string* error);

/// Every listening socket server-starter passed down: SERVER_STARTER_PORT is
/// `HOST:PORT=FD;PORT=FD;...`. Each fd must be a listening TCP socket; it is made non-blocking.
bool inherited_listeners(const char* server_starter_port, std::vector<Listener>& out,
                         std::string* error);

/// Starts a non-blocking connection to `to` (TCP_NODELAY set); -1 and errno on failure.
int start_connect(const Endpoint& to);

}  // namespace tcpdp
