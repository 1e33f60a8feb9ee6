// Expected state sequences follow the TCP state diagram of RFC 9293 section 3.3.2 (with the
// kernel's names); expected conn_state and history follow Zeek's conn.log documentation.
#include "tcptrack/lifecycle.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using tcpdp::ConnLifecycle;
using tcpdp::Direction;
using tcpdp::Record;
using tcpdp::StateChange;
using tcpdp::TcpSegment;
using tcpdp::Timestamp;
namespace flag = tcpdp::tcp_flag;

namespace {

constexpr Direction C = Direction::kClientToServer;
constexpr Direction S = Direction::kServerToClient;
constexpr uint8_t SYN = flag::kSyn, ACK = flag::kAck, FIN = flag::kFin, RST = flag::kRst;

struct Run {
  ConnLifecycle life;
  std::vector<std::string> events;  // "client CLOSED->SYN-SENT"
  int64_t clock = 1000;

  explicit Run(bool mid_stream = false) : life(Timestamp{1000}, mid_stream) {}

  void seg(Direction from, uint8_t flags, uint32_t seq, uint32_t ack, uint32_t len = 0,
           uint16_t window = 1000) {
    TcpSegment s;
    s.ts = Timestamp{clock += 10};
    s.flags = flags;
    s.seq = seq;
    s.ack = ack;
    s.window = window;
    s.missing = len;  // the payload's length is all lifecycle looks at
    s.ip_bytes = 40 + len;
    std::vector<StateChange> changes;
    life.on_segment(s, from, changes);
    record(changes);
  }
  void finish() {
    std::vector<StateChange> changes;
    life.finish(Timestamp{clock}, changes);
    record(changes);
  }
  void record(const std::vector<StateChange>& changes) {
    for (const StateChange& c : changes) {
      events.push_back(std::string(c.side == C ? "client " : "server ") +
                       tcpdp::tcp_state_name(c.from) + "->" + tcpdp::tcp_state_name(c.to));
    }
  }
  // Client ISN 100, server ISN 500; the handshake.
  void handshake() {
    seg(C, SYN, 100, 0);
    seg(S, SYN | ACK, 500, 101);
    seg(C, ACK, 101, 501);
  }
};

using Events = std::vector<std::string>;

const Events kHandshake = {"client CLOSED->SYN-SENT", "server CLOSED->SYN-RECV",
                           "client SYN-SENT->ESTABLISHED", "server SYN-RECV->ESTABLISHED"};

Events with_handshake(const Events& rest) {
  Events all = kHandshake;
  all.insert(all.end(), rest.begin(), rest.end());
  return all;
}

}  // namespace

TEST_CASE("handshake, data, the client closes first") {
  Run r;
  r.handshake();
  r.seg(C, ACK, 101, 501, 10);
  r.seg(S, ACK, 501, 111, 20);
  r.seg(C, ACK, 111, 521);
  r.seg(C, FIN | ACK, 111, 521);  // FIN takes sequence number 111
  r.seg(S, ACK, 521, 112);        // the server acknowledges it: it has received the FIN
  r.seg(S, FIN | ACK, 521, 112);
  r.seg(C, ACK, 112, 522);
  CHECK(r.events == with_handshake({"client ESTABLISHED->FIN-WAIT-1",
                                    "server ESTABLISHED->CLOSE-WAIT",
                                    "client FIN-WAIT-1->FIN-WAIT-2", "server CLOSE-WAIT->LAST-ACK",
                                    "client FIN-WAIT-2->TIME-WAIT", "server LAST-ACK->CLOSED"}));
  CHECK(std::string(r.life.conn_state()) == "SF");
  CHECK(r.life.history() == "ShADdFaf");
  CHECK(std::string(r.life.closed_by()) == "client");
}

TEST_CASE("the server closes first, its FIN answered by the client's FIN+ACK") {
  Run r;
  r.handshake();
  r.seg(S, FIN | ACK, 501, 101);
  r.seg(C, FIN | ACK, 101, 502);  // acknowledges the server's FIN and closes in the same packet
  r.seg(S, ACK, 502, 102);
  CHECK(r.events == with_handshake({"server ESTABLISHED->FIN-WAIT-1",
                                    "client ESTABLISHED->CLOSE-WAIT",
                                    "client CLOSE-WAIT->LAST-ACK",
                                    "server FIN-WAIT-1->FIN-WAIT-2",
                                    "server FIN-WAIT-2->TIME-WAIT", "client LAST-ACK->CLOSED"}));
  CHECK(std::string(r.life.conn_state()) == "SF");
  CHECK(std::string(r.life.closed_by()) == "server");
}

