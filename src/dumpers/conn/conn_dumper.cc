#include "dumpers/conn/conn_dumper.h"

namespace tcpdp {
namespace {

class SilentDecoder : public Decoder {
 public:
  void on_data(Direction, Timestamp, std::span<const uint8_t>) override {}
  void on_gap(Direction, Timestamp, uint64_t) override {}
  void on_close(Timestamp, CloseReason) override {}
};

}  // namespace

std::unique_ptr<Decoder> ConnDumper::open(const ConnInfo&, Timestamp) {
  return std::make_unique<SilentDecoder>();
}

}  // namespace tcpdp
