/// Turning a Record into one line (or, for console, a block) of text: json, ltsv or console.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/record.h"

namespace tcpdp {

enum class Format { kJson, kLtsv, kConsole };

std::optional<Format> parse_format(std::string_view name);
const char* format_name(Format f);

/// Appends the formatted record (Record::encoded()), ending with a newline, to out.
void append_formatted(std::string_view record, Format format, std::string& out);
inline void append_formatted(const Record& record, Format format, std::string& out) {
  append_formatted(record.encoded(), format, out);
}

/// At most how many bytes write_json writes for this record (Record::encoded()).
size_t json_bound(std::string_view record);
/// Writes the record as one JSON line at p, which has room for json_bound(record) bytes; returns
/// the end of what it wrote.
char* write_json(std::string_view record, char* p);

/// JSON string body (without quotes): control characters (C0, DEL, C1) escaped, bytes that are
/// not valid UTF-8 written as U+FFFD, so the output is valid JSON whatever the input bytes are.
void append_json_escaped(std::string_view s, std::string& out);

}  // namespace tcpdp
