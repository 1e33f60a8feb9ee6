#include "tcptrack/tracker.h"

#include "tcptrack/proxy_header_decoder.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "../dumpers/pg/pg_test_messages.h"

using namespace tcpdp;

namespace {

// A dumper that writes what each connection saw into a transcript.
struct Transcript {
  struct Conn {
    ConnInfo info;
    std::string c2s, s2c;
    std::string closed;
  };
  std::vector<Conn> conns;
};

class RecordingDumper : public Dumper {
 public:
  explicit RecordingDumper(Transcript& t) : t_(t) {}
  std::unique_ptr<Decoder> open(const ConnInfo& conn, Timestamp) override {
    t_.conns.push_back({conn, "", "", ""});
    return std::make_unique<D>(t_, t_.conns.size() - 1);
  }

 private:
  struct D : Decoder {
    D(Transcript& t, size_t i) : t(t), i(i) {}
    std::string& side(Direction d) {
      return d == Direction::kClientToServer ? t.conns[i].c2s : t.conns[i].s2c;
    }
    void on_data(Direction d, Timestamp, std::span<const uint8_t> b) override {
      side(d).append(b.begin(), b.end());
    }
    void on_gap(Direction d, Timestamp, uint64_t n) override {
      side(d) += "<gap " + std::to_string(n) + ">";
    }
    void on_close(Timestamp, CloseReason r) override { t.conns[i].closed = close_reason_name(r); }
    void describe(Record& r) const override { r.add("username", "alice"); }
    Transcript& t;
    size_t i;
  };
  Transcript& t_;
};

struct Events : RecordSink {
  std::vector<Record> records;
  void write(const Record& r) override { records.push_back(r); }
};

Endpoint ep(const char* ip, uint16_t port) { return Endpoint{*IpAddr::parse(ip), port}; }

// The tracker with the transcript's dumper, or with one of tcpdp's (`real`) writing to records.
struct Fixture {
  Transcript t;
  RecordingDumper dumper{t};
  Events records;
  std::unique_ptr<Dumper> real_dumper;
  Events conn_log;
  Tracker tracker;
  std::vector<std::string> payloads;  // keeps segment payloads alive
  int64_t clock = 1000000;

  explicit Fixture(const std::string& target = "", TrackerOptions o = {}, bool log = false,
                   const char* real = nullptr)
      : real_dumper(real ? make_dumper(real, records) : nullptr),
        tracker(real_dumper ? *real_dumper : dumper, target_of(target), o,
                log ? &conn_log : nullptr) {}
  static Targets target_of(const std::string& s) {
    if (s.empty()) return Targets{};
    std::string e;
    return *Targets::parse(s, &e);
  }
  void send(Endpoint src, Endpoint dst, uint8_t flags, uint32_t seq, uint32_t ack,
            const std::string& data = "") {
    payloads.push_back(data);
    TcpSegment s;
    s.ts = Timestamp{clock += 1000};
    s.src = src;
    s.dst = dst;
    s.flags = flags;
    s.seq = seq;
    s.ack = ack;
    s.payload = {reinterpret_cast<const uint8_t*>(payloads.back().data()), payloads.back().size()};
    tracker.on_segment(s);
  }
};

constexpr uint8_t SYN = tcp_flag::kSyn, ACK = tcp_flag::kAck, FIN = tcp_flag::kFin,
                  RST = tcp_flag::kRst, PSH = tcp_flag::kPsh;
const Endpoint C = ep("10.0.0.1", 40000);
const Endpoint S = ep("10.0.0.2", 5432);

void handshake(Fixture& f) {
  f.send(C, S, SYN, 100, 0);
  f.send(S, C, SYN | ACK, 500, 101);
  f.send(C, S, ACK, 101, 501);
}

}  // namespace

