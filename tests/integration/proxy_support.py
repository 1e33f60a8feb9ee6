"""The proxy tests' own servers, clients and checks (Python sockets, threads, selectors), shared by
test_proxy.py, test_proxy_signals.py and test_proxy_abuse.py.
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
from support import TCPDP, addr_text, conn_client, wait_until, write_config


HOST = "127.0.0.1"
MB = 1 << 20
CHUNK = 256 * 1024
SEED = int(os.environ.get("TCPDP_TEST_SEED") or random.randrange(1 << 32))
SOCKET_TIMEOUT = 20  # no socket operation of these tests should come near it
FDS_NEEDED = 4096    # the 1000-connection test: 2000 sockets here, 2000 in the proxy


def raise_fd_limit():
    """At least FDS_NEEDED descriptors for this process (the 1000-connection test)."""
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
