#include "sinks/format.h"

#include <array>
#include <charconv>
#include <cmath>
#include <cstring>

#include "common/utf8.h"

namespace tcpdp {

namespace {

constexpr char kHex[] = "0123456789abcdef";

// Bytes a JSON string can hold as they are: printable ASCII other than '"' and '\\'.
constexpr std::array<bool, 256> kJsonPlain = [] {
  std::array<bool, 256> t{};
  for (int c = 0x20; c < 0x7f; ++c) t[c] = c != '"' && c != '\\';
  return t;
}();

constexpr size_t kIntBound = 20;
constexpr size_t kDoubleBound = 32;

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
      const Mask16 bad = (v < 0x20) | (v >= 0x7f) | (v == '"') | (v == '\\');
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
      } else if (b == 0xC2 && static_cast<uint8_t>(s[i + 1]) < 0xA0) {
        p = put(p, "\\u00");  // a C1 control, escaped like C0 and DEL: no terminal obeys it
        *p++ = kHex[static_cast<uint8_t>(s[i + 1]) >> 4];
        *p++ = kHex[s[i + 1] & 15];
        i += 2;
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

char* write_value(Record::Reader& r, const FieldView& f, char* p);

// `"key":` for a top-level field: keys there are the program's own plain names.
char* write_key(std::string_view key, char* p) {
  *p++ = '"';
  p = put(p, key);
  return put(p, "\":");
}

// The members of an object, up to and including its kEnd.
char* write_members(Record::Reader& r, char* p) {
  *p++ = '{';
  bool first = true;
  for (FieldView f = r.next(); f.kind != Kind::kEnd; f = r.next()) {
    if (!first) *p++ = ',';
    first = false;
    *p++ = '"';
    p = write_escaped(f.key, p);  // member names come from the data
    p = put(p, "\":");
    p = write_value(r, f, p);
  }
  *p++ = '}';
  return p;
}

// The value of entry f; a container's contents are read from r up to its kEnd.
char* write_value(Record::Reader& r, const FieldView& f, char* p) {
  switch (f.kind) {
    case Kind::kNull:
      return put(p, "null");
    case Kind::kFalse:
      return put(p, "false");
    case Kind::kTrue:
      return put(p, "true");
    case Kind::kInt:
      return write_int(f.i, p);
    case Kind::kDouble:
      return write_double(f.d, p);
    case Kind::kDuration:
      return write_micros(f.i, p);
    case Kind::kString:
      *p++ = '"';
      p = write_escaped(f.s, p);
      *p++ = '"';
      return p;
    case Kind::kTimestamp:
      *p++ = '"';
      p = write_rfc3339(f.ts, p);
      *p++ = '"';
      return p;
    case Kind::kArray: {
      *p++ = '[';
      bool first = true;
      for (FieldView e = r.next(); e.kind != Kind::kEnd; e = r.next()) {
        if (!first) *p++ = ',';
        first = false;
        p = write_value(r, e, p);
      }
      *p++ = ']';
      return p;
    }
    case Kind::kObject:
      return write_members(r, p);
    case Kind::kGroup:  // a group standing as a value: an object of its fields
      *p++ = '{';
      p = put(p, group_json(*f.group));
      *p++ = '}';
      return p;
    case Kind::kEnd:
      break;
  }
  return p;
}

// The top-level fields of a record as JSON members, `"key":value` joined by commas, groups'
// members in their place; returns the end, and whether anything was written in `wrote`.
char* write_fields(std::string_view encoded, char* p, bool& wrote) {
  Record::Reader r(encoded);
  while (!r.done()) {
    const FieldView f = r.next();
    if (f.kind == Kind::kGroup) {
      const std::string& members = group_json(*f.group);
      if (members.empty()) continue;
      if (wrote) *p++ = ',';
      wrote = true;
      p = put(p, members);
      continue;
    }
    if (wrote) *p++ = ',';
    wrote = true;
    p = write_key(f.key, p);
    p = write_value(r, f, p);
  }
  return p;
}

// Room enough for any value or field of an encoding without groups: no entry formats to more
// than six times its encoded size.
size_t plain_bound(std::string_view encoded) { return 6 * encoded.size(); }

// A group's fields as JSON members: made once per group.
const std::string& group_json(const FieldGroup& group) {
  return group.rendered([](const Record& fields) {
    std::string out(plain_bound(fields.encoded()), '\0');
    bool wrote = false;
    char* end = write_fields(fields.encoded(), out.data(), wrote);
    out.resize(static_cast<size_t>(end - out.data()));
    out.shrink_to_fit();  // kept as long as the group: the bound above is six times too big
    return out;
  });
}

// Calls fn(reader, field) for every top-level field of the record, the fields of groups in
// their place. For a container fn must read its contents (or skip them).
template <typename Fn>
void for_each_field(std::string_view encoded, Fn&& fn) {
  Record::Reader r(encoded);
  while (!r.done()) {
    const FieldView f = r.next();
    if (f.kind == Kind::kGroup) {
      for_each_field(f.group->fields().encoded(), fn);
    } else {
      fn(r, f);
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

// A field's value as JSON text (containers read from r).
void append_json(Record::Reader& r, const FieldView& f, size_t bound, std::string& out) {
  append_with(out, bound, [&](char* p) { return write_value(r, f, p); });
}

// Text for a terminal or a line-oriented log (console, LTSV): what a terminal could take for a
// command is written as \xNN for each of its bytes, as tcpdump writes unprintable bytes, so a
// value cannot move the cursor, change colours or retitle the window of whoever reads the log:
// C0 controls and DEL, C1 controls (U+0080-U+009F, which some terminals obey in UTF-8 too), and
// bytes that are not valid UTF-8 (an 8-bit terminal reads 0x80-0x9F as C1). LTSV also writes
// tab, newline, carriage return and backslash as \t \n \r \\ so a record stays one line.
enum class TextMode { kConsole, kLtsv };

void put_hex_escape(uint8_t b, std::string& out) {
  out += "\\x";
  out += kHex[b >> 4];
  out += kHex[b & 15];
}

void append_safe_text(std::string_view s, std::string& out, TextMode mode) {
  for (size_t i = 0; i < s.size();) {
    const auto b = static_cast<uint8_t>(s[i]);
    if (b >= 0x80) {
      const size_t len = utf8_sequence_length(s, i);
      if (len == 0) {
        put_hex_escape(b, out);
        ++i;
      } else if (b == 0xC2 && static_cast<uint8_t>(s[i + 1]) < 0xA0) {
        put_hex_escape(b, out);
        put_hex_escape(static_cast<uint8_t>(s[i + 1]), out);
        i += 2;
      } else {
        out.append(s, i, len);
        i += len;
      }
      continue;
    }
    ++i;
    if (mode == TextMode::kLtsv) {
      const char* escape = b == '\t'   ? "\\t"
                           : b == '\n' ? "\\n"
                           : b == '\r' ? "\\r"
                           : b == '\\' ? "\\\\"
                                       : nullptr;
      if (escape) {
        out += escape;
        continue;
      }
    }
    if (b < 0x20 || b == 0x7f) {
      put_hex_escape(b, out);
    } else {
      out += static_cast<char>(b);
    }
  }
}

void append_ltsv_escaped(std::string_view s, std::string& out) {
  append_safe_text(s, out, TextMode::kLtsv);
}

void append_ltsv(std::string_view record, std::string& out) {
  bool first = true;
  std::string json;
  for_each_field(record, [&](Record::Reader& r, const FieldView& f) {
    if (!first) out += '\t';
    first = false;
    append_ltsv_escaped(f.key, out);
    out += ':';
    switch (f.kind) {
      case Kind::kString:
        append_ltsv_escaped(f.s, out);
        break;
      case Kind::kTimestamp:
        append_rfc3339(f.ts, out);
        break;
      case Kind::kNull:
        break;  // an absent value: LTSV has no null, the field stays empty
      default:
        json.clear();
        append_json(r, f, plain_bound(record), json);
        append_ltsv_escaped(json, out);
    }
  });
  out += '\n';
}

// The text of a string or timestamp field into scratch; false for a missing or other field.
bool text_field(std::string_view record, std::string_view key, std::string& scratch) {
  const std::optional<FieldView> f = Record::find(record, key);
  if (!f || !f->is_text()) return false;
  scratch.clear();
  if (f->kind == Kind::kTimestamp) {
    append_rfc3339(f->ts, scratch);
  } else {
    scratch = f->s;
  }
  return true;
}

void append_console(std::string_view record, std::string& out) {
  // Header: when, which connection, who to whom; then the other fields.
  // The client is always on the left, so the arrow shows which way the bytes went.
  static constexpr std::string_view kHeaderKeys[] = {"ts", "conn_id", "src_addr", "direction",
                                                     "dst_addr"};
  std::string scratch;
  const bool reversed = text_field(record, "direction", scratch) && scratch == "<-";
  bool any = false;
  for (std::string_view key : kHeaderKeys) {
    if (reversed && key == "src_addr")
      key = "dst_addr";
    else if (reversed && key == "dst_addr")
      key = "src_addr";
    if (text_field(record, key, scratch)) {
      if (any) out += ' ';
      append_safe_text(scratch, out, TextMode::kConsole);
      any = true;
    }
  }
  std::string blocks;
  for_each_field(record, [&](Record::Reader& r, const FieldView& f) {
    bool header = false;
    for (std::string_view key : kHeaderKeys) header |= (f.key == key && f.is_text());
    if (header) return;
    const bool text = f.kind == Kind::kString;
    if (text && f.s.find('\n') != std::string_view::npos) {
      blocks += f.key;
      blocks += ":\n";
      size_t start = 0;
      while (start < f.s.size()) {
        size_t end = f.s.find('\n', start);
        if (end == std::string_view::npos) end = f.s.size();
        blocks += "    ";
        append_safe_text(f.s.substr(start, end - start), blocks, TextMode::kConsole);
        blocks += '\n';
        start = end + 1;
      }
      return;
    }
    if (any) out += ' ';
    any = true;
    out += f.key;
    out += '=';
    if (text) {
      append_safe_text(f.s, out, TextMode::kConsole);
    } else {
      append_json(r, f, plain_bound(record), out);
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

size_t json_bound(std::string_view encoded) {
  size_t n = plain_bound(encoded) + 3;  // and braces and the newline
  Record::Reader r(encoded);
  while (!r.done()) {
    const FieldView f = r.next();
    if (f.kind == Kind::kGroup) n += group_json(*f.group).size() + 1;
  }
  return n;
}

char* write_json(std::string_view encoded, char* p) {
  *p++ = '{';
  bool wrote = false;
  p = write_fields(encoded, p, wrote);
  return put(p, "}\n");
}

void append_json_escaped(std::string_view s, std::string& out) {
  append_with(out, escaped_bound(s), [&](char* p) { return write_escaped(s, p); });
}

void append_formatted(std::string_view record, Format format, std::string& out) {
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
