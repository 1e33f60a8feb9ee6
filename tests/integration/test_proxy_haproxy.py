"""`tcpdp proxy -d mysql --proxy-protocol` behind real HAProxy (needs root): the real `mariadb`
client through HAProxy's frontends that send PROXY v1 and v2 headers, and one that sends none;
what tcpdp logs is checked against MariaDB's general query log and HAProxy's own view (see the
class). The proxy is run as in test_proxy_load.py.
"""

import os
import unittest

import servers
from support import conn_client
from workloads import mariadb_client, mariadb_session
from test_proxy_load import HOST, Proxy


FRONTEND_HOST = "127.0.0.4"  # HAProxy's frontends: the PROXY header's destination is no other address here
HAPROXY_ROUTES = {"v1": "send-proxy", "v2": "send-proxy-v2"}  # frontend -> the header it sends
# A MySQL client waits for the server's greeting, and the proxy connects to the server only after a
# header: the client is turned away when [proxy] headerTimeout (5 s by default) has passed.
NO_HEADER = "no whole PROXY protocol header came within 5 s"


@unittest.skipUnless(os.geteuid() == 0, "the servers need root")
class ProxyProtocolBehindHAProxy(unittest.TestCase):
    """`tcpdp proxy -d mysql --proxy-protocol` behind real HAProxy (servers.haproxy, TCP mode): the
    real `mariadb` client connects to HAProxy's frontend v1 (send-proxy: a PROXY v1 header) or v2
    (send-proxy-v2), on FRONTEND_HOST; HAProxy connects to the proxy, the proxy to a real MariaDB.
    Each client runs workloads.mariadb_session: three distinct queries, one of them asking MariaDB
    who the client is (PROCESSLIST.HOST).

    With --proxy-protocol-forward the header goes on to a MariaDB that reads it
    (--proxy-protocol-networks=127.0.0.0/8, which also lets in a client from there without one);
    without, it is taken off before a MariaDB that takes no header (a header reaching it fails the
    client: ERROR 1130 "Proxy header is not accepted from 127.0.0.1", or, as the bytes come, ERROR
    2013 lost connection). A client straight to the proxy, without a header, is refused either way.

    What tcpdp wrote is checked against sources that do not depend on it: HAProxy's own log of
    each session (%ci:%cp the real client, %fi:%fp the frontend it dialed, %bi:%bp HAProxy's end
    towards the proxy, %si:%sp the proxy), MariaDB's answer to the session's own question
    (PROCESSLIST.HOST: host:port of the client as MariaDB took it, from the header or from the
    socket; CONNECTION_ID(); USER()), MariaDB's general query log, what the client was told to send
    and its exit status."""

    @classmethod
    def setUpClass(cls):
        cls.my_reads_header = cls.enterClassContext(servers.mariadb(options=["--proxy-protocol-networks=127.0.0.0/8"]))
        cls.my_plain = cls.enterClassContext(servers.mariadb())

    def through_haproxy(self, server, *options):
        """`tcpdp proxy -d mysql OPTIONS` in front of server, HAProxy's frontends in front of the
        proxy, one mariadb_session through each frontend; the proxy stopped. -> (the Proxy,
        {route: the session}, {route: HAProxy's log of it}, {route: frontend port})."""
        proxy = Proxy(self, server.port, "mysql", *options)
        with servers.haproxy(FRONTEND_HOST, {route: (HOST, proxy.port, keyword)
                                             for route, keyword in HAPROXY_ROUTES.items()}) as ha:
            sessions = {route: mariadb_session(server.client_args_to(FRONTEND_HOST, ha.frontends[route]), server.env,
                                               route) for route in HAPROXY_ROUTES}
            logged = ha.one_session_each()
        proxy.stop()
        return proxy, sessions, logged, ha.frontends

    def check_sessions(self, server, proxy, sessions, logged, frontends):
        """What the proxy wrote of each session, against HAProxy's log, MariaDB's answers and its
        general log. -> {route: the connection's conn.log summary}."""
        recs = proxy.records("dump.log")
        conns = proxy.check_dump(recs)  # keys, conn_seq_num, no decode_error
        summaries = proxy.check_summaries(conns)  # SF, one each, stop record: none rejected
        self.assertEqual(sorted(client for client, _ in conns.values()),
                         sorted(logged[route]["backend_source"] for route in HAPROXY_ROUTES),
                         "the proxy's clients against HAProxy's ends towards it (%bi:%bp)")
        general = server.general_log()
        out = {}
        for route in HAPROXY_ROUTES:
            session, lb = sessions[route], logged[route]
            self.assertEqual(lb["frontend"], "%s:%d" % (FRONTEND_HOST, frontends[route]))
            self.assertEqual(lb["server"], proxy.listen_addr)
            self.assertEqual(lb["client"].rsplit(":", 1)[0], HOST)
            self.assertEqual(session["user"], "%s@%s" % (server.user, HOST))

            mine = [r for r in recs if r["client_addr"] == lb["backend_source"]]
            (conn_id,) = {r["conn_id"] for r in mine}
            want = {"proxy_protocol_src_addr": lb["client"], "proxy_protocol_dst_addr": lb["frontend"]}
            self.assertEqual([(r["conn_seq_num"], r.get("message_type") or r.get("command"), r.get(k))
                              for r in mine for k in want if r.get(k) != want[k]], [],
                             "%s: records (conn_seq_num, what, value) without the addresses of HAProxy's header %s; "
                             "the summary has %s" % (route, want, {k: summaries[conn_id].get(k) for k in want}))
            self.assertEqual([r for r in mine if "proxy_protocol_error" in r], [])

            # the handshake and the queries, decoded exactly
            handshake = mine[0]
            self.assertEqual((handshake.get("message_type"), handshake.get("username"), handshake.get("connection_id")),
                             ("HandshakeResponse", server.user, session["connection_id"]), handshake)
            commands = [r for r in mine if "command" in r]
            self.assertEqual([(r["command"], r.get("query")) for r in commands],
                             [("COM_QUERY", q) for q in session["queries"]] + [("COM_QUIT", None)])
            self.assertEqual([(r.get("rows"), r.get("error_code")) for r in commands[:-1]],
                             [(1, None)] * len(session["queries"]))
            self.assertEqual(len(mine), 1 + len(commands), "records besides the handshake and the commands")
            self.assertEqual([e["argument"] for e in general
                              if e["id"] == session["connection_id"] and e["command"] == "Query"],
                             session["queries"], "MariaDB's general log of the connection")

            summary = summaries[conn_id]
            self.assertEqual({k: summary.get(k) for k in want}, want, summary)
            self.assertEqual((conn_client(summary), summary["close_reason"], summary.get("username")),
                             (lb["backend_source"], "fin", server.user), summary)
            out[route] = summary
        return out

    def test_header_forwarded_to_mariadb(self):
        """--proxy-protocol-forward: the records and the summary carry the header's addresses as
        HAProxy logged them, and MariaDB, reading the header the proxy passed on, names HAProxy's
        client as the client (PROCESSLIST.HOST)."""
        server = self.my_reads_header
        proxy, sessions, logged, frontends = self.through_haproxy(server, "--proxy-protocol",
                                                                  "--proxy-protocol-forward")
        summaries = self.check_sessions(server, proxy, sessions, logged, frontends)
        for route in HAPROXY_ROUTES:
            # MariaDB took the client from the header the proxy passed on: HAProxy's client, not
            # the proxy's socket (nor HAProxy's)
            self.assertEqual(sessions[route]["host"], logged[route]["client"], route)
            self.assertNotIn(sessions[route]["host"], (summaries[route]["proxy_client_addr"],
                                                       logged[route]["backend_source"]))

    def test_header_taken_off(self):
        """--proxy-protocol alone: the records and the summary carry the header's addresses as
        HAProxy logged them, and MariaDB, which would fail a connection starting with a header,
        lets the client in and names the proxy's own end towards it as the client."""
        server = self.my_plain
        proxy, sessions, logged, frontends = self.through_haproxy(server, "--proxy-protocol")
        summaries = self.check_sessions(server, proxy, sessions, logged, frontends)
        for route in HAPROXY_ROUTES:
            # no header reached MariaDB (it would have failed the connection): it saw the proxy's
            # own socket, while the proxy logged HAProxy's client
            self.assertEqual(sessions[route]["host"], summaries[route]["proxy_client_addr"], route)
            self.assertNotEqual(sessions[route]["host"], logged[route]["client"], route)

    def test_client_without_header_refused(self):
        """A client straight to the proxy, without a header, is turned away once the header timeout
        has passed (the same client straight to MariaDB is let in): the client fails, MariaDB logs
        no session, tcpdp.log has a warning, conn.log a summary closed as rejected, nothing of the
        client's relayed or decoded."""
        for server, options in ((self.my_reads_header, ("--proxy-protocol", "--proxy-protocol-forward")),
                                (self.my_plain, ("--proxy-protocol",))):
            with self.subTest(options=options):
                # straight to MariaDB, the same client is let in (no header is asked of it)
                direct = mariadb_session(server.client_args, server.env, "direct")
                start = server.log_position()
                proxy = Proxy(self, server.port, "mysql", *options)
                refused = mariadb_client(proxy.mariadb_args(server), server.env, "SELECT 'refused'")
                proxy.stop()
                self.assertNotEqual(refused.returncode, 0, refused.stdout)
                self.assertIn("Lost connection", refused.stderr)
                # (the direct session's Quit may be logged after it ended)
                self.assertEqual([e for e in server.general_log(since=start, tcp_only=False)
                                  if e["id"] != direct["connection_id"]], [],
                                 "MariaDB logged a connection in or a query")

                warns = [r for r in proxy.records("tcpdp.log") if r["level"] != "info"]
                self.assertEqual([(r["level"], r["msg"]) for r in warns], [("warn", NO_HEADER)], warns)
                self.assertRegex(warns[0]["client_addr"], r"^127\.0\.0\.1:\d+$")
                summaries = [r for r in proxy.records("conn.log") if r["event"] == "summary"]
                self.assertEqual([(s["conn_id"], conn_client(s), s["conn_state"], s["close_reason"],
                                   s["proxy_close_reason"], s["closed_by"], s["client_bytes"]) for s in summaries],
                                 [(warns[0]["conn_id"], warns[0]["client_addr"], "OTH", "fin", "rejected", "server", 0)],
                                 summaries)
                self.assertEqual([k for k in summaries[0] if k.startswith("proxy_protocol")], [], summaries[0])
                self.assertEqual([r for r in proxy.records("dump.log") if r["direction"] == "->"], [],
                                 "records of what the refused client sent")
                stop = proxy.stop_record()
                self.assertEqual((stop["accepted"], stop["rejected"], stop["client_bytes"]), (1, 1, 0), stop)


# --------------------------------------------------------------------------------- the gigabyte


if __name__ == "__main__":
    unittest.main()
