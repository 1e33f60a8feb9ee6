"""`tcpdp proxy` stopped and restarted: SIGTERM (graceful: refused new connections, open ones go
on), SIGINT (everything closed at once), SIGHUP (logs reopened), and a hot restart under
server-starter's start_server with clients busy on long-lived and new connections. Checked, as in
test_proxy.py, against what the servers and clients of proxy_support.py saw.
"""

import os
import random
import signal
import socket
import subprocess
import threading
import time
import unittest

from support import TCPDP, addr_text, read_text, wait_until
from proxy_support import (HOST, SEED, SOCKET_TIMEOUT, free_port, connect, recv_exact, end_of,
                           alive, children_of, kill_quietly, echo_once, ProxyCase)


class Signals(ProxyCase):
    def test_sigterm_waits_for_open_connections(self):
        echo = self.echo_server()
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), echo.address, "-d", "conn")
        c = connect(port)
        c.sendall(b"before\n")
        self.assertEqual(recv_exact(c, 7), b"before\n")

        proc.send_signal(signal.SIGTERM)
        self.assertTrue(wait_until(lambda: any(r["msg"].startswith("graceful stop")
                                               for r in self.log_records("tcpdp.log")), 5),
                        self.log_records("tcpdp.log"))
        with self.assertRaises(ConnectionRefusedError, msg="a new connection after SIGTERM"):
            connect(port).close()
        for i in range(5):
            line = b"still relayed %d\n" % i
            c.sendall(line)
            self.assertEqual(recv_exact(c, len(line)), line)
            time.sleep(0.2)
            self.assertIsNone(proc.poll(), "tcpdp exited with a connection open")
        c.shutdown(socket.SHUT_WR)
        self.assertEqual(end_of(c), "eof")
        c.close()
        rc, err = self.finish(proc, timeout=10)
        self.assertEqual(rc, 0, err)
        msgs = [r["msg"] for r in self.log_records("tcpdp.log")]
        self.assertEqual(len(msgs), 3, msgs)
        self.assertEqual((msgs[0], msgs[1].split(":")[0], msgs[2]), ("start", "graceful stop", "stop"), msgs)
        self.assertEqual(echo.accepted, 1)
        with echo.lock:
            (peer,) = echo.peers.values()
        self.assertEqual((peer.received, peer.error), (7 + sum(len(b"still relayed %d\n" % i) for i in range(5)), None))

    def test_sigint_closes_everything(self):
        echo = self.echo_server()
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), echo.address, "-d", "conn")
        c = connect(port)
        client = addr_text(c.getsockname())
        c.sendall(b"hello\n")
        self.assertEqual(recv_exact(c, 6), b"hello\n")
        began = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rc, err = self.finish(proc, timeout=10)
        self.assertEqual(rc, 0, err)
        self.assertLess(time.monotonic() - began, 3, "SIGINT took long")
        c.settimeout(5)
        self.assertIn(end_of(c), ("eof", "reset"))
        c.close()
        self.assertEqual(len(self.summaries_by_client([client]).get(client, [])), 1)

    def test_sighup_reopens_the_logs(self):
        echo = self.echo_server()
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), echo.address, "-d", "hex")
        self.assertEqual(echo_once(port, b"first\n"), b"first\n")
        link = os.path.join(self.logs, "dump.log")
        self.assertTrue(wait_until(lambda: "first" in read_text(link), 5))
        current = os.path.join(self.logs, os.readlink(link))
        os.rename(current, current + ".moved")  # what logrotate does
        proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        self.assertEqual(echo_once(port, b"second\n"), b"second\n")
        self.assertTrue(wait_until(lambda: "second" in read_text(current), 5),
                        "no new %s after SIGHUP: %s" % (current, sorted(os.listdir(self.logs))))
        self.stop(proc)
        with open(current + ".moved") as f:
            moved = f.read()
        with open(current) as f:
            text = f.read()
        self.assertIn("first", moved)
        self.assertNotIn("second", moved)
        self.assertIn("second", text)
        self.assertNotIn("first", text)


def start_server_status(path):
    """start_server's status file: {generation: pid}."""
    try:
        with open(path) as f:
            return {int(g): int(p) for g, p in (line.strip().split(":") for line in f if ":" in line)}
    except (OSError, ValueError):
        return {}


