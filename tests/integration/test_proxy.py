"""`tcpdp proxy` between servers and clients this module writes itself (Python sockets, threads,
selectors), on 127.0.0.1 and ::1, no root needed:

- 200 concurrent connections echo ~256 MB of random bytes intact (hashes, byte by byte), each
  half-closed by its client; one conn.log summary each (SF, byte counts); no descriptor leaked,
- half-closes are passed on both ways, the other direction still relayed,
- resets are passed on as resets (RSTR, RSTO), also one that comes before the proxy's event
  loop has seen its connect to the remote complete,
- a refused remote: the client is turned away, tcpdp.log and conn.log say so (REJ), the proxy
  goes on and relays once a server is there,
- backpressure: a remote that does not read holds the client back and the proxy's memory stays
  bounded; everything arrives once it reads,
- 1000 connections open at once,
- IPv6 addresses and a remote given by host name,
- SIGTERM (graceful: refused new connections, open ones go on), SIGINT (everything closed at
  once), SIGHUP (logs reopened),
- a hot restart under server-starter's start_server with clients busy on long-lived and new
  connections.

Every test asserts against what its own server and clients saw (bytes, hashes, EOF or reset,
refused connects, /proc of the proxy); tcpdp's logs are checked against that, never alone.
Random data comes from TCPDP_TEST_SEED (a random one if unset), named in failure messages.
"""

import hashlib
import json
import os
import random
import resource
import selectors
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import servers
from support import TCPDP, addr_text, conn_client, read_text, wait_until, write_config

HOST = "127.0.0.1"
MB = 1 << 20
CHUNK = 256 * 1024
SEED = int(os.environ.get("TCPDP_TEST_SEED") or random.randrange(1 << 32))
SOCKET_TIMEOUT = 20  # no socket operation of these tests should come near it
FDS_NEEDED = 4096    # the 1000-connection test: 2000 sockets here, 2000 in the proxy


def setUpModule():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < FDS_NEEDED:
        if hard != resource.RLIM_INFINITY and hard < FDS_NEEDED:
            hard = FDS_NEEDED  # root may raise it; anyone else gets an error here
        resource.setrlimit(resource.RLIMIT_NOFILE, (FDS_NEEDED, hard))


# ------------------------------------------------------------------------------------- helpers

def family_of(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def free_port(*hosts):
    """A free port below the kernel's ephemeral range (as servers.free_port picks them: no
    outgoing connection can take it meanwhile), free on every one of hosts."""
    for _ in range(200):
        port = servers.free_port()
        if all(servers.port_is_free(port, h) for h in hosts):
            return port
    raise RuntimeError("no free port on %s" % (hosts,))


def ipv6_works():
    try:
        s = socket.socket(socket.AF_INET6)
        s.bind(("::1", 0))
        s.close()
        return True
    except OSError:
        return False


def listening(host=HOST, port=None, backlog=128):
    s = socket.socket(family_of(host))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port or free_port(host)))
    s.listen(backlog)
    return s


def connect(port, host=HOST):
    return socket.create_connection((host, port), timeout=SOCKET_TIMEOUT)


def recv_all(sock):
    """Everything until EOF."""
    data = bytearray()
    while True:
        chunk = sock.recv(CHUNK)
        if not chunk:
            return bytes(data)
        data += chunk


def recv_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(min(CHUNK, n - len(data)))
        if not chunk:
            raise EOFError("EOF after %d of %d bytes" % (len(data), n))
        data += chunk
    return bytes(data)


def end_of(sock):
    """How a connection ends for the reader: 'eof', 'reset', or the data that came instead."""
    try:
        data = sock.recv(CHUNK)
    except ConnectionResetError:
        return "reset"
    return "eof" if data == b"" else data


def rst_close(sock):
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def random_bytes(rng, n):
    return b"".join(rng.randbytes(min(MB, n - i)) for i in range(0, n, MB))


def sha(data):
    return hashlib.sha256(data).hexdigest()



def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def fd_list(pid):
    out = []
    for name in os.listdir("/proc/%d/fd" % pid):
        try:
            out.append(os.readlink("/proc/%d/fd/%s" % (pid, name)))
        except OSError:
            pass
    return sorted(out)


