/// Values (bind parameters, query attributes) written so that their bytes can always be had back:
/// a value that is valid UTF-8 and does not begin with `\x` is written as it is; any other is
/// written as `\x` and two lower-case hex digits per byte, PostgreSQL's bytea hex format. So a
/// reader of any output format gets the exact bytes: hex-decode what begins with `\x`, take the
/// rest as UTF-8.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "common/record.h"

namespace tcpdp {

/// True when `s` is valid UTF-8 and does not begin with `\x`: it is written as it is.
bool plain_text(std::string_view s);
/// `\x` and lower-case hex of every byte.
std::string hex_value(std::span<const uint8_t> bytes);
/// Adds bytes to r under key (empty for an array element): as they are when plain_text, else as
/// hex_value.
void add_lossless(Record& r, std::string_view key, std::string_view bytes);

}  // namespace tcpdp
