/// tcpdp's own log lines read back into Records (for `tcpdp digest`): a JSON object as the json
/// format writes it (read by simdjson, which checks it is JSON and UTF-8), or an LTSV line. Keys keep their order. `ts` (and every RFC 3339 string in
/// LTSV's ts) becomes a timestamp, `duration` a duration; in JSON other numbers are integers or
/// doubles as written, in LTSV (which has no types) `rows` is an integer and the rest text.
#pragma once

#include <string>
#include <string_view>

#include "common/record.h"

namespace tcpdp {

/// False (and *error: what is wrong) when the line is not one JSON object, it nests objects and
/// arrays more than 64 deep, or its duration is not 0 to 1e9 seconds.
bool parse_json_record(std::string_view line, Record& out, std::string* error);
/// False when a field has no `:` or a number in duration is not 0 to 1e9 seconds.
bool parse_ltsv_record(std::string_view line, Record& out, std::string* error);

}  // namespace tcpdp
