#include "proxy/net.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

namespace tcpdp {

namespace {

std::optional<uint16_t> port_of(std::string_view s) {
  unsigned v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

std::string system_error(const std::string& what) { return what + ": " + std::strerror(errno); }

void set_nodelay(int fd) {
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

}  // namespace

std::optional<HostPort> parse_host_port(const std::string& text, std::string* error) {
  HostPort hp;
  hp.text = text;
  std::string_view port;
  if (!text.empty() && text[0] == '[') {
    const size_t close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      *error = "'" + text + "': an IPv6 address is written [ADDRESS]:PORT";
      return std::nullopt;
    }
    hp.host = text.substr(1, close - 1);
    port = std::string_view(text).substr(close + 2);
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string::npos || text.find(':') != colon) {
      *error = "'" + text + "': HOST:PORT, [IPV6]:PORT or :PORT is wanted";
      return std::nullopt;
    }
    hp.host = text.substr(0, colon);
    port = std::string_view(text).substr(colon + 1);
  }
  const auto p = port_of(port);
  if (!p) {
    *error = "'" + text + "': the port must be a number from 1 to 65535";
    return std::nullopt;
  }
  hp.port = *p;
  return hp;
}

socklen_t to_sockaddr(const Endpoint& e, sockaddr_storage& out) {
  std::memset(&out, 0, sizeof out);
  if (e.ip.family == 4) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(e.port);
    std::memcpy(&sin->sin_addr, e.ip.bytes.data(), 4);
    return sizeof *sin;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(e.port);
  std::memcpy(&sin6->sin6_addr, e.ip.bytes.data(), 16);
  return sizeof *sin6;
}

std::optional<Endpoint> from_sockaddr(const sockaddr_storage& sa) {
  Endpoint e;
  if (sa.ss_family == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&sa);
    e.ip = IpAddr::v4(reinterpret_cast<const uint8_t*>(&sin->sin_addr));
    e.port = ntohs(sin->sin_port);
    return e;
  }
  if (sa.ss_family == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&sa);
    e.ip = IpAddr::v6(reinterpret_cast<const uint8_t*>(&sin6->sin6_addr));
    e.port = ntohs(sin6->sin6_port);
    return e;
  }
  return std::nullopt;
}

std::optional<Endpoint> local_endpoint(int fd) {
  sockaddr_storage sa{};
  socklen_t len = sizeof sa;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len) != 0) return std::nullopt;
  return from_sockaddr(sa);
}

bool open_listeners(const HostPort& at, std::vector<Listener>& out, std::string* error) {
  std::vector<IpAddr> addresses;
  if (at.host.empty()) {
    addresses = {*IpAddr::parse("0.0.0.0"), *IpAddr::parse("::")};
  } else if (!resolve_host(at.host, addresses, error)) {
    return false;
  }
  for (const IpAddr& ip : addresses) {
    const Endpoint e{ip, at.port};
    const int fd =
        socket(ip.family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      *error = system_error("cannot listen on " + e.to_string());
      return false;
    }
    const int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ip.family == 6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_storage sa;
    const socklen_t len = to_sockaddr(e, sa);
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0 || listen(fd, SOMAXCONN) != 0) {
      *error = system_error("cannot listen on " + e.to_string());
      close(fd);
      return false;
    }
    out.push_back({fd, local_endpoint(fd).value_or(e), at.text});
  }
  return true;
}

bool inherited_listeners(const char* server_starter_port, std::vector<Listener>& out,
                         std::string* error) {
  if (!server_starter_port || !*server_starter_port) {
    *error = "-s: SERVER_STARTER_PORT is not set (run tcpdp under start_server)";
    return false;
  }
  const std::string spec = server_starter_port;
  for (size_t at = 0; at <= spec.size();) {
    size_t end = spec.find(';', at);
    if (end == std::string::npos) end = spec.size();
    const std::string item = spec.substr(at, end - at);
    at = end + 1;
    if (item.empty()) continue;
    const size_t eq = item.rfind('=');
    int fd = -1;
    const auto parsed = eq == std::string::npos
                            ? std::from_chars_result{nullptr, std::errc::invalid_argument}
                            : std::from_chars(item.data() + eq + 1, item.data() + item.size(), fd);
    if (parsed.ec != std::errc() || parsed.ptr != item.data() + item.size() || fd < 0) {
      *error = "SERVER_STARTER_PORT: '" + item + "' is not ADDRESS=FD";
      return false;
    }
    int listening = 0;
    socklen_t len = sizeof listening;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) {
      *error = "SERVER_STARTER_PORT: fd " + std::to_string(fd) + " (" + item.substr(0, eq) +
               ") is not a listening socket";
      return false;
    }
    const auto local = local_endpoint(fd);
    if (!local) {
      *error = "SERVER_STARTER_PORT: fd " + std::to_string(fd) + " (" + item.substr(0, eq) +
               ") is not a TCP socket";
      return false;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    out.push_back({fd, *local, item.substr(0, eq)});
  }
  if (out.empty()) {
    *error = "SERVER_STARTER_PORT names no socket";
    return false;
  }
  return true;
}

int start_connect(const Endpoint& to) {
  const int fd =
      socket(to.ip.family == 4 ? AF_INET : AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  set_nodelay(fd);
  sockaddr_storage sa;
  const socklen_t len = to_sockaddr(to, sa);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), len) != 0 && errno != EINPROGRESS) {
    const int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

TcpState socket_state(int fd) {
  tcp_info info{};
  socklen_t len = sizeof info;
  if (fd < 0 || getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0) return TcpState::kClosed;
  switch (info.tcpi_state) {
    case TCP_ESTABLISHED:
      return TcpState::kEstablished;
    case TCP_SYN_SENT:
      return TcpState::kSynSent;
    case TCP_SYN_RECV:
      return TcpState::kSynRecv;
    case TCP_FIN_WAIT1:
      return TcpState::kFinWait1;
    case TCP_FIN_WAIT2:
      return TcpState::kFinWait2;
    case TCP_TIME_WAIT:
      return TcpState::kTimeWait;
    case TCP_CLOSE_WAIT:
      return TcpState::kCloseWait;
    case TCP_LAST_ACK:
      return TcpState::kLastAck;
    case TCP_CLOSING:
      return TcpState::kClosing;
    default:
      return TcpState::kClosed;
  }
}

}  // namespace tcpdp
