// Connections made from the kernel's state changes, fed by hand in the orders Linux makes them
// (the sequences the kernel_source test reads from this kernel): roles, the port connect()
// chooses after SYN-SENT, both ends of a local connection under one conn_id, listeners,
// sockets older than the reading, targets, a reused socket address and the bound.
#include "audit/kernel_conns.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "../dumpers/decoded.h"

using namespace tcpdp;
using namespace tcpdp::audit;
using test::Value;

namespace {

enum : int {
  kEst = 1,
  kSynSent = 2,
  kSynRecv = 3,
  kFin1 = 4,
  kFin2 = 5,
  kClose = 7,
  kCloseWait = 8,
  kLastAck = 9,
  kListen = 10
};

struct Sink : RecordSink {
  std::vector<Value> records;
  void write(const Record& r) override { records.push_back(test::decoded(r)); }
};

Endpoint ep(const char* ip, uint16_t port) { return Endpoint{*IpAddr::parse(ip), port}; }

struct Feed {
  Sink sink;
  CommCache comms{"/nonexistent/saved_cmdlines"};
  KernelConns conns;
  int64_t clock = 1'700'000'000'000'000;
  explicit Feed(KernelConnsOptions o = {}) : conns(o, sink, comms) {}
  void change(uint64_t sk, int from, int to, Endpoint src, Endpoint dst, int pid = 0) {
    KernelStateChange c;
    c.skaddr = sk;
    c.old_state = from;
    c.new_state = to;
    c.src = src;
    c.dst = dst;
    c.pid_on_cpu = pid;
    conns.on_change(c, Timestamp{clock += 10});
  }
  std::vector<Value> of(const char* event) const {
    std::vector<Value> out;
    for (const Value& r : sink.records)
      if (r["event"] == event) out.push_back(r);
    return out;
  }
};

std::vector<std::string> steps(const std::vector<Value>& states, const char* side) {
  std::vector<std::string> out;
  for (const Value& r : states)
    if (r["side"] == side) out.push_back(r["old_state"].s + ">" + r["new_state"].s);
  return out;
}

const Endpoint kClient = ep("10.0.0.1", 40000);
const Endpoint kServer = ep("10.0.0.2", 5432);
const Endpoint kNoPort = ep("10.0.0.1", 0);

}  // namespace

TEST_CASE("a connect(): SYN-SENT written with the port the next change has, then the summary") {
  Feed f;
  f.change(1, kClose, kSynSent, kNoPort, kServer, 77);
  CHECK(f.sink.records.empty());  // waits for its port
  f.change(1, kSynSent, kEst, kClient, kServer);
  f.change(1, kEst, kFin1, kClient, kServer);
  f.change(1, kFin1, kFin2, kClient, kServer);
  f.change(1, kFin2, kClose, kClient, kServer);
  const auto states = f.of("state");
  REQUIRE(states.size() == 5);
  CHECK(steps(states, "client") ==
        std::vector<std::string>{"CLOSED>SYN-SENT", "SYN-SENT>ESTABLISHED",
                                 "ESTABLISHED>FIN-WAIT-1", "FIN-WAIT-1>FIN-WAIT-2",
                                 "FIN-WAIT-2>CLOSED"});
  CHECK(states[0]["src_port"] == 40000);
  CHECK(states[0]["pid_on_cpu"] == 77);
  CHECK(states[0]["skaddr"] == "0x0000000000000001");
  CHECK(states[0].has("client_pid"));  // asked of /proc: the caller is named (or null)
  CHECK_FALSE(states[1].has("client_pid"));
  const auto sums = f.of("summary");
  REQUIRE(sums.size() == 1);
  CHECK(sums[0]["conn_id"] == states[0]["conn_id"]);
  CHECK(sums[0]["closed_by"] == "client");
  CHECK(sums[0]["close_reason"] == "fin");
  CHECK(sums[0]["connect_failed"] == false);
  CHECK(sums[0]["client_state"] == "CLOSED");
  CHECK_FALSE(sums[0].has("server_state"));  // the server is not on this host
  CHECK(sums[0]["duration"] == Value::duration_usec(40));
  CHECK(sums[0]["ts"] == states[0]["ts"]);
}

TEST_CASE("a refused connect() fails; a reset is a reset") {
  Feed f;
  f.change(1, kClose, kSynSent, kNoPort, kServer);
  f.change(1, kSynSent, kClose, kClient, kServer);
  f.change(2, kClose, kSynSent, kNoPort, kServer);
  f.change(2, kSynSent, kEst, ep("10.0.0.1", 40001), kServer);
  f.change(2, kEst, kClose, ep("10.0.0.1", 40001), kServer);
  const auto sums = f.of("summary");
  REQUIRE(sums.size() == 2);
  CHECK(sums[0]["connect_failed"] == true);
  CHECK_FALSE(sums[0].has("close_reason"));
  CHECK(sums[1]["connect_failed"] == false);
  CHECK(sums[1]["close_reason"] == "reset");
  CHECK_FALSE(sums[1].has("closed_by"));
}

