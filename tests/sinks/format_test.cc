#include "sinks/format.h"

#include <doctest/doctest.h>

using tcpdp::Format;
using tcpdp::Record;

namespace {
std::string format(const Record& r, Format f) {
  std::string out;
  tcpdp::append_formatted(r, f, out);
  return out;
}
std::string json_string(const std::string& s) {
  std::string out;
  tcpdp::append_json_escaped(s, out);
  return out;
}
}  // namespace

TEST_CASE("json: one object per line, fields in order, every value type") {
  Record r;
  r.add("s", "x");
  r.add("i", int64_t{-5});
  r.add("b", true);
  r.add("n", nullptr);
  r.add("d", 0.25);
  r.begin_array("a");
  r.add({}, "p");
  r.add({}, nullptr);
  r.add({}, 3);
  r.end();
  CHECK(format(r, Format::kJson) ==
        "{\"s\":\"x\",\"i\":-5,\"b\":true,\"n\":null,\"d\":0.25,\"a\":[\"p\",null,3]}\n");
}

TEST_CASE("json: quotes, backslashes and control characters are escaped (RFC 8259 section 7)") {
  CHECK(json_string("a\"b\\c") == "a\\\"b\\\\c");
  CHECK(json_string("\n\r\t\b\f") == "\\n\\r\\t\\b\\f");
  CHECK(json_string(std::string("\x00\x1f", 2)) == "\\u0000\\u001f");
  // DEL and C1 controls (U+0080-U+009F) may stand unescaped in JSON (RFC 8259 section 7 asks
  // only for U+0000-U+001F), but a terminal tailing the log would obey them: escaped too.
  CHECK(json_string("\x7f") == "\\u007f");
  CHECK(json_string("a\xc2\x9b"
                    "2Jb\xc2\x80") == "a\\u009b2Jb\\u0080");
  CHECK(json_string("\xc2\xa0") == "\xc2\xa0");  // U+00A0 is printable
}

