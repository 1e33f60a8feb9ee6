// A real child process connects over loopback; the lookup must name it, its parent and its user
// as the kernel knows them, and name nothing once it is gone.
#include "tcptrack/process.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>

using tcpdp::Endpoint;
using tcpdp::IpAddr;
using tcpdp::ProcessLookup;

namespace {

Endpoint endpoint_of(const sockaddr_in& a) {
  Endpoint e;
  e.ip = IpAddr::v4(reinterpret_cast<const uint8_t*>(&a.sin_addr));
  e.port = ntohs(a.sin_port);
  return e;
}

Endpoint local_end(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return endpoint_of(a);
}

Endpoint remote_end(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  getpeername(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return endpoint_of(a);
}

}  // namespace

TEST_CASE("the owner of each end of a loopback connection, and nothing once it is gone") {
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(listener >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(listen(listener, 1) == 0);
  socklen_t len = sizeof addr;
  getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);

  const pid_t child = fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    prctl(PR_SET_NAME, "tcpdp-child");
    const int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) _exit(1);
    for (;;) pause();  // holds the connection until killed
  }
  const int accepted = accept(listener, nullptr, nullptr);
  REQUIRE(accepted >= 0);
  const Endpoint server = local_end(accepted);
  const Endpoint client = remote_end(accepted);

  ProcessLookup lookup;
  const auto owner = lookup.find(client, server);
  REQUIRE(owner);
  CHECK(owner->pid == child);
  CHECK(owner->ppid == getpid());
  CHECK(owner->comm == "tcpdp-child");
  CHECK(owner->uid == getuid());
  const passwd* pw = getpwuid(getuid());
  REQUIRE(pw);
  CHECK(owner->user == pw->pw_name);

  const auto self = lookup.find(server, client);
  REQUIRE(self);
  CHECK(self->pid == getpid());

  // An endpoint pair no socket has.
  Endpoint nobody = client;
  nobody.port = static_cast<uint16_t>(client.port == 1 ? 2 : 1);
  CHECK_FALSE(lookup.find(nobody, server));

  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  // The child's socket is gone with it (or left without an owner): never named after the child.
  const auto after = lookup.find(client, server);
  CHECK_FALSE(after);
  close(accepted);
  close(listener);
}
