#include "audit/event_format.h"

#include <charconv>
#include <cstring>

namespace tcpdp::audit {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// The number after `key:` in a line like "offset:8;", or nothing.
std::optional<size_t> number_after(std::string_view line, std::string_view key) {
  const size_t at = line.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view rest = trim(line.substr(at + key.size()));
  size_t value = 0;
  const auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
  if (ec != std::errc() || end == rest.data()) return std::nullopt;
  return value;
}

// "field:__u8 saddr[4];\toffset:32;\tsize:4;\tsigned:0;" -> saddr, 32, 4, unsigned.
// header_page writes "field: u64 timestamp;" with a space after the colon.
bool parse_field(std::string_view line, FieldFormat& out) {
  line = trim(line);
  if (line.substr(0, 6) != "field:") return false;
  const size_t semi = line.find(';');
  if (semi == std::string_view::npos) return false;
  std::string_view decl = trim(line.substr(6, semi - 6));
  if (const size_t bracket = decl.find('['); bracket != std::string_view::npos)
    decl = trim(decl.substr(0, bracket));
  const size_t space = decl.find_last_of(" \t*");
  const std::string_view name = space == std::string_view::npos ? decl : decl.substr(space + 1);
  const std::string_view attrs = line.substr(semi);
  const auto offset = number_after(attrs, "offset:");
  const auto size = number_after(attrs, "size:");
  const auto is_signed = number_after(attrs, "signed:");
  if (name.empty() || !offset || !size) return false;
  out.name = std::string(name);
  out.offset = *offset;
  out.size = *size;
  out.is_signed = is_signed.value_or(0) != 0;
  return true;
}

}  // namespace

bool EventFormat::parse(std::string_view text, EventFormat& out, std::string& error) {
  out = {};
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    const std::string_view t = trim(line);
    if (t.substr(0, 5) == "name:") {
      out.name = std::string(trim(t.substr(5)));
    } else if (t.substr(0, 3) == "ID:") {
      if (const auto id = number_after(t, "ID:")) out.id = static_cast<int>(*id);
    } else if (FieldFormat f; parse_field(t, f)) {
      out.fields.push_back(std::move(f));
    }
  }
  if (out.fields.empty()) {
    error = "no field descriptions in the format";
    return false;
  }
  return true;
}

const FieldFormat* EventFormat::field(std::string_view name) const {
  for (const FieldFormat& f : fields)
    if (f.name == name) return &f;
  return nullptr;
}

std::span<const uint8_t> field_bytes(std::span<const uint8_t> data, const FieldFormat& f) {
  if (f.offset > data.size() || f.size > data.size() - f.offset) return {};
  return data.subspan(f.offset, f.size);
}

std::optional<uint64_t> read_unsigned(std::span<const uint8_t> data, const FieldFormat& f) {
  const auto bytes = field_bytes(data, f);
  if (bytes.empty()) return std::nullopt;
  switch (f.size) {
    case 1:
      return bytes[0];
    case 2: {
      uint16_t v;
      std::memcpy(&v, bytes.data(), 2);
      return v;
    }
    case 4: {
      uint32_t v;
      std::memcpy(&v, bytes.data(), 4);
      return v;
    }
    case 8: {
      uint64_t v;
      std::memcpy(&v, bytes.data(), 8);
      return v;
    }
    default:
      return std::nullopt;
  }
}

std::optional<int64_t> read_signed(std::span<const uint8_t> data, const FieldFormat& f) {
  const auto u = read_unsigned(data, f);
  if (!u) return std::nullopt;
  if (!f.is_signed || f.size == 8) return static_cast<int64_t>(*u);
  const unsigned bits = static_cast<unsigned>(f.size * 8);
  const uint64_t sign = uint64_t{1} << (bits - 1);
  return static_cast<int64_t>((*u ^ sign) - sign);
}

}  // namespace tcpdp::audit
