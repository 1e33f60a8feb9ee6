"""`tcpdp config` and the configuration files: the printed TOML is read by an independent parser
(Python's tomllib) and by tcpdp itself; flags beat files; mistakes are named with file and line."""

import json
import os
import tempfile
import time
import tomllib
import unittest

from support import SANITIZED, TcpdpRun, pcap, read_text, records, run

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "config", "tcpdp.toml")


class Files(unittest.TestCase):
    """Configuration files written in a directory of the test's own."""

    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path


class Config(Files):

    def config(self, *args):
        rc, out, err = run(["config"] + list(args))
        self.assertEqual(rc, 0, err)
        return out.decode()

    def test_defaults_are_valid_toml_with_a_comment_per_key(self):
        text = self.config("--default")
        data = tomllib.loads(text)
        self.assertEqual(sorted(data), sorted(["tcpdp", "log", "dumpLog", "connLog", "tcptrack",
                                               "probe", "proxy", "pg"]))
        self.assertEqual((data["pg"]["enable"], data["pg"]["conninfo"], data["pg"]["spoolMaxSize"]),
                         (False, "", "1GiB"))
        self.assertEqual(data["tcpdp"]["dumper"], "hex")
        self.assertEqual(data["tcptrack"]["idleTimeout"], 300)
        self.assertEqual(data["dumpLog"]["fileName"], "dump.log")
        lines = text.splitlines()
        for i, line in enumerate(lines):
            if " = " in line:
                self.assertTrue(lines[i - 1].startswith("# "), line)

    def test_the_example_in_the_tree_is_the_defaults(self):
        with open(EXAMPLE) as f:
            self.assertEqual(f.read(), self.config("--default"))

    def test_round_trip(self):
        path = self.write("a.toml", '[tcpdp]\ndumper = "pg"\n[probe]\nbufferSize = "8MB"\n'
                                    'filter = "tcp and not port 22"\n[tcptrack]\nidleTimeout = 0.5\n'
                                    '[connLog]\nrotationHook = "/opt/my hooks/rotated;x"\n')
        first = self.config("-c", path)
        data = tomllib.loads(first)
        self.assertEqual(data["tcpdp"]["dumper"], "pg")
        self.assertEqual(data["probe"]["bufferSize"], "8MB")
        self.assertEqual(data["probe"]["filter"], "tcp and not port 22")
        self.assertEqual(data["tcptrack"]["idleTimeout"], 0.5)
        self.assertEqual(data["connLog"]["rotationHook"], "/opt/my hooks/rotated;x")
        again = self.write("b.toml", first)
        # The first line names the file read; the rest is the same.
        self.assertEqual(self.config("-c", again).split("\n", 1)[1], first.split("\n", 1)[1])

    def test_flags_beat_the_file(self):
        path = self.write("conn.toml", '[tcpdp]\ndumper = "conn"\n')
        self.assertEqual(tomllib.loads(self.config("-c", path, "-d", "pg"))["tcpdp"]["dumper"], "pg")
        rc, out, err = run(["read", pcap("tcp_close.pcap"), "-c", path])
        self.assertEqual(rc, 0, err)
        # -d conn from the file: lifecycle records only
        self.assertTrue(all(r["event"] in ("state", "summary") for r in records(out)))
        rc, out, err = run(["read", pcap("tcp_close.pcap"), "-c", path, "-d", "hex"])
        self.assertEqual(rc, 0, err)
        self.assertTrue(all("bytes" in r for r in records(out)))

    def test_tracker_keys_reach_read(self):
        path = self.write("t.toml", "[tcptrack]\nidleTimeout = 0.01\n")
        rc, out, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "-c", path])
        self.assertEqual(rc, 0, err)
        summaries = [r for r in records(out) if r["event"] == "summary"]
        self.assertEqual(summaries[0]["close_reason"], "idle")
        rc, out, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "-c", path,
                            "--idle-timeout", "300"])
        self.assertEqual([r["close_reason"] for r in records(out) if r["event"] == "summary"], ["fin"])

    def test_pair_responses_false_is_no_response(self):
        path = self.write("p.toml", "[tcpdp]\npairResponses = false\n")
        _, with_file, _ = run(["read", pcap("pg.pcap"), "-d", "pg", "-c", path])
        _, with_flag, _ = run(["read", pcap("pg.pcap"), "-d", "pg", "--no-response"])
        self.assertEqual(with_file, with_flag)

    def test_mistakes_name_file_line_and_key(self):
        path = self.write("bad.toml", '[tcpdp]\npidfile = "/run/x.pid"\ndumper = "postgres"\n')
        for cmd in (["config", "-c", path], ["read", pcap("tcp_close.pcap"), "-c", path]):
            rc, out, err = run(cmd)
            self.assertEqual(rc, 2)
            self.assertEqual(out, b"")
            self.assertEqual(err, "tcpdp: %s:3: [tcpdp] dumper: one of hex, pg, mysql, conn, auto is wanted\n" % path)
        rc, _, err = run(["config", "-c", os.path.join(self.dir.name, "missing.toml")])
        self.assertEqual(rc, 2)
        self.assertIn("missing.toml: cannot open it: No such file or directory", err)

    def test_default_files_and_never_the_working_directory(self):
        home = os.path.join(self.dir.name, "home")
        work = os.path.join(self.dir.name, "work")
        os.makedirs(os.path.join(home, ".tcpdp"))
        os.makedirs(work)
        home_file = self.write("home/.tcpdp/tcpdp.toml",
                               '[tcpdp]\ndumper = "pg"\n[probe]\ninterface = "eth9"\n')
        # A file where tcpdp happens to start could send records elsewhere: it is not read.
        self.write("work/tcpdp.toml", '[tcpdp]\ndumper = "conn"\n[pg]\nenable = true\n'
                                      'conninfo = "host=attacker.example"\n')
        rc, out, err = run(["config"], env_update={"HOME": home}, cwd=work)
        self.assertEqual(rc, 0, err)
        data = tomllib.loads(out.decode())
        self.assertEqual(data["tcpdp"]["dumper"], "pg")
        self.assertEqual(data["probe"]["interface"], "eth9")
        self.assertEqual((data["pg"]["enable"], data["pg"]["conninfo"]), (False, ""))
        self.assertEqual(out.decode().splitlines()[0], "# Configuration files read: " + home_file)
        # read decodes with the default hex dumper, not the working directory's conn.
        rc, out, err = run(["read", pcap("tcp_close.pcap")], env_update={"HOME": self.dir.name},
                           cwd=work)
        self.assertEqual(rc, 0, err)
        self.assertTrue(records(out))
        self.assertTrue(all("bytes" in r for r in records(out)))

    def test_config_names_the_files_read(self):
        path = self.write("a.toml", '[tcpdp]\ndumper = "pg"\n')
        self.assertEqual(self.config("-c", path).splitlines()[0],
                         "# Configuration files read: " + path)
        rc, out, err = run(["config"], env_update={"HOME": self.dir.name}, cwd=self.dir.name)
        self.assertEqual(rc, 0, err)
        if not os.path.exists("/etc/tcpdp/tcpdp.toml"):
            self.assertEqual(out.decode().splitlines()[0], "# Configuration files read: none")
        # --default reads nothing and prints the defaults alone.
        self.assertTrue(self.config("--default").startswith("# tcpdp configuration."))


