#include "cmd/config_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "common/utf8.h"

namespace tcpdp {

namespace {

const std::string kSizeLimit = std::to_string(kMaxConfigBytes >> 10) + "KiB";

// Index past the string that starts at text[i] (a quote), counting the lines it spans. A
// one-line string ends at its line's end at the latest: the parser reports it unterminated.
size_t past_string(std::string_view text, size_t i, size_t& line) {
  const char quote = text[i];
  const std::string triple(3, quote);
  const bool multiline = text.substr(i, 3) == triple;
  size_t j = i + (multiline ? 3 : 1);
  while (j < text.size()) {
    const char c = text[j];
    if (c == '\\' && quote == '"') {
      if (j + 1 < text.size() && text[j + 1] == '\n') ++line;
      j += 2;
    } else if (c == '\n') {
      if (!multiline) return j;
      ++line;
      ++j;
    } else if (c == quote && !multiline) {
      return j + 1;
    } else if (c == quote && text.substr(j, 3) == triple) {
      j += 3;
      // """a"""" is a" : up to two more quotes still belong to the string.
      for (int k = 0; k < 2 && j < text.size() && text[j] == quote; ++k) ++j;
      return j;
    } else {
      ++j;
    }
  }
  return std::min(j, text.size());
}

}  // namespace

bool read_config_file(const std::string& path, std::string& text, std::string* error) {
  const auto failed = [&](const std::string& why) {
    *error = path + ": " + why;
    return false;
  };
  // stat first: opening a device to find out what it is can have effects (or block).
  struct stat st {};
  if (stat(path.c_str(), &st) != 0)
    return failed("cannot open it: " + std::string(std::strerror(errno)));
  if (S_ISDIR(st.st_mode)) return failed("is a directory, not a configuration file");
  if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
    return failed("not a regular file (a device or a socket), not a configuration file");
  }
  const std::string too_large =
      "larger than " + kSizeLimit + ", the most a configuration file may be";
  if (st.st_size > static_cast<off_t>(kMaxConfigBytes)) return failed(too_large);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return failed("cannot open it: " + std::string(std::strerror(errno)));
  text.clear();
  std::string why;
  char buf[8192];
  // A pipe tells no size: read one byte past the limit to know it is over.
  while (why.empty()) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) why = "cannot read it: " + std::string(std::strerror(errno));
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
    if (text.size() > kMaxConfigBytes) why = too_large;
  }
  close(fd);
  return why.empty() || failed(why);
}

bool check_config_shape(std::string_view text, const std::string& name, std::string* error) {
  // The nesting level is that of tables, arrays and inline tables open, plus the dots of the
  // key being read; each open bracket remembers the level to go back to when it closes.
  struct Open {
    char bracket;
    size_t level;
  };
  std::vector<Open> open;
  // Bytes of arrays and inline tables: those closed, and where the open one started.
  size_t array_bytes = 0;
  size_t array_from = std::string_view::npos;
  size_t level = 0;
  bool in_key = true;  // at a line's start, in a table header, after '{' or ',' in an inline table
  size_t items = 0;
  size_t line = 1;
  const auto failed = [&](const std::string& why) {
    *error = name + ":" + std::to_string(line) + ": " + why;
    return false;
  };
  // TOML is UTF-8, and toml11 3.7 reads out of bounds on a string that is not (it rewinds a
  // location into another buffer to point at the bad byte), so no other bytes reach it.
  for (size_t i = 0; i < text.size();) {
    const auto byte = static_cast<uint8_t>(text[i]);
    if (byte == '\n') ++line;
    if (byte < 0x80) {
      ++i;
      continue;
    }
    const size_t len = utf8_sequence_length(text, i);
    if (len == 0) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "0x%02x", byte);
      return failed(std::string("byte ") + hex + " is not UTF-8, which a TOML file must be");
    }
    i += len;
  }
  line = 1;
  for (size_t i = 0; i < text.size();) {
    if (array_from != std::string_view::npos &&
        array_bytes + (i - array_from) > kMaxConfigArrayBytes) {
      return failed("arrays and inline tables longer than " +
                    std::to_string(kMaxConfigArrayBytes >> 10) +
                    "KiB in all; no key of tcpdp's configuration takes one");
    }
    const char c = text[i];
    if (c == '"' || c == '\'') {
      i = past_string(text, i, line);
      continue;
    }
    if (c == '#') {
      i = std::min(text.find('\n', i), text.size());
      continue;
    }
    if (c == '[' || c == '{' || c == '=' || c == ',') {
      if (++items > kMaxConfigItems) {
        return failed("more than " + std::to_string(kMaxConfigItems) +
                      " keys, tables and values; tcpdp's configuration has about a hundred keys");
      }
    }
    switch (c) {
      case '\n':
        ++line;
        if (open.empty()) {
          level = 0;
          in_key = true;
        }
        break;
      case '.':
        if (in_key) ++level;
        break;
      case '[':
      case '{':
        // '[' where a key is expected opens a table header, whose name is a key.
        if (open.empty() && !(in_key && c == '[')) array_from = i;
        open.push_back({c, level});
        ++level;
        in_key = in_key || c == '{';
        break;
      case ']':
      case '}':
        if (!open.empty()) {
          level = open.back().level;
          open.pop_back();
        }
        if (open.empty() && array_from != std::string_view::npos) {
          array_bytes += i + 1 - array_from;
          array_from = std::string_view::npos;
        }
        in_key = false;
        break;
      case '=':
        in_key = false;
        break;
      case ',':
        if (!open.empty()) {
          level = open.back().level + 1;
          in_key = open.back().bracket == '{';
        }
        break;
      default:
        break;
    }
    if (level > kMaxConfigNesting) {
      return failed("nested more than " + std::to_string(kMaxConfigNesting) +
                    " levels deep (tables, arrays, inline tables, dotted keys); tcpdp's "
                    "configuration is sections of keys");
    }
    ++i;
  }
  return true;
}

}  // namespace tcpdp
