"""`tcpdp config` and the configuration files: the printed TOML is read by an independent parser
(Python's tomllib) and by tcpdp itself; flags beat files; mistakes are named with file and line."""

import os
import tempfile
import tomllib
import unittest

from support import pcap, records, run

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "config", "tcpdp.toml")


class Config(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, name, text):
        path = os.path.join(self.dir.name, name)
        with open(path, "w") as f:
            f.write(text)
        return path

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
        self.assertEqual(self.config("-c", again), first)

    def test_flags_beat_the_file(self):
        path = self.write("conn.toml", '[tcpdp]\ndumper = "conn"\n')
        self.assertEqual(tomllib.loads(self.config("-c", path, "-d", "pg"))["tcpdp"]["dumper"], "pg")
        rc, out, err = run(["read", pcap("tcp_close.pcap"), "-c", path])
        self.assertEqual(rc, 0, err)
        self.assertTrue(all("event" in r for r in records(out)))  # -d conn from the file
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

    def test_default_files_later_ones_win(self):
        home = os.path.join(self.dir.name, "home")
        work = os.path.join(self.dir.name, "work")
        os.makedirs(os.path.join(home, ".tcpdp"))
        os.makedirs(work)
        self.write("home/.tcpdp/tcpdp.toml", '[tcpdp]\ndumper = "pg"\n[probe]\ninterface = "eth9"\n')
        self.write("work/tcpdp.toml", '[tcpdp]\ndumper = "mysql"\n')
        rc, out, err = run(["config"], env_update={"HOME": home}, cwd=work)
        self.assertEqual(rc, 0, err)
        data = tomllib.loads(out.decode())
        self.assertEqual(data["tcpdp"]["dumper"], "mysql")
        self.assertEqual(data["probe"]["interface"], "eth9")


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
