/// Values of the binary protocol (COM_STMT_EXECUTE parameters) as text: numbers in decimal,
/// dates and times as MySQL prints them; string types are returned as their raw bytes for the
/// caller to transcode from the connection's character set.
#pragma once

#include <cstdint>
#include <string>

#include "dumpers/mysql/mysql_wire.h"

namespace tcpdp::mysql {

namespace type {
constexpr uint8_t kDecimal = 0, kTiny = 1, kShort = 2, kLong = 3, kFloat = 4, kDouble = 5,
                  kNull = 6, kTimestamp = 7, kLongLong = 8, kInt24 = 9, kDate = 10, kTime = 11,
                  kDateTime = 12, kYear = 13, kNewDate = 14, kVarchar = 15, kBit = 16, kJson = 245,
                  kNewDecimal = 246, kEnum = 247, kSet = 248, kTinyBlob = 249, kMediumBlob = 250,
                  kLongBlob = 251, kBlob = 252, kVarString = 253, kString = 254, kGeometry = 255;
}

struct BinaryValue {
  bool is_null = false;
  bool is_string = false;  // text holds raw bytes in the connection's character set
  std::string text;
};

/// Reads one value of `type` from r. False when the bytes run short or the type is unknown.
bool read_binary_value(Reader& r, uint8_t type, bool is_unsigned, BinaryValue& out);

/// The MYSQL_TYPE_ name without its prefix ("LONGLONG"), or the number.
std::string type_name(uint8_t type);

}  // namespace tcpdp::mysql
