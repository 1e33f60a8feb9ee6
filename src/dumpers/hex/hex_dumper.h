/// `-d hex`: every chunk of stream data as a classic hex dump (`bytes`) and its printable text
/// (`ascii`).
#pragma once

#include <span>
#include <string>

#include "dumpers/dumper.h"

namespace tcpdp {

/// 16 bytes a line: 8-digit hex offset, two groups of eight hex bytes, the bytes as text between
/// bars (non-printable as '.'); lines joined by '\n', with a trailing newline.
void append_hex_dump(std::span<const uint8_t> bytes, std::string& out);
/// The bytes with everything outside printable ASCII replaced by '.'.
std::string printable_ascii(std::span<const uint8_t> bytes);

class HexDumper : public Dumper {
 public:
  explicit HexDumper(RecordSink& sink) : sink_(sink) {}
  std::unique_ptr<Decoder> open(const ConnInfo& conn, Timestamp ts) override;

 private:
  RecordSink& sink_;
};

}  // namespace tcpdp
