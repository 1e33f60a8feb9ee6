"""`tcpdp proxy` against clients and configurations that would hurt it or the remote:

- with --proxy-protocol, clients that send no header (or garbage) open no connection to the
  remote (a plain listener here counts what it accepts) and are closed after headerTimeout; one
  with a valid header is relayed,
- a remote that is the proxy's own listening address (the same address, a wildcard listen with
  a local address, a socket from server-starter) is refused at start, exit status 2,
- a slow rotation hook with secondly rotation never runs more than once at a time, the skipped
  ones are reported, and at the stop it is waited for within shutdownTimeout or named,
- a log directory that is a file is an error at start naming its key (proxy, probe, read).
"""

import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from support import TCPDP, pcap, read_text, run, wait_until, write_config
from proxy_support import HOST, ProxyCase, alive, connect, end_of, free_port, kill_quietly


class CountingServer:
    """A remote that only counts the connections it accepts and keeps what each one sends."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind((HOST, 0))
        self.sock.listen(1024)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.received = []
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            with self.lock:
                self.accepted += 1
            threading.Thread(target=self._read, args=(conn,), daemon=True).start()

    def _read(self, conn):
        data = b""
        with conn:
            conn.settimeout(20)
            try:
                while chunk := conn.recv(4096):
                    data += chunk
            except OSError:
                pass
        with self.lock:
            self.received.append(data)

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.sock.close()


class ProxyProtocolWait(ProxyCase):
    def test_headerless_clients_cost_the_remote_nothing_and_are_closed_in_time(self):
        remote = CountingServer()
        self.addCleanup(remote.stop)
        with open(self.config, "a") as f:
            f.write("[proxy]\nheaderTimeout = 1\n")
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), "%s:%d" % (HOST, remote.port), "-d", "hex",
                          "--proxy-protocol")
        silent = [connect(port) for _ in range(100)]
        opened = time.monotonic()
        time.sleep(0.5)
        self.assertEqual(remote.accepted, 0, "connections to the remote before any header came")

        for c in silent:
            c.settimeout(5)
            self.assertIn(end_of(c), ("eof", "reset"), "closed after headerTimeout")
        waited = time.monotonic() - opened
        self.assertGreaterEqual(waited, 0.9, "closed before headerTimeout")
        self.assertLess(waited, 4, "not closed soon after headerTimeout")
        for c in silent:
            c.close()

        garbage = connect(port)
        garbage.settimeout(5)
        garbage.sendall(b"GET / HTTP/1.0\r\n\r\n")
        self.assertIn(end_of(garbage), ("eof", "reset"), "garbage instead of a header: closed")
        garbage.close()
        self.assertEqual(remote.accepted, 0, "header-less clients reached the remote")

        good = connect(port)
        good.sendall(b"PROXY TCP4 192.0.2.7 198.51.100.1 51000 3306\r\nhello")
        good.shutdown(socket.SHUT_WR)
        self.assertTrue(wait_until(lambda: remote.received == [b"hello"], 5), remote.received)
        self.assertEqual(remote.accepted, 1)
        good.close()

        err = self.stop(proc)
        self.assertIn("101 turned away", err)
        log = self.log_records("tcpdp.log")
        timed_out = [r for r in log if r["level"] == "warn" and "within 1 s" in r["msg"]]
        self.assertEqual(len(timed_out), 100, [r["msg"] for r in log])
        stop = [r for r in log if r["msg"] == "stop"][0]
        self.assertEqual((stop["rejected"], stop["proxy_header_refused"]), (101, 101), stop)


class SelfLoop(unittest.TestCase):
    """A proxy relaying to itself is refused before it accepts anything."""

    def setUp(self):
        directory = tempfile.TemporaryDirectory()
        self.addCleanup(directory.cleanup)
        self.config = write_config(directory.name, os.path.join(directory.name, "logs"))

    def refused(self, args, env=None, pass_fds=()):
        proc = subprocess.run([TCPDP, "proxy", "-c", self.config] + args, capture_output=True,
                              timeout=20, env=env, pass_fds=pass_fds)
        err = proc.stderr.decode()
        self.assertEqual(proc.returncode, 2, err)
        self.assertIn("the proxy itself", err)
        return err

    def test_remote_is_the_listen_address(self):
        port = free_port()
        err = self.refused(["-l", "%s:%d" % (HOST, port), "-r", "%s:%d" % (HOST, port)])
        self.assertIn("-r %s:%d" % (HOST, port), err)

    def test_wildcard_listen_and_a_local_remote(self):
        port = free_port()
        self.refused(["-l", ":%d" % port, "-r", "localhost:%d" % port])
        self.refused(["-l", ":%d" % port, "-r", "127.0.0.2:%d" % port])
        local = [a for a in self.interface_addresses() if not a.startswith("127.")]
        if local:
            self.refused(["-l", ":%d" % port, "-r", "%s:%d" % (local[0], port)])

    def test_a_server_starter_socket(self):
        sock = socket.socket()
        sock.bind((HOST, 0))
        sock.listen(8)
        self.addCleanup(sock.close)
        port = sock.getsockname()[1]
        env = dict(os.environ, SERVER_STARTER_PORT="%s:%d=%d" % (HOST, port, sock.fileno()))
        self.refused(["-s", "-r", "%s:%d" % (HOST, port)], env=env, pass_fds=(sock.fileno(),))

    def test_the_same_port_elsewhere_is_no_loop(self):
        # Listening on 127.0.0.1 only: 127.0.0.2 with the same port is someone else.
        port = free_port()
        proc = subprocess.Popen([TCPDP, "proxy", "-c", self.config, "-l", "%s:%d" % (HOST, port),
                                 "-r", "127.0.0.2:%d" % port],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(proc.stderr.close)
        self.addCleanup(kill_quietly, proc.pid)
        self.assertIn("relaying", proc.stderr.readline().decode())
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(20), 0)

    @staticmethod
    def interface_addresses():
        out = subprocess.run(["hostname", "-I"], capture_output=True, text=True).stdout
        return [a for a in out.split() if ":" not in a]


def hook_processes(hook):
    """Pids of the running hook scripts (sh HOOK ...), children of anyone. A hook's shell forks
    for each command it runs, and until the child execs it has the same command line: a process
    whose parent is itself a hook is that child, not another hook."""
    found = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % name) as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if len(argv) > 1 and argv[1] == hook.encode() and alive(int(name)):
            found[int(name)] = ppid
    return [pid for pid, ppid in found.items() if ppid not in found]


class RotationHooks(ProxyCase):
    def with_hook(self, seconds, shutdown_timeout):
        """conn.log rotated every second, its hook a script that sleeps `seconds`, noting its
        start and end in hook.log."""
        hook = os.path.join(self.dir, "slow-hook")
        self.hook_log = os.path.join(self.dir, "hook.log")
        with open(hook, "w") as f:
            f.write('#!/bin/sh\necho "start $$ $2" >> %s\nsleep %s\necho "end $$" >> %s\n'
                    % (self.hook_log, seconds, self.hook_log))
        os.chmod(hook, 0o755)
        with open(self.config, "a") as f:
            f.write('rotationTime = "secondly"\nrotationHook = "%s"\n[proxy]\nshutdownTimeout = %s\n'
                    % (hook, shutdown_timeout))
        return hook

    def traffic(self, port, seconds, hook):
        """A connection every 0.2 s (so conn.log rotates every second); -> the most hook
        processes seen running at once."""
        most = 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with connect(port) as c:
                c.sendall(b"x")
                c.shutdown(socket.SHUT_WR)
                c.recv(16)
            most = max(most, len(hook_processes(hook)))
            time.sleep(0.2)
        return most

    def starts(self):
        return [line.split() for line in read_text(self.hook_log).splitlines()
                if line.startswith("start")]

    def test_one_hook_at_a_time_and_waited_for_at_the_stop(self):
        hook = self.with_hook(2.5, 10)
        echo = self.echo_server()
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), echo.address, "-d", "conn")
        most = self.traffic(port, 6, hook)
        self.assertLessEqual(most, 1, "hooks of conn.log running at once")
        self.stop(proc)
        self.assertEqual(hook_processes(hook), [], "hooks left running after the stop")
        lines = read_text(self.hook_log).splitlines()
        started = [l.split()[1] for l in lines if l.startswith("start")]
        ended = [l.split()[1] for l in lines if l.startswith("end")]
        self.assertTrue(2 <= len(started) <= 3, lines)  # 6 s of rotations, 2.5 s each
        self.assertEqual(sorted(started), sorted(ended), "every hook waited for")
        skipped = [r for r in self.log_records("tcpdp.log")
                   if r["level"] == "warn" and "not run for" in r["msg"]]
        self.assertTrue(skipped, "the skipped hooks are reported")
        self.assertIn("still running", skipped[0]["msg"])

    def test_a_hook_still_running_after_shutdown_timeout_is_named(self):
        hook = self.with_hook(30, 0.5)
        echo = self.echo_server()
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), echo.address, "-d", "conn")
        self.traffic(port, 3, hook)
        self.assertTrue(wait_until(lambda: self.starts(), 5), "no hook started")
        pid = int(self.starts()[0][1])
        self.addCleanup(kill_quietly, pid)
        begun = time.monotonic()
        self.stop(proc)
        self.assertLess(time.monotonic() - begun, 10, "the stop waited past shutdownTimeout")
        named = [r for r in self.log_records("tcpdp.log")
                 if r["level"] == "warn" and "left running" in r["msg"]]
        self.assertEqual(len(named), 1, named)
        self.assertIn(hook, named[0]["msg"])
        self.assertIn("pid %d" % pid, named[0]["msg"])
        self.assertTrue(alive(pid))


class LogDirIsAFile(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        self.file = os.path.join(self.dir.name, "not-a-dir")
        with open(self.file, "w") as f:
            f.write("x\n")

    def config(self, section, directory):
        path = os.path.join(self.dir.name, "tcpdp.toml")
        with open(path, "w") as f:
            f.write('[tcpdp]\npidfile = ""\n')
            for s in ("log", "dumpLog", "connLog"):
                f.write('[%s]\ndir = "%s"\n' % (s, directory if s == section else self.dir.name))
        return path

    def assert_refused(self, args, key, path):
        rc, _, err = run(args)
        self.assertEqual(rc, 2, err)
        self.assertIn("[%s] dir %s" % (key, path), err)

    def test_proxy(self):
        port = free_port()
        for section in ("log", "dumpLog", "connLog"):
            self.assert_refused(["proxy", "-c", self.config(section, self.file), "-l",
                                 "%s:%d" % (HOST, port), "-r", "%s:%d" % (HOST, port + 1)],
                                section, self.file)
        under = os.path.join(self.file, "logs")
        self.assert_refused(["proxy", "-c", self.config("connLog", under), "-l",
                             "%s:%d" % (HOST, port), "-r", "%s:%d" % (HOST, port + 1)],
                            "connLog", under)

    def test_probe(self):
        self.assert_refused(["probe", "-c", self.config("dumpLog", self.file), "-i", "lo",
                             "-t", "5432"], "dumpLog", self.file)

    def test_read(self):
        # read writes no log file, but the PostgreSQL sink's spool file goes in [log] dir.
        config = self.config("log", self.file)
        capture = pcap("edge_ipv6.pcap")
        self.assert_refused(["read", "-c", config, "--pg", "host=/nonexistent", capture],
                            "log", self.file)
        rc, _, err = run(["read", "-c", config, capture])
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    unittest.main()