TEST_CASE("simultaneous close: the FINs cross, both sides go through CLOSING") {
  Run r;
  r.handshake();
  r.seg(C, FIN | ACK, 101, 501);
  r.seg(S, FIN | ACK, 501, 101);  // sent before the client's FIN arrived: it does not ack it
  r.seg(C, ACK, 102, 502);
  r.seg(S, ACK, 502, 102);
  CHECK(r.events == with_handshake({"client ESTABLISHED->FIN-WAIT-1",
                                    "server ESTABLISHED->FIN-WAIT-1", "client FIN-WAIT-1->CLOSING",
                                    "server FIN-WAIT-1->CLOSING", "server CLOSING->TIME-WAIT",
                                    "client CLOSING->TIME-WAIT"}));
  CHECK(std::string(r.life.conn_state()) == "SF");
}

TEST_CASE("refused: SYN answered by RST") {
  Run r;
  r.seg(C, SYN, 100, 0);
  r.seg(S, RST | ACK, 0, 101);
  CHECK(r.events == Events{"client CLOSED->SYN-SENT", "client SYN-SENT->CLOSED"});
  CHECK(std::string(r.life.conn_state()) == "REJ");
  CHECK(r.life.history() == "Sr");
  CHECK(std::string(r.life.closed_by()) == "server");
}

TEST_CASE("no answer to the SYN") {
  Run r;
  r.seg(C, SYN, 100, 0);
  r.seg(C, SYN, 100, 0);  // retransmitted
  CHECK(r.events == Events{"client CLOSED->SYN-SENT"});
  CHECK(std::string(r.life.conn_state()) == "S0");
  CHECK(r.life.history() == "S");
  CHECK(r.life.closed_by() == nullptr);
}

TEST_CASE("aborts: the client resets (RSTO), the server resets (RSTR)") {
  SUBCASE("client") {
    Run r;
    r.handshake();
    r.seg(C, RST | ACK, 101, 501);
    CHECK(r.events == with_handshake({"client ESTABLISHED->CLOSED", "server ESTABLISHED->CLOSED"}));
    CHECK(std::string(r.life.conn_state()) == "RSTO");
  }
  SUBCASE("server") {
    Run r;
    r.handshake();
    r.seg(S, RST, 501, 0);
    CHECK(r.events == with_handshake({"server ESTABLISHED->CLOSED", "client ESTABLISHED->CLOSED"}));
    CHECK(std::string(r.life.conn_state()) == "RSTR");
  }
}

TEST_CASE("SYN then RST from the originator without an answer: RSTOS0; SYN then FIN: SH") {
  Run a;
  a.seg(C, SYN, 100, 0);
  a.seg(C, RST, 101, 0);
  CHECK(std::string(a.life.conn_state()) == "RSTOS0");
  Run b;
  b.seg(C, SYN, 100, 0);
  b.seg(C, FIN, 101, 0);
  CHECK(std::string(b.life.conn_state()) == "SH");
}

TEST_CASE("established and still open: S1; one side closed: S2 or S3") {
  Run open;
  open.handshake();
  CHECK(std::string(open.life.conn_state()) == "S1");
  Run s2;
  s2.handshake();
  s2.seg(C, FIN | ACK, 101, 501);
  CHECK(std::string(s2.life.conn_state()) == "S2");
  Run s3;
  s3.handshake();
  s3.seg(S, FIN | ACK, 501, 101);
  CHECK(std::string(s3.life.conn_state()) == "S3");
}

TEST_CASE("picked up mid-stream: sides start UNKNOWN and are synchronized when heard from") {
  Run r(/*mid_stream=*/true);
  r.seg(C, ACK, 5000, 9000, 10);
  r.seg(S, ACK, 9000, 5010, 10);
  CHECK(r.events == Events{"client UNKNOWN->ESTABLISHED", "server UNKNOWN->ESTABLISHED"});
  CHECK(std::string(r.life.conn_state()) == "OTH");
  r.seg(C, FIN | ACK, 5010, 9010);
  r.seg(S, FIN | ACK, 9010, 5011);
  r.seg(C, ACK, 5011, 9011);
  CHECK(std::string(r.life.conn_state()) == "SF");
  CHECK(r.life.history() == "DdFfA");
}