TEST_CASE("a full connection: handshake, data both ways, FIN from both") {
  Fixture f;
  handshake(f);
  f.send(C, S, PSH | ACK, 101, 501, "query");
  f.send(S, C, PSH | ACK, 501, 106, "answer");
  f.send(C, S, FIN | ACK, 106, 507);
  CHECK(f.t.conns.at(0).closed.empty());
  f.send(S, C, FIN | ACK, 507, 107);
  f.send(C, S, ACK, 107, 508);  // the last ACK creates nothing
  REQUIRE(f.t.conns.size() == 1);
  const auto& c = f.t.conns[0];
  CHECK(c.info.client == C);
  CHECK(c.info.server == S);
  CHECK_FALSE(c.info.mid_stream);
  CHECK(c.c2s == "query");
  CHECK(c.s2c == "answer");
  CHECK(c.closed == "fin");
  CHECK(c.info.conn_id.size() == 20);
}

TEST_CASE("the SYN-ACK sender is the server even when the SYN was not captured") {
  Fixture f;
  f.send(S, C, SYN | ACK, 500, 101);
  REQUIRE(f.t.conns.size() == 1);
  CHECK(f.t.conns[0].info.server == S);
}

TEST_CASE("picked up mid-stream: the lower port is the server") {
  Fixture f;
  f.send(C, S, PSH | ACK, 7000, 9000, "late");
  REQUIRE(f.t.conns.size() == 1);
  CHECK(f.t.conns[0].info.server == S);
  CHECK(f.t.conns[0].info.mid_stream);
  CHECK(f.t.conns[0].c2s == "late");
}

TEST_CASE("a target decides direction and filters other traffic") {
  Fixture f("40000");  // odd but allowed: the target side is the server
  f.send(C, S, PSH | ACK, 7000, 9000, "x");
  REQUIRE(f.t.conns.size() == 1);
  CHECK(f.t.conns[0].info.server == C);
  f.send(ep("10.0.0.3", 1), ep("10.0.0.4", 2), SYN, 1, 0);
  CHECK(f.t.conns.size() == 1);
  CHECK(f.tracker.stats().ignored_segments == 1);
}

TEST_CASE("a stray ACK or RST of an unknown connection creates nothing") {
  Fixture f;
  f.send(C, S, ACK, 1, 1);
  f.send(C, S, RST, 1, 0);
  CHECK(f.t.conns.empty());
}

TEST_CASE("RST closes the connection, reporting open holes first") {
  Fixture f;
  handshake(f);
  f.send(C, S, PSH | ACK, 101, 501, "ab");
  f.send(C, S, PSH | ACK, 110, 501, "zz");
  f.send(S, C, RST, 501, 0);
  REQUIRE(f.t.conns.size() == 1);
  CHECK(f.t.conns[0].c2s == "ab<gap 7>zz");
  CHECK(f.t.conns[0].closed == "reset");
}

TEST_CASE("a gap's record: its direction and size, in the order of the stream") {
  Fixture f("", {}, false, "hex");
  handshake(f);
  f.send(C, S, PSH | ACK, 101, 501, "ab");
  f.send(C, S, PSH | ACK, 110, 501, "zz");
  f.send(S, C, RST, 501, 0);
  REQUIRE(f.records.records.size() == 3);
  CHECK(f.records.records[0].find("ascii")->s == "ab");
  const auto gap = f.records.records[1].find("gap_bytes");
  REQUIRE(gap);
  CHECK(gap->kind == tcpdp::Kind::kInt);
  CHECK(gap->i == 7);
  CHECK(f.records.records[1].find("direction")->s == "->");
  CHECK(f.records.records[2].find("ascii")->s == "zz");
}

