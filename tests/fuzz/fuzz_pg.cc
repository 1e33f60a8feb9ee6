/// libFuzzer target: the PostgreSQL decoder (see fuzz_dumper.h for the input layout).
#include "dumpers/pg/pg_dumper.h"
#include "fuzz_dumper.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return tcpdp::fuzz::run_decoder<tcpdp::PgDumper, tcpdp::PgOptions>(data, size);
}