TEST_CASE("a FIN nothing acknowledged is taken as received when the connection is summed up") {
  Run r;
  r.handshake();
  r.seg(C, FIN | ACK, 101, 501);
  CHECK(r.events.back() == "client ESTABLISHED->FIN-WAIT-1");
  r.finish();
  CHECK(r.events.back() == "server ESTABLISHED->CLOSE-WAIT");
}

TEST_CASE("retransmissions, zero windows and gaps count in the history at 1, 10, 100") {
  Run r;
  r.handshake();
  r.seg(C, ACK, 101, 501, 100);
  for (int i = 0; i < 12; ++i) r.seg(C, ACK, 101, 501, 100);  // the same bytes again
  r.seg(S, ACK, 501, 201, 0, 0);                                // zero window
  for (int i = 0; i < 3; ++i) r.life.add_missed(S, 5);
  CHECK(r.life.history() == "ShADTTawg");
  Record rec;
  r.life.add_summary(rec);
  CHECK(rec.find("client_retransmits")->i == 12);
  CHECK(rec.find("server_zero_windows")->i == 1);
  CHECK(rec.find("missed_bytes")->i == 15);
  CHECK(rec.find("handshake_rtt")->i == 20);  // SYN at 1010, the client's ACK at 1030
  CHECK(rec.find("client_packets")->i == 15);
  CHECK(rec.find("client_ip_bytes")->i == 40 * 15 + 100 * 13);
}

TEST_CASE("a RST after both FINs leaves the close an orderly one (SF)") {
  Run r;
  r.handshake();
  r.seg(C, FIN | ACK, 101, 501);
  r.seg(S, FIN | ACK, 501, 102);
  r.seg(C, RST, 102, 0);
  CHECK(std::string(r.life.conn_state()) == "SF");
  CHECK(r.events.back() == "server LAST-ACK->CLOSED");
}

TEST_CASE("the SYN-ACK establishes the connection for conn_state (S1, RSTR)") {
  Run open;
  open.seg(C, SYN, 100, 0);
  open.seg(S, SYN | ACK, 500, 101);
  CHECK(std::string(open.life.conn_state()) == "S1");
  Run reset;
  reset.seg(C, SYN, 100, 0);
  reset.seg(S, SYN | ACK, 500, 101);
  reset.seg(S, RST, 501, 0);
  CHECK(std::string(reset.life.conn_state()) == "RSTR");
}

TEST_CASE("the client's SYN not captured: both sides start UNKNOWN, the server from SYN-RECV") {
  Run r(/*mid_stream=*/true);
  r.seg(S, SYN | ACK, 500, 101);
  r.seg(C, ACK, 101, 501, 5);
  r.seg(S, FIN | ACK, 501, 106);
  CHECK(r.events == Events{"server UNKNOWN->SYN-RECV", "client UNKNOWN->ESTABLISHED",
                           "server SYN-RECV->ESTABLISHED", "server ESTABLISHED->FIN-WAIT-1"});
  CHECK(std::string(r.life.conn_state()) == "SHR");
}

TEST_CASE("a FIN lost on the way is not taken as received before it is acknowledged") {
  Run r;
  r.handshake();
  r.seg(C, FIN | ACK, 101, 501);  // lost after the capture point
  r.seg(C, ACK, 102, 501);        // a pure ACK after it says nothing of its arrival
  r.seg(C, FIN | ACK, 101, 501);  // the FIN again
  CHECK(r.events.back() == "client ESTABLISHED->FIN-WAIT-1");
  r.seg(S, ACK, 501, 102);
  CHECK(r.events.back() == "client FIN-WAIT-1->FIN-WAIT-2");
  CHECK(r.events.at(r.events.size() - 2) == "server ESTABLISHED->CLOSE-WAIT");
}

TEST_CASE("only the client's side captured: acknowledging proves it had the SYN-ACK") {
  Run r;
  r.seg(C, SYN, 100, 0);
  r.seg(C, ACK, 101, 501);
  r.seg(C, ACK, 101, 501, 10);
  r.seg(C, FIN | ACK, 111, 501);
  CHECK(r.events == Events{"client CLOSED->SYN-SENT", "client SYN-SENT->ESTABLISHED",
                           "client ESTABLISHED->FIN-WAIT-1"});
}

TEST_CASE("RSTOS0 needs nothing but the SYN before the client's RST") {
  Run r;
  r.seg(C, SYN, 100, 0);
  r.seg(C, ACK, 101, 501);
  r.seg(C, RST, 101, 0);
  CHECK(r.life.history() == "SAR");
  CHECK(std::string(r.life.conn_state()) == "OTH");
}
