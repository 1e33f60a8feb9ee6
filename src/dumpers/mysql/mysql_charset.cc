#include "dumpers/mysql/mysql_charset.h"

#include <iconv.h>

#include <cerrno>
#include <map>
#include <memory>

namespace tcpdp::mysql {
namespace {

struct Known {
  const char* name;
  const char* iconv;
};

// MySQL's "latin1" is Windows-1252, not ISO-8859-1.
constexpr Known kCharsets[] = {
    {"utf8mb4", nullptr},     {"utf8mb3", nullptr},     {"utf8", nullptr},
    {"ascii", nullptr},       {"binary", nullptr},      {"latin1", "CP1252"},
    {"latin2", "ISO-8859-2"}, {"latin5", "ISO-8859-9"}, {"latin7", "ISO-8859-13"},
    {"greek", "ISO-8859-7"},  {"hebrew", "ISO-8859-8"}, {"cp1250", "CP1250"},
    {"cp1251", "CP1251"},     {"cp1256", "CP1256"},     {"cp1257", "CP1257"},
    {"cp850", "CP850"},       {"cp852", "CP852"},       {"cp866", "CP866"},
    {"koi8r", "KOI8-R"},      {"koi8u", "KOI8-U"},      {"tis620", "TIS-620"},
    {"sjis", "SHIFT_JIS"},    {"cp932", "CP932"},       {"ujis", "EUC-JP"},
    {"eucjpms", "EUC-JP-MS"}, {"euckr", "EUC-KR"},      {"gbk", "GBK"},
    {"gb2312", "GB2312"},     {"big5", "BIG5"},
};

// Collation ids of the character sets above, as MySQL and MariaDB number them.
const char* charset_name_of(uint16_t id) {
  switch (id) {
    case 1:
    case 84:
      return "big5";
    case 2:
    case 9:
    case 21:
    case 27:
    case 77:
      return "latin2";
    case 4:
    case 80:
      return "cp850";
    case 5:
    case 8:
    case 15:
    case 31:
    case 47:
    case 48:
    case 49:
    case 94:
      return "latin1";
    case 7:
    case 74:
      return "koi8r";
    case 11:
    case 65:
      return "ascii";
    case 12:
    case 91:
      return "ujis";
    case 13:
    case 88:
      return "sjis";
    case 14:
    case 23:
    case 50:
    case 51:
    case 52:
      return "cp1251";
    case 16:
    case 71:
      return "hebrew";
    case 18:
    case 89:
      return "tis620";
    case 19:
    case 85:
      return "euckr";
    case 20:
    case 41:
    case 42:
    case 79:
      return "latin7";
    case 22:
    case 75:
      return "koi8u";
    case 24:
    case 86:
      return "gb2312";
    case 25:
    case 70:
      return "greek";
    case 26:
    case 34:
    case 44:
    case 66:
    case 99:
      return "cp1250";
    case 28:
    case 87:
      return "gbk";
    case 29:
    case 58:
    case 59:
      return "cp1257";
    case 30:
    case 78:
      return "latin5";
    case 33:
    case 83:
      return "utf8mb3";
    case 36:
    case 68:
      return "cp866";
    case 40:
    case 81:
      return "cp852";
    case 45:
    case 46:
      return "utf8mb4";
    case 57:
    case 67:
      return "cp1256";
    case 63:
      return "binary";
    case 95:
    case 96:
      return "cp932";
    case 97:
    case 98:
      return "eucjpms";
    default:
      if (id >= 192 && id <= 215) return "utf8mb3";
      if ((id >= 224 && id <= 247) || id == 255 || id >= 256) return "utf8mb4";
      return nullptr;
  }
}

struct IconvCloser {
  void operator()(void* cd) const { iconv_close(static_cast<iconv_t>(cd)); }
};

// One converter per character set and thread, opened on first use.
iconv_t converter(const char* from) {
  thread_local std::map<std::string, std::unique_ptr<void, IconvCloser>> open;
  auto it = open.find(from);
  if (it == open.end()) {
    iconv_t cd = iconv_open("UTF-8", from);
    if (cd == reinterpret_cast<iconv_t>(-1)) return cd;
    it = open.emplace(from, std::unique_ptr<void, IconvCloser>(cd)).first;
  }
  return static_cast<iconv_t>(it->second.get());
}

void append_escaped_byte(std::string& out, uint8_t b) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += "\\x";
  out += kHex[b >> 4];
  out += kHex[b & 15];
}

}  // namespace

Charset charset_named(std::string_view name) {
  for (const Known& k : kCharsets) {
    if (name == k.name) return {k.name, k.iconv};
  }
  return {std::string(name), nullptr};
}

Charset charset_of_collation(uint16_t id) {
  if (const char* name = charset_name_of(id)) return charset_named(name);
  return {"collation " + std::to_string(id), nullptr};
}

namespace {

// `bytes` in `cs` as UTF-8 into out. A byte that does not decode is written as \xNN and decoding
// goes on after it, or with `exact` the conversion stops there and answers false.
bool convert(std::string_view bytes, const Charset& cs, bool exact, std::string& out) {
  out.assign(bytes);
  if (!cs.iconv) return true;
  bool ascii = true;
  for (char c : bytes) ascii &= static_cast<uint8_t>(c) < 0x80;
  if (ascii) return true;  // every supported set is ASCII-compatible
  iconv_t cd = converter(cs.iconv);
  if (cd == reinterpret_cast<iconv_t>(-1)) return !exact;
  iconv(cd, nullptr, nullptr, nullptr, nullptr);
  out.assign(bytes.size() * 4 + 16, '\0');
  char* in = const_cast<char*>(bytes.data());
  size_t in_left = bytes.size();
  size_t used = 0;
  while (in_left > 0) {
    char* dst = out.data() + used;
    size_t dst_left = out.size() - used;
    const size_t rc = iconv(cd, &in, &in_left, &dst, &dst_left);
    used = static_cast<size_t>(dst - out.data());
    if (rc != static_cast<size_t>(-1)) break;
    if (errno == E2BIG) {
      out.resize(out.size() * 2);
      continue;
    }
    // EILSEQ or EINVAL: a byte that does not decode.
    if (exact) return false;
    std::string escaped;
    append_escaped_byte(escaped, static_cast<uint8_t>(*in));
    if (out.size() - used < escaped.size()) out.resize(out.size() * 2 + escaped.size());
    out.replace(used, escaped.size(), escaped);
    used += escaped.size();
    ++in;
    --in_left;
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
  }
  out.resize(used);
  return true;
}

}  // namespace

std::string to_utf8(std::string_view bytes, const Charset& cs) {
  std::string out;
  convert(bytes, cs, false, out);
  return out;
}

bool to_utf8_exact(std::string_view bytes, const Charset& cs, std::string& out) {
  return convert(bytes, cs, true, out);
}

}  // namespace tcpdp::mysql
