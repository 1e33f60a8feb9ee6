#!/usr/bin/env python3
"""Connections with known endings for tcp_lifecycle.pcap, and the kernel's own record of them.

generate.sh runs ``python3 lifecycle_workload.py WORKDIR EXPECTED_JSON`` and talks to it through
files in WORKDIR:

  1. the workload arms a tracefs instance on the kernel's sock:inet_sock_set_state tracepoint
     (what tcp-audit reads), opens the ``mid_stream`` connection and writes ``ready``;
  2. generate.sh starts tcpdump on ``tcp port 27007 or tcp port 27008`` and writes ``go``;
  3. the workload marks the trace, runs the cases below in order and writes ``done``;
  4. generate.sh stops tcpdump while the ``open`` connection is still open and writes
     ``stopped``; the workload marks the trace, closes what is left and writes EXPECTED_JSON.

EXPECTED_JSON holds one entry per connection, in the order they were opened:

  case          one of CASES
  client_port   the client's (ephemeral) port; the server is 127.0.0.1:PORT, or REFUSED_PORT
  server_port
  client_sent   payload bytes the client sent, server_sent the same for the server
  kernel        {"client": [...], "server": [...]}: the kernel's state changes of the client's
                socket and of the server's accepted socket, [old, new] pairs in the tracepoint's
                names (TCP_SYN_SENT, ...), only those between the capture's start and stop marks

The cases:

  mid_stream    opened before the capture starts; data both ways, then the client closes
  client_fin    data both ways; the client shuts down its side first, the server closes after
  server_fin    the same with the server closing first
  simultaneous  both sides shut down at the same instant, from two processes, so the FINs
                cross (both sockets go through CLOSING); tried again, up to 20 times, until the
                kernel shows CLOSING on both sides; every attempt is an entry
  client_rst    the client closes with the server's reply unread: its kernel sends RST, not FIN
  server_rst    the same the other way round
  client_abort  the client closes with SO_LINGER {1, 0}: an abortive close (RST)
  refused       nobody listens on REFUSED_PORT: the SYN is answered by RST
  open          data both ways, still open when the capture stops

Needs root (tracefs, mounted on /sys/kernel/tracing if it is not).
"""

import json
import os
import re
import socket
import struct
import sys
import time

PORT = 27007
REFUSED_PORT = 27008
HOST = "127.0.0.1"
CASES = ["mid_stream", "client_fin", "server_fin", "simultaneous", "client_rst", "server_rst",
         "client_abort", "refused", "open"]
PAUSE = 0.02
CROSSING_TRIES = 200
TIMEOUT = 10
TRACEFS = "/sys/kernel/tracing"
START_MARK = "tcpdp capture started"
STOP_MARK = "tcpdp capture stopped"


class Trace:
    """A tracefs instance of its own, recording inet_sock_set_state for our two ports."""

    def __init__(self):
        if not os.path.exists(os.path.join(TRACEFS, "instances")):
            os.makedirs(TRACEFS, exist_ok=True)
            if os.system("mount -t tracefs nodev %s" % TRACEFS) != 0:
                sys.exit("lifecycle_workload: cannot mount tracefs on %s" % TRACEFS)
        self.dir = os.path.join(TRACEFS, "instances", "tcpdp-lifecycle-%d" % os.getpid())
        os.mkdir(self.dir)
        event = os.path.join(self.dir, "events", "sock", "inet_sock_set_state")
        ports = " || ".join("sport == %d || dport == %d" % (p, p) for p in (PORT, REFUSED_PORT))
        self.write(os.path.join(event, "filter"), ports)
        self.write(os.path.join(event, "enable"), "1")
        self.write(os.path.join(self.dir, "tracing_on"), "1")

    @staticmethod
    def write(path, text):
        with open(path, "w") as f:
            f.write(text)

    def mark(self, text):
        self.write(os.path.join(self.dir, "trace_marker"), text)

    def text(self):
        with open(os.path.join(self.dir, "trace")) as f:
            return f.read()

    def close(self):
        self.write(os.path.join(self.dir, "tracing_on"), "0")
        os.rmdir(self.dir)


LINE = re.compile(r"inet_sock_set_state: .*?sport=(\d+) dport=(\d+) .*?"
                  r"oldstate=(\w+) newstate=(\w+)")


def transitions(trace_text):
    """(sport, dport, old, new) of each state change between the start and stop marks.

    A connecting socket enters SYN_SENT before it has a local port (the tracepoint says
    sport=0); that change is given to the socket that next leaves SYN_SENT towards the same
    server port (this workload connects one socket at a time)."""
    out, on, unclaimed = [], False, {}
    for line in trace_text.splitlines():
        if START_MARK in line:
            on = True
        elif STOP_MARK in line:
            on = False
        elif on:
            m = LINE.search(line)
            if not m:
                continue
            change = [int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)]
            if change[0] == 0:
                unclaimed[change[1]] = change
            elif change[2] == "TCP_SYN_SENT" and change[1] in unclaimed:
                unclaimed.pop(change[1])[0] = change[0]
            out.append(change)
    return [tuple(c) for c in out]


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise RuntimeError("connection closed early")
        data += chunk
    return data


def wait_for(path):
    deadline = time.monotonic() + 120
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for " + path)
        time.sleep(0.02)


