#include "sinks/format.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

namespace tcpdp {
namespace {

constexpr char kHex[] = "0123456789abcdef";

// Bytes a JSON string can hold as they are: printable ASCII other than '"' and '\\'.
constexpr std::array<bool, 256> kJsonPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x80; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

// Where the run of bytes that need no escaping, starting at `from`, ends. Sixteen bytes at a time
// while they are all plain (GCC/clang vector extensions: SSE2 on x86-64), then byte by byte.
size_t plain_run(std::string_view s, size_t from) {
  using Bytes16 = uint8_t __attribute__((vector_size(16)));
  using Mask16 = int8_t __attribute__((vector_size(16)));
  size_t i = from;
  while (i + 16 <= s.size()) {
    Bytes16 v;
    std::memcpy(&v, s.data() + i, 16);
    const Mask16 bad = (v < 0x20) | (v >= 0x80) | (v == '"') | (v == '\\');
    uint64_t halves[2];
    std::memcpy(halves, &bad, 16);
    if (halves[0] | halves[1]) break;
    i += 16;
  }
  while (i < s.size() && kJsonPlain[static_cast<uint8_t>(s[i])]) ++i;
  return i;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0 if the bytes there are not one
// (overlong forms, surrogates and code points above U+10FFFF are invalid).
size_t utf8_sequence_length(std::string_view s, size_t i) {
  const auto b0 = static_cast<uint8_t>(s[i]);
  size_t len;
  uint8_t lo = 0x80, hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  const auto b1 = static_cast<uint8_t>(s[i + 1]);
  if (b1 < lo || b1 > hi) return 0;
  for (size_t k = 2; k < len; ++k) {
    const auto b = static_cast<uint8_t>(s[i + k]);
    if (b < 0x80 || b > 0xBF) return 0;
  }
  return len;
}

void append_int(int64_t v, std::string& out) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

void append_double(double v, std::string& out) {
  if (!std::isfinite(v)) {
    out += "null";
    return;
  }
  char buf[64];
  // Plain decimals for the everyday range (durations read 0.000097, not 9.7e-05), the shortest
  // form that reads back exactly either way.
  const double a = std::fabs(v);
  const auto style =
      a == 0 || (a >= 1e-6 && a < 1e15) ? std::chars_format::fixed : std::chars_format::general;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, style);
  out.append(buf, end);
}

void append_json(const Record& r, std::string& out) {
  out += '{';
  bool first = true;
  for (const Field& f : r.fields()) {
    if (!first) out += ',';
    first = false;
    out += '"';
    append_json_escaped(f.key, out);
    out += "\":";
    append_json_value(f.value, out);
  }
  out += "}\n";
}

void append_ltsv_escaped(std::string_view s, std::string& out) {
  for (char c : s) {
    switch (c) {
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        out += c;
    }
  }
}

void append_ltsv_value(const Value& v, std::string& out) {
  if (const auto* s = std::get_if<std::string>(&v.v)) {
    append_ltsv_escaped(*s, out);
  } else if (const auto* t = std::get_if<Timestamp>(&v.v)) {
    append_rfc3339(*t, out);
  } else if (std::holds_alternative<std::nullptr_t>(v.v)) {
    // An absent value: LTSV has no null, the field stays empty.
  } else {
    std::string json;
    append_json_value(v, json);
    append_ltsv_escaped(json, out);
  }
}

void append_ltsv(const Record& r, std::string& out) {
  bool first = true;
  for (const Field& f : r.fields()) {
    if (!first) out += '\t';
    first = false;
    append_ltsv_escaped(f.key, out);
    out += ':';
    append_ltsv_value(f.value, out);
  }
  out += '\n';
}

// For a terminal: control characters other than newline are shown as \xNN so payload bytes
// cannot move the cursor or change colours.
void append_console_text(std::string_view s, std::string& out, bool keep_newlines) {
  for (char c : s) {
    const auto b = static_cast<uint8_t>(c);
    if ((b < 0x20 && !(keep_newlines && c == '\n')) || b == 0x7f) {
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 15];
    } else {
      out += c;
    }
  }
}

// The text of a string or timestamp field, or nullptr for a missing or other field.
const std::string* text_field(const Record& r, std::string_view key, std::string& scratch) {
  const Value* v = r.find(key);
  if (!v) return nullptr;
  if (const auto* t = std::get_if<Timestamp>(&v->v)) {
    scratch.clear();
    append_rfc3339(*t, scratch);
    return &scratch;
  }
  return std::get_if<std::string>(&v->v);
}

bool is_text(const Value& v) {
  return std::holds_alternative<std::string>(v.v) || std::holds_alternative<Timestamp>(v.v);
}

void append_console(const Record& r, std::string& out) {
  // Header: when, which connection, who to whom; then the other fields.
  // The client is always on the left, so the arrow shows which way the bytes went.
  static constexpr std::string_view kHeaderKeys[] = {"ts", "conn_id", "src_addr", "direction",
                                                     "dst_addr"};
  std::string scratch;
  const std::string* direction = text_field(r, "direction", scratch);
  const bool reversed = direction && *direction == "<-";
  bool any = false;
  for (std::string_view key : kHeaderKeys) {
    if (reversed && key == "src_addr")
      key = "dst_addr";
    else if (reversed && key == "dst_addr")
      key = "src_addr";
    if (const std::string* s = text_field(r, key, scratch)) {
      if (any) out += ' ';
      append_console_text(*s, out, false);
      any = true;
    }
  }
  std::string blocks;
  for (const Field& f : r.fields()) {
    bool header = false;
    for (std::string_view key : kHeaderKeys) header |= (f.key == key && is_text(f.value));
    if (header) continue;
    const auto* s = std::get_if<std::string>(&f.value.v);
    if (s && s->find('\n') != std::string::npos) {
      blocks += f.key;
      blocks += ":\n";
      size_t start = 0;
      while (start < s->size()) {
        size_t end = s->find('\n', start);
        if (end == std::string::npos) end = s->size();
        blocks += "    ";
        append_console_text(std::string_view(*s).substr(start, end - start), blocks, false);
        blocks += '\n';
        start = end + 1;
      }
      continue;
    }
    if (any) out += ' ';
    any = true;
    out += f.key;
    out += '=';
    if (s) {
      append_console_text(*s, out, false);
    } else {
      append_json_value(f.value, out);
    }
  }
  out += '\n';
  out += blocks;
}

}  // namespace

