"""`tcpdp proxy` under real load (needs root): real clients talk to throwaway PostgreSQL and MariaDB
servers (servers.py) through the proxy, and a few streams of a gigabyte go through it to an echo
server. Every client is given the proxy's port instead of the server's; the proxy must relay
everything intact and log every query once. What it wrote is checked against sources that do not
depend on it:

- what the clients say they did and got: pgbench's transactions actually processed and failed,
  mariadb-slap's options and its exit status, psql's and mariadb's answers to a long query, and
  the echo clients' own bytes and hashes,
- the server's own log of every statement (PostgreSQL's log_statement = 'all', one entry per
  Query or Execute message, each with the backend's pid and the client's port as the server saw
  it, which is the proxy's end towards the server; and log_connections, one "connection
  received" entry per TCP connection; MariaDB's general query log, one Query entry per COM_QUERY,
  one Connect per connection, by the connection id the server gave it, which tcpdp's handshake
  record carries),
- the echo server's count and hash of what it received on each connection, by the peer address
  it accepted (the proxy's end towards it).

Each test runs its own `tcpdp proxy -c CONFIG -l 127.0.0.1:PORT -r 127.0.0.1:SERVER_PORT -d
DUMPER`, logs without rotation in a temporary directory, waits for "relaying" on its stderr, runs
the clients, then stops it with SIGTERM (it must exit 0; every record is written by then) and reads
dump.log, conn.log and tcpdp.log. Every dump record must carry conn_id, conn_seq_num (1, 2, 3, ...
in the order written, per connection), client_addr, proxy_listen_addr (the -l address),
proxy_client_addr, remote_addr (the server's address) and direction; every connection has one
conn.log summary, with conn_state SF (every client here closes cleanly).

What "one query" is: pg simple protocol, one `Q` record; pg extended protocol (pgbench -M
extended), one `E` record (execute_query); mysql, one `COM_QUERY` record (see test_probe_load.py).

test_proxy_haproxy.py puts the proxy, with --proxy-protocol, behind real HAProxy, run as here.
"""

import collections
import hashlib
import json
import os
import queue
import random
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

import servers
from support import TcpdpRun, conn_client, conn_server, port_of, read_text
from workloads import (MY_QUERIES, PG_EXTENDED_TEXTS, PG_SCRIPT_STATEMENTS, STATEMENTS_PER_TRANSACTION, Slap,
                       bound_executes, counter_diff, pgbench_command,
                       setup_pgbench, template)

HOST = servers.HOST
CLIENTS = 50

# The workloads are workloads.py's (shared with test_probe_load.py); their sizes here:
PG_TRANSACTIONS_PER_CLIENT = 80  # 4000 transactions, 20000 statements a run
PG_CONNECTION = re.compile(r"connection received: host=(\S+) port=(\d+)\Z")
# mariadb-slap: a client's share is 80 queries an iteration; 8000 load queries in all
SLAP = Slap(schema="tcpdp_proxy_slap", clients=CLIENTS, iterations=2, number_of_queries=4000)

# The long queries: a literal of 1.6 MB in which every 8 characters differ from all the others,
# so any byte out of place changes the text. Sent on the client's standard input: a command-line
# argument (psql -c, mariadb -e) cannot be longer than 128 KiB on Linux (MAX_ARG_STRLEN).
LONG_LITERAL = "".join("%07d," % i for i in range(200000))
LONG_QUERY = "SELECT length('%s') AS n" % LONG_LITERAL

# The gigabyte: ECHO_CLIENTS connections at once, each sending ECHO_BYTES of pseudo-random bytes
# (seeded by TCPDP_TEST_SEED, a random seed if unset) while reading the echo back.
ECHO_CLIENTS = 4
ECHO_BYTES = 256 << 20
ECHO_CHUNK = 1 << 20
SEED = int(os.environ.get("TCPDP_TEST_SEED") or random.randrange(1 << 32))
SOCKET_TIMEOUT = 60

