"""`tcpdp probe` on lo (needs root): what a real connection sent comes out whole, on stdout and in
dump.log; conn.log sums the connection up; the pidfile, tcpdp.log, SIGHUP and SIGTERM behave."""

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import unittest

from support import TCPDP, records, run, streams, write_config


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def exchange(port, ask, answer):
    """One connection: the client sends ask, the server answers, both close."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1)
    client = socket.create_connection(("127.0.0.1", port))
    server, _ = listener.accept()
    client.sendall(ask)
    got = b""
    while len(got) < len(ask):
        got += server.recv(65536)
    server.sendall(answer)
    got = b""
    while len(got) < len(answer):
        got += client.recv(65536)
    client.close()
    server.close()
    listener.close()


@unittest.skipUnless(os.geteuid() == 0, "live capture needs root")
class Probe(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tcpdp-probe-")
        self.logs = os.path.join(self.dir, "logs")
        self.pidfile = os.path.join(self.dir, "tcpdp.pid")
        self.config = write_config(self.dir, self.logs)

    def tearDown(self):
        subprocess.run(["rm", "-rf", self.dir], check=True)

    def start(self, *args):
        proc = subprocess.Popen([TCPDP, "probe", "-c", self.config] + list(args),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = proc.stderr.readline().decode()
        if "listening on lo" not in line:
            proc.kill()
            self.fail(line + proc.stderr.read().decode())
        return proc, line

    def stop(self, proc):
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        return out, err.decode()

    def log_records(self, name):
        with open(os.path.join(self.logs, name)) as f:
            return [json.loads(line) for line in f]

    def test_a_connection_through_probe(self):
        port = free_port()
        proc, line = self.start("-i", "lo", "-t", str(port), "-d", "hex", "--stdout")
        self.assertIn("filter: tcp and (port %d)" % port, line)
        with open(self.pidfile) as f:
            self.assertEqual(int(f.read()), proc.pid)
        ask = bytes(range(256)) * 400  # 102400 bytes: many segments
        exchange(port, ask, b"answer\n")
        time.sleep(0.5)
        out, err = self.stop(proc)
        self.assertRegex(err, r"\d+ packets received, 0 dropped by kernel, 0 dropped by interface")
        self.assertFalse(os.path.exists(self.pidfile))
        recs = records(out)
        dumped = [r for r in recs if r["event"] not in ("state", "summary")]
        (side,) = streams(dumped).values()
        self.assertEqual(b"".join(side["->"]), ask)
        self.assertEqual(b"".join(side["<-"]), b"answer\n")
        self.assertEqual(self.log_records("dump.log"), dumped)
        lifecycle = [r for r in recs if r["event"] in ("state", "summary")]
        self.assertEqual(self.log_records("conn.log"), lifecycle)
        (summary,) = [r for r in lifecycle if r["event"] == "summary"]
        self.assertEqual((summary["conn_state"], summary["client_bytes"]), ("SF", len(ask)))
        program = self.log_records("tcpdp.log")
        self.assertEqual([r["msg"] for r in program], ["start", "stop"])
        self.assertEqual(program[0]["dumper"], "hex")
        self.assertEqual(program[1]["dropped"], 0)

    def test_sighup_reopens_the_logs(self):
        port = free_port()
        proc, _ = self.start("-i", "lo", "-t", str(port), "-d", "hex")
        exchange(port, b"first\n", b"one\n")
        time.sleep(1.5)  # written within a second
        current = os.path.join(self.logs, os.readlink(os.path.join(self.logs, "dump.log")))
        os.rename(current, current + ".moved")  # what logrotate does
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        exchange(port, b"second\n", b"two\n")
        time.sleep(1.5)
        self.stop(proc)
        with open(current + ".moved") as f:
            self.assertIn("first", f.read())
        with open(current) as f:
            text = f.read()
        self.assertIn("second", text)
        self.assertNotIn("first", text)

    def test_trailing_expression_is_the_filter(self):
        port = free_port()
        proc, line = self.start("-i", "lo", "-d", "hex", "--stdout", "tcp", "port", str(port))
        self.assertIn("filter: tcp port %d" % port, line)
        exchange(port, b"via expression\n", b"ok\n")
        time.sleep(0.5)
        out, _ = self.stop(proc)
        (side,) = streams([r for r in records(out) if r["event"] == "hex"]).values()
        self.assertEqual(b"".join(side["->"]), b"via expression\n")

    def test_decode_threads_share_the_connections(self):
        port = free_port()
        proc, line = self.start("-i", "lo", "-t", str(port), "-d", "hex", "--workers", "3")
        self.assertIn("3 decode threads", line)
        asks = [b"connection %d " % i * (i + 1) for i in range(30)]
        for ask in asks:
            exchange(port, ask, b"ok\n")
        time.sleep(0.5)
        self.stop(proc)
        dumped = self.log_records("dump.log")
        got = sorted(b"".join(side["->"]) for side in streams(dumped).values())
        self.assertEqual(got, sorted(asks))
        # conn_id is base32hex (RFC 4648, lower case, 96 bits in 20 digits: 4 padding bits) of 4
        # bytes seconds, 3 microseconds, 1 source (the decode thread) and a 4-byte counter: the
        # threads each took some of the connections.
        alphabet = "0123456789abcdefghijklmnopqrstuv"
        def source(conn_id):
            n = 0
            for c in conn_id:
                n = n * 32 + alphabet.index(c)
            return (n >> 4 >> 32) & 0xFF
        self.assertEqual({source(r["conn_id"]) for r in dumped}, {0, 1, 2})
        self.assertEqual(self.log_records("tcpdp.log")[0]["workers"], 3)

    def test_snapshot_length_auto_is_the_mtu_and_link_header(self):
        # lo is Ethernet-framed: 14 bytes of header and room for two VLAN tags. GSO/GRO sizes
        # count when the kernel says and they are larger.
        sizes = []
        for name in ("mtu", "gso_max_size", "gro_max_size"):
            try:
                with open("/sys/class/net/lo/" + name) as f:
                    sizes.append(int(f.read()))
            except OSError:
                pass
        proc, line = self.start("-i", "lo", "-s", "auto", "tcp port 1")
        self.stop(proc)
        self.assertIn("snapshot length %d bytes" % (max(sizes) + 14 + 8), line)

    def test_relinquish_privileges(self):
        import pwd
        nobody = pwd.getpwnam("nobody")
        os.chmod(self.dir, 0o755)
        os.makedirs(self.logs)
        os.chown(self.logs, nobody.pw_uid, nobody.pw_gid)
        pidfile = os.path.join(self.logs, "tcpdp.pid")
        with open(self.config, "a") as f:
            f.write('[tcpdp]\npidfile = "%s"\n' % pidfile)
        with open(self.config) as f:  # the test's own pidfile key gives way to this one
            text = f.read().replace('[tcpdp]\npidfile = "%s"\n' % self.pidfile, "", 1)
        with open(self.config, "w") as f:
            f.write(text)
        port = free_port()
        proc, _ = self.start("-i", "lo", "-t", str(port), "-d", "hex", "-Z", "nobody")
        with open("/proc/%d/status" % proc.pid) as f:
            ids = dict(line.split(":", 1) for line in f.read().splitlines() if ":" in line)
        self.assertEqual(ids["Uid"].split(), [str(nobody.pw_uid)] * 4)
        self.assertEqual(ids["Gid"].split(), [str(nobody.pw_gid)] * 4)
        exchange(port, b"as nobody\n", b"ok\n")
        time.sleep(0.5)
        self.stop(proc)
        (side,) = streams(self.log_records("dump.log")).values()
        self.assertEqual(b"".join(side["->"]), b"as nobody\n")
        self.assertFalse(os.path.exists(pidfile))
        self.assertEqual(self.log_records("tcpdp.log")[0]["user"], "nobody")
        rc, _, err = run(["probe", "-c", self.config, "-i", "lo", "-Z", "no-such-user-here"])
        self.assertEqual(rc, 1)
        self.assertIn("-Z no-such-user-here: no such user", err)

    def test_mistakes_are_explained(self):
        rc, _, err = run(["probe", "-c", self.config, "-i", "nosuchif0"])
        self.assertEqual(rc, 1)
        self.assertIn("no interface named nosuchif0", err)
        rc, _, err = run(["probe", "-c", self.config, "-i", "lo", "--filter", "tcp port"])
        self.assertEqual(rc, 1)
        self.assertIn("the filter 'tcp port' does not compile", err)
        sleeper = subprocess.Popen(["sleep", "30"])
        try:
            with open(self.pidfile, "w") as f:
                f.write("%d\n" % sleeper.pid)
            rc, _, err = run(["probe", "-c", self.config, "-i", "lo"])
            self.assertEqual(rc, 1)
            self.assertIn("names process %d, which is running" % sleeper.pid, err)
        finally:
            sleeper.kill()
            sleeper.wait()


if __name__ == "__main__":
    unittest.main()