TEST_CASE("a gap's record comes after the records of the requests sent before it") {
  using namespace test::pg_messages;
  Fixture f("", {}, false, "pg");
  handshake(f);
  const std::string hello = startup({{"user", "alice"}});
  const std::string welcome = auth_ok() + ready();
  const std::string query = msg('Q', cstr("SELECT 1"));
  uint32_t cseq = 101, sseq = 501;
  f.send(C, S, PSH | ACK, cseq, sseq, hello);
  cseq += uint32_t(hello.size());
  f.send(S, C, PSH | ACK, sseq, cseq, welcome);
  sseq += uint32_t(welcome.size());
  f.send(C, S, PSH | ACK, cseq, sseq, query);
  cseq += uint32_t(query.size());
  // The answer's first 10 bytes were not captured; the connection ends with the hole open.
  f.send(S, C, PSH | ACK, sseq + 10, cseq, ready());
  f.send(C, S, RST, cseq, 0);
  size_t query_at = 0, gap_at = 0;
  for (size_t i = 0; i < f.records.records.size(); ++i) {
    const Record& r = f.records.records[i];
    if (r.find("query")) query_at = i + 1;
    if (r.find("gap_bytes")) gap_at = i + 1;
  }
  REQUIRE(query_at > 0);
  REQUIRE(gap_at > 0);
  CHECK(query_at < gap_at);
  CHECK(f.records.records[gap_at - 1].find("direction")->s == "<-");
}

TEST_CASE("a new SYN on the ports of a closed connection starts a new one") {
  Fixture f;
  handshake(f);
  f.send(C, S, RST | ACK, 101, 501);
  f.send(C, S, SYN, 9000, 0);
  f.send(S, C, SYN | ACK, 100, 9001);
  f.send(C, S, PSH | ACK, 9001, 101, "again");
  REQUIRE(f.t.conns.size() == 2);
  CHECK(f.t.conns[1].c2s == "again");
  CHECK(f.t.conns[0].info.conn_id != f.t.conns[1].info.conn_id);
}

TEST_CASE("data on the SYN is stream data") {
  Fixture f;
  f.send(C, S, SYN, 100, 0, "early");
  f.send(S, C, SYN | ACK, 500, 106);
  f.send(C, S, PSH | ACK, 106, 501, "later");
  CHECK(f.t.conns.at(0).c2s == "earlylater");
}

TEST_CASE("finish closes open connections in the order they appeared") {
  Fixture f;
  f.send(ep("10.0.0.9", 50000), S, SYN, 1, 0);
  f.send(C, S, SYN, 1, 0);
  f.tracker.finish(Timestamp{f.clock});
  REQUIRE(f.t.conns.size() == 2);
  CHECK(f.t.conns[0].closed == "end_of_capture");
  CHECK(f.t.conns[1].closed == "end_of_capture");
  CHECK(f.t.conns[0].info.conn_id < f.t.conns[1].info.conn_id);
}

TEST_CASE("the connection bound evicts the least recently seen") {
  TrackerOptions o;
  o.max_connections = 2;
  Fixture f("", o);
  f.send(ep("10.0.0.5", 50001), S, SYN, 1, 0);
  f.send(ep("10.0.0.5", 50002), S, SYN, 1, 0);
  f.send(ep("10.0.0.5", 50001), S, ACK, 2, 1);  // 50001 seen again: 50002 is now the oldest
  f.send(ep("10.0.0.5", 50003), S, SYN, 1, 0);
  REQUIRE(f.t.conns.size() == 3);
  CHECK(f.t.conns[1].closed == "evicted");
  CHECK(f.t.conns[0].closed.empty());
  CHECK(f.tracker.stats().evicted_connections == 1);
}

TEST_CASE("idle connections are closed after the idle timeout of capture time") {
  TrackerOptions o;
  o.idle_timeout_usec = 5000000;
  Fixture f("", o);
  handshake(f);
  f.clock += 10000000;
  f.send(ep("10.0.0.7", 1234), S, SYN, 1, 0);
  CHECK(f.t.conns.at(0).closed == "idle");
}