TEST_CASE("both ends on this host: one conn_id, each side its own changes, one summary") {
  Feed f;
  const Endpoint local_server = ep("127.0.0.1", 5432), local_client = ep("127.0.0.1", 40000);
  f.change(9, kClose, kListen, local_server, ep("0.0.0.0", 0), 5);
  f.change(1, kClose, kSynSent, ep("127.0.0.1", 0), local_server, 6);
  f.change(1, kSynSent, kEst, local_client, local_server);
  f.change(2, kListen, kSynRecv, local_server, local_client);
  f.change(2, kSynRecv, kEst, local_server, local_client);
  f.change(2, kEst, kFin1, local_server, local_client);
  f.change(1, kEst, kCloseWait, local_client, local_server);
  f.change(1, kCloseWait, kLastAck, local_client, local_server);
  f.change(2, kFin1, kFin2, local_server, local_client);
  f.change(2, kFin2, kClose, local_server, local_client);
  CHECK(f.of("summary").empty());  // the client's socket is still open
  f.change(1, kLastAck, kClose, local_client, local_server);
  const auto states = f.of("state");
  const auto sums = f.of("summary");
  REQUIRE(sums.size() == 1);
  CHECK(sums[0]["closed_by"] == "server");
  CHECK(sums[0]["client_state"] == "CLOSED");
  CHECK(sums[0]["server_state"] == "CLOSED");
  int in_conn = 0;
  for (const Value& r : states) {
    if (r["conn_id"] == sums[0]["conn_id"]) {
      ++in_conn;
      CHECK(r["src_port"] == 40000);  // src is the client for both sides
      CHECK(r["dst_port"] == 5432);
    }
  }
  CHECK(in_conn == 10);  // five changes of each end
  // The listener: its own conn_id, the kernel's 0.0.0.0:0 as its peer.
  REQUIRE(states[0]["new_state"] == "LISTEN");
  CHECK(states[0]["conn_id"] != sums[0]["conn_id"]);
  CHECK(states[0]["src_ip"] == "0.0.0.0");
  CHECK(states[0]["dst_port"] == 5432);
  CHECK(states[0].has("server_pid"));
}

TEST_CASE("a socket older than the reading: a server's when its port was listening") {
  Feed f;
  f.conns.add_listening(ep("0.0.0.0", 5432), TaskOwner{});
  f.change(1, kEst, kCloseWait, kServer, kClient);           // accepted before: server
  f.change(2, kEst, kFin1, ep("10.0.0.2", 41000), kServer);  // connected before: client
  f.conns.finish();
  const auto sums = f.of("summary");
  REQUIRE(sums.size() == 2);
  CHECK(sums[0]["mid_stream"] == true);
  CHECK(sums[0]["src_port"] == 40000);  // the peer is the client
  CHECK(sums[0]["server_state"] == "CLOSE-WAIT");
  CHECK(sums[0]["closed_by"] == "client");
  CHECK_FALSE(sums[0].has("close_reason"));  // still open at the stop
  CHECK(sums[1]["client_state"] == "FIN-WAIT-1");
}

TEST_CASE("targets keep connections by their server end") {
  KernelConnsOptions o;
  std::string error;
  o.targets = Targets::parse("5432", &error);
  Feed f(o);
  f.change(1, kClose, kSynSent, kNoPort, kServer);
  f.change(1, kSynSent, kClose, kClient, kServer);
  f.change(2, kClose, kSynSent, kNoPort, ep("10.0.0.2", 3306));
  f.change(2, kSynSent, kClose, ep("10.0.0.1", 40001), ep("10.0.0.2", 3306));
  for (const Value& r : f.sink.records) CHECK(r["dst_port"] == 5432);
  CHECK(f.sink.records.size() == 3);
  CHECK(f.conns.stats().changes == 4);
}

TEST_CASE("a socket address used again, and the bound on sockets followed") {
  KernelConnsOptions o;
  o.max_sockets = 2;
  Feed f(o);
  f.change(1, kEst, kFin1, kClient, kServer);
  f.change(1, kClose, kSynSent, kNoPort, kServer);  // its CLOSED was not seen: a new socket
  REQUIRE(f.of("summary").size() == 1);
  f.change(2, kEst, kFin1, ep("10.0.0.1", 40002), kServer);
  f.change(3, kEst, kFin1, ep("10.0.0.1", 40003), kServer);  // over the bound: 1 goes
  const auto sums = f.of("summary");
  REQUIRE(sums.size() == 2);
  CHECK(sums[1]["close_reason"] == "evicted");
  CHECK(f.conns.stats().evicted == 1);
}