# The echo server, a process of its own (so the clients' threads do not share its interpreter):
# prints its port, then per connection, once its client has half-closed and everything is echoed,
# one JSON line {"peer", "bytes", "sha256"} of what it received; exits after `count` connections.
ECHO_SERVER = r"""
import hashlib, json, socket, sys, threading
count = int(sys.argv[1])
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(count)
print(listener.getsockname()[1], flush=True)
lock = threading.Lock()

def serve(conn, peer):
    digest, total = hashlib.sha256(), 0
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    conn.settimeout(120)
    while True:
        n = conn.recv_into(buf)
        if not n:
            break
        digest.update(view[:n])
        conn.sendall(view[:n])
        total += n
    conn.shutdown(socket.SHUT_WR)
    conn.close()
    with lock:
        print(json.dumps({"peer": "%s:%d" % peer, "bytes": total, "sha256": digest.hexdigest()}), flush=True)

threads = []
for _ in range(count):
    conn, peer = listener.accept()
    threads.append(threading.Thread(target=serve, args=(conn, peer)))
    threads[-1].start()
for t in threads:
    t.join()
"""


class Proxy(TcpdpRun):
    """One `tcpdp proxy` run in front of 127.0.0.1:remote_port, its logs (no rotation) in a
    temporary directory, listening on a free port of 127.0.0.1 below the ephemeral range; stop()
    (SIGTERM) must see it exit 0 within a minute, with every record written."""

    ADDRESS_KEYS = ("conn_id", "conn_seq_num", "client_addr", "proxy_listen_addr", "proxy_client_addr",
                    "remote_addr", "direction")

    def __init__(self, test, remote_port, dumper, *options):
        super().__init__(test, "proxy", "tcpdp-proxy-load-")
        self.remote_addr = "%s:%d" % (HOST, remote_port)
        for attempt in range(3):  # a port found free may be taken before the proxy binds it
            self.port = servers.free_port()
            self.listen_addr = "%s:%d" % (HOST, self.port)
            if self.launch(["-l", self.listen_addr, "-r", self.remote_addr, "-d", dumper] + list(options), "relaying"):
                return
            if "in use" not in self.stderr() or attempt == 2:
                test.fail("proxy did not start: " + self.stderr())

    def client_env(self, env):
        """A PostgreSQL client environment (servers.Postgres.env) pointed at the proxy."""
        return dict(env, PGHOST=HOST, PGPORT=str(self.port))

    def mariadb_args(self, server):
        """servers.MariaDB.client_args pointed at the proxy."""
        return server.client_args_to(HOST, self.port)

    def records(self, name):
        """A log's records, after the stop: every line whole JSON."""
        text = read_text(os.path.join(self.logs, name))
        self.test.assertTrue(text == "" or text.endswith("\n"), "%s ends in a partial line" % name)
        return [json.loads(line) for line in text.split("\n")[:-1]]

    def stop_record(self):
        stops = [r for r in self.records("tcpdp.log") if r.get("msg") == "stop"]
        self.test.assertEqual(len(stops), 1, self.records("tcpdp.log"))
        return stops[0]

    # ------------------------------------------------------------------------------- checks

    def check_dump(self, recs):
        """Every dump record has the proxy's keys, this proxy's listening and remote addresses,
        conn_seq_num 1, 2, 3, ... per conn_id in the order written, and one pair of client_addr and
        proxy_client_addr per conn_id. -> {conn_id: (client_addr, proxy_client_addr)}."""
        t = self.test
        t.assertTrue(recs, "dump.log is empty")
        t.assertEqual([r for r in recs if not all(k in r for k in self.ADDRESS_KEYS)][:3], [],
                      "records without the proxy's keys")
        t.assertEqual(collections.Counter(r["proxy_listen_addr"] for r in recs), {self.listen_addr: len(recs)})
        t.assertEqual(collections.Counter(r["remote_addr"] for r in recs), {self.remote_addr: len(recs)})
        t.assertEqual({r["direction"] for r in recs} - {"->", "<-"}, set())
        t.assertEqual([r for r in recs if "decode_error" in r][:3], [], "decode errors")
        seqs, addrs = collections.defaultdict(list), collections.defaultdict(set)
        for r in recs:
            seqs[r["conn_id"]].append(r["conn_seq_num"])
            addrs[r["conn_id"]].add((r["client_addr"], r["proxy_client_addr"]))
        bad = {c: s[:20] for c, s in seqs.items() if s != list(range(1, len(s) + 1))}
        t.assertEqual(bad, {}, "connections whose conn_seq_num, in the order written, is not 1, 2, 3, ... "
                      "(%d of %d; the first 20 numbers of each shown)" % (len(bad), len(seqs)))
        t.assertEqual({c: a for c, a in addrs.items() if len(a) != 1}, {}, "connections with changing addresses")
        for client, proxy_client in (next(iter(a)) for a in addrs.values()):
            t.assertRegex(client, r"^127\.0\.0\.1:\d+$")
            t.assertRegex(proxy_client, r"^127\.0\.0\.1:\d+$")
        return {c: next(iter(a)) for c, a in addrs.items()}

    def check_summaries(self, conns):
        """conn.log: one summary per connection, SF, with the addresses its dump records have;
        every connection in dump.log has one. -> {conn_id: summary}."""
        t = self.test
        summaries = [r for r in self.records("conn.log") if r.get("event") == "summary"]
        per_conn = collections.Counter(s["conn_id"] for s in summaries)
        t.assertEqual({c: n for c, n in per_conn.items() if n != 1}, {}, "connections with more than one summary")
        t.assertEqual(set(conns) - set(per_conn), set(), "connections in dump.log without a summary")
        t.assertEqual([(s["conn_id"], s["conn_state"], s.get("close_reason")) for s in summaries
                       if s["conn_state"] != "SF"][:5], [], "connections not closed with FIN both ways")
        for s in summaries:
            t.assertEqual((conn_server(s), s["remote_addr"]), (self.listen_addr, self.remote_addr), s)
            if s["conn_id"] in conns:
                t.assertEqual((conn_client(s), s["proxy_client_addr"]), conns[s["conn_id"]], s)
            t.assertGreater(s["client_bytes"], 0, s)
            t.assertGreater(s["server_bytes"], 0, s)
        stop = self.stop_record()
        t.assertEqual((stop["accepted"], stop["rejected"], stop["dropped_records"]), (len(summaries), 0, 0), stop)
        t.assertEqual((stop["client_bytes"], stop["remote_bytes"]),
                      (sum(s["client_bytes"] for s in summaries), sum(s["server_bytes"] for s in summaries)), stop)
        return {s["conn_id"]: s for s in summaries}


