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

constexpr size_t kIntBound = 20;
constexpr size_t kDoubleBound = 32;
constexpr size_t kTimestampBound = 29;  // "2026-11-25T04:01:02.123456Z" and quotes

char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

char* write_int(int64_t v, char* p) { return std::to_chars(p, p + kIntBound, v).ptr; }

// Whole microseconds (durations) as "S.ffffff" with trailing zeros dropped. For a value of at
// most 15 significant digits that is exactly the shortest text that reads back as v.
char* write_micros(int64_t usec, char* p) {
  if (usec < 0) {
    *p++ = '-';
    usec = -usec;
  }
  p = write_int(usec / 1000000, p);
  int64_t frac = usec % 1000000;
  if (frac == 0) return p;
  *p++ = '.';
  int digits = 6;
  while (frac % 10 == 0) {
    frac /= 10;
    --digits;
  }
  for (int i = digits - 1; i >= 0; --i) {
    p[i] = static_cast<char>('0' + frac % 10);
    frac /= 10;
  }
  return p + digits;
}

char* write_double(double v, char* p) {
  if (!std::isfinite(v)) return put(p, "null");
  if (std::fabs(v) < 1e9) {
    const auto usec = static_cast<int64_t>(std::llround(v * 1e6));
    if (static_cast<double>(usec) / 1e6 == v) return write_micros(usec, p);
  }
  // Plain decimals for the everyday range (durations read 0.000097, not 9.7e-05), the shortest
  // form that reads back exactly either way.
  const double a = std::fabs(v);
  const auto style =
      a == 0 || (a >= 1e-6 && a < 1e15) ? std::chars_format::fixed : std::chars_format::general;
  return std::to_chars(p, p + kDoubleBound, v, style).ptr;
}

// Every byte of a string escapes to at most six ("\u00XX"; U+FFFD's "\ufffd" replaces one byte).
size_t escaped_bound(std::string_view s) { return 6 * s.size(); }

char* write_escaped(std::string_view s, char* p) {
  using Bytes16 = uint8_t __attribute__((vector_size(16)));
  using Mask16 = int8_t __attribute__((vector_size(16)));
  const size_t n = s.size();
  size_t i = 0;
  for (;;) {
    // Plain text is copied as it is scanned: sixteen bytes at a time, then byte by byte.
    while (i + 16 <= n) {
      Bytes16 v;
      std::memcpy(&v, s.data() + i, 16);
      const Mask16 bad = (v < 0x20) | (v >= 0x80) | (v == '"') | (v == '\\');
      uint64_t halves[2];
      std::memcpy(halves, &bad, 16);
      if (halves[0] | halves[1]) break;
      std::memcpy(p, &v, 16);
      p += 16;
      i += 16;
    }
    while (i < n && kJsonPlain[static_cast<uint8_t>(s[i])]) *p++ = s[i++];
    if (i == n) return p;
    const auto b = static_cast<uint8_t>(s[i]);
    if (b >= 0x80) {
      const size_t len = utf8_sequence_length(s, i);
      if (len == 0) {
        p = put(p, "\\ufffd");
        ++i;
      } else {
        p = put(p, s.substr(i, len));
        i += len;
      }
      continue;
    }
    switch (b) {
      case '"':
        p = put(p, "\\\"");
        break;
      case '\\':
        p = put(p, "\\\\");
        break;
      case '\n':
        p = put(p, "\\n");
        break;
      case '\r':
        p = put(p, "\\r");
        break;
      case '\t':
        p = put(p, "\\t");
        break;
      case '\b':
        p = put(p, "\\b");
        break;
      case '\f':
        p = put(p, "\\f");
        break;
      default:
        p = put(p, "\\u00");
        *p++ = kHex[b >> 4];
        *p++ = kHex[b & 15];
    }
    ++i;
  }
}

const std::string& group_json(const FieldGroup& group);

size_t value_bound(const Value& v) {
  switch (v.v.index()) {
    case 0:
    case 1:
      return 5;
    case 2:
      return kIntBound;
    case 3:
      return kDoubleBound;
    case 4:
      return 2 + escaped_bound(std::get<std::string>(v.v));
    case 5:
      return kTimestampBound;
    case 6: {
      size_t n = 2;
      for (const Value& x : std::get<Array>(v.v)) n += value_bound(x) + 1;
      return n;
    }
    case 7: {
      size_t n = 2;
      for (const Member& m : std::get<Object>(v.v))
        n += escaped_bound(m.name) + 4 + value_bound(m.value);
      return n;
    }
    default:
      return group_json(*std::get<GroupRef>(v.v)).size() + 2;  // its members, and braces or a comma
  }
}

