#include "cmd/config.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdio>
#include <string>

using tcpdp::Config;

namespace {

struct TomlFile {
  std::string path;
  explicit TomlFile(const std::string& text) {
    char name[] = "/tmp/tcpdp-config-test-XXXXXX";
    const int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    REQUIRE(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()));
    close(fd);
    path = name;
  }
  ~TomlFile() { unlink(path.c_str()); }
};

std::string load_error(const std::string& text, std::string* path_out = nullptr) {
  TomlFile f(text);
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
  TomlFile f(
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
        "2: [tcptrack] maxConnections: a whole number from 1 is wanted");
  CHECK(load_error("[tcptrack]\nidleTimeout = \"5m\"\n") ==
        "2: [tcptrack] idleTimeout: a number of seconds above 0 is wanted");
  CHECK(load_error("[probe]\nbufferSize = \"2XB\"\n") ==
        "2: [probe] bufferSize: a size: a whole number of bytes, or a string such as \"64KB\", "
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
  CHECK(load_error("[pg]\nspoolMaxSize = \"lots\"\n").rfind("2: [pg] spoolMaxSize: a size", 0) == 0);
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
  TomlFile f(text);
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