# ------------------------------------------------------------------------------------ PostgreSQL

@unittest.skipUnless(os.geteuid() == 0, "the servers need root")
class PostgresThroughProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        setup_pgbench(cls, "tcpdp-proxy-load-pg-", options=["log_connections=on"])

    def pgbench(self, proxy, *args):
        """pgbench through the proxy; it must succeed, every transaction processed, none failed."""
        cmd = pgbench_command(self.pg, self.script, CLIENTS, "-t", str(PG_TRANSACTIONS_PER_CLIENT), *args)
        out = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=proxy.client_env(self.pg.env),
                             timeout=300)
        text = out.stdout.decode() + out.stderr.decode()
        self.assertEqual(out.returncode, 0, text)
        m = re.search(r"number of transactions actually processed: (\d+)/(\d+)", text)
        self.assertTrue(m, text)
        want = CLIENTS * PG_TRANSACTIONS_PER_CLIENT
        self.assertEqual((int(m.group(1)), int(m.group(2))), (want, want), text)
        self.assertRegex(text, r"number of failed transactions: 0 ", text)
        return want

    def server_view(self, start):
        """The server's log since start: (statements, Counter of the client ports of its TCP
        connections)."""
        entries = self.pg.sync_log()[start:]
        ports = collections.Counter()
        for e in entries:
            m = PG_CONNECTION.match(e.get("message", ""))
            if m and m.group(1) != "[local]":
                self.assertEqual(m.group(1), HOST, e)
                ports[int(m.group(2))] += 1
        return self.pg.statement_log(since=start), ports

    def check_connections(self, proxy, conns, ports):
        """One summary per connection the server received (by the proxy's port towards it)."""
        summaries = proxy.check_summaries(conns)
        self.assertEqual(collections.Counter(port_of(s["proxy_client_addr"]) for s in summaries.values()), ports,
                         "the proxy's connections against the server's log_connections")
        self.assertEqual(set(summaries), set(conns), "connections without a dump record")
        return summaries

    def backend_pids(self, recs):
        """conn_id -> the backend pid its StartupMessage record names (from BackendKeyData)."""
        pids = {}
        for r in recs:
            if "backend_pid" in r:
                self.assertEqual(pids.setdefault(r["conn_id"], r["backend_pid"]), r["backend_pid"], r)
        return pids

    def test_pgbench_simple_protocol(self):
        start = self.pg.log_position()
        proxy = Proxy(self, self.pg.port, "pg")
        transactions = self.pgbench(proxy)
        proxy.stop()
        log, ports = self.server_view(start)
        want = transactions * STATEMENTS_PER_TRANSACTION

        recs = proxy.records("dump.log")
        conns = proxy.check_dump(recs)
        queries = [r for r in recs if r.get("message_type") == "Q"]
        server = [s for s in log if s["kind"] == "statement"]
        self.assertEqual([s for s in log if s["kind"] != "statement"], [])
        self.assertEqual(len(server), want, "the server logged %d statements, pgbench says %d" % (len(server), want))
        self.assertEqual(len(queries), want, "decoded %d queries, pgbench ran %d (server: %d)"
                         % (len(queries), want, len(server)))
        self.assertEqual(collections.Counter(template(r["query"]) for r in queries),
                         {template(s): transactions for s in PG_SCRIPT_STATEMENTS}, "per statement of the script")
        # per text (pgbench puts the random values in: most texts are unique), then per connection:
        # the backend's pid and the port it saw, against the StartupMessage's backend_pid and the
        # proxy's end towards the server
        theirs = collections.Counter(s["text"] for s in server)
        mine = collections.Counter(r["query"] for r in queries)
        self.assertEqual(mine, theirs, counter_diff(theirs, mine))
        pids = self.backend_pids(recs)
        theirs = collections.Counter((s["pid"], s["remote_port"], s["text"]) for s in server)
        mine = collections.Counter((pids.get(r["conn_id"]), port_of(conns[r["conn_id"]][1]), r["query"])
                                   for r in queries)
        self.assertEqual(mine, theirs, counter_diff(theirs, mine))
        self.assertEqual(len({r["conn_id"] for r in queries}), CLIENTS)
        self.assertEqual([r for r in queries if "command_tag" not in r or "sql_state" in r][:3], [],
                         "queries without their outcome")
        self.check_connections(proxy, conns, ports)

    def test_pgbench_extended_protocol(self):
        start = self.pg.log_position()
        proxy = Proxy(self, self.pg.port, "pg")
        transactions = self.pgbench(proxy, "-M", "extended")
        proxy.stop()
        log, ports = self.server_view(start)
        want = transactions * STATEMENTS_PER_TRANSACTION

        recs = proxy.records("dump.log")
        conns = proxy.check_dump(recs)
        executes = [r for r in recs if r.get("message_type") == "E"]
        server = [s for s in log if s["kind"] == "execute"]
        self.assertEqual([s for s in log if s["kind"] != "execute"], [])
        self.assertEqual(len(server), want, "the server logged %d executes, pgbench says %d" % (len(server), want))
        self.assertEqual(len(executes), want, "decoded %d executes, pgbench ran %d (server: %d)"
                         % (len(executes), want, len(server)))
        self.assertEqual(collections.Counter(r.get("execute_query") for r in executes),
                         {text: transactions for text in PG_EXTENDED_TEXTS}, "per statement of the script")

        # per connection and text, with the values the Bind before each Execute carried, against
        # the server's "execute <unnamed>: TEXT" and its "parameters: $1 = '...', ..." detail
        pids = self.backend_pids(recs)
        mine, parses = bound_executes(recs, lambda r: r["conn_id"],
                                      lambda r: (pids.get(r["conn_id"]), port_of(conns[r["conn_id"]][1])))
        theirs = collections.Counter((s["pid"], s["remote_port"], s["text"], s["parameters"]) for s in server)
        self.assertEqual(collections.Counter(k[2] for k in mine.elements()),
                         collections.Counter(k[2] for k in theirs.elements()), "per statement text")
        self.assertEqual(mine, theirs, counter_diff(theirs, mine))
        self.assertEqual(parses, collections.Counter(r["execute_query"] for r in executes), "one Parse per Execute")
        self.assertEqual(len({r["conn_id"] for r in executes}), CLIENTS)
        self.assertEqual([r for r in executes if "command_tag" not in r or "sql_state" in r][:3], [],
                         "executes without their outcome")
        self.check_connections(proxy, conns, ports)

    def test_query_over_1mb(self):
        start = self.pg.log_position()
        proxy = Proxy(self, self.pg.port, "pg")
        out = subprocess.run([self.pg.bin("psql"), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"],
                             input=(LONG_QUERY + ";\n").encode(), env=proxy.client_env(self.pg.env),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual((out.returncode, out.stdout.decode().strip()), (0, str(len(LONG_LITERAL))),
                         out.stderr.decode())
        proxy.stop()
        log, ports = self.server_view(start)
        # psql sends the statement with its terminating semicolon
        sent = LONG_QUERY + ";"
        self.assertEqual([s["text"] == sent for s in log], [True], "the server's log")
        recs = proxy.records("dump.log")
        conns = proxy.check_dump(recs)
        queries = [r for r in recs if r.get("message_type") == "Q"]
        self.assertEqual([len(r["query"]) for r in queries], [len(sent)])
        self.assertTrue(queries[0]["query"] == sent, "the query in dump.log differs from the one sent")
        self.assertEqual((queries[0].get("command_tag"), queries[0].get("rows")), ("SELECT 1", 1))
        summaries = self.check_connections(proxy, conns, ports)
        self.assertGreater(summaries[queries[0]["conn_id"]]["client_bytes"], len(LONG_QUERY))


# --------------------------------------------------------------------------------------- MariaDB

@unittest.skipUnless(os.geteuid() == 0, "the servers need root")
class MariadbThroughProxy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        # the server's max_allowed_packet (16 MiB by default in 10.11) already takes LONG_QUERY;
        # stated here so that a smaller default would not fail the long query for another reason
        cls.my = cls.enterClassContext(servers.mariadb(options=["--max-allowed-packet=16M"]))

    def check_connections(self, proxy, recs, conns, log):
        """One summary per connection the server logged, matched by the connection id of the
        handshake record; -> (summaries, {conn_id: connection id})."""
        ids = {}
        for r in recs:
            if "connection_id" in r:
                self.assertEqual(ids.setdefault(r["conn_id"], r["connection_id"]), r["connection_id"], r)
        summaries = proxy.check_summaries(conns)
        self.assertEqual(set(summaries), set(conns), "connections without a dump record")
        self.assertEqual(set(ids), set(conns), "connections without a handshake record")
        self.assertEqual(sorted(ids.values()), sorted({e["id"] for e in log}),
                         "the handshakes' connection ids against the server's general log")
        return summaries, ids

    def test_mariadb_slap(self):
        start = self.my.log_position()
        proxy = Proxy(self, self.my.port, "mysql")
        SLAP.run(self, proxy.mariadb_args(self.my), self.my.env)
        proxy.stop()
        log = self.my.general_log(since=start)
        server = [e for e in log if e["command"] == "Query"]

        recs = proxy.records("dump.log")
        conns = proxy.check_dump(recs)
        queries = [r for r in recs if r.get("command") == "COM_QUERY"]
        # what the options imply: each client of each iteration sends its share, the queries in turn
        implied = SLAP.implied()
        load_server = collections.Counter(e["argument"] for e in server if e["argument"] in MY_QUERIES)
        self.assertEqual(load_server, implied, "the server's log against the mariadb-slap options")
        load_mine = collections.Counter(r["query"] for r in queries if r["query"] in MY_QUERIES)
        self.assertEqual(load_mine, implied, counter_diff(implied, load_mine))
        # everything the connections sent (setup included), per text and per connection id
        self.assertEqual(len(queries), len(server), "decoded %d COM_QUERY, the server logged %d"
                         % (len(queries), len(server)))
        theirs = collections.Counter(e["argument"] for e in server)
        mine = collections.Counter(r["query"] for r in queries)
        self.assertEqual(mine, theirs, counter_diff(theirs, mine))
        _, ids = self.check_connections(proxy, recs, conns, log)
        theirs = collections.Counter((e["id"], e["argument"]) for e in server)
        mine = collections.Counter((ids.get(r["conn_id"]), r["query"]) for r in queries)
        self.assertEqual(mine, theirs, counter_diff(theirs, mine))
        self.assertEqual([r for r in queries if "error_code" in r][:3], [], "queries that failed")

    def test_query_over_1mb(self):
        start = self.my.log_position()
        proxy = Proxy(self, self.my.port, "mysql")
        out = subprocess.run(["mariadb"] + proxy.mariadb_args(self.my) + ["-B", "-N"],
                             input=(LONG_QUERY + ";\n").encode(), env=self.my.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        self.assertEqual((out.returncode, out.stdout.decode().strip()), (0, str(len(LONG_LITERAL))),
                         out.stderr.decode())
        proxy.stop()
        log = self.my.general_log(since=start)
        # the mariadb client sends the statement without its delimiter
        self.assertEqual([e["argument"] == LONG_QUERY for e in log if e["command"] == "Query"], [True],
                         "the server's log")
        recs = proxy.records("dump.log")
        conns = proxy.check_dump(recs)
        queries = [r for r in recs if r.get("command") == "COM_QUERY"]
        self.assertEqual([len(r["query"]) for r in queries], [len(LONG_QUERY)])
        self.assertTrue(queries[0]["query"] == LONG_QUERY, "the query in dump.log differs from the one sent")
        self.assertNotIn("error_code", queries[0])
        summaries, _ = self.check_connections(proxy, recs, conns, log)
        self.assertGreater(summaries[queries[0]["conn_id"]]["client_bytes"], len(LONG_QUERY))


class EchoClient:
    """One connection: a thread sends ECHO_BYTES of pseudo-random bytes then half-closes, another
    reads the echo and compares it, chunk by chunk, with what was sent (handed over in a queue)."""

    def __init__(self, port, seed):
        self.seed = seed
        self.sock = socket.create_connection((HOST, port), timeout=SOCKET_TIMEOUT)
        self.local = "%s:%d" % self.sock.getsockname()[:2]
        self.sent = hashlib.sha256()
        self.received = hashlib.sha256()
        self.received_bytes = self.corrupted = self.corrupted_chunks = self.extra = 0
        self.errors = []
        self.chunks = queue.Queue()
        self.threads = [threading.Thread(target=self.guard, args=(self.send,)),
                        threading.Thread(target=self.guard, args=(self.receive,))]
        for t in self.threads:
            t.start()

    def guard(self, work):
        try:
            work()
        except Exception as e:  # reported by the test
            self.errors.append("%s: %r" % (work.__name__, e))

    def send(self):
        rng = random.Random(self.seed)
        try:
            for _ in range(ECHO_BYTES // ECHO_CHUNK):
                chunk = rng.randbytes(ECHO_CHUNK)
                self.sent.update(chunk)
                self.chunks.put(chunk)
                self.sock.sendall(chunk)
            self.sock.shutdown(socket.SHUT_WR)
        finally:
            self.chunks.put(None)

    def receive(self):
        buf = bytearray(ECHO_CHUNK)
        view = memoryview(buf)
        while True:
            want = self.chunks.get(timeout=SOCKET_TIMEOUT)
            if want is None:
                break
            got = 0
            while got < len(want):
                n = self.sock.recv_into(view[got:], len(want) - got)
                if n == 0:
                    raise EOFError("the echo ended after %d bytes" % (self.received_bytes + got))
                got += n
            self.received.update(view)
            self.received_bytes += got
            if buf != want:
                self.corrupted_chunks += 1
                self.corrupted += sum(a != b for a, b in zip(buf, want))
        while True:  # then the echo's end, and nothing more
            n = self.sock.recv_into(buf)
            if n == 0:
                break
            self.extra += n

    def join(self, timeout):
        for t in self.threads:
            t.join(timeout)
            if t.is_alive():
                self.errors.append("a thread still runs after %d s" % timeout)
        self.sock.close()


@unittest.skipUnless(os.geteuid() == 0, "the load tests run as root")
class GigabyteThroughProxy(unittest.TestCase):
    def test_1gb_echo(self):
        echo = subprocess.Popen([sys.executable, "-c", ECHO_SERVER, str(ECHO_CLIENTS)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.addCleanup(lambda: echo.poll() is None and (echo.kill(), echo.wait()))
        echo_port = int(echo.stdout.readline())
        proxy = Proxy(self, echo_port, "conn")
        started = time.monotonic()
        clients = [EchoClient(proxy.port, SEED + i) for i in range(ECHO_CLIENTS)]
        for c in clients:
            c.join(300)
        elapsed = time.monotonic() - started
        out, err = echo.communicate(timeout=60)
        proxy.stop()
        total = ECHO_CLIENTS * ECHO_BYTES
        sys.stderr.write("\n  %d MiB each way through the proxy (%d connections) in %.1f s: %.0f MiB/s each way "
                         "(seed %d) ... " % (total >> 20, ECHO_CLIENTS, elapsed, total / elapsed / (1 << 20), SEED))
        sys.stderr.flush()

        what = "seed %d" % SEED
        self.assertEqual([e for c in clients for e in c.errors], [], what)
        self.assertEqual(echo.returncode, 0, err.decode())
        self.assertEqual([(c.received_bytes, c.extra) for c in clients], [(ECHO_BYTES, 0)] * ECHO_CLIENTS, what)
        self.assertEqual(sum(c.corrupted for c in clients), 0,
                         "corrupted bytes (in %d chunks of %d); %s" % (sum(c.corrupted_chunks for c in clients),
                                                                       ECHO_CHUNK, what))
        self.assertEqual([c.received.hexdigest() for c in clients], [c.sent.hexdigest() for c in clients], what)

        # the proxy's account, against the clients' own addresses and the echo server's
        self.assertEqual(proxy.records("dump.log"), [], "-d conn writes no dump records")
        summaries = [r for r in proxy.records("conn.log") if r.get("event") == "summary"]
        by_client = {conn_client(s): s for s in summaries}
        self.assertEqual(sorted(by_client), sorted(c.local for c in clients), summaries)
        echoed = {e["peer"]: e for e in map(json.loads, out.decode().split("\n")[:-1])}
        self.assertEqual(sorted(echoed), sorted(s["proxy_client_addr"] for s in summaries), summaries)
        for c in clients:
            s = by_client[c.local]
            self.assertEqual((s["conn_state"], s["close_reason"], s["proxy_close_reason"], s["closed_by"]),
                             ("SF", "fin", "fin", "client"), s)
            self.assertEqual((conn_server(s), s["remote_addr"]), (proxy.listen_addr, proxy.remote_addr), s)
            self.assertEqual((s["client_bytes"], s["server_bytes"]), (ECHO_BYTES, ECHO_BYTES), s)
            e = echoed[s["proxy_client_addr"]]
            self.assertEqual((e["bytes"], e["sha256"]), (ECHO_BYTES, c.sent.hexdigest()),
                             "what the echo server received from the proxy; %s" % what)
        stop = proxy.stop_record()
        self.assertEqual((stop["accepted"], stop["rejected"], stop["client_bytes"], stop["remote_bytes"],
                          stop["dropped_records"]), (ECHO_CLIENTS, 0, total, total, 0), stop)


if __name__ == "__main__":
    unittest.main()