TCP_STATES = {"01": "ESTABLISHED", "02": "SYN_SENT", "03": "SYN_RECV", "04": "FIN_WAIT1", "05": "FIN_WAIT2",
              "06": "TIME_WAIT", "07": "CLOSE", "08": "CLOSE_WAIT", "09": "LAST_ACK", "0A": "LISTEN", "0B": "CLOSING"}


def tcp_states(remote_port):
    """The kernel's states of this host's IPv4 TCP sockets connected to remote_port."""
    states = []
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[2].split(":")[1], 16) == remote_port:
                states.append(TCP_STATES.get(fields[3], fields[3]))
    return states


def rss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for %d" % pid)


def alive(pid):
    """Running, not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def children_of(pid):
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/%s/stat" % name) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        kids.append(int(name))
            except (OSError, ValueError, IndexError):
                pass
    return kids


def kill_quietly(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class EchoServer:
    """A selector loop in a thread: sends every connection's bytes back as they come and, at the
    client's EOF, the rest and then closes. Per connection (by the peer's address as tcpdp writes
    it) it keeps how many bytes came, their sha256, and how the connection ended."""

    HOLD = MB  # a connection is not read from while this much waits to be sent back

    class Peer:
        def __init__(self, sock):
            self.sock, self.out, self.events = sock, bytearray(), selectors.EVENT_READ
            self.received, self.hash, self.eof, self.closed, self.error = 0, hashlib.sha256(), False, False, None

    def __init__(self, host=HOST, port=None):
        self.listener = listening(host, port, backlog=4096)
        self.listener.setblocking(False)
        self.port = self.listener.getsockname()[1]
        self.address = addr_text((host, self.port))
        self.lock = threading.Lock()
        self.peers = {}
        self.open = self.max_open = self.accepted = self.finished = 0
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.listener, selectors.EVENT_READ, None)
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def stop(self):
        self.stopping = True
        self.thread.join(10)

    def _run(self):
        while not self.stopping:
            for key, mask in self.sel.select(0.05):
                if key.data is None:
                    self._accept()
                else:
                    self._serve(key.data, mask)
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()

    def _accept(self):
        while True:
            try:
                sock, addr = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            sock.setblocking(False)
            p = self.Peer(sock)
            self.sel.register(sock, p.events, p)
            with self.lock:
                self.peers[addr_text(addr)] = p
                self.accepted += 1
                self.open += 1
                self.max_open = max(self.max_open, self.open)

    def _serve(self, p, mask):
        try:
            if mask & selectors.EVENT_READ and not p.eof and len(p.out) < self.HOLD:
                data = p.sock.recv(CHUNK)
                if data:
                    p.hash.update(data)
                    p.received += len(data)
                    p.out += data
                else:
                    p.eof = True
            if p.out:
                del p.out[:p.sock.send(p.out)]
        except BlockingIOError:
            pass
        except OSError as e:
            p.error = e
            self._close(p)
            return
        if p.eof and not p.out:
            self._close(p)
            return
        want = ((selectors.EVENT_READ if not p.eof and len(p.out) < self.HOLD else 0)
                | (selectors.EVENT_WRITE if p.out else 0))
        if want != p.events:
            self.sel.modify(p.sock, want, p)
            p.events = want

    def _close(self, p):
        self.sel.unregister(p.sock)
        p.sock.close()
        p.closed = True
        with self.lock:
            self.open -= 1
            self.finished += 1


class EchoClient:
    """One connection of echo_clients(): sends its data, half-closes, reads the echo to EOF,
    comparing it byte by byte with what it sent."""

    def __init__(self, sock, data):
        self.sock, self.data, self.view = sock, data, memoryview(data)
        self.local = addr_text(sock.getsockname())
        self.sent = self.received = self.corrupted = 0
        self.hash = hashlib.sha256()
        self.shut = self.eof = False
        self.error = None

    def check(self, chunk):
        want = self.view[self.received:self.received + len(chunk)]
        if want != chunk:
            self.corrupted += sum(a != b for a, b in zip(want, chunk)) + len(chunk) - len(want)
        self.hash.update(chunk)
        self.received += len(chunk)


def echo_clients(port, payloads, timeout, host=HOST):
    """Every payload on its own connection, all at once, driven by one selector loop."""
    sel = selectors.DefaultSelector()
    clients = []
    for data in payloads:
        sock = connect(port, host)
        sock.setblocking(False)
        c = EchoClient(sock, data)
        if not data:
            sock.shutdown(socket.SHUT_WR)
            c.shut = True
        sel.register(sock, selectors.EVENT_READ | (0 if c.shut else selectors.EVENT_WRITE), c)
        clients.append(c)
    left = len(clients)
    deadline = time.monotonic() + timeout
    while left and time.monotonic() < deadline:
        for key, mask in sel.select(0.5):
            c = key.data
            try:
                if mask & selectors.EVENT_WRITE and not c.shut:
                    c.sent += c.sock.send(c.view[c.sent:c.sent + CHUNK])
                    if c.sent == len(c.data):
                        c.sock.shutdown(socket.SHUT_WR)
                        c.shut = True
                        sel.modify(c.sock, selectors.EVENT_READ, c)
                if mask & selectors.EVENT_READ:
                    chunk = c.sock.recv(CHUNK)
                    if chunk:
                        c.check(chunk)
                    else:
                        c.eof = True
            except BlockingIOError:
                pass
            except OSError as e:
                c.error, c.eof = repr(e), True
            if c.eof:
                sel.unregister(c.sock)
                c.sock.close()
                left -= 1
    for c in clients:
        if not c.eof:
            c.error = "no EOF after %d s" % timeout
            sel.unregister(c.sock)
            c.sock.close()
    sel.close()
    return clients


def echo_once(port, data, host=HOST):
    """One connection through the proxy to an echo server: send, half-close, read to EOF."""
    with connect(port, host) as c:
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
        return recv_all(c)


# --------------------------------------------------------------------------------------- tests

class ProxyCase(unittest.TestCase):
    maxDiff = 4000

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tcpdp-proxy-")
        self.logs = os.path.join(self.dir, "logs")
        # cleanups run last registered first: this one after the processes and servers are gone
        self.addCleanup(subprocess.run, ["rm", "-rf", self.dir], check=True)
        self.config = write_config(self.dir, self.logs)

    def echo_server(self, host=HOST, port=None):
        s = EchoServer(host, port)
        self.addCleanup(s.stop)
        return s

    def start(self, listen, remote, *args):
        """tcpdp proxy -l listen -r remote args..., once it says it relays."""
        proc = subprocess.Popen([TCPDP, "proxy", "-c", self.config, "-l", listen, "-r", remote] + list(args),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.addCleanup(self.kill, proc)
        line = proc.stderr.readline().decode()
        if "relaying" not in line:
            proc.kill()
            self.fail("tcpdp proxy did not start: " + line + proc.stderr.read().decode())
        proc.stderr_text = []
        proc.stderr_thread = threading.Thread(target=lambda: proc.stderr_text.append(proc.stderr.read().decode()),
                                              daemon=True)
        proc.stderr_thread.start()
        return proc

    def kill(self, proc):
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if hasattr(proc, "stderr_thread"):
            proc.stderr_thread.join(5)
        proc.stderr.close()

    def finish(self, proc, timeout=20):
        """Exit status and standard error once proc ends (a signal was sent, or is not needed)."""
        try:
            rc = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.fail("tcpdp did not exit within %d s" % timeout)
        proc.stderr_thread.join(5)
        proc.stderr.close()
        return rc, "".join(proc.stderr_text)

    def stop(self, proc, sig=signal.SIGTERM):
        proc.send_signal(sig)
        rc, err = self.finish(proc)
        self.assertEqual(rc, 0, err)
        return err

    def log_records(self, name):
        """Every record of a log: all its files (name.PERIOD[.N], and moved ones), oldest first."""
        recs = []
        if not os.path.isdir(self.logs):
            return recs
        for f in sorted(os.listdir(self.logs)):
            path = os.path.join(self.logs, f)
            if f.startswith(name + ".") and not os.path.islink(path):
                with open(path) as fh:
                    lines = fh.read().split("\n")
                # the last piece is "" or a record still being written
                recs += [json.loads(line) for line in lines[:-1] if line.strip()]
        return recs

    def summaries(self):
        return [r for r in self.log_records("conn.log") if r.get("event") == "summary"]

    def summaries_by_client(self, expected):
        """{client_addr: [summary, ...]} once there is one for each of expected (or 10 s went)."""
        def grouped():
            out = {}
            for r in self.summaries():
                out.setdefault(conn_client(r), []).append(r)
            return out
        def complete():
            have = grouped()
            return all(a in have for a in expected)
        wait_until(complete, 10, 0.1)
        return grouped()

    def summary_of(self, client_addr):
        by = self.summaries_by_client([client_addr])
        self.assertEqual(len(by.get(client_addr, [])), 1,
                         "one summary for %s in conn.log: %s" % (client_addr, by.get(client_addr)))
        return by[client_addr][0]

    def warm_up(self, port, echo):
        """One connection until its summary is in conn.log: tcpdp opens each log file at its
        first record, so descriptors counted afterwards are the proxy's idle set."""
        self.assertEqual(echo_once(port, b"warm-up\n"), b"warm-up\n")
        self.assertTrue(wait_until(lambda: self.summaries(), 5), "no summary in conn.log")

    def assertSameBytes(self, got, want, what):
        if got != want:
            first = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            self.fail("%s: %d bytes, %d expected, first difference at %d (seed %d)"
                      % (what, len(got), len(want), first, SEED))

    def assertFdsBack(self, pid, before, what):
        wait_until(lambda: fd_count(pid) == before, 10, 0.05)
        self.assertEqual(fd_count(pid), before, "%s: the proxy's descriptors now: %s" % (what, fd_list(pid)))


