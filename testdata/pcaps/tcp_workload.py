#!/usr/bin/env python3
"""Plain-TCP workloads captured into testdata/pcaps/tcp_<case>.pcap.

generate.sh runs ``python3 tcp_workload.py CASE`` while tcpdump captures
``tcp port CASES[CASE]["port"]``.  Tests can ``import tcp_workload`` and use
CASES to know exactly which bytes were sent.

CASES maps a case name to a dict with these keys:

  host          address the server listens on ("127.0.0.1" or "::1")
  port          fixed server port; the capture filter is "tcp port <port>"
  end           how the connection ends:
                  "close"   client shuts down its write side (FIN), the
                            server sends its last message and closes:
                            a normal FIN/FIN close, no RST
                  "reset"   client closes with SO_LINGER {1, 0}: it sends
                            an RST instead of a FIN
                  "open"    capture stops while the connection is still
                            established (no FIN, no RST in the file)
                  "refused" nobody listens on the port: the client's SYN is
                            answered by an RST, ``attempts`` times
  attempts      (only "refused") how many connection attempts are made
  link          "EN10MB" (captured with -i lo) or "LINUX_SLL2" (-i any)
  client_sends  messages from the client, in order
  server_sends  messages from the server, in order

Ordering rule (all cases but "refused"): the client sends client_sends[i],
the server reads exactly that many bytes and answers server_sends[i]; the
client reads the whole answer before sending the next message.  Every send
is preceded by a PAUSE-second sleep, so each message starts its own TCP
segment (large ones are split into several segments).  For end == "close"
server_sends has one extra last entry, sent after the server has read the
client's FIN.  So in every file the client->server byte stream is
b"".join(client_sends) and the server->client stream is
b"".join(server_sends).

The client is always the side with the ephemeral port; the server side
has ``port``.
"""

import os
import socket
import struct
import sys
import threading
import time

PAUSE = 0.02  # seconds slept before every send

# 102400 bytes of deterministic binary (non-text) data.
BINARY_100K = bytes(range(256)) * 400

CASES = {
    "close": {
        "host": "127.0.0.1",
        "port": 27001,
        "end": "close",
        "link": "EN10MB",
        "client_sends": [
            b"HELLO tcpdp client message 1\n",
            BINARY_100K,
            b"client message 3: last one before FIN\n",
        ],
        "server_sends": [
            b"server reply 1\n",
            b"server reply 2: got 102400 bytes\n",
            b"server reply 3\n",
            b"server final message after client FIN\n",
        ],
    },
    "reset": {
        "host": "127.0.0.1",
        "port": 27002,
        "end": "reset",
        "link": "EN10MB",
        "client_sends": [b"client message before reset\n"],
        "server_sends": [b"server reply before reset\n"],
    },
    "refused": {
        "host": "127.0.0.1",
        "port": 27003,
        "end": "refused",
        "link": "EN10MB",
        "attempts": 2,
        "client_sends": [],
        "server_sends": [],
    },
    "open": {
        "host": "127.0.0.1",
        "port": 27004,
        "end": "open",
        "link": "EN10MB",
        "client_sends": [b"client message on a connection left open\n"],
        "server_sends": [b"server reply on a connection left open\n"],
    },
    "ipv6": {
        "host": "::1",
        "port": 27005,
        "end": "close",
        "link": "EN10MB",
        "client_sends": [b"ipv6 client 1\n", b"ipv6 client 2\n"],
        "server_sends": [
            b"ipv6 server 1\n",
            b"ipv6 server 2\n",
            b"ipv6 server final\n",
        ],
    },
    "sll2": {
        "host": "127.0.0.1",
        "port": 27006,
        "end": "close",
        "link": "LINUX_SLL2",
        "client_sends": [b"sll2 client 1\n", b"sll2 client 2\n"],
        "server_sends": [
            b"sll2 server 1\n",
            b"sll2 server 2\n",
            b"sll2 server final\n",
        ],
    },
}

