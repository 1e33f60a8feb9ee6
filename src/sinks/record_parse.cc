#include "sinks/record_parse.h"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>

namespace tcpdp {
namespace {

void put_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

// Seconds as a duration: finite, from 0 to about 31 years; nothing otherwise.
std::optional<Duration> seconds_to_duration(double d) {
  if (!std::isfinite(d) || d < 0 || d > 1e9) return std::nullopt;
  return Duration{static_cast<int64_t>(std::llround(d * 1e6))};
}

class JsonParser {
 public:
  JsonParser(std::string_view s, Record& out) : s_(s), out_(out) {}

  bool record(std::string* error) {
    space();
    if (!object("", /*top=*/true)) return fail(error);
    space();
    if (i_ != s_.size()) {
      why_ = "text after the object";
      return fail(error);
    }
    return true;
  }

 private:
  bool fail(std::string* error) {
    *error = (why_.empty() ? std::string("not JSON") : why_) + " at byte " + std::to_string(i_ + 1);
    return false;
  }
  void space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\r' || s_[i_] == '\n'))
      ++i_;
  }
  bool eat(char c) {
    space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool hex4(uint32_t& v) {
    if (i_ + 4 > s_.size()) return false;
    v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = s_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<uint32_t>(c - 'A' + 10);
      else
        return false;
    }
    return true;
  }
  bool string(std::string& out) {
    out.clear();
    if (!eat('"')) {
      why_ = "a string is wanted";
      return false;
    }
    while (i_ < s_.size()) {
      const char c = s_[i_++];
      if (c == '"') return true;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= s_.size()) break;
      const char e = s_[i_++];
      switch (e) {
        case '"':
          out += '"';
          break;
        case '\\':
          out += '\\';
          break;
        case '/':
          out += '/';
          break;
        case 'b':
          out += '\b';
          break;
        case 'f':
          out += '\f';
          break;
        case 'n':
          out += '\n';
          break;
        case 'r':
          out += '\r';
          break;
        case 't':
          out += '\t';
          break;
        case 'u': {
          uint32_t cp;
          if (!hex4(cp)) {
            why_ = "a bad \\u escape";
            return false;
          }
          if (cp >= 0xd800 && cp < 0xdc00 && s_.substr(i_, 2) == "\\u") {
            i_ += 2;
            uint32_t low;
            if (!hex4(low) || low < 0xdc00 || low >= 0xe000) {
              why_ = "a bad surrogate pair";
              return false;
            }
            cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
          }
          put_utf8(cp, out);
          break;
        }
        default:
          why_ = "a bad escape";
          return false;
      }
    }
    why_ = "an unterminated string";
    return false;
  }
  bool value(std::string_view key) {
    space();
    if (i_ >= s_.size()) {
      why_ = "a value is wanted";
      return false;
    }
    const char c = s_[i_];
    if (c == '{' || c == '[') {
      if (depth_ >= kMaxDepth) {
        why_ = "more than " + std::to_string(kMaxDepth) + " nested objects and arrays";
        return false;
      }
      ++depth_;
      const bool ok = c == '{' ? object(key, false) : array(key);
      --depth_;
      return ok;
    }
    if (c == '"') {
      std::string text;
      if (!string(text)) return false;
      if (key == "ts") {
        if (const auto ts = parse_rfc3339(text)) {
          out_.add(key, *ts);
          return true;
        }
      }
      out_.add(key, text);
      return true;
    }
    for (const auto& [word, kind] :
         {std::pair<std::string_view, int>{"true", 1}, {"false", 0}, {"null", 2}}) {
      if (s_.substr(i_, word.size()) == word) {
        i_ += word.size();
        if (kind == 2)
          out_.add(key, nullptr);
        else
          out_.add(key, kind == 1);
        return true;
      }
    }
    // A number: an integer stays one; a duration is whole microseconds.
    size_t j = i_;
    while (j < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[j])) || s_[j] == '-' ||
                             s_[j] == '+' || s_[j] == '.' || s_[j] == 'e' || s_[j] == 'E')) {
      ++j;
    }
    const std::string_view text = s_.substr(i_, j - i_);
    int64_t n = 0;
    if (key != "duration") {
      const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
      if (ec == std::errc() && p == text.data() + text.size() && !text.empty()) {
        out_.add(key, n);
        i_ = j;
        return true;
      }
    }
    const std::string copy(text);
    char* end = nullptr;
    const double d = std::strtod(copy.c_str(), &end);
    if (copy.empty() || end != copy.c_str() + copy.size()) {
      why_ = "a value is wanted";
      return false;
    }
    if (key == "duration") {
      const auto duration = seconds_to_duration(d);
      if (!duration) {
        why_ = "a duration out of range";
        return false;
      }
      out_.add(key, *duration);
    } else {
      out_.add(key, d);
    }
    i_ = j;
    return true;
  }
  bool array(std::string_view key) {
    ++i_;
    out_.begin_array(key);
    if (!eat(']')) {
      do {
        if (!value("")) return false;
      } while (eat(','));
      if (!eat(']')) {
        why_ = "] is wanted";
        return false;
      }
    }
    out_.end();
    return true;
  }
  bool object(std::string_view key, bool top) {
    if (!eat('{')) {
      why_ = top ? "a JSON object is wanted" : "{ is wanted";
      return false;
    }
    if (!top) out_.begin_object(key);
    if (!eat('}')) {
      std::string name;
      do {
        if (!string(name) || !eat(':')) {
          if (why_.empty()) why_ = ": is wanted";
          return false;
        }
        if (!value(name)) return false;
      } while (eat(','));
      if (!eat('}')) {
        why_ = "} is wanted";
        return false;
      }
    }
    if (!top) out_.end();
    return true;
  }

  // tcpdp's records nest two deep; far deeper is not one of them (and would exhaust the stack).
  static constexpr int kMaxDepth = 64;

  std::string_view s_;
  Record& out_;
  size_t i_ = 0;
  int depth_ = 0;
  std::string why_;
};

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
  return JsonParser(line, out).record(error);
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
