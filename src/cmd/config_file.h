/// Taking a configuration file in safely: only a regular file or a pipe, of bounded size, and
/// of a bounded shape before the TOML parser sees it. The parser (toml11) recurses on nesting,
/// takes time quadratic in the length of an array or inline table and in the parts of a dotted
/// key, and about a microsecond a byte otherwise: the bounds keep a file under a tenth of a
/// second.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tcpdp {

/// Every key with a comment above it (`tcpdp config`) is about 10KB.
inline constexpr size_t kMaxConfigBytes = 64 << 10;
/// Sections of keys are one level deep; arrays, inline tables and dotted keys add levels.
inline constexpr size_t kMaxConfigNesting = 8;
/// Keys, tables and values ('=', ',', '[', '{'): tcpdp has about a hundred keys.
inline constexpr size_t kMaxConfigItems = 1000;
/// Bytes of arrays and inline tables, all together: no key takes one.
inline constexpr size_t kMaxConfigArrayBytes = 4 << 10;

/// The text of the file at `path`: false, with one line naming the file, for a directory, a
/// device or anything else that is neither a regular file nor a pipe, for a file that cannot be
/// read, and for one over kMaxConfigBytes.
bool read_config_file(const std::string& path, std::string& text, std::string* error);

/// False, with "NAME:LINE: ..." in *error, for text nested deeper than kMaxConfigNesting,
/// holding more than kMaxConfigItems keys, tables and values, or more than kMaxConfigArrayBytes
/// of arrays and inline tables. Brackets, dots and commas in strings and comments do not count.
/// Text that is not TOML may pass: the parser says what is wrong with it.
bool check_config_shape(std::string_view text, const std::string& name, std::string* error);

}  // namespace tcpdp
