// The kernel's own view of a loopback connection, read through tcpdp's trace instance: the
// state changes RFC 9293's state machine (and Linux's tcp_states.h) give for an active open,
// a passive open, and a close from the client, each with the task that was on the CPU.
#include "audit/kernel_source.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace tcpdp;
using namespace tcpdp::audit;

namespace {

struct Seen {
  KernelStateChange change;
  Timestamp wall;
};

bool can_trace() {
  std::string error;
  return ::geteuid() == 0 && !find_tracefs(error).empty();
}

uint16_t port_of(int fd) {
  sockaddr_in a{};
  socklen_t n = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  return ntohs(a.sin_port);
}

std::string name(int state) {
  const char* n = kernel_tcp_state_name(state);
  return n ? n : "?";
}

}  // namespace

TEST_CASE("a loopback connection's state changes, from the kernel, with the connecting task") {
  if (!can_trace()) {
    MESSAGE("skipped: needs root and tracefs");
    return;
  }
  std::vector<std::string> notes;
  std::string error;
  auto source = KernelSource::open({}, notes, error);
  REQUIRE_MESSAGE(source, error);
  struct stat st {};
  CHECK(::stat(source->instance().c_str(), &st) == 0);

  const Timestamp before{std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count()};
  const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  const uint16_t server_port = port_of(listener);
  addr.sin_port = htons(server_port);
  const int client = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(::connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  const uint16_t client_port = port_of(client);
  const int accepted = ::accept(listener, nullptr, nullptr);
  REQUIRE(accepted >= 0);
  ::close(client);
  ::close(accepted);
  ::close(listener);

  // Everything the kernel said meanwhile, then the changes of the sockets with these ports:
  // a socket is named by its kernel address, since connect() moves it to SYN-SENT before it
  // has a port.
  std::vector<Seen> all;
  for (int i = 0; i < 10; ++i)
    REQUIRE_MESSAGE(source->read(
                        50,
                        [&](const KernelStateChange& c, Timestamp wall) {
                          all.push_back({c, wall});
                        },
                        error),
                    error);
  std::vector<uint64_t> ours;
  for (const Seen& s : all)
    if (s.change.src.port == client_port || s.change.src.port == server_port)
      ours.push_back(s.change.skaddr);
  std::vector<Seen> seen;
  for (const Seen& s : all)
    if (std::find(ours.begin(), ours.end(), s.change.skaddr) != ours.end()) seen.push_back(s);

  std::vector<std::string> client_side, server_side;
  for (const Seen& s : seen) {
    const std::string step = name(s.change.old_state) + ">" + name(s.change.new_state);
    const bool of_client = s.change.src.port == client_port ||
                           (s.change.src.port == 0 && s.change.new_state == kTcpSynSent);
    (of_client ? client_side : server_side).push_back(step);
    CHECK(s.wall >= before);
    CHECK(s.wall.usec - before.usec < 10'000'000);
    CHECK(s.change.skaddr != 0);
  }
  // The client's socket: connect() opens it, the SYN-ACK establishes it, close() sends the
  // first FIN; TIME-WAIT is left to a timewait socket of its own, so the tracepoint's last word
  // on the socket is its move to CLOSED.
  CHECK(client_side == std::vector<std::string>{"CLOSED>SYN-SENT", "SYN-SENT>ESTABLISHED",
                                                "ESTABLISHED>FIN-WAIT-1", "FIN-WAIT-1>FIN-WAIT-2",
                                                "FIN-WAIT-2>CLOSED"});
  // The listener, and the accepted socket: a copy of the listener made in SYN-RECV when the
  // handshake's last ACK comes, closed after the client's FIN.
  CHECK(server_side == std::vector<std::string>{"CLOSED>LISTEN", "LISTEN>SYN-RECV",
                                                "SYN-RECV>ESTABLISHED", "ESTABLISHED>CLOSE-WAIT",
                                                "CLOSE-WAIT>LAST-ACK", "LAST-ACK>CLOSED",
                                                "LISTEN>CLOSED"});
  for (const Seen& s : seen)
    if (s.change.src.port) CHECK(s.change.src.ip.to_string() == "127.0.0.1");
  // connect() moves the client to SYN-SENT in this thread's own context.
  int syn_sent = 0;
  for (const Seen& s : seen)
    if (s.change.new_state == kTcpSynSent) {
      ++syn_sent;
      CHECK(s.change.pid_on_cpu == ::gettid());
    }
  CHECK(syn_sent == 1);
  CHECK(source->lost() == 0);
}

TEST_CASE("an instance a killed tcpdp left behind is removed at the next start") {
  if (!can_trace()) {
    MESSAGE("skipped: needs root and tracefs");
    return;
  }
  std::string error;
  const std::string tracefs = find_tracefs(error);
  const pid_t child = ::fork();
  if (child == 0) ::_exit(0);
  REQUIRE(child > 0);
  ::waitpid(child, nullptr, 0);  // its pid now names no process
  const std::string stale = tracefs + "/instances/tcpdp-" + std::to_string(child);
  REQUIRE(::mkdir(stale.c_str(), 0700) == 0);
  // Another tool's instance, and one of a live process, stay.
  const std::string other = tracefs + "/instances/tcpdp-test-other";
  REQUIRE(::mkdir(other.c_str(), 0700) == 0);
  std::vector<std::string> notes;
  auto source = KernelSource::open({}, notes, error);
  REQUIRE_MESSAGE(source, error);
  struct stat st {};
  CHECK(::stat(stale.c_str(), &st) != 0);
  CHECK(::stat(other.c_str(), &st) == 0);
  CHECK(::stat(source->instance().c_str(), &st) == 0);
  REQUIRE(!notes.empty());
  CHECK(notes[0] == "removed the trace instance tcpdp-" + std::to_string(child) +
                        " a stopped tcpdp left behind");
  ::rmdir(other.c_str());
  const std::string ours = source->instance();
  source.reset();
  CHECK(::stat(ours.c_str(), &st) != 0);
}
