/// `-d pg`: the PostgreSQL v3 wire protocol, both directions. One record per client message,
/// with the server's answer (rows, command tag, error, duration) added when it is known.
#pragma once

#include <cstddef>

#include "dumpers/dumper.h"

namespace tcpdp {

struct PgOptions {
  bool pair_responses = true;     // false: write each client message at once, as tcpdp in Go did
  size_t max_message = 64 << 20;  // larger messages are skipped and reported, not buffered
  size_t max_pending = 4096;      // client messages waiting for their answer, per connection
  size_t max_statements = 10000;  // prepared statements and portals remembered, per connection
};

class PgDumper : public Dumper {
 public:
  PgDumper(RecordSink& sink, PgOptions options) : sink_(sink), options_(options) {}
  std::unique_ptr<Decoder> open(const ConnInfo& conn, Timestamp ts) override;

 private:
  RecordSink& sink_;
  PgOptions options_;
};

}  // namespace tcpdp
