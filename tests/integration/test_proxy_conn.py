"""The proxy's conn.log against `tcpdp read -d pg --conn` of the same connections captured on lo
(needs root): a real PostgreSQL server, `tcpdp proxy -d pg` in front of it, `tcpdump -i lo`
capturing both legs of every relay (client -> proxy, proxy -> server), and sessions that end in
different ways: psql closing (the client's FIN first), a backend terminated by its own query (the
server's FIN first), and a client that resets after the SSLRequest's answer.

read names each leg from the packets; the proxy names the same two connections from its sockets
(TCP_INFO). Per connection, what the proxy wrote must be what read wrote, in the same words:

- summaries (the client's connection): every key the proxy shares with read has read's value
  (addresses, conn_state, closed_by, close_reason, bytes each way, username, database); the
  proxy's other keys are the documented proxy-only ones;
- state records (both legs): read's keys plus `leg`; the proxy samples the kernel's states at its
  socket events, so each side's states are read's, in read's order (a subsequence: the proxy does
  not see every transition the packets show) and end in the same state.

read's view is itself held to the packets by test_lifecycle (tshark); here the packets are the
independent witness of what the proxy says.
"""

import json
import os
import socket
import struct
import subprocess
import unittest

import servers
from support import TCPDP, Capture, TcpdpRun, read_text, records

HOST = "127.0.0.1"
SSL_REQUEST = struct.pack("!ii", 8, 80877103)
# What only a proxy knows; every other key of its conn.log records is one of read's.
PROXY_ONLY = {"state": {"leg"},
              "summary": {"proxy_close_reason", "proxy_client_addr", "remote_addr"}}
# Keys whose values differ by nature: the id, and times taken by different clocks.
OWN_VALUES = {"ts", "conn_id", "uid", "duration"}


def ends(record):
    """A conn.log record's connection as (client, server) socket addresses."""
    return ((record["src_ip"], record["src_port"]), (record["dst_ip"], record["dst_port"]))


def is_subsequence(short, long):
    it = iter(long)
    return all(any(x == y for y in it) for x in short)


@unittest.skipUnless(os.geteuid() == 0, "tcpdump on lo needs root")
class ProxyConnLogAgainstCapture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pg = cls.enterClassContext(servers.postgres())

    def setUp(self):
        self.proxy = TcpdpRun(self, "proxy", "tcpdp-proxy-conn-")
        self.pcap = os.path.join(self.proxy.dir, "lo.pcap")
        for attempt in range(3):  # a port found free may be taken before the proxy binds it
            self.port = servers.free_port()
            if self.proxy.launch(["-l", "%s:%d" % (HOST, self.port), "-r", "%s:%d" % (HOST, self.pg.port),
                                  "-d", "pg"], "relaying"):
                return
            if "in use" not in self.proxy.stderr() or attempt == 2:
                self.fail("proxy did not start: " + self.proxy.stderr())

    def psql(self, *sql):
        env = dict(self.pg.env, PGHOST=HOST, PGPORT=str(self.port))
        args = ["psql", "-X", "-v", "ON_ERROR_STOP=0"]
        for q in sql:
            args += ["-c", q]
        return subprocess.run(args, env=env, capture_output=True, text=True, timeout=60)

    def sessions(self):
        """The sessions; -> how many connections the proxy relayed."""
        done = self.psql("SELECT 1", "SELECT no_such_column", "SELECT repeat('x', 5000)")
        self.assertIn("no_such_column", done.stderr)
        terminated = self.psql("SELECT pg_terminate_backend(pg_backend_pid())")
        self.assertIn("terminat", terminated.stderr)
        with socket.create_connection((HOST, self.port), timeout=20) as s:
            s.sendall(SSL_REQUEST)
            self.assertEqual(s.recv(1), b"N")  # the server's answer: no TLS here
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        return 3

    def test_proxy_conn_log_says_what_read_says_of_the_capture(self):
        with Capture(self.pcap, self.port, self.pg.port):
            relayed = self.sessions()
        self.proxy.stop()
        mine = [json.loads(line) for line in read_text(os.path.join(self.proxy.logs, "conn.log")).splitlines()]
        read = records(subprocess.run(
            [TCPDP, "read", self.pcap, "-d", "pg", "--conn", "-t", "%d,%d" % (self.port, self.pg.port)],
            capture_output=True, check=True, timeout=60).stdout)
        read = [r for r in read if r["event"] in ("state", "summary")]

        summaries = [r for r in mine if r["event"] == "summary"]
        self.assertEqual(len(summaries), relayed, summaries)
        read_summaries = {ends(r): r for r in read if r["event"] == "summary"}
        self.assertEqual(len(read_summaries), 2 * relayed, "both legs of each relay in the capture")
        for s in summaries:
            theirs = read_summaries.get(ends(s))
            self.assertIsNotNone(theirs, "no connection %s in the capture" % (ends(s),))
            self.assertEqual(set(s) - set(theirs), PROXY_ONLY["summary"], (s, theirs))
            self.assertEqual({k: s[k] for k in s if k in theirs and k not in OWN_VALUES},
                             {k: theirs[k] for k in s if k in theirs and k not in OWN_VALUES},
                             "the proxy's summary against read's")
            # the remote leg is the connection from proxy_client_addr to remote_addr
            host, port = s["proxy_client_addr"].rsplit(":", 1)
            self.assertIn(((host, int(port)), (HOST, self.pg.port)), read_summaries, s)
        self.assertEqual(sorted(s["proxy_close_reason"] for s in summaries), ["fin", "fin", "reset"])
        self.assertEqual(sorted((s["closed_by"], s["conn_state"]) for s in summaries),
                         [("client", "RSTO"), ("client", "SF"), ("server", "SF")])

        def states(recs):
            out = {}
            for r in recs:
                if r["event"] == "state":
                    out.setdefault((ends(r), r["side"]), []).append(r)
            return out

        ours, theirs = states(mine), states(read)
        self.assertEqual(len(ours), 2 * relayed, "the proxy's side of both legs")
        for key, recs in ours.items():
            self.assertIn(key, theirs, "a side the capture does not have")
            want = theirs[key]
            self.assertEqual({tuple(sorted(set(r) - {"leg"})) for r in recs}, {tuple(sorted(want[0]))})
            self.assertEqual({r["leg"] for r in recs}, {"client" if key[1] == "server" else "remote"})
            self.assertTrue(is_subsequence([r["new_state"] for r in recs], [r["new_state"] for r in want]),
                            (key, [r["new_state"] for r in recs], [r["new_state"] for r in want]))
            self.assertEqual(recs[-1]["new_state"], want[-1]["new_state"], key)


if __name__ == "__main__":
    unittest.main()
