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
- IPv6 addresses and a remote given by host name.

Signals and hot restarts are in test_proxy_signals.py, the servers and clients in proxy_support.py.

Every test asserts against what its own server and clients saw (bytes, hashes, EOF or reset,
refused connects, /proc of the proxy); tcpdp's logs are checked against that, never alone.
Random data comes from TCPDP_TEST_SEED (a random one if unset), named in failure messages.
"""

import hashlib
import os
import random
import signal
import socket
import threading
import time
import unittest

from support import addr_text, wait_until
from proxy_support import (HOST, MB, CHUNK, SEED, SOCKET_TIMEOUT, raise_fd_limit, free_port, ipv6_works,
                           listening, connect, recv_all, recv_exact, end_of, rst_close, random_bytes, sha,
                           fd_count, tcp_states, rss, echo_clients, echo_once, ProxyCase)


setUpModule = raise_fd_limit


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



if __name__ == "__main__":
    unittest.main()
