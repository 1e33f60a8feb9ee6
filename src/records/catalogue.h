/// The record catalogue: every kind of record tcpdp writes, the keys each may carry, each key's
/// type and, where it has one, its closed set of values. Writers, `tcpdp records`, the sinks and
/// the documentation tests are all held to this one definition.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"

namespace tcpdp {

/// The kind of a record, written as the value of its `event` key.
enum class RecordKind : uint8_t {
  kHex,          // -d hex: a chunk of bytes as sent
  kGap,          // bytes the capture missed
  kPg,           // a PostgreSQL client message (with its answer), or a server message of its own
  kMysql,        // a MySQL handshake or command (with its answer), or a server packet of its own
  kDecodeError,  // bytes a protocol decoder could not read, and what it did about them
  kEncrypted,    // the TLS notice: a connection is encrypted from here on, nothing more decoded
  kState,        // a TCP state change of one side of a connection
  kSummary,      // one connection, once it is over
  kDigest,       // one query class over one digest interval
  kLog,          // the program's own: its start, warnings, statistics, errors, its stop
};
inline constexpr size_t kRecordKinds = 10;

/// The value of `event` for each kind, in the order of RecordKind.
inline constexpr std::array<std::string_view, kRecordKinds> kKindNames = {
    "hex", "gap", "pg", "mysql", "decode_error", "encrypted", "state", "summary", "digest", "log"};
constexpr std::string_view kind_name(RecordKind kind) {
  return kKindNames[static_cast<size_t>(kind)];
}

/// The type of a key's value, as the JSON output shows it.
enum class ValueType : uint8_t {
  kString,
  kInt,
  kDouble,
  kBool,
  kTimestamp,  // RFC 3339 text in UTC with microseconds
  kDuration,   // seconds, to the microsecond
  kArray,
  kObject,
};

struct KeyDef {
  std::string_view name;
  ValueType type;
  bool nullable = false;
  /// The values a string key may take; empty when any text may come.
  std::vector<std::string_view> values = {};
};

struct KindDef {
  RecordKind kind;
  std::string_view name;  // the value of `event`
  std::string_view log;   // where read's output of it goes in probe and proxy
  std::vector<KeyDef> keys;
};

/// Every kind, in the order of RecordKind.
std::span<const KindDef> record_kinds();
const KindDef& kind_def(RecordKind kind);
std::optional<RecordKind> kind_named(std::string_view name);
const char* value_type_name(ValueType type);

/// Why `record` (of the kind its `event` names) does not fit the catalogue: a key the kind does
/// not have, a value of another type, a value outside the key's closed set. Empty when it fits.
std::vector<std::string> catalogue_mismatches(const Record& record);

}  // namespace tcpdp
