/// `-d mysql`: the MySQL/MariaDB client/server protocol, both directions. One record per command
/// (and one for the handshake), with the server's answer (rows, affected rows, error, duration)
/// added when it is known.
#pragma once

#include <cstddef>

#include "dumpers/dumper.h"

namespace tcpdp {

struct MysqlOptions {
  bool pair_responses = true;     // false: write each command at once
  size_t max_message = 64 << 20;  // larger payloads (after joining 16 MB packets) are skipped
  size_t max_pending = 4096;      // commands waiting for their answer, per connection
  size_t max_statements = 10000;  // prepared statements remembered, per connection
};

class MysqlDumper : public Dumper {
 public:
  MysqlDumper(RecordSink& sink, MysqlOptions options) : sink_(sink), options_(options) {}
  std::unique_ptr<Decoder> open(const ConnInfo& conn, Timestamp ts) override;

 private:
  RecordSink& sink_;
  MysqlOptions options_;
};

}  // namespace tcpdp
