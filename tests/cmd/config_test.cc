#include "cmd/config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "../temp_file.h"

using tcpdp::Config;
using tcpdp::test::TempFile;

namespace {

std::string load_error(const std::string& text, std::string* path_out = nullptr) {
  TempFile f(text);
  if (path_out) *path_out = f.path;
  Config c;
  std::string error;
  CHECK_FALSE(tcpdp::load_config(f.path, c, &error));
  return error.substr(error.find(':') + 1);  // without the temporary file's name
}

}  // namespace

TEST_CASE("sizes: bytes, decimal and binary units") {
  uint64_t b = 0;
  CHECK((tcpdp::parse_size("4096", b) && b == 4096));
  CHECK((tcpdp::parse_size("2MB", b) && b == 2000000));
  CHECK((tcpdp::parse_size("64KB", b) && b == 64000));
  CHECK((tcpdp::parse_size("64KiB", b) && b == 65536));
  CHECK((tcpdp::parse_size("1GiB", b) && b == 1073741824));
  CHECK((tcpdp::parse_size("10 MB", b) && b == 10000000));
  CHECK_FALSE(tcpdp::parse_size("2XB", b));
  CHECK_FALSE(tcpdp::parse_size("MB", b));
  CHECK_FALSE(tcpdp::parse_size("-1", b));
  CHECK_FALSE(tcpdp::parse_size("99999999999999999999", b));
}

TEST_CASE("intervals: seconds, minutes, hours; above 0") {
  double s = 0;
  CHECK((tcpdp::parse_seconds("60", s) && s == 60));
  CHECK((tcpdp::parse_seconds("60s", s) && s == 60));
  CHECK((tcpdp::parse_seconds("1.5m", s) && s == 90));
  CHECK((tcpdp::parse_seconds("2h", s) && s == 7200));
  CHECK((tcpdp::parse_seconds("0.25", s) && s == 0.25));
  CHECK_FALSE(tcpdp::parse_seconds("", s));
  CHECK_FALSE(tcpdp::parse_seconds("s", s));
  CHECK_FALSE(tcpdp::parse_seconds("0", s));
  CHECK_FALSE(tcpdp::parse_seconds("-5s", s));
  CHECK_FALSE(tcpdp::parse_seconds("10d", s));
  CHECK_FALSE(tcpdp::parse_seconds("5 s", s));
  CHECK_FALSE(tcpdp::parse_seconds("nan", s));
  CHECK_FALSE(tcpdp::parse_seconds("inf", s));
}

TEST_CASE("a file sets what it names and leaves the rest at the defaults") {
  TempFile f(
      "[tcpdp]\n"
      "dumper = \"pg\"\n"
      "[probe]\n"
      "bufferSize = \"8MiB\"\n"
      "[tcptrack]\n"
      "idleTimeout = 0.5\n"
      "maxConnections = 100\n"
      "[dumpLog]\n"
      "rotationHook = \"/opt/hooks/after rotate;x\"\n");
  Config c;
  std::string error;
  REQUIRE_MESSAGE(tcpdp::load_config(f.path, c, &error), error);
  CHECK(c.tcpdp.dumper == "pg");
  CHECK(c.probe.buffer_size == 8u << 20);
  CHECK(c.tcptrack.idle_timeout == 0.5);
  CHECK(c.tcptrack.max_connections == 100);
  CHECK(c.dump_log.rotation_hook == "/opt/hooks/after rotate;x");
  CHECK(c.dump_log.file_name == "dump.log");  // untouched
  CHECK(c.log.rotation_time == "daily");
}

