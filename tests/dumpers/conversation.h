/// Test harness for protocol decoders: one connection of a dumper fed bytes from either side,
/// its records kept as values (decoded.h) and as JSON lines, each checked against the record
/// catalogue. Tests check the values; the lines are for what must appear nowhere in the output
/// (a password, a secret key) and for messages.
#pragma once

#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "decoded.h"
#include "dumpers/dumper.h"
#include "records/catalogue.h"
#include "sinks/format.h"

namespace tcpdp::test {

struct JsonLines : RecordSink {
  std::vector<Value> records;
  std::vector<std::string> lines;
  void write(const Record& r) override {
    std::string out;
    append_formatted(r, Format::kJson, out);
    for (const std::string& why : catalogue_mismatches(r)) FAIL_CHECK(why << ": " << out);
    records.push_back(decoded(r));
    lines.push_back(out);
  }
  std::string all() const {
    std::string s;
    for (const auto& l : lines) s += l;
    return s;
  }
};

/// Every chunk arrives 100 microseconds after the one before.
template <typename DumperType, typename Options>
struct Conversation {
  JsonLines sink;
  DumperType dumper;
  std::unique_ptr<Decoder> decoder;
  int64_t clock = 1000000;

  Conversation(uint16_t server_port, Options o, bool mid_stream) : dumper(sink, o) {
    ConnInfo info;
    info.conn_id = "c";
    info.client = Endpoint{*IpAddr::parse("127.0.0.1"), 50000};
    info.server = Endpoint{*IpAddr::parse("127.0.0.1"), server_port};
    info.mid_stream = mid_stream;
    decoder = dumper.open(info, Timestamp{clock});
  }
  void feed(Direction d, const std::string& b) {
    decoder->on_data(d, Timestamp{clock += 100},
                     {reinterpret_cast<const uint8_t*>(b.data()), b.size()});
  }
  void client(const std::string& b) { feed(Direction::kClientToServer, b); }
  void server(const std::string& b) { feed(Direction::kServerToClient, b); }
  void close() { decoder->on_close(Timestamp{clock += 100}, CloseReason::kFin); }
};

inline bool has(const std::string& line, const std::string& piece) {
  return line.find(piece) != std::string::npos;
}

}  // namespace tcpdp::test
