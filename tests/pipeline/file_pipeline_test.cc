// The read pipeline as `tcpdp read` assembles it: a capture file built here packet by packet
// (RFC 9293's handshake and teardown around a payload each way), its records checked against
// what the packets carry and against the record catalogue.
#include "pipeline/file_pipeline.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "../packet_builder.h"
#include "../temp_file.h"
#include "records/catalogue.h"

using namespace tcpdp;
using test::Bytes;
using test::TempFile;

namespace {

struct Records : RecordSink {
  std::vector<Record> all;
  void write(const Record& r) override {
    for (const std::string& why : catalogue_mismatches(r)) FAIL_CHECK(why);
    all.push_back(r);
  }
  std::vector<std::string> texts(std::string_view key) const {
    std::vector<std::string> out;
    for (const Record& r : all) {
      if (auto f = r.find(key)) out.emplace_back(f->s);
    }
    return out;
  }
};

void put32le(std::string& out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

// A classic pcap file (Ethernet), one packet a millisecond from 1700000000 s.
std::string pcap_of(const std::vector<Bytes>& frames) {
  std::string out;
  put32le(out, 0xa1b2c3d4);
  out += std::string("\x02\x00\x04\x00", 4);  // version 2.4
  put32le(out, 0);
  put32le(out, 0);
  put32le(out, 65535);
  put32le(out, 1);  // LINKTYPE_ETHERNET
  uint32_t usec = 0;
  for (const Bytes& f : frames) {
    put32le(out, 1700000000);
    put32le(out, usec += 1000);
    put32le(out, static_cast<uint32_t>(f.size()));
    put32le(out, static_cast<uint32_t>(f.size()));
    out.append(f.begin(), f.end());
  }
  return out;
}

// A frame of the connection between 10.0.0.1:40000 (the client) and 10.0.0.2:5432.
Bytes frame(bool from_client, uint32_t seq, uint32_t ack, uint8_t flags,
            const std::string& payload) {
  const char* client = "\x0a\x00\x00\x01";
  const char* server = "\x0a\x00\x00\x02";
  const uint16_t client_port = 40000, server_port = 5432;
  return test::ethernet(0x0800,
                        test::ipv4(test::tcp({.sport = from_client ? client_port : server_port,
                                              .dport = from_client ? server_port : client_port,
                                              .seq = seq,
                                              .ack = ack,
                                              .flags = flags,
                                              .payload = test::text(payload)}),
                                   from_client ? client : server, from_client ? server : client));
}
Bytes client_to_server(uint32_t seq, uint32_t ack, uint8_t flags, const std::string& payload = "") {
  return frame(true, seq, ack, flags, payload);
}
Bytes server_to_client(uint32_t seq, uint32_t ack, uint8_t flags, const std::string& payload = "") {
  return frame(false, seq, ack, flags, payload);
}

constexpr uint8_t kSyn = 0x02, kAck = 0x10, kPshAck = 0x18, kFinAck = 0x11, kSynAck = 0x12;

// One connection from 10.0.0.1:40000 to 10.0.0.2:5432: "PING" one way, "PONG!" the other,
// then both close.
std::vector<Bytes> ping_pong() {
  return {client_to_server(1000, 0, kSyn),
          server_to_client(5000, 1001, kSynAck),
          client_to_server(1001, 5001, kAck),
          client_to_server(1001, 5001, kPshAck, "PING"),
          server_to_client(5001, 1005, kPshAck, "PONG!"),
          client_to_server(1005, 5006, kFinAck),
          server_to_client(5006, 1006, kFinAck),
          client_to_server(1006, 5007, kAck)};
}

// Runs the pipeline over the file as read does; returns the error it stopped at.
std::string run(const std::string& path, const PipelineSettings& settings, Records& dump,
                Records& conn) {
  std::string error;
  auto source = PcapFileSource::open(path, &error);
  REQUIRE(source);
  auto shard = Shard::make(settings, dump, &conn, 0, &error);
  REQUIRE(shard);
  FilePipeline pipeline(*source, *shard);
  size_t steps = 0;
  while (pipeline.step()) ++steps;
  pipeline.finish();
  CHECK(pipeline.decode_stats().packets == steps);
  CHECK(pipeline.failed() == !pipeline.error().empty());
  return pipeline.error();
}

}  // namespace

TEST_CASE("a whole connection: each payload once, in its direction, then its states and summary") {
  TempFile file(pcap_of(ping_pong()));
  Records dump, conn;
  CHECK(run(file.path, PipelineSettings{}, dump, conn).empty());
  CHECK(dump.texts("ascii") == std::vector<std::string>{"PING", "PONG!"});
  CHECK(dump.texts("direction") == std::vector<std::string>{"->", "<-"});
  CHECK(dump.texts("src_addr") == std::vector<std::string>{"10.0.0.1:40000", "10.0.0.2:5432"});
  REQUIRE_FALSE(conn.all.empty());
  const Record& summary = conn.all.back();
  CHECK(summary.find("event")->s == "summary");
  CHECK(summary.find("client_bytes")->i == 4);
  CHECK(summary.find("server_bytes")->i == 5);
  CHECK(summary.find("closed_by")->s == "client");
  CHECK(summary.find("close_reason")->s == "fin");
  // the client's side, as RFC 9293's diagram walks it for the side that closes first
  std::vector<std::string> client_states;
  for (const Record& r : conn.all) {
    if (r.find("event")->s == "state" && r.find("side")->s == "client") {
      client_states.emplace_back(r.find("new_state")->s);
    }
  }
  CHECK(client_states == std::vector<std::string>{"SYN-SENT", "ESTABLISHED", "FIN-WAIT-1",
                                                  "FIN-WAIT-2", "TIME-WAIT"});
}

TEST_CASE("a file cut inside a packet: the error, and every record of what came before it") {
  std::string bytes = pcap_of(ping_pong());
  // cut in the middle of the server's FIN (the seventh packet): its header is there, its
  // data is not
  const size_t frame = 14 + 20 + 20;
  bytes.resize(bytes.size() - (16 + frame) - frame / 2);
  TempFile file(bytes);
  Records dump, conn;
  const std::string error = run(file.path, PipelineSettings{}, dump, conn);
  CHECK_FALSE(error.empty());
  CHECK(dump.texts("ascii") == std::vector<std::string>{"PING", "PONG!"});
  REQUIRE_FALSE(conn.all.empty());
  CHECK(conn.all.back().find("event")->s == "summary");
  CHECK(conn.all.back().find("close_reason")->s == "end_of_capture");
}

TEST_CASE("targets: a connection to another port makes no record at all") {
  TempFile file(pcap_of(ping_pong()));
  PipelineSettings settings;
  std::string error;
  settings.targets = *Targets::parse("3306", &error);
  Records dump, conn;
  CHECK(run(file.path, settings, dump, conn).empty());
  CHECK(dump.all.empty());
  CHECK(conn.all.empty());
}

TEST_CASE("an unknown dumper is refused with the names that are known") {
  PipelineSettings settings;
  settings.dumper = "http";
  Records dump;
  std::string error;
  CHECK_FALSE(Shard::make(settings, dump, nullptr, 0, &error));
  CHECK(error == "unknown dumper 'http': use hex, pg, mysql, conn, auto");
}