TEST_CASE("every kind of mistake names the line, the key and what is accepted") {
  CHECK(load_error("[tcpdp]\ndumper = \"postgres\"\n") ==
        "2: [tcpdp] dumper: one of hex, pg, mysql, conn, auto is wanted");
  CHECK(load_error("[tcpdp]\nproxyProtocol = \"yes\"\n") ==
        "2: [tcpdp] proxyProtocol: true or false is wanted");
  CHECK(load_error("[tcptrack]\nmaxConnections = 0\n") ==
        "2: [tcptrack] maxConnections: a whole number from 1 to 16777216 is wanted");
  CHECK(load_error("[tcptrack]\nidleTimeout = \"5m\"\n") ==
        "2: [tcptrack] idleTimeout: a number of seconds above 0 and at most 31536000 (a year) is "
        "wanted");
  CHECK(load_error("[log]\nrotationSize = \"2XB\"\n") ==
        "2: [log] rotationSize: a size: a whole number of bytes, or a string such as \"64KB\", "
        "\"2MB\", \"1GiB\" is wanted");
  CHECK(load_error("[probe]\ntarget = 5432\n") == "2: [probe] target: a string is wanted");
  CHECK(load_error("[tcpdp]\nfoo = 1\n") ==
        "2: unknown key 'foo' in [tcpdp]; keys there are pidfile, dumper, proxyProtocol, "
        "pairResponses");
  CHECK(load_error("\n[tcpd]\n") ==
        "2: unknown section [tcpd]; sections are tcpdp, log, dumpLog, connLog, tcptrack, probe, "
        "proxy, pg");
  CHECK(load_error("dumper = \"pg\"\n") ==
        "1: 'dumper' is not a section; sections are tcpdp, log, dumpLog, connLog, tcptrack, "
        "probe, proxy, pg");
  CHECK(load_error("[pg]\nonStartupError = \"ignore\"\n") ==
        "2: [pg] onStartupError: one of auto, exit, warn is wanted");
  CHECK(load_error("[pg]\nspoolMaxSize = \"lots\"\n").rfind("2: [pg] spoolMaxSize: a size", 0) ==
        0);
  CHECK(load_error("[tcpdp\n").rfind("1: not valid TOML: ", 0) == 0);
  // Several mistakes: the first in the file is the one reported.
  CHECK(load_error("[tcptrack]\nidleTimeout = -1\n[nope]\n").rfind("2: ", 0) == 0);
  Config c;
  std::string error;
  CHECK_FALSE(tcpdp::load_config("/nonexistent/tcpdp.toml", c, &error));
  CHECK(error == "/nonexistent/tcpdp.toml: cannot open it: No such file or directory");
}

TEST_CASE("the printed configuration reads back to the same configuration") {
  Config c;
  c.tcpdp.dumper = "mysql";
  c.tcpdp.pidfile = "/tmp/a \"quoted\" \\ path\n";
  c.probe.buffer_size = 123457;  // no whole unit: printed as bytes
  c.probe.filter = "tcp and not port 22";
  c.tcptrack.idle_timeout = 0.125;
  c.tcptrack.max_held_bytes = 3000;
  c.conn_log.rotation_size = 64 << 20;
  c.conn_log.to_stdout = true;
  const std::string text = tcpdp::config_to_toml(c);
  TempFile f(text);
  Config back;
  std::string error;
  REQUIRE_MESSAGE(tcpdp::load_config(f.path, back, &error), error);
  CHECK(tcpdp::config_to_toml(back) == text);
  CHECK(back.tcpdp.pidfile == c.tcpdp.pidfile);
  CHECK(back.probe.buffer_size == 123457);
  CHECK(back.tcptrack.idle_timeout == 0.125);
  CHECK(back.conn_log.rotation_size == 64u << 20);
  CHECK(text.find("maxHeldBytes = \"3KB\"") != std::string::npos);
}