TEST_CASE("with a connection log: state changes as they happen, the summary once it is over") {
  TrackerOptions o;
  o.closed_linger_usec = 5000000;
  Fixture f("", o, /*log=*/true);
  handshake(f);
  f.send(C, S, PSH | ACK, 101, 501, "query");
  f.send(C, S, FIN | ACK, 106, 501);
  f.send(S, C, FIN | ACK, 501, 107);
  f.send(C, S, ACK, 107, 502);  // after the close: still counted
  std::vector<std::string> states;
  for (const Record& r : f.conn_log.records) {
    REQUIRE(r.find("event"));
    CHECK(r.find("event")->s == "state");
    states.push_back(std::string(r.find("side")->s) + " " + std::string(r.find("new_state")->s));
  }
  CHECK(states == std::vector<std::string>{
                      "client SYN-SENT", "server SYN-RECV", "client ESTABLISHED",
                      "server ESTABLISHED", "client FIN-WAIT-1", "server CLOSE-WAIT",
                      "server LAST-ACK", "client FIN-WAIT-2", "client TIME-WAIT", "server CLOSED"});
  const std::string id = f.t.conns.at(0).info.conn_id;
  CHECK(f.conn_log.records[0].find("uid")->s == id + ".1");
  CHECK(f.conn_log.records[9].find("uid")->s == id + ".10");
  CHECK(f.conn_log.records[0].find("src_ip")->s == "10.0.0.1");
  CHECK(f.conn_log.records[0].find("dst_port")->i == 5432);

  // The closed connection lingers; a packet of another one 6 s later sweeps it out.
  f.clock += 6000000;
  f.send(ep("10.0.0.3", 40001), S, SYN, 1, 0);
  const Record& sum = f.conn_log.records[10];
  CHECK(sum.find("event")->s == "summary");
  CHECK(sum.find("conn_id")->s == id);
  CHECK(sum.find("conn_state")->s == "SF");
  CHECK(sum.find("client_packets")->i == 5);
  CHECK(sum.find("server_packets")->i == 2);
  CHECK(sum.find("client_bytes")->i == 5);
  CHECK(sum.find("close_reason")->s == "fin");
  CHECK(sum.find("username")->s == "alice");
  f.tracker.finish(Timestamp{f.clock});
  CHECK(f.conn_log.records.back().find("conn_state")->s == "S0");
  CHECK(f.conn_log.records.back().find("close_reason")->s == "end_of_capture");
}

TEST_CASE("a new SYN with another sequence number on an open connection's ports replaces it") {
  Fixture f;
  handshake(f);
  f.send(C, S, PSH | ACK, 101, 501, "x");
  f.send(C, S, SYN, 9000, 0);
  REQUIRE(f.t.conns.size() == 2);
  CHECK(f.t.conns[0].closed == "reused");
  CHECK(f.t.conns[0].c2s == "x");
}

namespace {

TrackerOptions with_proxy_protocol() {
  TrackerOptions o;
  o.proxy_protocol = true;
  return o;
}

// The summary of the only connection, once it is over.
const Record& summary_of(Fixture& f) {
  f.tracker.finish(Timestamp{f.clock});
  REQUIRE(!f.conn_log.records.empty());
  const Record& sum = f.conn_log.records.back();
  REQUIRE(sum.find("event")->s == "summary");
  return sum;
}

}  // namespace

TEST_CASE("--proxy-protocol: a v1 header split over two segments is taken off the stream") {
  Fixture f("5432", with_proxy_protocol(), /*log=*/true);
  handshake(f);
  // The header as the specification's example writes it (section 2.1), then the client's bytes.
  const std::string header = "PROXY TCP4 192.0.2.7 198.51.100.1 51000 5432\r\n";
  f.send(C, S, PSH | ACK, 101, 501, header.substr(0, 20));
  f.send(C, S, PSH | ACK, 121, 501, header.substr(20) + "query");
  f.send(S, C, PSH | ACK, 501, 101 + uint32_t(header.size()) + 5, "answer");
  REQUIRE(f.t.conns.size() == 1);
  const auto& c = f.t.conns[0];
  CHECK(c.c2s == "query");
  CHECK(c.s2c == "answer");
  REQUIRE(c.info.proxy_source);
  CHECK(c.info.proxy_source->to_string() == "192.0.2.7:51000");
  CHECK(c.info.proxy_destination->to_string() == "198.51.100.1:5432");
  const Record& sum = summary_of(f);
  CHECK(sum.find("proxy_protocol_src_addr")->s == "192.0.2.7:51000");
  CHECK(sum.find("proxy_protocol_dst_addr")->s == "198.51.100.1:5432");
  CHECK(sum.find("client_bytes")->i == int64_t(header.size() + 5));  // the wire's count
}

