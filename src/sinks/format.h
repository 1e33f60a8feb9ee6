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

/// Appends the formatted record, ending with a newline, to out.
void append_formatted(const Record& record, Format format, std::string& out);

/// JSON string body (without quotes): control characters escaped, bytes that are not valid
/// UTF-8 written as U+FFFD, so the output is valid JSON whatever the input bytes are.
void append_json_escaped(std::string_view s, std::string& out);
void append_json_value(const Value& v, std::string& out);

}  // namespace tcpdp
