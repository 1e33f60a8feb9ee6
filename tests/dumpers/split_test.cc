// The pg and mysql decoders on the real connections of the test captures (PostgreSQL 15 and 18,
// MariaDB, MySQL 8's captures when ../shared has them), each direction's bytes as captured and
// again one byte at a time, the two directions still interleaved as they were: every message of
// every type is then split at every offset, and the records must be the same.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "dumpers/dumper.h"
#include "packet/decode.h"
#include "reader/pcap_source.h"
#include "sinks/format.h"
#include "tcptrack/tracker.h"

using namespace tcpdp;

namespace {

// What the tracker hands a decoder: each call, in order.
struct Event {
  enum Type { kData, kGap, kClose } type;
  Direction dir = Direction::kClientToServer;
  Timestamp ts;
  std::string bytes;
  uint64_t missed = 0;
  CloseReason reason = CloseReason::kFin;
};
struct Stream {
  ConnInfo info;
  Timestamp opened;
  std::vector<Event> events;
};

class Recorder : public Dumper {
 public:
  explicit Recorder(std::vector<Stream>& out) : out_(out) {}
  std::unique_ptr<Decoder> open(const ConnInfo& conn, Timestamp ts) override {
    out_.push_back({conn, ts, {}});
    return std::make_unique<D>(out_, out_.size() - 1);
  }

 private:
  struct D : Decoder {
    D(std::vector<Stream>& s, size_t i) : streams(s), i(i) {}
    void on_data(Direction d, Timestamp ts, std::span<const uint8_t> b) override {
      streams[i].events.push_back({Event::kData, d, ts, std::string(b.begin(), b.end())});
    }
    void on_gap(Direction d, Timestamp ts, uint64_t n) override {
      streams[i].events.push_back({Event::kGap, d, ts, {}, n});
    }
    void on_close(Timestamp ts, CloseReason r) override {
      streams[i].events.push_back({Event::kClose, {}, ts, {}, 0, r});
    }
    std::vector<Stream>& streams;
    size_t i;
  };
  std::vector<Stream>& out_;
};

std::vector<Stream> streams_of(const std::string& path) {
  std::vector<Stream> streams;
  std::string error;
  auto source = PcapFileSource::open(path, &error);
  REQUIRE_MESSAGE(source, error);
  Recorder recorder(streams);
  Tracker tracker(recorder, Targets{}, TrackerOptions{});
  PacketDecoder decoder(source->link_type());
  RawPacket packet;
  TcpSegment segment;
  Timestamp last;
  while (source->next(packet) == PcapFileSource::Next::kPacket) {
    last = std::max(last, packet.ts);
    if (decoder.decode(packet.ts, packet.data, packet.wire_len, segment) == DecodeResult::kTcp) {
      tracker.on_segment(segment);
    }
  }
  tracker.finish(last);
  return streams;
}

struct Lines : RecordSink {
  std::vector<std::string> lines;
  void write(const Record& r) override {
    std::string out;
    append_formatted(r, Format::kJson, out);
    lines.push_back(out);
  }
};

// The records of one connection through the dumper named, its data in pieces of at most
// `piece` bytes (each piece keeps its chunk's time).
std::vector<std::string> decode(const std::string& dumper, const Stream& s, size_t piece) {
  Lines sink;
  auto d = make_dumper(dumper, sink);
  auto decoder = d->open(s.info, s.opened);
  for (const Event& e : s.events) {
    if (e.type == Event::kGap) {
      decoder->on_gap(e.dir, e.ts, e.missed);
    } else if (e.type == Event::kClose) {
      decoder->on_close(e.ts, e.reason);
    } else {
      const auto* p = reinterpret_cast<const uint8_t*>(e.bytes.data());
      for (size_t at = 0; at < e.bytes.size(); at += piece) {
        decoder->on_data(e.dir, e.ts, {p + at, std::min(piece, e.bytes.size() - at)});
      }
    }
  }
  return sink.lines;
}

std::vector<std::string> captures(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  if (!std::filesystem::is_directory(dir)) return out;
  for (const auto& f : std::filesystem::directory_iterator(dir)) {
    const std::string name = f.path().filename().string();
    if (name.rfind(prefix, 0) == 0 && f.path().extension() == ".pcap") out.push_back(f.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void check_split(const std::string& dumper, const std::vector<std::string>& files) {
  REQUIRE(!files.empty());
  size_t records = 0;
  for (const std::string& file : files) {
    for (const Stream& s : streams_of(file)) {
      const auto whole = decode(dumper, s, SIZE_MAX);
      const auto bytewise = decode(dumper, s, 1);
      records += whole.size();
      REQUIRE_MESSAGE(whole.size() == bytewise.size(), file, " ", s.info.conn_id);
      for (size_t i = 0; i < whole.size(); ++i) {
        CHECK_MESSAGE(whole[i] == bytewise[i], file, " ", s.info.conn_id);
      }
    }
  }
  CHECK(records > 100);
}

}  // namespace

TEST_CASE("pg: every message of the test captures split at every byte decodes the same") {
  check_split("pg", captures(TCPDP_TEST_PCAPS, "pg_"));
}

TEST_CASE("mysql: every packet of the test captures split at every byte decodes the same") {
  std::vector<std::string> files = captures(TCPDP_TEST_PCAPS, "mysql_");
  for (const std::string& f : captures(TCPDP_MYSQL8_CAPTURES, "")) files.push_back(f);
  check_split("mysql", files);
}
