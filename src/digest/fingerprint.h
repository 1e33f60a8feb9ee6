/// Query fingerprints: the SQL text with every literal made `?`, so that the executions of one
/// statement with different values fall into one class.
///
/// Comments go; strings (standard, escape E'', national, bit and hex, PostgreSQL dollar-quoted,
/// MySQL's double-quoted and backslash-escaped), numbers (with their sign where it is a sign),
/// TRUE, FALSE and NULL, and parameters ($1, ?) become `?`; a list of only `?` in IN (...)
/// becomes `in(?+)`, as does each row of VALUES, whose repeated rows collapse into one; words
/// are lower-cased (quoted identifiers are kept as written), white space is one space between
/// tokens and none inside brackets, before commas, around dots and casts, or between a name and
/// its ( or [; trailing `;`s go. A statement longer than kFingerprintMax is fingerprinted by
/// its first kFingerprintMax bytes, up to the last point where every bracket opened is closed,
/// followed by `...`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tcpdp {

enum class SqlDialect { kPostgres, kMySql };

inline constexpr size_t kFingerprintMax = 64 * 1024;

std::string fingerprint(std::string_view sql, SqlDialect dialect);

/// 16 hex digits naming a fingerprint (FNV-1a, 64 bits): the same text, the same id, always.
std::string fingerprint_id(std::string_view fingerprint);

}  // namespace tcpdp