class Relay(ProxyCase):
    def test_checksummed_echo_200_connections(self):
        rng = random.Random(SEED)
        n, total = 200, 256 * MB
        sizes = [rng.randint(1, 2 * total // n) for _ in range(n)]
        sizes[0] = 0  # sends nothing, half-closes at once
        sizes[1] = 1
        payloads = [random_bytes(rng, size) for size in sizes]
        echo = self.echo_server()
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), echo.address, "-d", "conn")
        self.warm_up(port, echo)
        warm_up = set(echo.peers)
        fds_before = fd_count(proc.pid)

        clients = echo_clients(port, payloads, timeout=120)

        wrong = ["connection %d (%s, %d bytes): sent %d, echoed %d, %d corrupted, echo hash %s, error %s"
                 % (i, c.local, len(c.data), c.sent, c.received, c.corrupted,
                    "equal" if c.hash.hexdigest() == sha(c.data) else "differs", c.error)
                 for i, c in enumerate(clients)
                 if c.error or c.sent != len(c.data) or c.received != len(c.data) or c.corrupted
                 or c.hash.hexdigest() != sha(c.data)]
        self.assertEqual(wrong, [], "seed %d" % SEED)
        self.assertEqual(sum(c.corrupted for c in clients), 0)
        # the server's side: every connection's bytes, no more, no fewer, none mixed up
        wait_until(lambda: echo.finished == n + 1, 10)
        with echo.lock:
            at_server = sorted((p.received, p.hash.hexdigest(), repr(p.error))
                               for a, p in echo.peers.items() if a not in warm_up)
        self.assertEqual(at_server, sorted((len(d), sha(d), "None") for d in payloads), "seed %d" % SEED)

        by_client = self.summaries_by_client([c.local for c in clients])
        for c in clients:
            recs = by_client.get(c.local, [])
            self.assertEqual(len(recs), 1, "one summary for %s: %s" % (c.local, recs))
            s = recs[0]
            self.assertEqual((s["conn_state"], s["client_bytes"], s["server_bytes"], s["remote_addr"]),
                             ("SF", len(c.data), len(c.data), echo.address), s)
            self.assertIn(s["proxy_client_addr"], echo.peers, s)
            self.assertEqual(echo.peers[s["proxy_client_addr"]].received, len(c.data), s)
        self.assertEqual(len(self.summaries()), n + 1)
        self.assertEqual(self.log_records("dump.log"), [])
        self.assertFdsBack(proc.pid, fds_before, "after 200 connections")
        self.stop(proc)

    def test_half_close_is_passed_on_both_ways(self):
        rng = random.Random(SEED)
        srv = listening()
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), addr_text(srv.getsockname()), "-d", "conn")
        seen = {}

        # the client finishes first: the answer comes after its half-close
        ask, answer = random_bytes(rng, 300 * 1024), random_bytes(rng, 3 * MB)

        def server_answers_after_eof():
            s, _ = srv.accept()
            with s:
                s.settimeout(SOCKET_TIMEOUT)
                seen["ask"] = recv_all(s)
                s.sendall(answer)

        t = threading.Thread(target=server_answers_after_eof)
        t.start()
        with connect(port) as c:
            first_client = addr_text(c.getsockname())
            c.sendall(ask)
            c.shutdown(socket.SHUT_WR)
            got = recv_all(c)
        t.join(SOCKET_TIMEOUT)
        self.assertSameBytes(seen.get("ask", b""), ask, "the server read to EOF")
        self.assertSameBytes(got, answer, "the answer the client read after its half-close")

        # the server finishes first: the client goes on sending after the server's EOF
        before, greeting, after = random_bytes(rng, 100 * 1024), b"bye, send the rest\n", random_bytes(rng, 3 * MB)

        def server_shuts_first():
            s, _ = srv.accept()
            with s:
                s.settimeout(SOCKET_TIMEOUT)
                first = recv_exact(s, len(before))
                s.sendall(greeting)
                s.shutdown(socket.SHUT_WR)
                seen["all"] = first + recv_all(s)

        t = threading.Thread(target=server_shuts_first)
        t.start()
        with connect(port) as c:
            second_client = addr_text(c.getsockname())
            c.sendall(before)
            self.assertEqual(recv_all(c), greeting)  # and the server's EOF
            c.sendall(after)
            c.shutdown(socket.SHUT_WR)
            self.assertEqual(end_of(c), "eof")
        t.join(SOCKET_TIMEOUT)
        self.assertSameBytes(seen.get("all", b""), before + after, "what the server read after its half-close")

        s1, s2 = self.summary_of(first_client), self.summary_of(second_client)
        self.assertEqual((s1["conn_state"], s1["closed_by"], s1["client_bytes"], s1["server_bytes"]),
                         ("SF", "client", len(ask), len(answer)), s1)
        # The remote closed first: to the client, the server end of its connection (the proxy).
        self.assertEqual((s2["conn_state"], s2["closed_by"], s2["client_bytes"], s2["server_bytes"]),
                         ("SF", "server", len(before) + len(after), len(greeting)), s2)
        self.stop(proc)
        srv.close()

    def test_resets_are_passed_on(self):
        srv = listening()
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), addr_text(srv.getsockname()), "-d", "conn")
        srv.settimeout(SOCKET_TIMEOUT)

        # the server resets: the client must see a reset, not an EOF
        c = connect(port)
        server_resets = addr_text(c.getsockname())
        c.sendall(b"ping")
        s, _ = srv.accept()
        self.assertEqual(recv_exact(s, 4), b"ping")
        rst_close(s)
        self.assertEqual(end_of(c), "reset")
        c.close()

        # the client resets: the server must see a reset
        c = connect(port)
        client_resets = addr_text(c.getsockname())
        c.sendall(b"ping")
        s, _ = srv.accept()
        s.settimeout(SOCKET_TIMEOUT)
        self.assertEqual(recv_exact(s, 4), b"ping")
        rst_close(c)
        self.assertEqual(end_of(s), "reset")
        s.close()

        r = self.summary_of(server_resets)
        self.assertEqual((r["conn_state"], r["close_reason"], r["proxy_close_reason"], r["closed_by"]),
                         ("RSTR", "reset", "reset", "server"), r)
        o = self.summary_of(client_resets)
        self.assertEqual((o["conn_state"], o["close_reason"], o["proxy_close_reason"], o["closed_by"]),
                         ("RSTO", "reset", "reset", "client"), o)
        self.stop(proc)
        srv.close()

    def test_reset_before_the_proxy_saw_the_connect_complete(self):
        # A server that accepts late and resets at once: its SYN-ACK came (it did not refuse),
        # so whether or not the proxy's event loop has handled the completion of its connect by
        # the time the reset comes, the client must see a reset and conn.log say RSTR. The order
        # is made certain: the server's accept queue is full (its SYNs are dropped; the kernel
        # sends the SYN again a second later), the proxy is stopped (SIGSTOP) while the server
        # makes room, accepts the retried connection and resets it, and then continued.
        srv = listening(backlog=0)
        srv.settimeout(SOCKET_TIMEOUT)
        filler = socket.create_connection(srv.getsockname())  # the one place in its accept queue
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), addr_text(srv.getsockname()), "-d", "conn")
        c = connect(port)
        client = addr_text(c.getsockname())
        self.assertTrue(wait_until(lambda: "SYN_SENT" in tcp_states(srv.getsockname()[1]), 5),
                        "the proxy's connection to the server is not waiting: %s" % tcp_states(srv.getsockname()[1]))
        proc.send_signal(signal.SIGSTOP)
        try:
            s, _ = srv.accept()
            s.close()
            filler.close()
            s, peer = srv.accept()  # the proxy's SYN, sent again
            rst_close(s)
            self.assertTrue(wait_until(lambda: "ESTABLISHED" not in tcp_states(srv.getsockname()[1]), 5))
        finally:
            proc.send_signal(signal.SIGCONT)
        c.settimeout(SOCKET_TIMEOUT)
        self.assertEqual(end_of(c), "reset", "what the client saw of the server's reset")
        c.close()
        s = self.summary_of(client)
        self.assertEqual((s["conn_state"], s["close_reason"], s["proxy_client_addr"]), ("RSTR", "reset", addr_text(peer)), s)
        self.stop(proc)
        srv.close()

    def test_refused_remote(self):
        remote_port = free_port()  # nothing listens there
        remote = "%s:%d" % (HOST, remote_port)
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), remote, "-d", "conn")

        c = connect(port)
        client = addr_text(c.getsockname())
        self.assertIn(end_of(c), ("eof", "reset"), "the client is turned away without data")
        c.close()
        self.assertTrue(wait_until(lambda: any(
            r["level"] == "warn" and "cannot connect" in r["msg"] and remote in r["msg"]
            for r in self.log_records("tcpdp.log")), 5), self.log_records("tcpdp.log"))
        self.assertEqual(self.summary_of(client)["conn_state"], "REJ")
        self.assertIsNone(proc.poll(), "the proxy keeps running")

        echo = self.echo_server(port=remote_port)
        c = connect(port)
        later = addr_text(c.getsockname())
        c.sendall(b"now there is a server\n")
        c.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_all(c), b"now there is a server\n")
        c.close()
        self.assertEqual(self.summary_of(later)["conn_state"], "SF")
        self.assertEqual(echo.accepted, 1)
        self.stop(proc)

    def test_proxy_protocol_header_cut_short_or_missing_is_refused(self):
        echo = self.echo_server()
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), "%s:%d" % (HOST, echo.port), "-d", "hex",
                          "--proxy-protocol")
        for start in (b"PROXY TCP4 192.0.2", b""):  # a header cut short by the client's FIN; none
            c = connect(port)
            client = addr_text(c.getsockname())
            c.settimeout(5)
            if start:
                c.sendall(start)
            c.shutdown(socket.SHUT_WR)
            self.assertIn(end_of(c), ("eof", "reset"), "refused, not left hanging")
            c.close()
            s = self.summary_of(client)
            self.assertEqual((s["close_reason"], s["proxy_close_reason"], s["closed_by"]),
                             ("fin", "rejected", "server"), s)
        with echo.lock:
            self.assertEqual(sum(p.received for p in echo.peers.values()), 0,
                             "nothing reached the remote")
        self.stop(proc)

    def test_proxy_protocol_greeting_waits_for_the_header(self):
        # A server that speaks first (as MySQL greets): the client hears nothing until its
        # header has been read (a receiver must not speak before it), and every record carries
        # the header's addresses.
        srv = socket.socket()
        srv.bind((HOST, 0))
        srv.listen(1)

        def greet_then_echo():
            conn, _ = srv.accept()
            conn.sendall(b"hello from the server\n")
            conn.sendall(recv_all(conn))
            conn.close()

        server = threading.Thread(target=greet_then_echo)
        server.start()
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), "%s:%d" % (HOST, srv.getsockname()[1]),
                          "-d", "hex", "--proxy-protocol")
        c = connect(port)
        c.settimeout(0.5)
        with self.assertRaises(socket.timeout, msg="the greeting came before the header"):
            c.recv(CHUNK)
        c.settimeout(5)
        c.sendall(b"PROXY TCP4 192.0.2.7 198.51.100.1 51000 3306\r\n")
        greeting = b""
        while not greeting.endswith(b"\n"):
            greeting += c.recv(CHUNK)
        self.assertEqual(greeting, b"hello from the server\n")
        c.sendall(b"question")
        c.shutdown(socket.SHUT_WR)
        self.assertEqual(recv_all(c), b"question")
        c.close()
        server.join()
        srv.close()
        self.stop(proc)
        recs = self.log_records("dump.log")
        self.assertEqual(sorted(r["ascii"] for r in recs),
                         ["hello from the server.", "question", "question"])
        for r in recs:
            self.assertEqual((r["proxy_protocol_src_addr"], r["proxy_protocol_dst_addr"]),
                             ("192.0.2.7:51000", "198.51.100.1:3306"), r)

    def test_backpressure_bounds_memory(self):
        rng = random.Random(SEED)
        payload = random_bytes(rng, 50 * MB)
        srv = listening()
        srv.settimeout(SOCKET_TIMEOUT)
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), addr_text(srv.getsockname()), "-d", "conn")
        rss_start = rss(proc.pid)
        peak = [rss_start]
        progress = {"sent": 0, "error": None}

        def client():
            try:
                with connect(port) as c:
                    view = memoryview(payload)
                    while progress["sent"] < len(payload):
                        progress["sent"] += c.send(view[progress["sent"]:progress["sent"] + MB])
                    c.shutdown(socket.SHUT_WR)
                    progress["end"] = end_of(c)
            except OSError as e:
                progress["error"] = repr(e)

        t = threading.Thread(target=client)
        t.start()
        s, _ = srv.accept()  # and not read from for a while
        last, still_since, deadline = -1, time.monotonic(), time.monotonic() + 15
        while time.monotonic() < deadline and time.monotonic() - still_since < 1.5:
            peak[0] = max(peak[0], rss(proc.pid))
            if progress["sent"] != last:
                last, still_since = progress["sent"], time.monotonic()
            time.sleep(0.05)
        held_at = progress["sent"]
        self.assertLess(held_at, len(payload), "the client was not held back while the server did not read")

        got, hashed = 0, hashlib.sha256()
        with s:
            s.settimeout(SOCKET_TIMEOUT)
            while True:
                chunk = s.recv(CHUNK)
                if not chunk:
                    break
                if payload[got:got + len(chunk)] != chunk:
                    self.fail("bytes %d-%d differ (seed %d)" % (got, got + len(chunk), SEED))
                hashed.update(chunk)
                got += len(chunk)
                if got // MB != (got - len(chunk)) // MB:
                    peak[0] = max(peak[0], rss(proc.pid))
        t.join(SOCKET_TIMEOUT)
        peak[0] = max(peak[0], rss(proc.pid))
        self.assertIsNone(progress["error"])
        self.assertEqual((got, hashed.hexdigest()), (len(payload), sha(payload)))
        self.assertEqual(progress.get("end"), "eof")
        self.assertLess(peak[0] - rss_start, 64 * MB,
                        "the proxy's RSS grew from %d to %d KiB (the client was held at %d bytes)"
                        % (rss_start // 1024, peak[0] // 1024, held_at))
        self.stop(proc)
        srv.close()

    def test_1000_connections_at_once(self):
        n = 1000
        echo = self.echo_server()
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), echo.address, "-d", "conn", "--workers", "2")
        self.warm_up(port, echo)
        fds_before = fd_count(proc.pid)
        clients = []
        try:
            for i in range(n):
                c = connect(port)
                c.sendall(b"connection %d\n" % i)
                clients.append(c)
            # every one is open at the server, through the proxy, at the same time
            self.assertTrue(wait_until(lambda: echo.open == n, 20, 0.05),
                            "%d of %d connections open at the server" % (echo.open, n))
            self.assertGreaterEqual(fd_count(proc.pid), fds_before + 2 * n)
            for i, c in enumerate(clients):
                self.assertEqual(recv_exact(c, len(b"connection %d\n" % i)), b"connection %d\n" % i)
            locals_ = [addr_text(c.getsockname()) for c in clients]
            for c in clients:
                c.shutdown(socket.SHUT_WR)
            for c in clients:
                self.assertEqual(end_of(c), "eof")
        finally:
            for c in clients:
                c.close()
        self.assertTrue(wait_until(lambda: echo.finished == n + 1, 20, 0.05))
        with echo.lock:
            self.assertEqual(sorted(p.received for p in echo.peers.values()),
                             sorted([len(b"warm-up\n")] + [len(b"connection %d\n" % i) for i in range(n)]))
            self.assertEqual([p.error for p in echo.peers.values() if p.error], [])
        by_client = self.summaries_by_client(locals_)
        self.assertEqual(sorted((len(by_client.get(a, [])), by_client.get(a, [{}])[0].get("conn_state")) for a in locals_),
                         [(1, "SF")] * n)
        self.assertFdsBack(proc.pid, fds_before, "after 1000 connections")
        self.stop(proc)

    @unittest.skipUnless(ipv6_works(), "no IPv6 on lo")
    def test_ipv6_and_host_names(self):
        echo6 = self.echo_server("::1")
        port = free_port("::1")
        proc = self.start("[::1]:%d" % port, echo6.address, "-d", "conn")
        self.assertEqual(echo_once(port, b"over IPv6\n", "::1"), b"over IPv6\n")
        self.assertTrue(wait_until(self.summaries, 5), "no summary in conn.log")
        (s,) = self.summaries()
        self.assertEqual((s.get("src_ip"), s.get("dst_ip"), s.get("dst_port"), s.get("remote_addr"), s.get("conn_state")),
                         ("::1", "::1", port, echo6.address, "SF"), s)
        self.assertIn(s["proxy_client_addr"], echo6.peers)
        self.stop(proc)

        echo4 = self.echo_server(HOST)
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), "localhost:%d" % echo4.port, "-d", "conn")
        self.assertEqual(echo_once(port, b"to a host name\n"), b"to a host name\n")
        self.assertEqual(echo4.accepted, 1)
        self.stop(proc)

    @unittest.skipUnless(os.geteuid() == 0 and os.access("/etc/hosts", os.W_OK), "needs root to edit /etc/hosts")
    def test_a_changed_name_is_followed(self):
        # The remote's name moves from 127.0.0.1 to 127.0.0.2 while the proxy runs (glibc reads
        # /etc/hosts at every lookup): new connections go to the new address within about a
        # second, with no connection refused meanwhile.
        name = "tcpdp-remote-%d.test" % os.getpid()
        with open("/etc/hosts") as f:
            hosts = f.read()

        def point_at(addr):
            with open("/etc/hosts", "w") as f:
                f.write(hosts + ("%s %s\n" % (addr, name) if addr else ""))
        self.addCleanup(point_at, None)

        old = self.echo_server("127.0.0.1")
        new = self.echo_server("127.0.0.2", port=old.port)
        point_at("127.0.0.1")
        port = free_port()
        proc = self.start("%s:%d" % (HOST, port), "%s:%d" % (name, old.port), "-d", "conn")
        self.assertEqual(echo_once(port, b"before\n"), b"before\n")
        self.assertEqual((old.accepted, new.accepted), (1, 0))
        point_at("127.0.0.2")
        deadline = time.monotonic() + 5
        while new.accepted == 0 and time.monotonic() < deadline:
            self.assertEqual(echo_once(port, b"during\n"), b"during\n")
            time.sleep(0.1)
        self.assertEqual(new.accepted, 1, "the new address was never used")
        self.assertEqual(echo_once(port, b"after\n"), b"after\n")
        self.assertEqual(new.accepted, 2)
        self.stop(proc)


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
