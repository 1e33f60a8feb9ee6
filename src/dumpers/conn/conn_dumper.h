/// `-d conn`: one record for each new connection, nothing about its payload.
#pragma once

#include "dumpers/dumper.h"

namespace tcpdp {

class ConnDumper : public Dumper {
 public:
  explicit ConnDumper(RecordSink& sink) : sink_(sink) {}
  std::unique_ptr<Decoder> open(const ConnInfo& conn, Timestamp ts) override;
  bool wants_data() const override { return false; }

 private:
  RecordSink& sink_;
};

}  // namespace tcpdp