TEST_CASE("--proxy-protocol: a gap's record names the header's client, as the others do") {
  Fixture f("5432", with_proxy_protocol(), false, "hex");
  handshake(f);
  const std::string header = "PROXY TCP4 192.0.2.7 198.51.100.1 51000 5432\r\n";
  f.send(C, S, PSH | ACK, 101, 501, header + "ab");
  const uint32_t after = 101 + uint32_t(header.size()) + 2;
  f.send(C, S, PSH | ACK, after + 5, 501, "zz");  // 5 bytes not captured
  f.send(S, C, RST, 501, 0);
  REQUIRE(f.records.records.size() == 3);
  for (const Record& r : f.records.records) {
    const auto src = r.find("proxy_protocol_src_addr");
    REQUIRE(src);
    CHECK(src->s == "192.0.2.7:51000");
  }
  CHECK(f.records.records[1].find("gap_bytes")->i == 5);
}

TEST_CASE("--proxy-protocol: a v2 header (IPv6) and the data after it in one segment") {
  Fixture f("5432", with_proxy_protocol());
  handshake(f);
  // Section 2.2: the 12-byte signature, version 2 + PROXY, AF_INET6 + STREAM, length 36 + 7
  // (a 7-byte TLV: type 0x04 NOOP, length 4), then 16+16 address bytes and two ports.
  std::string h("\r\n\r\n\0\r\nQUIT\n", 12);
  h += "\x21\x21";
  h += std::string("\x00\x2b", 2);
  std::string src(16, '\0'), dst(16, '\0');
  src[0] = '\x20', src[1] = '\x01', src[2] = '\x0d', src[3] = '\xb8', src[15] = '\x07';
  dst[0] = '\x20', dst[1] = '\x01', dst[2] = '\x0d', dst[3] = '\xb8', dst[15] = '\x01';
  h += src + dst + std::string("\xc7\x38\x15\x38", 4);  // ports 51000, 5432
  h += std::string("\x04\x00\x04zzzz", 7);
  f.send(C, S, PSH | ACK, 101, 501, h + "Q");
  REQUIRE(f.t.conns.size() == 1);
  CHECK(f.t.conns[0].c2s == "Q");
  REQUIRE(f.t.conns[0].info.proxy_source);
  CHECK(f.t.conns[0].info.proxy_source->to_string() == "[2001:db8::7]:51000");
  CHECK(f.t.conns[0].info.proxy_destination->to_string() == "[2001:db8::1]:5432");
}

TEST_CASE("--proxy-protocol: a server that greets before the header comes (MySQL) loses nothing") {
  Fixture f("3306", with_proxy_protocol());
  f.send(C, ep("10.0.0.2", 3306), SYN, 100, 0);
  f.send(ep("10.0.0.2", 3306), C, SYN | ACK, 500, 101);
  f.send(C, ep("10.0.0.2", 3306), ACK, 101, 501);
  f.send(ep("10.0.0.2", 3306), C, PSH | ACK, 501, 101, "greeting");
  const std::string header = "PROXY TCP4 192.0.2.7 198.51.100.1 51000 3306\r\n";
  f.send(C, ep("10.0.0.2", 3306), PSH | ACK, 101, 509, header.substr(0, 10));
  f.send(C, ep("10.0.0.2", 3306), PSH | ACK, 111, 509, header.substr(10) + "login");
  REQUIRE(f.t.conns.size() == 1);
  CHECK(f.t.conns[0].s2c == "greeting");
  CHECK(f.t.conns[0].c2s == "login");
  REQUIRE(f.t.conns[0].info.proxy_source);
  CHECK(f.t.conns[0].info.proxy_source->to_string() == "192.0.2.7:51000");
}

