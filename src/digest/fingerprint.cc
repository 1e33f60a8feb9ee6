#include "digest/fingerprint.h"

#include <array>
#include <cctype>
#include <cstdio>
#include <vector>

namespace tcpdp {
namespace {

enum class Tok : uint8_t {
  kWord,     // lower-cased keyword or identifier
  kQuoted,   // a quoted identifier, as written
  kValue,    // a literal or a parameter: `?`
  kList,     // `?+`
  kOp,       // an operator: + - * / < = ... ::
  kPunct,    // ( ) [ ] , ; .
};

struct Token {
  Tok kind;
  std::string text;
};

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' || c == '\0';
}
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_word_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool is_word_char(char c) { return is_word_start(c) || is_digit(c) || c == '$'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Words after which a `-` starts a negative number rather than a subtraction.
bool takes_operand(const Token& t) {
  static constexpr std::array<std::string_view, 28> kWords = {
      "select", "where",  "and",   "or",     "not",  "by",    "set",      "values", "in",  "when",
      "then",   "else",   "return", "limit", "offset", "between", "like", "is", "case", "having",
      "on",     "as",     "distinct", "all", "any",  "some",  "returning", "interval"};
  if (t.kind == Tok::kOp) return true;
  if (t.kind == Tok::kPunct) return t.text != ")" && t.text != "]";
  if (t.kind != Tok::kWord) return false;
  for (std::string_view w : kWords) {
    if (t.text == w) return true;
  }
  return false;
}

class Lexer {
 public:
  Lexer(std::string_view sql, SqlDialect dialect) : s_(sql), mysql_(dialect == SqlDialect::kMySql) {}

  std::vector<Token> run() {
    while (i_ < s_.size()) step();
    return std::move(out_);
  }

 private:
  void value() {
    // A sign right before a number is part of it when an operand is expected there.
    if (!out_.empty() && out_.back().kind == Tok::kOp && out_.back().text == "-" &&
        (out_.size() == 1 || takes_operand(out_[out_.size() - 2]))) {
      out_.pop_back();
    }
    out_.push_back({Tok::kValue, "?"});
  }
  void plain_value() { out_.push_back({Tok::kValue, "?"}); }

  // A quoted string from s_[i_] (the opening quote); `backslash`: \ escapes the next byte.
  void skip_quoted(char q, bool backslash) {
    ++i_;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (backslash && c == '\\') {
        i_ += 2;
      } else if (c == q) {
        if (i_ + 1 < s_.size() && s_[i_ + 1] == q) {
          i_ += 2;  // a doubled quote stands for one
        } else {
          ++i_;
          return;
        }
      } else {
        ++i_;
      }
    }
  }

  void step() {
    const char c = s_[i_];
    if (is_space(c)) {
      ++i_;
      return;
    }
    if (c == '-' && i_ + 1 < s_.size() && s_[i_ + 1] == '-' &&
        (!mysql_ || i_ + 2 >= s_.size() || is_space(s_[i_ + 2]))) {
      while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      return;
    }
    if (c == '#' && mysql_) {
      while (i_ < s_.size() && s_[i_] != '\n') ++i_;
      return;
    }
    if (c == '/' && i_ + 1 < s_.size() && s_[i_ + 1] == '*') {
      // PostgreSQL's block comments nest; MySQL's do not.
      int depth = 0;
      while (i_ < s_.size()) {
        if (s_.compare(i_, 2, "/*") == 0 && (depth == 0 || !mysql_)) {
          ++depth;
          i_ += 2;
        } else if (s_.compare(i_, 2, "*/") == 0) {
          i_ += 2;
          if (--depth == 0) break;
        } else {
          ++i_;
        }
      }
      return;
    }
    if (c == '\'') {
      skip_quoted('\'', mysql_);
      value();
      return;
    }
    if (c == '"') {
      const size_t from = i_;
      skip_quoted('"', mysql_);
      if (mysql_) {
        value();  // a string, unless ANSI_QUOTES
      } else {
        out_.push_back({Tok::kQuoted, std::string(s_.substr(from, i_ - from))});
      }
      return;
    }
    if (c == '`' && mysql_) {
      const size_t from = i_;
      skip_quoted('`', false);
      out_.push_back({Tok::kQuoted, std::string(s_.substr(from, i_ - from))});
      return;
    }
    if (c == '$' && !mysql_) {
      size_t j = i_ + 1;
      if (j < s_.size() && is_digit(s_[j])) {  // $1: a parameter
        while (j < s_.size() && is_digit(s_[j])) ++j;
        i_ = j;
        plain_value();
        return;
      }
      while (j < s_.size() && (is_word_start(s_[j]) || is_digit(s_[j]))) ++j;
      if (j < s_.size() && s_[j] == '$') {  // $tag$ ... $tag$
        const std::string_view tag = s_.substr(i_, j + 1 - i_);
        const size_t end = s_.find(tag, j + 1);
        i_ = end == std::string_view::npos ? s_.size() : end + tag.size();
        value();
        return;
      }
    }
    if (c == '?' && mysql_) {
      ++i_;
      plain_value();
      return;
    }
    if (is_digit(c) || (c == '.' && i_ + 1 < s_.size() && is_digit(s_[i_ + 1]))) {
      number();
      return;
    }
    if (is_word_start(c)) {
      word();
      return;
    }
    if (c == '(' || c == ')' || c == '[' || c == ']' || c == ',' || c == ';' || c == '.') {
      out_.push_back({Tok::kPunct, std::string(1, c)});
      ++i_;
      return;
    }
    // An operator: a run of operator characters (PostgreSQL's rule, which MySQL's fit).
    static constexpr std::string_view kOpChars = "+-*/<>=~!@#%^&|?:";
    size_t j = i_;
    while (j < s_.size() && kOpChars.find(s_[j]) != std::string_view::npos) {
      if (j > i_ && (s_.compare(j, 2, "--") == 0 || s_.compare(j, 2, "/*") == 0)) break;
      if (mysql_ && (s_[j] == '#' || s_[j] == '?')) break;
      ++j;
    }
    if (j == i_) {
      ++j;  // anything else stands alone
    } else {
      // As PostgreSQL lexes: a longer operator does not end in + or - unless it holds one of
      // ~ ! @ # % ^ & | ` ? (so "=-1" is "=", "-1").
      const std::string_view run = s_.substr(i_, j - i_);
      if (run.find_first_of("~!@#%^&|`?") == std::string_view::npos) {
        while (j - i_ > 1 && (s_[j - 1] == '+' || s_[j - 1] == '-')) --j;
      }
    }
    out_.push_back({Tok::kOp, std::string(s_.substr(i_, j - i_))});
    i_ = j;
  }

  // A digit of base `base`, or (PostgreSQL 16) an underscore between digits.
  bool digit_at(size_t j, int base) const {
    if (j >= s_.size()) return false;
    const char c = s_[j];
    if (c == '_') return !mysql_ && j > i_ && digit_at(j + 1, base);
    if (base == 16) return std::isxdigit(static_cast<unsigned char>(c)) != 0;
    return c >= '0' && c < static_cast<char>('0' + base);
  }

  void number() {
    size_t j = i_;
    const char prefix = j + 1 < s_.size() && s_[j] == '0' ? lower(s_[j + 1]) : 0;
    const int base = prefix == 'x' ? 16 : prefix == 'b' ? 2 : prefix == 'o' && !mysql_ ? 8 : 10;
    if (base != 10) {
      // 0x1F, 0b101 (both), 0o17 (PostgreSQL 16); PostgreSQL also takes 0x_1F.
      j += 2;
      if (!mysql_ && j < s_.size() && s_[j] == '_') ++j;
      while (digit_at(j, base)) ++j;
    } else {
      while (digit_at(j, 10)) ++j;
      if (j < s_.size() && s_[j] == '.') {
        ++j;
        while (digit_at(j, 10)) ++j;
      }
      if (j < s_.size() && (s_[j] == 'e' || s_[j] == 'E')) {
        size_t k = j + 1;
        if (k < s_.size() && (s_[k] == '+' || s_[k] == '-')) ++k;
        if (k < s_.size() && is_digit(s_[k])) {
          j = k;
          while (j < s_.size() && is_digit(s_[j])) ++j;
        }
      }
    }
    if (j < s_.size() && is_word_start(s_[j]) && s_[i_] != '.') {
      word();  // 1st, 2col: an identifier that starts with digits (MySQL)
      return;
    }
    i_ = j;
    value();
  }

  void word() {
    size_t j = i_;
    while (j < s_.size() && (is_word_char(s_[j]) || is_digit(s_[j]))) ++j;
    std::string w;
    for (size_t k = i_; k < j; ++k) w += lower(s_[k]);
    i_ = j;
    // A string with a prefix: E'', B'', X'', N'', U&'' (PostgreSQL), _charset'' (MySQL).
    if (i_ < s_.size() && s_[i_] == '\'' &&
        (w == "e" || w == "b" || w == "x" || w == "n" || (mysql_ && w[0] == '_'))) {
      skip_quoted('\'', mysql_ || w == "e");
      value();
      return;
    }
    if (!mysql_ && w == "u" && s_.compare(i_, 2, "&'") == 0) {
      ++i_;
      skip_quoted('\'', false);
      value();
      return;
    }
    if (w == "true" || w == "false" || w == "null") {
      plain_value();
      return;
    }
    out_.push_back({Tok::kWord, std::move(w)});
  }

  std::string_view s_;
  bool mysql_;
  size_t i_ = 0;
  std::vector<Token> out_;
};

bool is(const Token& t, Tok kind, std::string_view text) { return t.kind == kind && t.text == text; }

// From `at` (a "("): the index after a bracketed list of values only, or 0 when it is not one.
size_t values_only(const std::vector<Token>& t, size_t at) {
  if (at >= t.size() || !is(t[at], Tok::kPunct, "(")) return 0;
  size_t i = at + 1;
  for (;;) {
    if (i >= t.size() || (t[i].kind != Tok::kValue && t[i].kind != Tok::kList)) return 0;
    ++i;
    if (i < t.size() && is(t[i], Tok::kPunct, ")")) return i + 1;
    if (i >= t.size() || !is(t[i], Tok::kPunct, ",")) return 0;
    ++i;
  }
}

// For each "(" the index after its ")", 0 for other tokens and a "(" never closed.
std::vector<size_t> group_ends(const std::vector<Token>& t) {
  std::vector<size_t> ends(t.size(), 0);
  std::vector<size_t> open;
  for (size_t i = 0; i < t.size(); ++i) {
    if (is(t[i], Tok::kPunct, "(")) {
      open.push_back(i);
    } else if (is(t[i], Tok::kPunct, ")") && !open.empty()) {
      ends[open.back()] = i + 1;
      open.pop_back();
    }
  }
  return ends;
}

bool same(const std::vector<Token>& t, size_t a, size_t b, size_t n) {
  for (size_t k = 0; k < n; ++k) {
    if (t[a + k].kind != t[b + k].kind || t[a + k].text != t[b + k].text) return false;
  }
  return true;
}

std::vector<Token> collapse_lists(std::vector<Token> t) {
  const std::vector<size_t> group_end = group_ends(t);
  std::vector<Token> out;
  out.reserve(t.size());
  for (size_t i = 0; i < t.size();) {
    const bool in = t[i].kind == Tok::kWord && t[i].text == "in";
    const bool values = t[i].kind == Tok::kWord && t[i].text == "values";
    out.push_back(std::move(t[i]));
    ++i;
    if (in) {
      if (const size_t end = values_only(t, i)) {
        out.push_back({Tok::kPunct, "("});
        out.push_back({Tok::kList, "?+"});
        out.push_back({Tok::kPunct, ")"});
        i = end;
      }
    } else if (values) {
      // Rows of values only are (?+); a row repeated (the same shape) is written once.
      const size_t first = i;
      const size_t first_end = first < t.size() ? group_end[first] : 0;
      if (!first_end) continue;
      const bool first_values = values_only(t, first) != 0;
      size_t end = first_end;
      while (end + 1 < t.size() && is(t[end], Tok::kPunct, ",")) {
        const size_t next = end + 1;
        const size_t next_end = group_end[next];
        const bool both_values = first_values && values_only(t, next);
        if (!next_end || (!both_values && (next_end - next != first_end - first ||
                                           !same(t, first, next, first_end - first)))) {
          break;
        }
        end = next_end;
      }
      if (first_values) {
        out.push_back({Tok::kPunct, "("});
        out.push_back({Tok::kList, "?+"});
        out.push_back({Tok::kPunct, ")"});
      } else {
        for (size_t k = first; k < first_end; ++k) out.push_back(std::move(t[k]));
      }
      i = end;
    }
  }
  return out;
}

// A statement longer than kFingerprintMax: its tokens up to the last point the cut cannot reach
// (its last token may be cut short) where every bracket opened is closed again, so that where
// the cut falls in a long list does not matter.
void drop_cut_tail(std::vector<Token>& t) {
  if (!t.empty()) t.pop_back();
  size_t keep = 0;
  int depth = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    if (is(t[i], Tok::kPunct, "(")) ++depth;
    if (is(t[i], Tok::kPunct, ")") && depth > 0) --depth;
    if (depth == 0) keep = i + 1;
  }
  t.resize(keep);
  while (!t.empty() && (is(t.back(), Tok::kPunct, ",") || is(t.back(), Tok::kPunct, ";"))) {
    t.pop_back();
  }
}

}  // namespace

