"""`tcpdp probe --proxy-protocol` on real components (needs root): the real `mariadb` client
connects to HAProxy (TCP mode), which opens the connection to a real MariaDB server with a PROXY
protocol header, version 1 (`send-proxy`) on one frontend and version 2 (`send-proxy-v2`) on
another; MariaDB accepts the header (`--proxy-protocol-networks=127.0.0.0/8`). The probe captures
the HAProxy->MariaDB leg on lo (`-t MARIADB_PORT -d mysql --proxy-protocol`), and another client
connects to MariaDB directly, without a header.

MariaDB sends its greeting as soon as it accepts a connection, without waiting for the PROXY
header (the specification asks receivers not to, but MariaDB does), so on the wire HAProxy's
header and MariaDB's greeting race: the header usually comes first, now and then the greeting
does. The header is still the start of the client's stream, and MariaDB takes it either way. A
last session pins the second order down: a few lines of Python stand in for the load balancer
and send the header only once the greeting has reached them.

Addresses (all on lo): the client dials HAProxy's frontends on 127.0.0.4 (so the PROXY header's
destination differs from every other address here); HAProxy connects to MariaDB from 127.0.0.3
(`source 127.0.0.3`), so its connections are told from the direct one (from 127.0.0.1) by their
captured addresses alone. MariaDB tolerates a connection without a header from a network in
proxy_protocol_networks (the direct client here), which the direct client's success shows.

What the probe wrote is checked against sources that do not depend on it:

- HAProxy's own log of each session (servers.haproxy: %ci:%cp, the client it accepted; %fi:%fp,
  the frontend address the client connected to, which is what send-proxy puts in the header as
  the destination; %bi:%bp, the address it connected to MariaDB from, which names the captured
  connection),
- MariaDB's view of each session, asked by the client itself (workloads.mariadb_session):
  information_schema.PROCESSLIST.HOST (host:port of the client as the server took it from the
  PROXY header, or from the socket for the direct connection), CONNECTION_ID(), USER(),
- MariaDB's general query log (the queries it received, per connection id),
- the queries the test had the client send.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import unittest

import servers
from support import TCPDP, client_addr, read_text, wait_until, write_config
from workloads import mariadb_session

CLIENT_HOST = "127.0.0.1"    # where the clients connect from (the kernel's choice on lo)
FRONTEND_HOST = "127.0.0.4"  # HAProxy's frontends
BACKEND_SOURCE = "127.0.0.3" # HAProxy's connections to MariaDB
RELAY_SOURCE = "127.0.0.5"   # the header-after-greeting relay's connection to MariaDB
PROXY_NETWORKS = "127.0.0.0/8"

ROUTES = ("v1", "v2", "late", "direct")


def json_lines(path):
    """A log's records; only whole lines (the last one may be half written)."""
    return [json.loads(line) for line in read_text(path).split("\n")[:-1] if line]