namespace {

std::string text_error(const std::string& text) {
  Config c;
  std::string error;
  CHECK_FALSE(tcpdp::load_config_text(text, "t.toml", c, &error));
  return error;
}

std::string repeat(const std::string& s, size_t n) {
  std::string out;
  for (size_t i = 0; i < n; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("out of range values are refused with the key's range, never clamped") {
  CHECK(load_error("[proxy]\nworkers = 100000\n") ==
        "2: [proxy] workers: a whole number from 1 to 255 or \"auto\" is wanted");
  CHECK(load_error("[probe]\nworkers = 256\n") ==
        "2: [probe] workers: a whole number from 1 to 255 or \"auto\" is wanted");
  CHECK(load_error("[tcptrack]\nmaxConnections = 16777217\n") ==
        "2: [tcptrack] maxConnections: a whole number from 1 to 16777216 is wanted");
  CHECK(load_error("[probe]\nsnapshotLength = 262145\n") ==
        "2: [probe] snapshotLength: a whole number from 1 to 262144 or \"auto\" is wanted");
  CHECK(load_error("[probe]\nbufferSize = \"2GiB\"\n") ==
        "2: [probe] bufferSize: a size from 1 to 2147483647: a whole number of bytes, or a "
        "string such as \"64KB\", \"2MB\", \"1GiB\" is wanted");
  CHECK(load_error("[proxy]\nbufferSize = 1024\n")
            .rfind("2: [proxy] bufferSize: a size from 4KiB to 64MiB: ", 0) == 0);
  CHECK(load_error("[tcptrack]\nmaxHeldBytes = \"2GiB\"\n")
            .rfind("2: [tcptrack] maxHeldBytes: a size up to 1GiB: ", 0) == 0);
  CHECK(load_error("[pg]\nretryWaitGrowThreshold = -1\n")
            .rfind("2: [pg] retryWaitGrowThreshold: a whole number from 1 to 1000000", 0) == 0);
  CHECK(load_error("[proxy]\nconnectTimeout = 1e300\n")
            .rfind("2: [proxy] connectTimeout: a number of seconds above 0 and at most", 0) == 0);
  // The bounds themselves are taken.
  TempFile f(
      "[proxy]\nworkers = 255\nbufferSize = \"4KiB\"\n[probe]\nsnapshotLength = 262144\n"
      "bufferSize = 2147483647\n[tcptrack]\nmaxConnections = 16777216\n"
      "idleTimeout = 31536000\n");
  Config c;
  std::string error;
  REQUIRE_MESSAGE(tcpdp::load_config(f.path, c, &error), error);
  CHECK(c.proxy.workers == 255);
  CHECK(c.proxy.buffer_size == 4096);
  CHECK(c.probe.snapshot_length == 262144);
  CHECK(c.tcptrack.max_connections == 16777216);
}

TEST_CASE("keys that bound each other must agree, across files too") {
  CHECK(load_error("[pg]\nqueueMin = 2048\nqueueMax = 1024\n") ==
        "2: [pg] queueMin 2048 is above queueMax 1024: queueMin is at most queueMax");
  CHECK(load_error("[pg]\nretryWaitMin = 90\n") ==
        "2: [pg] retryWaitMin 90 is above retryWaitMax 60: retryWaitMin is at most retryWaitMax");
  TempFile first("[pg]\nqueueMin = 4096\n");
  TempFile second("[tcpdp]\ndumper = \"pg\"\n[pg]\nqueueMax = 2048\n");
  Config c;
  std::string error;
  REQUIRE_MESSAGE(tcpdp::load_config(first.path, c, &error), error);
  CHECK_FALSE(tcpdp::load_config(second.path, c, &error));
  CHECK(error == second.path +
                     ":4: [pg] queueMin 4096 is above queueMax 2048: queueMin is at most queueMax");
}

TEST_CASE("only regular files and pipes of at most 64KiB are read") {
  Config c;
  std::string error;
  CHECK_FALSE(tcpdp::load_config("/tmp", c, &error));
  CHECK(error == "/tmp: is a directory, not a configuration file");
  CHECK_FALSE(tcpdp::load_config("/dev/zero", c, &error));
  CHECK(error == "/dev/zero: not a regular file (a device or a socket), not a configuration file");
  TempFile big("# " + std::string(64 * 1024, 'x') + "\n");
  CHECK_FALSE(tcpdp::load_config(big.path, c, &error));
  CHECK(error == big.path + ": larger than 64KiB, the most a configuration file may be");
  TempFile fits("# " + std::string(63 * 1024, 'x') + "\n[tcpdp]\ndumper = \"pg\"\n");
  REQUIRE_MESSAGE(tcpdp::load_config(fits.path, c, &error), error);
  CHECK(c.tcpdp.dumper == "pg");
}

TEST_CASE("nesting past 8 levels is refused before the TOML parser sees it") {
  // 4,000 nested inline tables used to overflow the parser's stack.
  CHECK(text_error("a = " + repeat("{b = ", 4000) + "1" + repeat("}", 4000) + "\n") ==
        "t.toml:1: nested more than 8 levels deep (tables, arrays, inline tables, dotted keys); "
        "tcpdp's configuration is sections of keys");
  CHECK(text_error("\n\na = " + repeat("[", 9) + repeat("]", 9) + "\n")
            .rfind("t.toml:3: nested", 0) == 0);
  CHECK(text_error("a" + repeat(".a", 9) + " = 1\n").rfind("t.toml:1: nested", 0) == 0);
  CHECK(text_error("[a" + repeat(".a", 8) + "]\n").rfind("t.toml:1: nested", 0) == 0);
  CHECK(text_error("x = {a.a.a.a.a = {b.b.b.b.b = 1}}\n").rfind("t.toml:1: nested", 0) == 0);
  // 8 levels are left to the parser and the key table: here, not a section.
  CHECK(text_error("a = " + repeat("[", 8) + repeat("]", 8) + "\n") ==
        "t.toml:1: 'a' is not a section; sections are tcpdp, log, dumpLog, connLog, tcptrack, "
        "probe, proxy, pg");
}

TEST_CASE("a file that is not UTF-8 is refused before the TOML parser sees it") {
  // TOML files are UTF-8 (toml.io, "Spec"); toml11 3.7 read out of its buffer on a string that
  // is not, the 3 bytes of the first one here.
  CHECK(text_error("'\xff'") == "t.toml:1: byte 0xff is not UTF-8, which a TOML file must be");
  CHECK(text_error("[probe]\nfilter = \"\xc3\x28\"\n") ==
        "t.toml:2: byte 0xc3 is not UTF-8, which a TOML file must be");
  CHECK(text_error("# overlong: \xc0\xaf\n") ==
        "t.toml:1: byte 0xc0 is not UTF-8, which a TOML file must be");
  // Valid UTF-8 in strings and comments is read as it is.
  Config c;
  std::string error;
  REQUIRE_MESSAGE(tcpdp::load_config_text("# caf\xc3\xa9\n[probe]\nfilter = 'host \xe2\x82\xac'\n",
                                          "t.toml", c, &error),
                  error);
  CHECK(c.probe.filter == "host \xe2\x82\xac");
}

TEST_CASE("brackets, dots and commas in strings and comments do not count") {
  const std::string text =
      "# [[[[[[[[[[ {{{{{{{{{ a.b.c.d.e.f.g.h.i.j\n"
      "[probe]\n"
      "filter = \"[[[[[[[[[[ {{{{ a.b.c.d.e.f.g.h.i.j ,,,\"\n"
      "target = '[[[[[[[[[[\\'\n"
      "interface = \"\"\"\n[[[[[[[[[[\n\\\"\"\"\n\"\"\"\n"
      "[tcpdp]\n"
      "pidfile = '''\n{{{{{{{{{{{{\n'''\n"
      "[tcptrack]\n"
      "idleTimeout = 1.5\n";
  Config c;
  std::string error;
  REQUIRE_MESSAGE(tcpdp::load_config_text(text, "t.toml", c, &error), error);
  CHECK(c.probe.filter == "[[[[[[[[[[ {{{{ a.b.c.d.e.f.g.h.i.j ,,,");
  CHECK(c.probe.target == "[[[[[[[[[[\\");
  CHECK(c.probe.interface == "[[[[[[[[[[\n\"\"\"\n");
  CHECK(c.tcpdp.pidfile == "{{{{{{{{{{{{\n");
  CHECK(c.tcptrack.idle_timeout == 1.5);
  // Lines inside multi-line strings are counted: the mistake is on line 6.
  CHECK(text_error("[probe]\nfilter = \"\"\"\n\n\n\"\"\"\ntarget = 1\n") ==
        "t.toml:6: [probe] target: a string is wanted");
}

TEST_CASE("more than 1000 keys, tables and values are refused") {
  CHECK(text_error("[tcpdp]\n" + repeat("a = 1\n", 1000)) ==
        "t.toml:1001: more than 1000 keys, tables and values; tcpdp's configuration has about a "
        "hundred keys");
  CHECK(text_error("x = [" + repeat("1,", 2000) + "]\n").rfind("t.toml:1: more than 1000", 0) == 0);
}

TEST_CASE("arrays and inline tables of more than 4KiB in all are refused") {
  // The parser takes time quadratic in an array's length; no key takes an array.
  const std::string long_string = "\"" + std::string(1000, 's') + "\"";
  CHECK(text_error("[probe]\ntarget = 1\n\nx = [" + repeat(long_string + ",", 5) + "]\n") ==
        "t.toml:4: arrays and inline tables longer than 4KiB in all; no key of tcpdp's "
        "configuration takes one");
  CHECK(text_error("a = [" + long_string + ", " + long_string + "]\n" + "b = {c = " + long_string +
                   "}\n" + "d = [" + long_string + ", " + long_string + "]\n")
            .rfind("t.toml:3: arrays and inline tables longer than 4KiB", 0) == 0);
  // Under the bound: the parser and the key table have their say.
  CHECK(text_error("[probe]\ntarget = [" + repeat(long_string + ",", 3) + "]\n") ==
        "t.toml:2: [probe] target: a string is wanted");
}

TEST_CASE("no file in the working directory is read by default") {
  for (const std::string& path : tcpdp::default_config_files()) {
    CHECK(path.front() == '/');
    CHECK(path.find("./") == std::string::npos);
  }
}

TEST_CASE("the files read are recorded in order") {
  TempFile a("[tcpdp]\ndumper = \"pg\"\n");
  TempFile b("[tcpdp]\ndumper = \"mysql\"\n");
  Config c;
  std::string error;
  REQUIRE(tcpdp::load_config(a.path, c, &error));
  REQUIRE(tcpdp::load_config(b.path, c, &error));
  CHECK(c.files == std::vector<std::string>{a.path, b.path});
  CHECK(c.tcpdp.dumper == "mysql");
  CHECK_FALSE(tcpdp::load_config("/tmp", c, &error));
  CHECK(c.files.size() == 2);
}
