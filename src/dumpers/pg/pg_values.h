/// Bind parameter values sent in binary format, rendered as PostgreSQL's own text output would
/// show them (DateStyle ISO, IntervalStyle postgres, timestamptz in UTC), so a logged value reads
/// exactly like the value in SQL. Types tcpdp does not know come out as \x followed by hex, and so
/// do text values whose bytes are not text (the rule of dumpers/value_text.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace tcpdp::pg {

namespace oid {
constexpr uint32_t kBool = 16, kBytea = 17, kChar = 18, kName = 19, kInt8 = 20, kInt2 = 21,
                   kInt4 = 23, kText = 25, kOid = 26, kJson = 114, kXml = 142, kFloat4 = 700,
                   kFloat8 = 701, kUnknown = 705, kBpchar = 1042, kVarchar = 1043, kDate = 1082,
                   kTime = 1083, kTimestamp = 1114, kTimestamptz = 1184, kInterval = 1186,
                   kNumeric = 1700, kUuid = 2950, kJsonb = 3802;
}

/// The text form of a binary value of type `type_oid`.
std::string binary_to_text(uint32_t type_oid, std::span<const uint8_t> value);

}  // namespace tcpdp::pg