std::optional<Format> parse_format(std::string_view name) {
  if (name == "json") return Format::kJson;
  if (name == "ltsv") return Format::kLtsv;
  if (name == "console") return Format::kConsole;
  return std::nullopt;
}

const char* format_name(Format f) {
  switch (f) {
    case Format::kJson:
      return "json";
    case Format::kLtsv:
      return "ltsv";
    case Format::kConsole:
      return "console";
  }
  return "?";
}

void append_json_escaped(std::string_view s, std::string& out) {
  size_t i = 0;
  while (i < s.size()) {
    // Most text needs no escaping: copy the longest run of plain ASCII in one go.
    size_t run = plain_run(s, i);
    if (run > i) {
      out.append(s.data() + i, run - i);
      i = run;
      if (i == s.size()) break;
    }
    const auto b = static_cast<uint8_t>(s[i]);
    if (b >= 0x80) {
      const size_t len = utf8_sequence_length(s, i);
      if (len == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.data() + i, len);
        i += len;
      }
      continue;
    }
    switch (b) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        out += "\\u00";
        out += kHex[b >> 4];
        out += kHex[b & 15];
    }
    ++i;
  }
}

void append_json_value(const Value& v, std::string& out) {
  // A switch on the alternative: std::visit costs a table call per value on this hot path.
  switch (v.v.index()) {
    case 0:
      out += "null";
      return;
    case 1:
      out += std::get<bool>(v.v) ? "true" : "false";
      return;
    case 2:
      append_int(std::get<int64_t>(v.v), out);
      return;
    case 3:
      append_double(std::get<double>(v.v), out);
      return;
    case 4:
      out += '"';
      append_json_escaped(std::get<std::string>(v.v), out);
      out += '"';
      return;
    case 5:
      out += '"';
      append_rfc3339(std::get<Timestamp>(v.v), out);
      out += '"';
      return;
    case 6: {
      const Array& a = std::get<Array>(v.v);
      out += '[';
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) out += ',';
        append_json_value(a[i], out);
      }
      out += ']';
      return;
    }
    default: {
      const Object& o = std::get<Object>(v.v);
      out += '{';
      for (size_t i = 0; i < o.size(); ++i) {
        if (i) out += ',';
        out += '"';
        append_json_escaped(o[i].name, out);
        out += "\":";
        append_json_value(o[i].value, out);
      }
      out += '}';
      return;
    }
  }
}

void append_formatted(const Record& record, Format format, std::string& out) {
  switch (format) {
    case Format::kJson:
      append_json(record, out);
      break;
    case Format::kLtsv:
      append_ltsv(record, out);
      break;
    case Format::kConsole:
      append_console(record, out);
      break;
  }
}

}  // namespace tcpdp
