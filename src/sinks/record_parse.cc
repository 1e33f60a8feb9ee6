#include "sinks/record_parse.h"

#include <simdjson.h>

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

namespace tcpdp {
namespace {

// Seconds as a duration: finite, from 0 to about 31 years; nothing otherwise.
std::optional<Duration> seconds_to_duration(double d) {
  if (!std::isfinite(d) || d < 0 || d > 1e9) return std::nullopt;
  return Duration{static_cast<int64_t>(std::llround(d * 1e6))};
}

// simdjson's document of one line turned into a Record, keys in their order: `ts` a timestamp
// where it is one, `duration` a duration, integers as integers (past int64, a double).
class JsonReader {
 public:
  explicit JsonReader(Record& out) : out_(out) {}

  bool record(simdjson::dom::element root) {
    if (!root.is_object()) return wrong("a JSON object is wanted");
    for (const auto [key, v] : simdjson::dom::object(root)) {
      if (!value(v, key)) return false;
    }
    return true;
  }
  const char* why() const { return why_; }

 private:
  bool value(simdjson::dom::element v, std::string_view key) {
    using T = simdjson::dom::element_type;
    switch (v.type()) {
      case T::OBJECT:
        out_.begin_object(key);
        for (const auto [k, member] : simdjson::dom::object(v)) {
          if (!value(member, k)) return false;
        }
        out_.end();
        return true;
      case T::ARRAY:
        out_.begin_array(key);
        for (const auto item : simdjson::dom::array(v)) {
          if (!value(item, "")) return false;
        }
        out_.end();
        return true;
      case T::STRING: {
        const std::string_view text(v);
        if (key == "ts") {
          if (const auto ts = parse_rfc3339(text)) {
            out_.add(key, *ts);
            return true;
          }
        }
        out_.add(key, text);
        return true;
      }
      case T::INT64:
        if (key != "duration") {
          out_.add(key, int64_t(v));
          return true;
        }
        return duration(key, static_cast<double>(int64_t(v)));
      case T::UINT64:
        return key == "duration" ? duration(key, static_cast<double>(uint64_t(v)))
                                 : put(key, static_cast<double>(uint64_t(v)));
      case T::DOUBLE:
        return key == "duration" ? duration(key, double(v)) : put(key, double(v));
      case T::BOOL:
        out_.add(key, bool(v));
        return true;
      case T::NULL_VALUE:
        out_.add(key, nullptr);
        return true;
    }
    return wrong("a value is wanted");
  }
  bool put(std::string_view key, double d) {
    out_.add(key, d);
    return true;
  }
  bool duration(std::string_view key, double seconds) {
    const auto d = seconds_to_duration(seconds);
    if (!d) return wrong("a duration out of range");
    out_.add(key, *d);
    return true;
  }
  bool wrong(const char* why) {
    why_ = why;
    return false;
  }

  Record& out_;
  const char* why_ = "";
};

// tcpdp's records nest two deep; far deeper is not one of them. The top object is one level.
constexpr size_t kMaxDepth = 1 + 64;

simdjson::dom::parser& json_parser() {
  thread_local simdjson::dom::parser parser = [] {
    simdjson::dom::parser p;
    if (p.allocate(1 << 16, kMaxDepth) != simdjson::SUCCESS) throw std::bad_alloc();
    return p;
  }();
  return parser;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string ltsv_unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      const char e = s[++i];
      int hi, lo;
      if (e == 'x' && i + 2 < s.size() && (hi = hex_digit(s[i + 1])) >= 0 &&
          (lo = hex_digit(s[i + 2])) >= 0) {
        out += static_cast<char>(hi << 4 | lo);  // a control or non-UTF-8 byte, escaped
        i += 2;
        continue;
      }
      out += e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e;
    } else {
      out += s[i];
    }
  }
  return out;
}

}  // namespace

bool parse_json_record(std::string_view line, Record& out, std::string* error) {
  out.clear();
  simdjson::dom::element root;
  if (const auto e = json_parser().parse(line.data(), line.size()).get(root)) {
    *error = e == simdjson::DEPTH_ERROR ? "more than 64 nested objects and arrays"
                                        : simdjson::error_message(e);
    return false;
  }
  JsonReader reader(out);
  if (reader.record(root)) return true;
  *error = reader.why();
  return false;
}

bool parse_ltsv_record(std::string_view line, Record& out, std::string* error) {
  out.clear();
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  size_t at = 0;
  while (at <= line.size()) {
    size_t tab = line.find('\t', at);
    if (tab == std::string_view::npos) tab = line.size();
    const std::string_view field = line.substr(at, tab - at);
    const size_t colon = field.find(':');
    if (colon == std::string_view::npos) {
      *error = "an LTSV field without ':' at byte " + std::to_string(at + 1);
      return false;
    }
    const std::string key = ltsv_unescape(field.substr(0, colon));
    const std::string value = ltsv_unescape(field.substr(colon + 1));
    int64_t n = 0;
    if (key == "ts" && parse_rfc3339(value)) {
      out.add(key, *parse_rfc3339(value));
    } else if (key == "duration" && !value.empty()) {
      char* end = nullptr;
      const double d = std::strtod(value.c_str(), &end);
      if (end != value.c_str() + value.size()) {
        out.add(key, value);
      } else if (const auto duration = seconds_to_duration(d)) {
        out.add(key, *duration);
      } else {
        *error = "a duration out of range at byte " + std::to_string(at + 1);
        return false;
      }
    } else if (key == "rows" &&
               std::from_chars(value.data(), value.data() + value.size(), n).ptr ==
                   value.data() + value.size() &&
               !value.empty()) {
      out.add(key, n);
    } else {
      out.add(key, value);
    }
    at = tab + 1;
  }
  return true;
}

}  // namespace tcpdp
