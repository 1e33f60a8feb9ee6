#include "sinks/pg_redact.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <vector>

namespace tcpdp {
namespace {

constexpr std::string_view kMask = "***";

// Where a password is written in the connection string: [begin, end).
struct Span {
  size_t begin = 0;
  size_t end = 0;
};

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

bool is_secret_key(std::string_view key) { return key == "password" || key == "sslpassword"; }

// What libpq takes before `=`. A word it does not know there is an error that quotes it: after a
// password, it is read as the password's rest (one with an unescaped quote, space or `&` in it).
bool is_keyword(std::string_view word) {
  static const std::vector<std::string> keywords = [] {
    std::vector<std::string> out{"ssl"};  // a URI parameter libpq also takes
    if (PQconninfoOption* options = PQconndefaults()) {
      for (PQconninfoOption* o = options; o->keyword; ++o) out.emplace_back(o->keyword);
      PQconninfoFree(options);
    }
    return out;
  }();
  return std::find(keywords.begin(), keywords.end(), word) != keywords.end();
}

// libpq takes postgresql:// and postgres:// as URIs; any scheme:// is read as one here, in any
// case, so that a mistyped one is redacted as a URI too (libpq quotes it whole in its message).
bool is_uri(std::string_view s) {
  const size_t sep = s.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;
  return std::all_of(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(sep), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX sequences decoded; malformed ones kept as written.
std::string percent_decode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A keyword=value value as libpq reads it: quotes taken off, backslash escapes resolved.
std::string unquote(std::string_view s) {
  if (!s.empty() && s.front() == '\'') s.remove_prefix(1);
  if (!s.empty() && s.back() == '\'') s.remove_suffix(1);
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) ++i;
    out += s[i];
  }
  return out;
}

// The URI's user info runs to its first `@` when no `/` comes before it (libpq's reading), but
// a password with an unencoded `/`, `?` or `@` is split by libpq into a host, port, database or
// query parameter that its messages quote: so here the user info runs to the string's last `@`
// (after an IPv6 host in brackets there is none). The password is after its first `:`. Then
// the query's password parameters, from where libpq sees the query start.
void uri_spans(std::string_view s, std::vector<Span>& out) {
  constexpr size_t npos = std::string_view::npos;
  const size_t start = s.find("://") + 3;
  const size_t first_stop = s.find_first_of("@/", start);
  const size_t user_end = first_stop != npos && s[first_stop] == '@' ? first_stop : npos;
  const size_t last_at = s.rfind('@');
  if (last_at != npos && last_at >= start && s[start] != '[') {
    const size_t colon = s.find(':', start);
    if (colon < last_at) out.push_back({colon + 1, last_at});
  }
  const size_t query = s.find('?', user_end == npos ? start : user_end);
  if (query == npos) return;
  bool in_password = false;
  for (size_t p = query + 1; p <= s.size();) {
    size_t param_end = s.find('&', p);
    if (param_end == npos) param_end = s.size();
    const std::string_view param = s.substr(p, param_end - p);
    const size_t eq = param.find('=');
    const std::string key = eq == npos ? std::string() : percent_decode(param.substr(0, eq));
    if (in_password && (eq == npos || !is_keyword(key))) {
      out.back().end = param_end;
    } else {
      in_password = is_secret_key(key);
      if (in_password) out.push_back({p + eq + 1, param_end});
    }
    p = param_end + 1;
  }
}

// keyword = value pairs as libpq splits them: a value is 'quoted' (with \ escapes, running to
// the end when unterminated) or runs to white space. A password keyword missing its `=` still
// takes the next word as its value.
void keyword_spans(std::string_view s, std::vector<Span>& out) {
  size_t i = 0;
  const auto skip_space = [&] {
    while (i < s.size() && is_space(s[i])) ++i;
  };
  const auto skip_value = [&] {
    const bool quoted = i < s.size() && s[i] == '\'';
    if (quoted) ++i;
    while (i < s.size() && (quoted ? s[i] != '\'' : !is_space(s[i]))) {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      ++i;
    }
    if (quoted && i < s.size()) ++i;  // the closing quote
  };
  bool in_password = false;
  for (;;) {
    skip_space();
    if (i == s.size()) return;
    const size_t key_begin = i;
    while (i < s.size() && !is_space(s[i]) && s[i] != '=') ++i;
    const size_t key_end = i;
    const std::string_view key = s.substr(key_begin, key_end - key_begin);
    skip_space();
    const bool has_value = i < s.size() && s[i] == '=';
    if (has_value) {
      ++i;
      skip_space();
    }
    if (in_password && !(has_value && is_keyword(key))) {
      if (has_value) skip_value();
      out.back().end = has_value ? i : key_end;
      continue;
    }
    in_password = is_secret_key(key);
    if (!has_value && !in_password) continue;
    const size_t value_begin = i;
    skip_value();
    if (in_password) out.push_back({value_begin, i});
  }
}

std::vector<Span> password_spans(std::string_view conninfo) {
  std::vector<Span> spans;
  if (is_uri(conninfo)) {
    uri_spans(conninfo, spans);
  } else {
    keyword_spans(conninfo, spans);
  }
  // In order, those that overlap (a broad user info and a query parameter) merged.
  std::sort(spans.begin(), spans.end(),
            [](const Span& a, const Span& b) { return a.begin < b.begin; });
  std::vector<Span> merged;
  for (const Span& s : spans) {
    if (s.begin == s.end) continue;  // an empty value
    if (!merged.empty() && s.begin <= merged.back().end) {
      merged.back().end = std::max(merged.back().end, s.end);
    } else {
      merged.push_back(s);
    }
  }
  return merged;
}

// The length of the longest run at message[at] that is found somewhere in secret.
size_t run_in(std::string_view message, size_t at, std::string_view secret) {
  size_t best = 0;
  for (size_t j = 0; j < secret.size(); ++j) {
    size_t n = 0;
    while (at + n < message.size() && j + n < secret.size() && message[at + n] == secret[j + n]) {
      ++n;
    }
    best = std::max(best, n);
  }
  return best;
}

bool shares_run(std::string_view text, std::string_view secret, size_t length) {
  for (size_t at = 0; at + length <= text.size(); ++at) {
    if (run_in(text, at, secret) >= length) return true;
  }
  return false;
}

// Found in conninfo, and every time within or across a password.
bool only_in_passwords(std::string_view text, std::string_view conninfo,
                       const std::vector<Span>& spans) {
  bool found = false;
  for (size_t at = conninfo.find(text); at != std::string_view::npos;
       at = conninfo.find(text, at + 1)) {
    const bool in_password = std::any_of(spans.begin(), spans.end(), [&](const Span& s) {
      return at < s.end && at + text.size() > s.begin;
    });
    if (!in_password) return false;
    found = true;
  }
  return found;
}

}  // namespace

std::string redact_conninfo(std::string_view conninfo) {
  std::string out;
  size_t at = 0;
  for (const Span& s : password_spans(conninfo)) {
    out.append(conninfo.substr(at, s.begin - at));
    out.append(kMask);
    at = s.end;
  }
  out.append(conninfo.substr(at));
  return out;
}

std::string redact_secrets(std::string_view message, std::string_view conninfo) {
  const std::vector<Span> spans = password_spans(conninfo);
  if (spans.empty()) return std::string(message);
  std::vector<std::string> secrets;
  for (const Span& s : spans) {
    const std::string_view raw = conninfo.substr(s.begin, s.end - s.begin);
    for (std::string form : {std::string(raw), unquote(raw), percent_decode(raw)}) {
      if (!form.empty() && std::find(secrets.begin(), secrets.end(), form) == secrets.end()) {
        secrets.push_back(std::move(form));
      }
    }
  }

  // The whole connection string, shown redacted.
  std::string text;
  const std::string shown = redact_conninfo(conninfo);
  for (size_t at = 0;;) {
    const size_t found = message.find(conninfo, at);
    text.append(message.substr(at, found - at));
    if (found == std::string_view::npos) break;
    text.append(shown);
    at = found + conninfo.size();
  }

  // Quoted parts: libpq quotes the piece of the string it could not read.
  std::string quoted_done;
  for (size_t at = 0;;) {
    const size_t open = text.find('"', at);
    const size_t close = open == std::string::npos ? open : text.find('"', open + 1);
    if (close == std::string::npos) {
      quoted_done.append(text, at);
      break;
    }
    const std::string_view inside = std::string_view(text).substr(open + 1, close - open - 1);
    const bool secret =
        !inside.empty() && (only_in_passwords(inside, conninfo, spans) ||
                            std::any_of(secrets.begin(), secrets.end(), [&](const std::string& s) {
                              return shares_run(inside, s, std::min<size_t>(3, s.size()));
                            }));
    quoted_done.append(text, at, open + 1 - at);
    quoted_done.append(secret ? kMask : inside);
    quoted_done += '"';
    at = close + 1;
  }

  // Runs of a password anywhere; passwords of 1 or 2 characters only when quoted (above), or
  // every such letter of the message would go.
  std::string out;
  for (size_t at = 0; at < quoted_done.size();) {
    size_t longest = 0;
    for (const std::string& s : secrets) {
      if (s.size() < 3) continue;
      const size_t n = run_in(quoted_done, at, s);
      if (n >= std::min<size_t>(4, s.size())) longest = std::max(longest, n);
    }
    if (longest > 0) {
      out.append(kMask);
      at += longest;
    } else {
      out += quoted_done[at++];
    }
  }
  return out;
}

}  // namespace tcpdp