TEST_CASE("--proxy-protocol: streams without a header pass whole, the server may speak first") {
  Fixture f("5432", with_proxy_protocol(), /*log=*/true);
  handshake(f);
  f.send(S, C, PSH | ACK, 501, 101, "greeting");  // a MySQL server greets first
  f.send(C, S, PSH | ACK, 101, 509, "PROTO, not a header");
  CHECK(f.t.conns.at(0).s2c == "greeting");
  CHECK(f.t.conns.at(0).c2s == "PROTO, not a header");
  CHECK_FALSE(f.t.conns.at(0).info.proxy_source);
  const Record& sum = summary_of(f);
  CHECK_FALSE(sum.find("proxy_protocol_src_addr"));
  CHECK_FALSE(sum.find("proxy_protocol_error"));

  Fixture g("5432", with_proxy_protocol());
  handshake(g);
  g.send(C, S, PSH | ACK, 101, 501, "SELECT 1");
  CHECK(g.t.conns.at(0).c2s == "SELECT 1");  // decided at its first byte, not held
}

TEST_CASE("--proxy-protocol: a broken header is passed on as it is and named in the summary") {
  Fixture f("5432", with_proxy_protocol(), /*log=*/true);
  handshake(f);
  f.send(C, S, PSH | ACK, 101, 501, "PROXY TCP4 192.0.2.7 198.51.100.1 99999 5432\r\nq");
  CHECK(f.t.conns.at(0).c2s == "PROXY TCP4 192.0.2.7 198.51.100.1 99999 5432\r\nq");
  CHECK_FALSE(f.t.conns.at(0).info.proxy_source);
  CHECK(summary_of(f).find("proxy_protocol_error"));
}

TEST_CASE("--proxy-protocol: a connection that ends inside its header says so") {
  Fixture f("5432", with_proxy_protocol(), /*log=*/true);
  handshake(f);
  f.send(C, S, PSH | ACK, 101, 501, "PROXY TCP4 192.0.2.7");
  f.send(C, S, RST, 121, 0);
  CHECK(f.t.conns.at(0).c2s == "PROXY TCP4 192.0.2.7");
  const Record& sum = summary_of(f);
  REQUIRE(sum.find("proxy_protocol_error"));
  CHECK(std::string(sum.find("proxy_protocol_error")->s).find("ended inside") != std::string::npos);
}

TEST_CASE("--proxy-protocol: a connection picked up mid-stream is not looked at for a header") {
  Fixture f("5432", with_proxy_protocol());
  f.send(C, S, PSH | ACK, 7000, 9000, "PROXY TCP4 192.0.2.7 198.51.100.1 51000 5432\r\n");
  CHECK(f.t.conns.at(0).c2s == "PROXY TCP4 192.0.2.7 198.51.100.1 51000 5432\r\n");
  CHECK_FALSE(f.t.conns.at(0).info.proxy_source);
}

TEST_CASE("--proxy-protocol: a gap in the server's greeting waits for the client's header too") {
  Transcript t;
  RecordingDumper dumper(t);
  ConnInfo info;
  info.client = C;
  info.server = S;
  ProxyHeaderDecoder d(dumper, info, Timestamp{1});
  const std::string greet = "greet", rest = "ing";
  d.on_data(Direction::kServerToClient, Timestamp{2},
            {reinterpret_cast<const uint8_t*>(greet.data()), greet.size()});
  d.on_gap(Direction::kServerToClient, Timestamp{3}, 7);  // a lost packet of the greeting
  d.on_data(Direction::kServerToClient, Timestamp{4},
            {reinterpret_cast<const uint8_t*>(rest.data()), rest.size()});
  CHECK(t.conns.empty());  // still waiting for the client's first bytes
  const std::string client = "PROXY TCP4 192.0.2.7 198.51.100.1 51000 5432\r\nlogin";
  d.on_data(Direction::kClientToServer, Timestamp{5},
            {reinterpret_cast<const uint8_t*>(client.data()), client.size()});
  REQUIRE(t.conns.size() == 1);
  CHECK(t.conns[0].s2c == "greet<gap 7>ing");
  CHECK(t.conns[0].c2s == "login");
  REQUIRE(t.conns[0].info.proxy_source);
  CHECK(t.conns[0].info.proxy_source->to_string() == "192.0.2.7:51000");
}