class Workload:
    def __init__(self):
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, PORT))
        self.listener.listen(16)
        self.listener.settimeout(TIMEOUT)
        self.entries = []

    def connect(self, case):
        client = socket.create_connection((HOST, PORT), timeout=TIMEOUT)
        server, _ = self.listener.accept()
        server.settimeout(TIMEOUT)
        entry = {"case": case, "client_port": client.getsockname()[1], "server_port": PORT,
                 "client_sent": 0, "server_sent": 0}
        self.entries.append(entry)
        return client, server, entry

    @staticmethod
    def exchange(client, server, entry, read_reply=True):
        ask = ("hello from the %s client\n" % entry["case"]).encode()
        answer = ("reply to the %s client\n" % entry["case"]).encode()
        time.sleep(PAUSE)
        client.sendall(ask)
        entry["client_sent"] += len(ask)
        if recv_exact(server, len(ask)) != ask:
            raise RuntimeError("server got the wrong request")
        time.sleep(PAUSE)
        server.sendall(answer)
        entry["server_sent"] += len(answer)
        if read_reply:
            if recv_exact(client, len(answer)) != answer:
                raise RuntimeError("client got the wrong reply")
        else:
            time.sleep(PAUSE)  # let it arrive, unread

    @staticmethod
    def orderly_close(first, second):
        time.sleep(PAUSE)
        first.shutdown(socket.SHUT_WR)
        if second.recv(1) != b"":
            raise RuntimeError("expected the peer's FIN")
        time.sleep(PAUSE)
        second.close()
        if first.recv(1) != b"":
            raise RuntimeError("expected the peer's FIN")
        first.close()

    # Crossing FINs need both shutdowns within the same instant; on a busy 2-core machine twenty
    # tries have all missed, so it takes up to CROSSING_TRIES.
    def simultaneous(self, trace):
        for _ in range(CROSSING_TRIES):
            client, server, entry = self.connect("simultaneous")
            self.exchange(client, server, entry)
            at = time.time() + 0.05
            pid = os.fork()
            if pid == 0:  # the server's side, shut down by another process at the same instant
                while time.time() < at:
                    pass
                server.shutdown(socket.SHUT_WR)
                os._exit(0)
            while time.time() < at:
                pass
            client.shutdown(socket.SHUT_WR)
            os.waitpid(pid, 0)
            if client.recv(1) != b"" or server.recv(1) != b"":
                raise RuntimeError("expected both FINs")
            client.close()
            server.close()
            time.sleep(PAUSE)
            port = entry["client_port"]
            closing = {(s, d) for s, d, _, new in transitions(START_MARK + "\n" + trace.text())
                       if new == "TCP_CLOSING"}
            if (port, PORT) in closing and (PORT, port) in closing:
                return
        raise RuntimeError("%d attempts and the FINs never crossed" % CROSSING_TRIES)

    def run(self, workdir, out_path):
        trace = Trace()
        try:
            self.run_traced(trace, workdir, out_path)
        finally:
            trace.close()

    def run_traced(self, trace, workdir, out_path):
        mid_client, mid_server, mid_entry = self.connect("mid_stream")
        open(os.path.join(workdir, "ready"), "w").close()
        wait_for(os.path.join(workdir, "go"))
        trace.mark(START_MARK)
        time.sleep(PAUSE)

        self.exchange(mid_client, mid_server, mid_entry)
        self.orderly_close(mid_client, mid_server)

        client, server, entry = self.connect("client_fin")
        self.exchange(client, server, entry)
        self.orderly_close(client, server)

        client, server, entry = self.connect("server_fin")
        self.exchange(client, server, entry)
        self.orderly_close(server, client)

        self.simultaneous(trace)

        client, server, entry = self.connect("client_rst")
        self.exchange(client, server, entry, read_reply=False)
        client.close()  # the reply is unread: RST
        try:
            server.recv(1)
        except ConnectionResetError:
            pass
        server.close()

        client, server, entry = self.connect("server_rst")
        self.exchange(client, server, entry)
        extra = b"more than the server will read\n"
        client.sendall(extra)
        entry["client_sent"] += len(extra)
        time.sleep(PAUSE)
        server.close()  # the extra bytes are unread: RST
        try:
            client.recv(1)
        except ConnectionResetError:
            pass
        client.close()

        client, server, entry = self.connect("client_abort")
        self.exchange(client, server, entry)
        time.sleep(PAUSE)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        try:
            server.recv(1)
        except ConnectionResetError:
            pass
        server.close()

        refused = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        refused.settimeout(TIMEOUT)
        time.sleep(PAUSE)
        try:
            refused.connect((HOST, REFUSED_PORT))
            raise RuntimeError("connection to %d was not refused" % REFUSED_PORT)
        except ConnectionRefusedError:
            pass
        self.entries.append({"case": "refused", "client_port": refused.getsockname()[1],
                             "server_port": REFUSED_PORT, "client_sent": 0, "server_sent": 0})
        refused.close()

        client, server, entry = self.connect("open")
        self.exchange(client, server, entry)

        time.sleep(PAUSE)
        open(os.path.join(workdir, "done"), "w").close()
        wait_for(os.path.join(workdir, "stopped"))
        trace.mark(STOP_MARK)
        client.close()
        server.close()
        self.listener.close()

        changes = transitions(trace.text())
        for e in self.entries:
            c, s = e["client_port"], e["server_port"]
            e["kernel"] = {
                "client": [[old, new] for sp, dp, old, new in changes if (sp, dp) == (c, s)],
                "server": [[old, new] for sp, dp, old, new in changes if (sp, dp) == (s, c)],
            }
        with open(out_path, "w") as f:
            json.dump(self.entries, f, indent=1)
            f.write("\n")


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: %s WORKDIR EXPECTED_JSON\n" % argv[0])
        return 2
    Workload().run(argv[1], argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