char* write_value(const Value& v, char* p) {
  // A switch on the alternative: std::visit costs a table call per value on this hot path.
  switch (v.v.index()) {
    case 0:
      return put(p, "null");
    case 1:
      return put(p, std::get<bool>(v.v) ? "true" : "false");
    case 2:
      return write_int(std::get<int64_t>(v.v), p);
    case 3:
      return write_double(std::get<double>(v.v), p);
    case 4:
      *p++ = '"';
      p = write_escaped(std::get<std::string>(v.v), p);
      *p++ = '"';
      return p;
    case 5: {
      *p++ = '"';
      p = write_rfc3339(std::get<Timestamp>(v.v), p);
      *p++ = '"';
      return p;
    }
    case 6: {
      const Array& a = std::get<Array>(v.v);
      *p++ = '[';
      for (size_t i = 0; i < a.size(); ++i) {
        if (i) *p++ = ',';
        p = write_value(a[i], p);
      }
      *p++ = ']';
      return p;
    }
    case 8: {  // a group standing as a value: an object of its fields
      *p++ = '{';
      p = put(p, group_json(*std::get<GroupRef>(v.v)));
      *p++ = '}';
      return p;
    }
    default: {
      const Object& o = std::get<Object>(v.v);
      *p++ = '{';
      for (size_t i = 0; i < o.size(); ++i) {
        if (i) *p++ = ',';
        *p++ = '"';
        p = write_escaped(o[i].name, p);
        p = put(p, "\":");
        p = write_value(o[i].value, p);
      }
      *p++ = '}';
      return p;
    }
  }
}

// A group's fields as JSON members, `"key":value` joined by commas: made once per group.
const std::string& group_json(const FieldGroup& group) {
  return group.rendered([](const std::vector<Field>& fields) {
    size_t bound = 0;
    for (const Field& f : fields) bound += f.key.size() + 4 + value_bound(f.value);
    std::string out(bound, '\0');
    char* p = out.data();
    for (const Field& f : fields) {
      if (p != out.data()) *p++ = ',';
      *p++ = '"';
      p = put(p, f.key);
      p = put(p, "\":");
      p = write_value(f.value, p);
    }
    out.resize(static_cast<size_t>(p - out.data()));
    return out;
  });
}

// Calls fn for every field of the record, the fields of groups in their place.
template <typename Fn>
void for_each_field(const std::vector<Field>& fields, Fn&& fn) {
  for (const Field& f : fields) {
    if (const auto* group = std::get_if<GroupRef>(&f.value.v)) {
      for_each_field((*group)->fields(), fn);
    } else {
      fn(f);
    }
  }
}

// Runs a char* writer on the end of a string: room for `bound` bytes, then trimmed to what it
// wrote.
template <typename Writer>
void append_with(std::string& out, size_t bound, Writer&& writer) {
  const size_t old = out.size();
  out.resize(old + bound);
  char* end = writer(out.data() + old);
  out.resize(static_cast<size_t>(end - out.data()));
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
  for_each_field(r.fields(), [&](const Field& f) {
    if (!first) out += '\t';
    first = false;
    append_ltsv_escaped(f.key, out);
    out += ':';
    append_ltsv_value(f.value, out);
  });
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
  for_each_field(r.fields(), [&](const Field& f) {
    bool header = false;
    for (std::string_view key : kHeaderKeys) header |= (f.key == key && is_text(f.value));
    if (header) return;
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
      return;
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
  });
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

size_t json_bound(const Record& record) {
  size_t n = 3;  // braces and the newline
  for (const Field& f : record.fields()) n += f.key.size() + 4 + value_bound(f.value);
  return n;
}

char* write_json(const Record& record, char* p) {
  *p++ = '{';
  bool first = true;
  for (const Field& f : record.fields()) {
    if (const auto* group = std::get_if<GroupRef>(&f.value.v)) {
      const std::string& members = group_json(**group);
      if (members.empty()) continue;
      if (!first) *p++ = ',';
      first = false;
      p = put(p, members);
      continue;
    }
    if (!first) *p++ = ',';
    first = false;
    *p++ = '"';
    p = put(p, f.key);  // keys are the program's own plain names: nothing to escape
    p = put(p, "\":");
    p = write_value(f.value, p);
  }
  return put(p, "}\n");
}

void append_json_escaped(std::string_view s, std::string& out) {
  append_with(out, escaped_bound(s), [&](char* p) { return write_escaped(s, p); });
}

void append_json_value(const Value& v, std::string& out) {
  append_with(out, value_bound(v), [&](char* p) { return write_value(v, p); });
}

void append_formatted(const Record& record, Format format, std::string& out) {
  switch (format) {
    case Format::kJson:
      append_with(out, json_bound(record), [&](char* p) { return write_json(record, p); });
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