std::string fingerprint(std::string_view sql, SqlDialect dialect) {
  const bool cut = sql.size() > kFingerprintMax;
  std::vector<Token> tokens = Lexer(sql.substr(0, kFingerprintMax), dialect).run();
  if (cut) drop_cut_tail(tokens);
  tokens = collapse_lists(std::move(tokens));
  if (cut) tokens.push_back({Tok::kWord, "..."});
  while (!tokens.empty() && is(tokens.back(), Tok::kPunct, ";")) tokens.pop_back();
  std::string out;
  const Token* prev = nullptr;
  for (const Token& t : tokens) {
    if (prev) {
      const bool tight_after = is(*prev, Tok::kPunct, "(") || is(*prev, Tok::kPunct, "[") ||
                               is(*prev, Tok::kPunct, ".") || is(*prev, Tok::kOp, "::");
      const bool tight_before =
          is(t, Tok::kPunct, ",") || is(t, Tok::kPunct, ")") || is(t, Tok::kPunct, "]") ||
          is(t, Tok::kPunct, ";") || is(t, Tok::kPunct, ".") || is(t, Tok::kOp, "::") ||
          (is(t, Tok::kPunct, "(") && (prev->kind == Tok::kWord || prev->kind == Tok::kQuoted)) ||
          (is(t, Tok::kPunct, "[") && (prev->kind == Tok::kWord || prev->kind == Tok::kQuoted ||
                                       is(*prev, Tok::kPunct, ")") || is(*prev, Tok::kPunct, "]")));
      if (!tight_after && !tight_before) out += ' ';
    }
    out += t.text;
    prev = &t;
  }
  return out;
}

std::string fingerprint_id(std::string_view fingerprint) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : fingerprint) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

}  // namespace tcpdp
