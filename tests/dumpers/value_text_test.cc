#include "dumpers/value_text.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "sinks/format.h"

using namespace tcpdp;

namespace {

std::string hex_of(const std::string& bytes) {
  return hex_value({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

}  // namespace

// Well-formed UTF-8 as RFC 3629 section 4 defines it: no overlong forms, no surrogates
// (U+D800..U+DFFF), nothing past U+10FFFF, no lone or missing continuation bytes.
TEST_CASE("plain text: valid UTF-8 that does not begin with \\x") {
  for (const std::string& s : std::vector<std::string>{"", "abc", "caf\xc3\xa9", "\xe2\x82\xac 5",
                                                       "\xf0\x9f\x90\x98", "\xf4\x8f\xbf\xbf", "\\",
                                                       "\\y", "a\\x41", std::string("a\0b", 3)}) {
    CHECK_MESSAGE(plain_text(s), s);
  }
  for (const std::string& s : std::vector<std::string>{
           "\\x", "\\x41", "\xc0\x80", "\xc1\xbf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xed\xbf\xbf",
           "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xe2\x82", "\x80", "abc\xff", "\xfe\xff",
           "\xc3"}) {
    CHECK_MESSAGE(!plain_text(s), hex_of(s));
  }
}

TEST_CASE("hex form: \\x and two lower-case digits a byte, every byte kept") {
  CHECK(hex_of("") == "\\x");
  CHECK(hex_of(std::string("\x00\xff\x41\x0a", 4)) == "\\x00ff410a");
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  const std::string h = hex_of(all);
  REQUIRE(h.size() == 2 + 512);
  CHECK(h.substr(0, 8) == "\\x000102");
  CHECK(h.substr(h.size() - 6) == "fdfeff");
}

TEST_CASE("add_lossless in JSON: text as it is, anything else as hex, so nothing is replaced") {
  Record r;
  r.begin_array("v");
  add_lossless(r, {}, "plain");
  add_lossless(r, {}, "\xff\xfe");
  add_lossless(r, {}, "\\xdead");  // text that looks like the hex form is hex-escaped itself
  r.end();
  std::string out;
  append_formatted(r, Format::kJson, out);
  CHECK(out == "{\"v\":[\"plain\",\"\\\\xfffe\",\"\\\\x5c7864656164\"]}\n");
}
