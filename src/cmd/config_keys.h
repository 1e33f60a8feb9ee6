/// The configuration keys, each described once: section, name, type, bounds, the comment
/// `tcpdp config` prints above it, and the Config field it sets. The table drives parsing,
/// checking and printing alike (config.cc).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "cmd/config.h"

namespace tcpdp::config_keys {

enum class Type {
  kString,
  kBool,
  kPositive,  // an integer from 1
  kAuto,      // an integer from 1, or "auto" (kept as 0)
  kSize,      // bytes: an integer, or a string such as "2MB"
  kSeconds,   // a number above 0, at most kMaxSeconds
  kChoice,    // one of the choices
};

using Field = std::variant<std::string*, bool*, uint64_t*, double*>;

// Narrower bounds than the type's (kPositive, kAuto and kSize keys): a value out of them is
// refused, never clamped, so what `tcpdp config` prints is what runs.
struct Bounds {
  uint64_t min = 0;
  uint64_t max = UINT64_MAX;
};

struct Key {
  std::string section;
  std::string name;
  Type type;
  std::string comment;
  std::vector<std::string> choices;
  std::function<Field(Config&)> field;
  Bounds bounds = {};
};

/// The sections, in the order `tcpdp config` prints them.
const std::vector<std::string>& sections();

/// Every key, in the order `tcpdp config` prints them.
const std::vector<Key>& keys();

}  // namespace tcpdp::config_keys
