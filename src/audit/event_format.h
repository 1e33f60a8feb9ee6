/// The layout of a trace event as tracefs describes it in a `format` file (and of the ring
/// buffer's page header, in events/header_page, which uses the same lines): for each field its
/// name, offset and size in the event's data. Reading it at start lets tcpdp take each field
/// from where this kernel puts it, rather than where one kernel version did.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tcpdp::audit {

struct FieldFormat {
  std::string name;  // without the type or an array's brackets: "saddr" of "__u8 saddr[4]"
  size_t offset = 0;
  size_t size = 0;
  bool is_signed = false;
};

struct EventFormat {
  std::string name;
  int id = -1;  // the event's number, the common_type of its records
  std::vector<FieldFormat> fields;

  /// The format from the text of a `format` file (or events/header_page); false and why when
  /// no field line reads.
  static bool parse(std::string_view text, EventFormat& out, std::string& error);
  const FieldFormat* field(std::string_view name) const;
};

/// An unsigned field of 1, 2, 4 or 8 bytes (host byte order, as the kernel wrote it), or
/// nothing when the field does not fit in `data`.
std::optional<uint64_t> read_unsigned(std::span<const uint8_t> data, const FieldFormat& f);
/// The same, sign-extended for a signed field.
std::optional<int64_t> read_signed(std::span<const uint8_t> data, const FieldFormat& f);
/// The field's bytes, or an empty span when it does not fit.
std::span<const uint8_t> field_bytes(std::span<const uint8_t> data, const FieldFormat& f);

}  // namespace tcpdp::audit
