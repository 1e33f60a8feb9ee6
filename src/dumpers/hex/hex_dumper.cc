#include "dumpers/hex/hex_dumper.h"

namespace tcpdp {
namespace {

constexpr char kHex[] = "0123456789abcdef";

bool printable(uint8_t b) { return b >= 0x20 && b <= 0x7e; }

class HexDecoder : public Decoder {
 public:
  HexDecoder(const ConnInfo& conn, RecordSink& sink) : conn_(conn), sink_(sink) {}

  void on_data(Direction dir, Timestamp ts, std::span<const uint8_t> bytes) override {
    GroupRef& fields = fields_[dir == Direction::kClientToServer ? 0 : 1];
    if (!fields) fields = connection_fields(RecordKind::kHex, conn_, dir);
    Record r = base_record(fields, ts);
    std::string dump;
    append_hex_dump(bytes, dump);
    r.add("bytes", std::move(dump));
    r.add("ascii", printable_ascii(bytes));
    sink_.write(std::move(r));
  }
  void on_gap(Direction dir, Timestamp ts, uint64_t missed) override {
    sink_.write(gap_record(conn_, dir, ts, missed));
  }
  void on_close(Timestamp, CloseReason) override {}

 private:
  ConnInfo conn_;
  RecordSink& sink_;
  GroupRef fields_[2];  // of each direction, made at its first record
};

}  // namespace

void append_hex_dump(std::span<const uint8_t> bytes, std::string& out) {
  for (size_t line = 0; line < bytes.size(); line += 16) {
    const size_t n = std::min<size_t>(16, bytes.size() - line);
    for (int shift = 28; shift >= 0; shift -= 4) out += kHex[(line >> shift) & 15];
    out += "  ";
    for (size_t i = 0; i < 16; ++i) {
      if (i < n) {
        out += kHex[bytes[line + i] >> 4];
        out += kHex[bytes[line + i] & 15];
        out += ' ';
      } else {
        out += "   ";
      }
      if (i == 7) out += ' ';
    }
    out += " |";
    for (size_t i = 0; i < n; ++i)
      out += printable(bytes[line + i]) ? static_cast<char>(bytes[line + i]) : '.';
    out += "|\n";
  }
}

std::string printable_ascii(std::span<const uint8_t> bytes) {
  std::string out(bytes.size(), '.');
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (printable(bytes[i])) out[i] = static_cast<char>(bytes[i]);
  }
  return out;
}

std::unique_ptr<Decoder> HexDumper::open(const ConnInfo& conn, Timestamp) {
  return std::make_unique<HexDecoder>(conn, sink_);
}

}  // namespace tcpdp