if __name__ == "__main__":
    unittest.main()


class Documented(unittest.TestCase):
    """Every key `tcpdp config` prints is in the README's table and the man page."""

    def test_every_key_is_documented(self):
        rc, out, err = run(["config", "--default"])
        self.assertEqual(rc, 0, err)
        root = os.path.join(HERE, "..", "..")
        with open(os.path.join(root, "README.md")) as f:
            readme = f.read()
        with open(os.path.join(root, "man", "tcpdp.1")) as f:
            man = f.read()
        for section, keys in tomllib.loads(out.decode()).items():
            self.assertIn("`[%s]`" % section, readme)
            self.assertIn("[%s]" % section, man)
            for key in keys:
                self.assertIn("| `%s` |" % key, readme, key)
                self.assertIn("\n.B %s\n" % key, man, key)


class Hostile(Files):
    """Files that are too large, too deep, not files, or values out of range: one line naming the
    file (or flag) and key, exit status 2, quickly; never a crash, a hang or a silent clamp."""

    def refused(self, args, message, within=5, lines=1):
        """Exit status 2 and `message` in `lines` lines of stderr (a flag that does not parse gets
        a second one: "Run with --help"), within `within` seconds."""
        start = time.monotonic()
        rc, out, err = run(args)
        elapsed = time.monotonic() - start
        self.assertEqual(rc, 2, "%s: rc %d (negative: a signal), stderr %r" % (args, rc, err))
        self.assertEqual(out, b"")
        self.assertIn(message, err)
        self.assertEqual(err.count("\n"), lines, err)
        self.assertLess(elapsed, within, args)

    def test_deeply_nested_inline_tables(self):
        # 12 KB: used to overflow the parser's stack (SIGSEGV).
        path = self.write("nested.toml", "a = " + "{b = " * 4000 + "1" + "}" * 4000 + "\n")
        for cmd in (["config", "-c", path], ["read", pcap("tcp_close.pcap"), "-c", path]):
            self.refused(cmd, "tcpdp: %s:1: nested more than 8 levels deep" % path)

    def test_large_files_are_refused_at_once(self):
        # 900,000 tables and 2,000,000 dotted keys used to keep the parser busy for minutes.
        tables = self.write("tables.toml", "".join("[t%d]\n" % i for i in range(900000)))
        dotted = self.write("dotted.toml", "a" + ".a" * 2000000 + " = 1\n")
        for path in (tables, dotted):
            self.refused(["config", "-c", path],
                         "tcpdp: %s: larger than 64KiB, the most a configuration file may be" % path,
                         within=2)

    def test_the_largest_file_taken_is_parsed_quickly(self):
        # Just under every bound: 64KiB, 1,000 keys and values, arrays up to 4KiB.
        keys = "".join('k%d = "%s"\n' % (i, "v" * 50) for i in range(990))
        array = "x = [" + ",".join('"%s"' % ("s" * 250) for _ in range(15)) + "]\n"
        for name, text in (("keys.toml", "[tcpdp]\n" + keys), ("array.toml", array),
                           ("string.toml", 'x = "%s"\n' % ("a" * 65000))):
            path = self.write(name, text)
            self.assertLessEqual(os.path.getsize(path), 64 * 1024)
            start = time.monotonic()
            rc, _, err = run(["config", "-c", path])
            self.assertEqual(rc, 2, err)  # keys and sections tcpdp does not have
            self.assertLess(time.monotonic() - start, 10.0 if SANITIZED else 1.0, name)

    def test_not_a_regular_file(self):
        self.refused(["config", "-c", "/dev/zero"],
                     "tcpdp: /dev/zero: not a regular file (a device or a socket), not a "
                     "configuration file")
        self.refused(["config", "-c", self.dir.name],
                     "tcpdp: %s: is a directory, not a configuration file" % self.dir.name)

    def test_a_pipe_is_read(self):
        rc, out, err = run(["config", "-c", "/dev/stdin"], input_bytes=b'[tcpdp]\ndumper = "pg"\n')
        self.assertEqual(rc, 0, err)
        self.assertEqual(tomllib.loads(out.decode())["tcpdp"]["dumper"], "pg")

    def test_out_of_range_values_name_the_key_and_range(self):
        cases = [
            ("[proxy]\nworkers = 100000\n",
             ':2: [proxy] workers: a whole number from 1 to 255 or "auto" is wanted'),
            ("[probe]\nworkers = 256\n",
             ':2: [probe] workers: a whole number from 1 to 255 or "auto" is wanted'),
            ("[tcptrack]\nmaxConnections = 100000000\n",
             ":2: [tcptrack] maxConnections: a whole number from 1 to 16777216 is wanted"),
            ("[probe]\nsnapshotLength = 1000000\n",
             ':2: [probe] snapshotLength: a whole number from 1 to 262144 or "auto" is wanted'),
            ("[proxy]\nbufferSize = 100\n",
             ':2: [proxy] bufferSize: a size from 4KiB to 64MiB: a whole number of bytes, or a '
             'string such as "64KB", "2MB", "1GiB" is wanted'),
            ("[pg]\nqueueMin = 100\nqueueMax = 10\n",
             ":2: [pg] queueMin 100 is above queueMax 10: queueMin is at most queueMax"),
            ("[pg]\nretryWaitMin = 120\nretryWaitMax = 30\n",
             ":2: [pg] retryWaitMin 120 is above retryWaitMax 30: retryWaitMin is at most "
             "retryWaitMax"),
        ]
        for text, message in cases:
            path = self.write("range.toml", text)
            self.refused(["config", "-c", path], "tcpdp: " + path + message + "\n")
            self.refused(["read", pcap("tcp_close.pcap"), "-c", path], path + message)

    def test_flags_out_of_range(self):
        off = "tcpdp: --pg-dumps: the PostgreSQL sink is off; add --pg CONNINFO (or [pg] enable ="
        self.refused(["read", pcap("tcp_close.pcap"), "--pg-dumps"], off)
        self.refused(["probe", "-i", "lo", "--pg-dumps"], off)
        self.refused(["probe", "-i", "lo", "-s", "300000"],
                     "tcpdp: -s 300000: a number of bytes from 1 to 262144 or auto is wanted")
        self.refused(["probe", "-i", "lo", "-B", "4GiB"],
                     "tcpdp: -B 4GiB: a size from 1 to 2147483647 bytes is wanted")
        self.refused(["probe", "-i", "lo", "--workers", "300"], "--workers", lines=2)


class StartRecord(unittest.TestCase):
    """tcpdp.log's start record names the configuration files read."""

    def test_probe_start_names_the_config_file(self):
        if os.geteuid() != 0:
            self.skipTest("live capture needs root")
        probe = TcpdpRun(self, "probe", "tcpdp-config-")
        self.assertTrue(probe.launch(["-i", "lo", "-t", "1"], "listening on"), probe.stderr())
        probe.stop()
        log = read_text(os.path.join(probe.logs, "tcpdp.log"))
        start = [r for r in map(json.loads, log.splitlines()) if r["msg"] == "start"]
        self.assertEqual([r["config_files"] for r in start], [probe.config])
