/// libFuzzer target: what tcpdp digest reads from untrusted files. The input, as a dump log line
/// (JSON or LTSV), is parsed and the record handed to a digest; as SQL (the first byte choosing
/// the dialect), it is fingerprinted. Any crash, sanitizer report or id that is not 16 hex digits
/// is a finding.
#include <cstdlib>
#include <string>
#include <string_view>

#include "digest/digest.h"
#include "digest/fingerprint.h"
#include "linear_guard.h"
#include "sinks/record_parse.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tcpdp::fuzz::LinearGuard guard(size);
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  tcpdp::Record record;
  std::string error;
  tcpdp::Digest digest(4);
  for (bool json : {true, false}) {
    if (json ? tcpdp::parse_json_record(input, record, &error)
             : tcpdp::parse_ltsv_record(input, record, &error)) {
      digest.take(record.encoded());
    }
  }
  (void)digest.report(10, tcpdp::Digest::Format::kJson);
  if (size == 0) return 0;
  const auto dialect = data[0] & 1 ? tcpdp::SqlDialect::kMySql : tcpdp::SqlDialect::kPostgres;
  const std::string fp = tcpdp::fingerprint(input.substr(1), dialect);
  if (tcpdp::fingerprint_id(fp).size() != 16) std::abort();
  return 0;
}