class Traffic:
    """Clients busy through the proxy: `long` threads each exchange request/response over one
    long-lived connection; `short` threads keep opening new connections (request, half-close,
    response to EOF). Every failure is kept with its time."""

    def __init__(self, port, long, short):
        self.port = port
        self.failures = []
        self.exchanges = {}  # long client -> [time of each exchange]
        self.short_done = []  # time each short connection ended well
        self.stop_short = threading.Event()
        self.stop_long = threading.Event()
        self.threads = [threading.Thread(target=self._long, args=(i,), daemon=True) for i in range(long)]
        self.threads += [threading.Thread(target=self._short, args=(i,), daemon=True) for i in range(short)]
        for t in self.threads:
            t.start()

    def _fail(self, what, e):
        self.failures.append((time.monotonic(), what, repr(e)))

    def _long(self, i):
        rng = random.Random(SEED + i)
        times = self.exchanges.setdefault(i, [])
        try:
            with connect(self.port) as c:
                while not self.stop_long.is_set():
                    ask = rng.randbytes(rng.randint(1, 4096))
                    c.sendall(ask)
                    if recv_exact(c, len(ask)) != ask:
                        raise AssertionError("wrong answer")
                    times.append(time.monotonic())
                    time.sleep(0.01)
                c.shutdown(socket.SHUT_WR)
                if end_of(c) != "eof":
                    raise AssertionError("no clean EOF")
        except (OSError, EOFError, AssertionError) as e:
            self._fail("long-lived client %d" % i, e)

    def _short(self, i):
        n = 0
        while not self.stop_short.is_set():
            ask = b"short %d.%d\n" % (i, n)
            n += 1
            try:
                if echo_once(self.port, ask) != ask:
                    raise AssertionError("wrong answer")
                self.short_done.append(time.monotonic())
            except (OSError, EOFError, AssertionError) as e:
                self._fail("short connection %s" % ask, e)
            time.sleep(0.005)

    def stop(self):
        self.stop_long.set()
        self.stop_short.set()
        for t in self.threads:
            t.join(SOCKET_TIMEOUT + 5)


@unittest.skipUnless(subprocess.run(["sh", "-c", "command -v start_server"], stdout=subprocess.DEVNULL).returncode == 0,
                     "start_server (Debian package libserver-starter-perl) is not installed")
class ServerStarter(ProxyCase):
    def test_hot_restart_under_start_server(self):
        # The README's `start_server --port ... -- tcpdp proxy -s ...`, with this module's
        # configuration (which names a pidfile, as every configuration does: the default is
        # /run/tcpdp.pid). A HUP to start_server while 20 clients talk over long-lived connections
        # and others keep opening new ones: no client sees a failure, the old tcpdp goes on until
        # its connections end and then exits 0, the new one takes the new connections.
        long_clients = 20
        echo = self.echo_server()
        port = free_port()
        pid_file = os.path.join(self.dir, "start_server.pid")
        status_file = os.path.join(self.dir, "start_server.status")
        err_path = os.path.join(self.dir, "start_server.err")
        with open(err_path, "w") as err:
            # Defaults: on SIGHUP start_server starts a new generation and, once it has lived
            # --interval (1 s), sends the old one SIGTERM (--signal-on-hup) at once
            # (--kill-old-delay 0): tcpdp's graceful stop.
            starter = subprocess.Popen(
                ["start_server", "--port", "%s:%d" % (HOST, port), "--pid-file", pid_file,
                 "--status-file", status_file, "--", TCPDP, "proxy", "-s", "-r", echo.address,
                 "-c", self.config, "-d", "conn"],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err)

        def log():
            with open(err_path) as f:
                return f.read()[-3000:]

        def cleanup():
            kids = children_of(starter.pid)
            if starter.poll() is None:
                starter.send_signal(signal.SIGTERM)
                try:
                    starter.wait(10)
                except subprocess.TimeoutExpired:
                    starter.kill()
                    starter.wait()
            for pid in kids:
                kill_quietly(pid)
        self.addCleanup(cleanup)

        self.assertTrue(wait_until(lambda: 1 in start_server_status(status_file), 10), log())
        old = start_server_status(status_file)[1]
        self.assertTrue(wait_until(lambda: b"up\n" == echo_once(port, b"up\n"), 5), log())

        traffic = Traffic(port, long=long_clients, short=2)
        try:
            time.sleep(1)
            hup = time.monotonic()
            os.kill(starter.pid, signal.SIGHUP)
            self.assertTrue(wait_until(lambda: len(start_server_status(status_file)) == 2, 10),
                            "no second generation: %s\n%s" % (start_server_status(status_file), log()))
            (new,) = [p for g, p in start_server_status(status_file).items() if g != 1]
            term = time.monotonic()  # start_server sends SIGTERM to the old tcpdp now
            time.sleep(2)
            self.assertTrue(alive(new), "the new tcpdp is not running:\n" + log())
            self.assertTrue(alive(old), "the old tcpdp exited with connections open:\n" + log())
            traffic.stop_long.set()
            for t in traffic.threads[:long_clients]:
                t.join(SOCKET_TIMEOUT + 5)
            self.assertTrue(wait_until(lambda: not alive(old), 10), "the old tcpdp did not exit:\n" + log())
            self.assertTrue(wait_until(lambda: "old worker %d died" % old in log(), 5), log())
            self.assertIn("old worker %d died, status:0\n" % old, log())
            after_old = time.monotonic()
            time.sleep(0.5)
        finally:
            traffic.stop()
        self.assertEqual(traffic.failures, [], "client failures (restart at %.3f, old tcpdp told to stop at %.3f)\n%s"
                         % (hup, term, log()))
        for i, times in traffic.exchanges.items():
            self.assertTrue([t for t in times if t > term + 0.5], "long-lived client %d made no exchange after the restart" % i)
        self.assertTrue([t for t in traffic.short_done if hup < t < term], "no short connection during the restart")
        self.assertTrue([t for t in traffic.short_done if t > after_old],
                        "no short connection once only the new tcpdp was left")
        self.assertEqual(start_server_status(status_file), {2: new})

        starter.send_signal(signal.SIGTERM)
        starter.wait(20)
        self.assertIn("worker %d died, status:0\n" % new, log())
        self.assertFalse(alive(new))


if __name__ == "__main__":
    unittest.main()
