/// `-d conn`: nothing about payload; the connections' lifecycle (state changes and summaries,
/// written by the tracker) is the whole output.
#pragma once

#include "dumpers/dumper.h"

namespace tcpdp {

class ConnDumper : public Dumper {
 public:
  std::unique_ptr<Decoder> open(const ConnInfo& conn, Timestamp ts) override;
  bool wants_data() const override { return false; }
};

}  // namespace tcpdp