TIMEOUT = 20.0  # seconds; any blocking socket call longer than this fails


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise RuntimeError("peer closed after %d of %d bytes" % (len(buf), n))
        buf += chunk
    return bytes(buf)


def _send(sock, data):
    time.sleep(PAUSE)
    sock.sendall(data)


def _server(listener, case, errors):
    try:
        conn, _ = listener.accept()
        conn.settimeout(TIMEOUT)
        with conn:
            cs, ss = case["client_sends"], case["server_sends"]
            for i, msg in enumerate(cs):
                got = _recv_exact(conn, len(msg))
                if got != msg:
                    raise RuntimeError("server got wrong message %d" % i)
                _send(conn, ss[i])
            if case["end"] == "close":
                if conn.recv(1) != b"":
                    raise RuntimeError("server expected FIN")
                _send(conn, ss[len(cs)])
                time.sleep(PAUSE)
                # leaving the with-block closes: server FIN
            elif case["end"] == "reset":
                try:
                    extra = conn.recv(1)
                except ConnectionResetError:
                    extra = b""
                if extra:
                    raise RuntimeError("server expected RST, got data")
            elif case["end"] == "open":
                # stays open until the client goes away (after the capture)
                conn.recv(1)
    except Exception as exc:  # reported by main thread
        errors.append("server: %r" % (exc,))


def _exchange(sock, case):
    for i, msg in enumerate(case["client_sends"]):
        _send(sock, msg)
        got = _recv_exact(sock, len(case["server_sends"][i]))
        if got != case["server_sends"][i]:
            raise RuntimeError("client got wrong reply %d" % i)


def _wait_for_file(path):
    deadline = time.monotonic() + 120
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise RuntimeError("timed out waiting for " + path)
        time.sleep(0.05)


def run_refused(case):
    fam = _family(case["host"])
    # make sure nobody listens there: binding the port must succeed
    probe = socket.socket(fam, socket.SOCK_STREAM)
    probe.bind((case["host"], case["port"]))
    probe.close()
    for _ in range(case["attempts"]):
        time.sleep(PAUSE)
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        try:
            s.connect((case["host"], case["port"]))
        except ConnectionRefusedError:
            pass
        else:
            raise RuntimeError("connection to %d was not refused" % case["port"])
        finally:
            s.close()


def run(name, release_file=None):
    case = CASES[name]
    if case["end"] == "refused":
        run_refused(case)
        return
    fam = _family(case["host"])
    listener = socket.socket(fam, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((case["host"], case["port"]))
    listener.listen(1)
    listener.settimeout(TIMEOUT)
    errors = []
    server = threading.Thread(target=_server, args=(listener, case, errors))
    server.start()
    try:
        sock = socket.socket(fam, socket.SOCK_STREAM)
        sock.settimeout(TIMEOUT)
        sock.connect((case["host"], case["port"]))
        _exchange(sock, case)
        if case["end"] == "close":
            time.sleep(PAUSE)
            sock.shutdown(socket.SHUT_WR)
            final = case["server_sends"][-1]
            got = _recv_exact(sock, len(final))
            if got != final:
                raise RuntimeError("client got wrong final message")
            if sock.recv(1) != b"":
                raise RuntimeError("client expected FIN")
            sock.close()
        elif case["end"] == "reset":
            time.sleep(PAUSE)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            sock.close()
        elif case["end"] == "open":
            print("holding connection open", flush=True)
            if release_file:
                _wait_for_file(release_file)
            sock.close()
    finally:
        server.join(TIMEOUT + 5)
        listener.close()
    if server.is_alive():
        errors.append("server thread did not finish")
    if errors:
        raise RuntimeError("; ".join(errors))


def main(argv):
    if len(argv) not in (2, 3) or argv[1] not in CASES:
        sys.stderr.write("usage: %s CASE [RELEASE_FILE]\n"
                         "  CASE: %s\n"
                         "  RELEASE_FILE (case open): keep the connection "
                         "open until this file exists\n"
                         % (argv[0], " | ".join(CASES)))
        return 2
    run(argv[1], argv[2] if len(argv) == 3 else None)
    print("done: " + argv[1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
