#include "tcptrack/sock_diag.h"

#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace tcpdp {
namespace {

// The socket's address as sock_diag wants it: network byte order, IPv4 in the first word.
void put_addr(const IpAddr& ip, __be32 out[4]) {
  std::memset(out, 0, 16);
  std::memcpy(out, ip.bytes.data(), ip.family == 4 ? 4 : 16);
}

// A netlink socket that closes itself.
struct NetlinkSocket {
  int fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
  ~NetlinkSocket() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

std::optional<DiagSocket> find_tcp_socket(const Endpoint& local, const Endpoint& remote) {
  NetlinkSocket nl;
  if (nl.fd < 0) return std::nullopt;
  struct {
    nlmsghdr header;
    inet_diag_req_v2 req;
  } msg{};
  msg.header.nlmsg_len = sizeof msg;
  msg.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.header.nlmsg_flags = NLM_F_REQUEST;  // one socket, found by its endpoints
  msg.req.sdiag_family = local.ip.family == 4 ? AF_INET : AF_INET6;
  msg.req.sdiag_protocol = IPPROTO_TCP;
  msg.req.idiag_states = ~0u;
  msg.req.id.idiag_sport = htons(local.port);
  msg.req.id.idiag_dport = htons(remote.port);
  put_addr(local.ip, msg.req.id.idiag_src);
  put_addr(remote.ip, msg.req.id.idiag_dst);
  msg.req.id.idiag_cookie[0] = INET_DIAG_NOCOOKIE;
  msg.req.id.idiag_cookie[1] = INET_DIAG_NOCOOKIE;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (sendto(nl.fd, &msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&kernel), sizeof kernel) !=
      static_cast<ssize_t>(sizeof msg)) {
    return std::nullopt;
  }
  alignas(nlmsghdr) char buf[8192];
  const ssize_t n = recv(nl.fd, buf, sizeof buf, 0);
  if (n < static_cast<ssize_t>(sizeof(nlmsghdr))) return std::nullopt;
  auto* h = reinterpret_cast<nlmsghdr*>(buf);
  if (!NLMSG_OK(h, static_cast<unsigned>(n)) || h->nlmsg_type != SOCK_DIAG_BY_FAMILY ||
      h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) {
    return std::nullopt;  // NLMSG_ERROR: no such socket
  }
  const auto* d = static_cast<const inet_diag_msg*>(NLMSG_DATA(h));
  return DiagSocket{d->idiag_state, d->idiag_inode, d->idiag_uid};
}

}  // namespace tcpdp