@unittest.skipUnless(os.geteuid() == 0, "live capture and the servers need root")
class ProbeProxyProtocol(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="tcpdp-probe-proxy-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        cls.my = cls.enterClassContext(servers.mariadb(options=["--proxy-protocol-networks=" + PROXY_NETWORKS]))
        cls.haproxy = cls.enterClassContext(servers.haproxy(
            FRONTEND_HOST, {route: (cls.my.host, cls.my.port, keyword)
                            for route, keyword in (("v1", "send-proxy"), ("v2", "send-proxy-v2"))},
            source=BACKEND_SOURCE))
        cls.frontends = dict(cls.haproxy.frontends)
        cls.start_relay()
        cls.start_probe()
        cls.sessions = {route: cls.mariadb_session(route) for route in ROUTES}
        # HAProxy logs a TCP session when it ends; the client has closed by now
        cls.haproxy_log = cls.haproxy.one_session_each()
        cls.relay_thread.join(10)
        # the probe has seen every connection end when each one's COM_QUIT is decoded
        wait_until(lambda: sum(1 for r in json_lines(cls.dump_log) if r.get("command") == "COM_QUIT") >= len(ROUTES), 5)
        cls.stop_probe()
        cls.dump = json_lines(cls.dump_log)
        cls.conn = json_lines(cls.conn_log)
        cls.general = cls.my.general_log()

    # --------------------------------------------------------------------------------- components

    @classmethod
    def start_relay(cls):
        """A one-connection stand-in for a load balancer on FRONTEND_HOST:port: connects to MariaDB
        from RELAY_SOURCE, waits for MariaDB's greeting, only then writes a PROXY v1 header naming
        the client it accepted and the address it accepted it on, and relays both ways. What it
        did goes into cls.relay_log (like HAProxy's log)."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((FRONTEND_HOST, 0))
        listener.listen(1)
        listener.settimeout(30)
        cls.frontends["late"] = listener.getsockname()[1]
        cls.relay_log = {}

        def pump(src, dst):
            try:
                while True:
                    data = src.recv(65536)
                    if not data:
                        break
                    dst.sendall(data)
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass

        def relay():
            with listener:
                client, (client_ip, client_port) = listener.accept()
            with client, socket.socket() as server:
                server.bind((RELAY_SOURCE, 0))
                server.connect((cls.my.host, cls.my.port))
                greeting = server.recv(65536)  # on the wire before the header
                header = "PROXY TCP4 %s %s %d %d\r\n" % (client_ip, FRONTEND_HOST, client_port, cls.frontends["late"])
                server.sendall(header.encode())
                client.sendall(greeting)
                cls.relay_log.update(client="%s:%d" % (client_ip, client_port),
                                     frontend="%s:%d" % (FRONTEND_HOST, cls.frontends["late"]),
                                     backend_source="%s:%d" % server.getsockname(),
                                     server="%s:%d" % server.getpeername(), greeting=len(greeting))
                back = threading.Thread(target=pump, args=(server, client))
                back.start()
                pump(client, server)
                back.join(30)

        cls.relay_thread = threading.Thread(target=relay, daemon=True)
        cls.relay_thread.start()

    @classmethod
    def start_probe(cls):
        cls.logs = os.path.join(cls.dir, "logs")
        config = write_config(cls.dir, cls.logs, rotate=False)
        cls.dump_log = os.path.join(cls.logs, "dump.log")
        cls.conn_log = os.path.join(cls.logs, "conn.log")
        cls.probe_err = os.path.join(cls.dir, "probe.err")
        with open(cls.probe_err, "wb") as err:
            cls.probe = subprocess.Popen([TCPDP, "probe", "-c", config, "-i", "lo", "-t", str(cls.my.port),
                                          "-d", "mysql", "--proxy-protocol"],
                                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
        cls.addClassCleanup(servers.stop_process, cls.probe, 10)
        if not wait_until(lambda: "listening on" in read_text(cls.probe_err) or cls.probe.poll() is not None, 30) \
                or cls.probe.poll() is not None:
            raise RuntimeError("probe did not start: " + read_text(cls.probe_err))

    @classmethod
    def stop_probe(cls):
        cls.probe.send_signal(signal.SIGTERM)
        rc = cls.probe.wait(timeout=60)
        if rc != 0:
            raise RuntimeError("probe exited with %d: %s" % (rc, read_text(cls.probe_err)))

    @classmethod
    def mariadb_session(cls, route):
        """workloads.mariadb_session on route: through HAProxy's v1 or v2 frontend, the relay, or
        straight to MariaDB."""
        client_args = cls.my.client_args if route == "direct" else cls.my.client_args_to(FRONTEND_HOST,
                                                                                          cls.frontends[route])
        try:
            return mariadb_session(client_args, cls.my.env, route)
        except AssertionError as e:
            raise RuntimeError("%s\n--- haproxy:\n%s" % (e, cls.haproxy.text())) from e

    # ------------------------------------------------------------------------------------ helpers

    def records_of(self, client):
        """The probe's dump records of the connection(s) whose captured client end is client."""
        return [r for r in self.dump if client_addr(r) == client]

    def summaries_of(self, client):
        host, port = client.rsplit(":", 1)
        return [r for r in self.conn if r.get("event") == "summary"
                and (r["src_ip"], int(r["src_port"])) == (host, int(port))]

    def server_queries(self, connection_id):
        """MariaDB's general log: the queries of one connection."""
        return [e["argument"] for e in self.general if e["id"] == connection_id and e["command"] == "Query"]

    def check_decoded(self, route, recs):
        """The session's handshake and queries are decoded, and nothing failed to decode."""
        session = self.sessions[route]
        self.assertEqual(self.server_queries(session["connection_id"]), session["queries"],
                         "MariaDB's general log against what the client sent")
        self.assertEqual([r for r in recs if "decode_error" in r or "proxy_protocol_error" in r], [])
        self.assertEqual(len({r["conn_id"] for r in recs}), 1, recs)
        handshakes = [r for r in recs if r.get("message_type") == "HandshakeResponse"]
        self.assertEqual(len(handshakes), 1, recs)
        self.assertEqual(handshakes[0]["username"], self.my.user)
        self.assertEqual(handshakes[0]["connection_id"], session["connection_id"], "the greeting's connection id")
        self.assertEqual(session["user"], "%s@%s" % (self.my.user, CLIENT_HOST))
        commands = [r for r in recs if "command" in r]
        self.assertEqual([(r["command"], r.get("query")) for r in commands],
                         [("COM_QUERY", q) for q in session["queries"]] + [("COM_QUIT", None)])
        self.assertEqual([r for r in commands if "error_code" in r], [])
        self.assertEqual([r.get("rows") for r in commands[:3]], [1, 1, 1])
        self.assertEqual(recs[0], handshakes[0], "the first record of the connection is the handshake")

    def check_proxied(self, route, logged, source):
        """A session through a load balancer whose own log is logged, connecting from source."""
        session = self.sessions[route]
        # the load balancer's and MariaDB's views of the client agree: the address the client
        # connected from, as the balancer accepted it and as MariaDB took it from the header
        self.assertEqual(logged["client"], session["host"])
        self.assertEqual(logged["client"].rsplit(":", 1)[0], CLIENT_HOST)
        self.assertEqual(logged["frontend"], "%s:%d" % (FRONTEND_HOST, self.frontends[route]))
        self.assertEqual(logged["server"], "%s:%d" % (self.my.host, self.my.port))
        self.assertEqual(logged["backend_source"].rsplit(":", 1)[0], source)

        recs = self.records_of(logged["backend_source"])
        self.assertTrue(recs, "no dump record of the connection from %s; its summary: %s"
                        % (logged["backend_source"], self.summaries_of(logged["backend_source"])))
        self.check_decoded(route, recs)
        want = {"proxy_protocol_src_addr": logged["client"], "proxy_protocol_dst_addr": logged["frontend"]}
        self.assertEqual([r for r in recs if {k: r.get(k) for k in want} != want], [],
                         "records without the PROXY header's addresses %s" % want)

        (summary,) = self.summaries_of(logged["backend_source"])
        self.assertEqual(summary["conn_id"], recs[0]["conn_id"])
        self.assertEqual({k: summary.get(k) for k in want}, want)
        self.assertNotIn("proxy_protocol_error", summary)
        self.assertEqual(summary["username"], self.my.user)
        self.assertEqual((summary["conn_state"], summary["missed_bytes"]), ("SF", 0))

    # -------------------------------------------------------------------------------------- tests

    def test_send_proxy_v1(self):
        self.check_proxied("v1", self.haproxy_log["v1"], BACKEND_SOURCE)

    def test_send_proxy_v2(self):
        self.check_proxied("v2", self.haproxy_log["v2"], BACKEND_SOURCE)

    def test_header_after_the_greeting(self):
        """MariaDB's greeting is on the wire before the header (the order HAProxy's header loses
        the race in now and then); the header is the start of the client's stream all the same."""
        self.assertGreater(self.relay_log["greeting"], 0)
        self.check_proxied("late", self.relay_log, RELAY_SOURCE)

    def test_direct_connection_has_no_proxy_keys(self):
        session = self.sessions["direct"]
        self.assertEqual(session["host"].rsplit(":", 1)[0], CLIENT_HOST)
        recs = self.records_of(session["host"])  # the server saw the client's own socket
        self.assertTrue(recs, "no record of the direct connection from %s" % session["host"])
        self.check_decoded("direct", recs)
        self.assertEqual([r for r in recs if any(k.startswith("proxy_protocol") for k in r)], [])
        (summary,) = self.summaries_of(session["host"])
        self.assertEqual([k for k in summary if k.startswith("proxy_protocol")], [])
        self.assertEqual(summary["username"], self.my.user)

    def test_nothing_else_was_captured(self):
        """Exactly the four connections, each summed up once; no packet dropped, no byte missed."""
        clients = {self.haproxy_log["v1"]["backend_source"], self.haproxy_log["v2"]["backend_source"],
                   self.relay_log["backend_source"], self.sessions["direct"]["host"]}
        program = json_lines(os.path.join(self.logs, "tcpdp.log"))
        (stop,) = [r for r in program if r.get("msg") == "stop"]
        self.assertEqual((stop["dropped"], stop["if_dropped"]), (0, 0), stop)
        self.assertEqual(sorted("%s:%d" % (r["src_ip"], r["src_port"]) for r in self.conn if r["event"] == "summary"),
                         sorted(clients))
        self.assertEqual([r for r in self.conn if r["event"] == "summary" and r["missed_bytes"]], [])


if __name__ == "__main__":
    unittest.main()