TEST_CASE("json: valid UTF-8 passes, invalid bytes become U+FFFD") {
  CHECK(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") ==
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
  CHECK(json_string("\xff") == "\\ufffd");
  CHECK(json_string("\xc3") == "\\ufffd");                                   // truncated sequence
  CHECK(json_string("\xc0\xaf") == "\\ufffd\\ufffd");                        // overlong '/'
  CHECK(json_string("\xed\xa0\x80") == "\\ufffd\\ufffd\\ufffd");             // UTF-16 surrogate
  CHECK(json_string("\xf4\x90\x80\x80") == "\\ufffd\\ufffd\\ufffd\\ufffd");  // above U+10FFFF
  CHECK(json_string("a\xe2\x82") == "a\\ufffd\\ufffd");
}

TEST_CASE("json: doubles in plain decimals in the everyday range, exact either way") {
  auto one = [](double d) {
    Record r;
    r.add("d", d);
    return format(r, Format::kJson);
  };
  CHECK(one(9.7e-05) == "{\"d\":0.000097}\n");
  CHECK(one(1.5) == "{\"d\":1.5}\n");
  CHECK(one(0.0) == "{\"d\":0}\n");
  CHECK(one(1e20) == "{\"d\":1e+20}\n");
  CHECK(one(1e-9) == "{\"d\":1e-09}\n");
}

TEST_CASE("json: objects keep their keys in order") {
  Record r;
  r.begin_object("o");
  r.add("b", 1);
  r.add("a", "x");
  r.add("q\"", "names from the data are escaped");
  r.end();
  r.add("after", false);
  CHECK(format(r, Format::kJson) ==
        "{\"o\":{\"b\":1,\"a\":\"x\",\"q\\\"\":\"names from the data are escaped\"},"
        "\"after\":false}\n");
}

TEST_CASE("json: long strings with one character to escape anywhere") {
  // the plain-run scan works sixteen bytes at a time: put the special byte at every position
  for (size_t at = 0; at < 40; ++at) {
    std::string in(40, 'a');
    in[at] = '"';
    std::string want(40, 'a');
    want.replace(at, 1, "\\\"");
    CHECK(json_string(in) == want);
  }
  CHECK(json_string(std::string(33, 'z') + "\n") == std::string(33, 'z') + "\\n");
}

TEST_CASE("json: timestamps are strings in RFC 3339") {
  Record r;
  r.add("ts", tcpdp::Timestamp::from_parts(951782400, 7));
  CHECK(format(r, Format::kJson) == "{\"ts\":\"2000-02-29T00:00:00.000007Z\"}\n");
  CHECK(format(r, Format::kLtsv) == "ts:2000-02-29T00:00:00.000007Z\n");
}

TEST_CASE("json: infinite doubles are null") {
  Record r;
  r.add("d", 1.0 / 0.0);
  CHECK(format(r, Format::kJson) == "{\"d\":null}\n");
}

TEST_CASE("ltsv: key:value joined by tabs, tabs and newlines in values escaped, arrays as json") {
  Record r;
  r.add("query", "SELECT\t1\nFROM x\\y");
  r.add("rows", 3);
  r.begin_array("bind_values");
  r.add({}, "a\tb");
  r.add({}, nullptr);
  r.end();
  r.add("none", nullptr);
  CHECK(format(r, Format::kLtsv) ==
        "query:SELECT\\t1\\nFROM x\\\\y\trows:3\tbind_values:[\"a\\\\tb\",null]\tnone:\n");
}

TEST_CASE("console: header line then multi-line values indented, control bytes shown as \\x") {
  Record r;
  r.add("ts", "T");
  r.add("conn_id", "C");
  r.add("src_addr", "A");
  r.add("dst_addr", "B");
  r.add("direction", "->");
  r.add("ascii", "x\x1b[2J");
  r.add("bytes", "line1\nline2\n");
  CHECK(format(r, Format::kConsole) ==
        "T C A -> B ascii=x\\x1b[2J\nbytes:\n    line1\n    line2\n");
}

// Bytes from the wire must not reach a terminal as commands (ECMA-48: C0, DEL, C1; an 8-bit
// terminal takes the lone bytes 0x80-0x9F for C1): every byte of one is written as \xNN.
TEST_CASE("ltsv and console: terminal controls from the wire are written as \\xNN") {
  const std::string hostile =
      "\x1b]0;owned\x07"  // OSC: set the window title, ended by BEL
      "\xc2\x9b"
      "2J"  // CSI as a UTF-8 C1 control: clear the screen
      "\x9b"
      "31m"                       // CSI as a lone 8-bit byte
      "\x7f\x08"                  // DEL, backspace
      "caf\xc3\xa9\xe2\x82\xac";  // printable UTF-8 stays as it is
  const std::string escaped =
      "\\x1b]0;owned\\x07\\xc2\\x9b2J\\x9b31m\\x7f\\x08caf\xc3\xa9\xe2\x82\xac";
  Record r;
  r.add("username", hostile);
  r.add(hostile, "key");
  CHECK(format(r, Format::kLtsv) == "username:" + escaped + "\t" + escaped + ":key\n");
  Record c;
  c.add("query", hostile);
  CHECK(format(c, Format::kConsole) == "query=" + escaped + "\n");
  Record block;
  block.add("query", "SELECT 1;\n\x1b[2J");
  CHECK(format(block, Format::kConsole) == "\nquery:\n    SELECT 1;\n    \\x1b[2J\n");
  for (const std::string& out : {format(r, Format::kLtsv), format(c, Format::kConsole)}) {
    for (const char ch : out) {
      const auto b = static_cast<uint8_t>(ch);
      CHECK_FALSE(((b < 0x20 && b != '\t' && b != '\n') || b == 0x7f));
    }
  }
}

TEST_CASE("console: the client stays on the left when the server speaks") {
  Record r;
  r.add("src_addr", "server");
  r.add("dst_addr", "client");
  r.add("direction", "<-");
  CHECK(format(r, Format::kConsole) == "client <- server\n");
}

TEST_CASE("format names") {
  CHECK(tcpdp::parse_format("ltsv") == Format::kLtsv);
  CHECK_FALSE(tcpdp::parse_format("xml").has_value());
}
