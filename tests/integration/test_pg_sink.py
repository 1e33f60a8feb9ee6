"""The PostgreSQL sink against a real PostgreSQL (a throwaway cluster on 127.0.0.1): the schema
and every table, view and function; `read` of real captures giving the rows the captures hold
(checked against the workloads' own records and against conn.log); idempotent replays; bad
credentials; probe into the sink. The server stopped under load is test_pg_sink_outage.py's."""

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from servers import postgres
from support import TcpdpRun, pcap, read_text, records, run, wait_until

import pg_workload  # testdata/pcaps, on the path through support

HOST = "127.0.0.1"
ROOT = os.path.join(os.path.dirname(__file__), "..", "..")


def query(server, sql):
    """The rows of sql (run with psql over the server's unix socket) as a list of dicts."""
    out = server.psql_local("SELECT coalesce(json_agg(t), '[]') FROM (%s) t" % sql)
    return json.loads(out)


def scalar(server, sql):
    return server.psql_local(sql).strip()


def pg_config(path, dsn, **keys):
    """Appends a [pg] section (enable = true, conninfo = dsn, and keys) to the config at path."""
    def toml(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return json.dumps(v)
        return str(v)
    with open(path, "a") as f:
        f.write("[pg]\nenable = true\nconninfo = %s\n" % json.dumps(dsn))
        for k, v in keys.items():
            f.write("%s = %s\n" % (k, toml(v)))


def log_records(logs, name):
    text = read_text(os.path.join(logs, name))
    return [json.loads(line) for line in text.splitlines() if line]


class Schema(unittest.TestCase):
    def test_pg_schema_prints_config_schema_sql(self):
        rc, out, err = run(["pg-schema"])
        self.assertEqual(rc, 0, err)
        with open(os.path.join(ROOT, "config", "schema.sql"), "rb") as f:
            self.assertEqual(out, f.read())
        rc, named, err = run(["pg-schema", "--schema", 'odd"name'])
        self.assertEqual(rc, 0, err)
        self.assertEqual(named, b'CREATE SCHEMA IF NOT EXISTS "odd""name";\nSET search_path TO "odd""name";\n\n' + out)

    def test_schema_applies_twice_with_psql(self):
        # Users may run `tcpdp pg-schema | psql` on a database tcpdp already set up: no error.
        _, sql, _ = run(["pg-schema", "--schema", "audit"])
        with postgres() as server:
            for _ in range(2):
                p = subprocess.run([server.bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", server.dsn],
                                   input=sql, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=server.env)
                self.assertEqual(p.returncode, 0, p.stderr.decode())
            names = {r["name"] for r in query(server, "SELECT table_name AS name FROM information_schema.tables "
                                                      "WHERE table_schema = 'audit'")}
            self.assertEqual(names, {"tcp_events", "tcp_connections", "queries", "query_digests", "ips", "agg_ips", "nets_24",
                                     "nets_16", "nets_8", "nets_64", "nets_48", "agg_nets_24", "agg_nets_16",
                                     "agg_nets_8", "agg_nets_64", "agg_nets_48"})


class Read(unittest.TestCase):
    """tcpdp read CAPTURE --pg: the rows are the records tcpdp writes, whose own correctness the
    lifecycle and dumper tests establish against the kernel, the workloads and tshark."""

    @classmethod
    def setUpClass(cls):
        cls._server = postgres()
        cls.server = cls._server.__enter__()
        cls.dir = tempfile.mkdtemp(prefix="tcpdp-pgsink-")

    @classmethod
    def tearDownClass(cls):
        cls._server.__exit__(None, None, None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def setUp(self):
        self.server.psql_local("DROP SCHEMA IF EXISTS audit CASCADE")
        self.config = os.path.join(self.dir, "tcpdp.toml")
        with open(self.config, "w") as f:
            f.write('[log]\ndir = "%s"\n' % self.dir)
        pg_config(self.config, self.server.dsn, schema="audit")

    def read(self, name, *args):
        rc, out, err = run(["read", pcap(name), "-c", self.config] + list(args), cwd=self.dir)
        self.assertEqual(rc, 0, err)
        self.assertEqual(err, "", "nothing to report when the database takes everything")
        return records(out)

    def rows(self, sql):
        return query(self.server, sql.replace("FROM ", "FROM audit."))

    def test_lifecycle_rows_are_the_records(self):
        recs = self.read("tcp_lifecycle.pcap", "-d", "conn")
        host = socket.gethostname()
        states = [r for r in recs if r["event"] == "state"]
        summaries = [r for r in recs if r["event"] == "summary"]
        self.assertGreater(len(states), 20)
        rows = self.rows("SELECT uid, host, to_char(\"timestamp\" AT TIME ZONE 'UTC', "
                         "'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS ts, host(src_ip) AS src_ip, host(dst_ip) AS dst_ip, src_port, dst_port, "
                         "old_state, new_state, conn_id, side, pid_on_cpu, comm_on_cpu FROM tcp_events ORDER BY uid")
        want = sorted(({"uid": r["uid"], "host": host, "ts": r["ts"], "src_ip": r["src_ip"], "dst_ip": r["dst_ip"],
                        "src_port": r["src_port"], "dst_port": r["dst_port"], "old_state": r["old_state"],
                        "new_state": r["new_state"], "conn_id": r["conn_id"], "side": r["side"],
                        "pid_on_cpu": None, "comm_on_cpu": None} for r in states), key=lambda r: r["uid"])
        self.assertEqual(rows, want)

        # One connection row per connection of the workload, with what its sides sent.
        with open(pcap("tcp_lifecycle.expected.json")) as f:
            cases = json.load(f)
        conns = self.rows("SELECT src_port, dst_port, conn_state, client_bytes, server_bytes, record "
                          "FROM tcp_connections")
        self.assertEqual(sorted((c["src_port"], c["dst_port"]) for c in conns),
                         sorted((c["client_port"], c["server_port"]) for c in cases))
        by_port = {c["src_port"]: c for c in conns}
        for case in cases:
            row = by_port[case["client_port"]]
            self.assertEqual((row["client_bytes"], row["server_bytes"]), (case["client_sent"], case["server_sent"]),
                             case["case"])
        # The whole summary is kept, every key.
        self.assertEqual(sorted((c["record"] for c in conns), key=lambda r: r["conn_id"]),
                         sorted(summaries, key=lambda r: r["conn_id"]))

        # Read again: the same rows, none twice.
        self.read("tcp_lifecycle.pcap", "-d", "conn")
        self.assertEqual(int(scalar(self.server, "SELECT count(*) FROM audit.tcp_events")), len(states))
        self.assertEqual(int(scalar(self.server, "SELECT count(*) FROM audit.tcp_connections")), len(cases))

    def test_read_waits_for_the_database_instead_of_spooling(self):
        # A file can wait: with a queue of 16 records, read keeps pace with the database and
        # nothing goes to the spool file (a spool warning on stderr would fail read()).
        with open(self.config, "a") as f:
            f.write("queueMin = 8\nqueueDelta = 8\nqueueMax = 16\nbatchSize = 4\n")
        recs = self.read("tcp_lifecycle.pcap", "-d", "conn")
        self.assertGreater(len(recs), 16 * 4)
        self.assertEqual(int(scalar(self.server, "SELECT (SELECT count(*) FROM audit.tcp_events) + "
                                                 "(SELECT count(*) FROM audit.tcp_connections)")), len(recs))
        self.assertEqual(os.path.getsize(os.path.join(self.dir, "pg.spool")), 0)

    def test_views_and_functions(self):
        self.read("tcp_lifecycle.pcap", "-d", "conn")
        self.read("tcp_ipv6.pcap", "-d", "conn")
        conns = self.rows("SELECT host(src_ip) AS src_ip, host(dst_ip) AS dst_ip, start_time FROM tcp_connections")
        families = {ipaddress.ip_address(c["src_ip"]).version for c in conns}
        self.assertEqual(families, {4, 6})

        def grouped(key):
            out = {}
            for c in conns:
                k = key(c)
                if k is None:
                    continue
                n, first, last = out.get(k, (0, c["start_time"], c["start_time"]))
                out[k] = (n + 1, min(first, c["start_time"]), max(last, c["start_time"]))
            return out

        def net(addr, p4, p6):
            ip = ipaddress.ip_address(addr)
            return str(ipaddress.ip_network("%s/%d" % (addr, p4 if ip.version == 4 else p6), strict=False))

        def view(sql, keys):
            rows = query(self.server, sql)
            return {tuple(r[k] for k in keys): (r["connections"], r["start_date"], r["end_date"]) for r in rows}

        # Times compared as PostgreSQL prints them (json_agg): the same text on both sides.
        self.assertEqual(view("SELECT host(dst_ip) AS dst_ip, host(src_ip) AS src_ip, connections, start_date, end_date FROM audit.ips",
                              ("dst_ip", "src_ip")),
                         grouped(lambda c: (c["dst_ip"], c["src_ip"])))
        self.assertEqual(view("SELECT host(src_ip) AS src_ip, connections, start_date, end_date FROM audit.agg_ips",
                              ("src_ip",)),
                         grouped(lambda c: (c["src_ip"],)))
        for prefix in (24, 16, 8):
            want = grouped(lambda c: (c["dst_ip"], net(c["src_ip"], prefix, 128)) if ":" not in c["src_ip"] else None)
            self.assertEqual(view("SELECT host(dst_ip) AS dst_ip, src_net::text, connections, start_date, end_date "
                                  "FROM audit.nets_%d" % prefix, ("dst_ip", "src_net")), want)
            agg = grouped(lambda c: (net(c["src_ip"], prefix, 128),) if ":" not in c["src_ip"] else None)
            self.assertEqual(view("SELECT src_net::text, connections, start_date, end_date "
                                  "FROM audit.agg_nets_%d" % prefix, ("src_net",)), agg)
        for prefix in (64, 48):
            want = grouped(lambda c: (c["dst_ip"], net(c["src_ip"], 32, prefix)) if ":" in c["src_ip"] else None)
            self.assertTrue(want)
            self.assertEqual(view("SELECT host(dst_ip) AS dst_ip, src_net::text, connections, start_date, end_date "
                                  "FROM audit.nets_%d" % prefix, ("dst_ip", "src_net")), want)
            agg = grouped(lambda c: (net(c["src_ip"], 32, prefix),) if ":" in c["src_ip"] else None)
            self.assertEqual(view("SELECT src_net::text, connections, start_date, end_date "
                                  "FROM audit.agg_nets_%d" % prefix, ("src_net",)), agg)
        # The functions take any prefix, one for both families or one each.
        self.assertEqual(view("SELECT host(dst_ip) AS dst_ip, src_net::text, connections, start_date, end_date "
                              "FROM audit.nets_view(12)", ("dst_ip", "src_net")),
                         grouped(lambda c: (c["dst_ip"], net(c["src_ip"], 12, 12))))
        self.assertEqual(view("SELECT src_net::text, connections, start_date, end_date "
                              "FROM audit.agg_nets_view(20, 56)", ("src_net",)),
                         grouped(lambda c: (net(c["src_ip"], 20, 56),)))
        self.assertEqual(view("SELECT src_net::text, connections, start_date, end_date "
                              "FROM audit.agg_nets_view(40)", ("src_net",)),
                         grouped(lambda c: (net(c["src_ip"], 32, 40),)))

    def test_dump_records_in_queries(self):
        recs = self.read("pg_params.pcap", "-d", "pg", "--pg-dumps")
        params = pg_workload.load_params_expected(pcap("pg_params.expected.json"))
        rows = self.rows("SELECT message_type, query, bind_values, error, src_port, dst_port, username, database, record "
                         "FROM queries ORDER BY id")
        self.assertEqual([r["record"] for r in rows], recs)
        # Each Bind's values as the workload sent them (text) or as the server printed them
        # (binary), each Execute's SQL text as the workload prepared it, each error's SQLSTATE.
        binds = [r for r in rows if r["message_type"] == "B"]
        executes = [r for r in rows if r["message_type"] == "E"]
        self.assertEqual(len(binds), len(params))
        for bind, execute, want in zip(binds, executes, params):
            with self.subTest(stmt=want["stmt_name"]):
                self.assertEqual(execute["query"], want["query"])
                if "error" in want:
                    self.assertIn(want["error"], (bind["error"], execute["error"]))
                    continue
                self.assertEqual(bind["bind_values"], pg_workload.expected_bind_values(want))
        self.assertEqual({(r["dst_port"], r["username"]) for r in rows}, {(25432, "postgres")})
        # Lifecycle rows come too.
        self.assertGreater(int(scalar(self.server, "SELECT count(*) FROM audit.tcp_connections")), 0)

    def test_mysql_dump_records(self):
        recs = self.read("mysql_stmt.pcap", "-d", "mysql", "--pg-dumps")
        rows = self.rows("SELECT message_type, query, bind_values, record FROM queries ORDER BY id")
        self.assertEqual([r["record"] for r in rows], recs)
        executes = [r for r in rows if r["message_type"] == "COM_STMT_EXECUTE"]
        self.assertTrue(any(r["bind_values"] for r in executes))
        for r in executes:
            self.assertEqual((r["query"], r["bind_values"]),
                             (r["record"]["stmt_prepare_query"], r["record"].get("stmt_execute_values")))

    def test_hex_records_are_not_stored_and_dumps_are_off_by_default(self):
        self.read("tcp_close.pcap", "-d", "hex", "--pg-dumps")
        self.read("pg_params.pcap", "-d", "pg")
        self.assertEqual(scalar(self.server, "SELECT count(*) FROM audit.queries"), "0")
        self.assertGreater(int(scalar(self.server, "SELECT count(*) FROM audit.tcp_events")), 0)


class StartupErrors(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls._server = postgres()
        cls.server = cls._server.__enter__()
        cls.server.require_password("alice", "right")
        cls.dir = tempfile.mkdtemp(prefix="tcpdp-pgsink-")

    @classmethod
    def tearDownClass(cls):
        cls._server.__exit__(None, None, None)
        shutil.rmtree(cls.dir, ignore_errors=True)

    def dsn(self, **kw):
        parts = {"host": HOST, "port": self.server.port, "dbname": "postgres", "user": "postgres",
                 "sslmode": "disable", "gssencmode": "disable"}
        parts.update(kw)
        return " ".join("%s=%s" % kv for kv in parts.items())

    def test_bad_password_is_one_clear_error(self):
        rc, out, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "--pg", self.dsn(user="alice", password="wrong")],
                           cwd=self.dir)
        self.assertEqual(rc, 1)
        self.assertEqual(out, b"", "nothing is read when the sink cannot start")
        self.assertEqual(err.count("\n"), 1, err)
        self.assertRegex(err, r'^tcpdp: PostgreSQL sink: cannot connect to PostgreSQL: .*'
                              r'password authentication failed for user "alice"\n$')
        # With the right one it works (the rule is in force).
        rc, _, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "--pg", self.dsn(user="postgres")], cwd=self.dir)
        self.assertEqual(rc, 0, err)

    def test_password_from_the_environment(self):
        # PG* variables are libpq's: an empty --pg takes everything from them.
        env = {"PGHOST": HOST, "PGPORT": str(self.server.port), "PGUSER": "alice", "PGPASSWORD": "wrong",
               "PGDATABASE": "postgres", "PGSSLMODE": "disable"}
        rc, _, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "--pg", ""], env_update=env, cwd=self.dir)
        self.assertEqual(rc, 1)
        self.assertIn('password authentication failed for user "alice"', err)
        self.server.psql_local("GRANT CREATE ON DATABASE postgres TO alice")
        env["PGPASSWORD"] = "right"
        config = os.path.join(self.dir, "alice.toml")
        with open(config, "w") as f:
            f.write('[log]\ndir = "%s"\n[pg]\nschema = "alice_s"\n' % self.dir)
        rc, _, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "--pg", "", "-c", config],
                         env_update=env, cwd=self.dir)
        self.assertEqual(rc, 0, err)
        self.assertEqual(scalar(self.server, "SELECT count(*) FROM alice_s.tcp_connections"), "1")

    def test_missing_database_and_missing_tables(self):
        rc, _, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "--pg", self.dsn(dbname="nope")], cwd=self.dir)
        self.assertEqual(rc, 1)
        self.assertIn('database "nope" does not exist', err)
        config = os.path.join(self.dir, "nocreate.toml")
        with open(config, "w") as f:
            f.write('[log]\ndir = "%s"\n' % self.dir)
        pg_config(config, self.dsn(), schema="empty_s", createSchema=False)
        self.server.psql_local("CREATE SCHEMA IF NOT EXISTS empty_s")
        rc, _, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "--pg", self.dsn(), "-c", config], cwd=self.dir)
        self.assertEqual(rc, 1)
        self.assertIn("tcpdp's tables are not there in schema empty_s: create them with `tcpdp pg-schema | psql`", err)

    def test_a_silent_server_is_given_up(self):
        # A listener that never speaks: the connection attempt ends at connect_timeout, and at
        # the end of a read nothing waits past shutdownTimeout.
        silent = socket.socket()
        silent.bind((HOST, 0))
        silent.listen(16)
        self.addCleanup(silent.close)
        dsn = "host=%s port=%d dbname=postgres connect_timeout=2" % (HOST, silent.getsockname()[1])
        began = time.monotonic()
        rc, _, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "--pg", dsn], cwd=self.dir)
        self.assertEqual(rc, 1)
        self.assertIn("timeout expired", err)
        self.assertLess(time.monotonic() - began, 10)
        spool_dir = tempfile.mkdtemp(dir=self.dir)
        config = os.path.join(spool_dir, "tcpdp.toml")
        with open(config, "w") as f:
            f.write('[log]\ndir = "%s"\n' % spool_dir)
        pg_config(config, "host=%s port=%d dbname=postgres" % (HOST, silent.getsockname()[1]),
                  onStartupError="warn", shutdownTimeout=1)
        began = time.monotonic()
        rc, out, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "-c", config], cwd=self.dir)
        self.assertEqual(rc, 0, err)
        self.assertLess(time.monotonic() - began, 25, "10 s connect timeout, then at most 1 s at the stop")
        with open(os.path.join(spool_dir, "pg.spool")) as f:
            self.assertEqual([json.loads(line) for line in f], records(out))

    def test_a_torn_spool_line_is_cut_off(self):
        # A run killed while writing left half a record: it is taken off, the rest is sent.
        spool_dir = tempfile.mkdtemp(dir=self.dir)
        rc, out, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn"])
        self.assertEqual(rc, 0, err)
        recs = records(out)
        with open(os.path.join(spool_dir, "pg.spool"), "wb") as f:
            f.write(out + out.splitlines()[0][:37])
        config = os.path.join(spool_dir, "tcpdp.toml")
        with open(config, "w") as f:
            f.write('[log]\ndir = "%s"\n' % spool_dir)
        pg_config(config, self.dsn(), schema="torn")
        rc, _, err = run(["read", pcap("tcp_lifecycle.pcap"), "-d", "conn", "-c", config], cwd=self.dir)
        self.assertEqual(rc, 0, err)
        self.assertIn("37 bytes of a record cut short by an interrupted run were taken off", err)
        uids = {r["uid"] for r in query(self.server, "SELECT uid FROM torn.tcp_events")}
        self.assertTrue({r["uid"] for r in recs if r["event"] == "state"} <= uids)
        self.assertEqual(os.path.getsize(os.path.join(spool_dir, "pg.spool")), 0)

    def test_warn_keeps_the_records_for_later(self):
        # From the configuration (not --pg) the default is to warn and go on: what cannot be
        # stored now is spooled, and a later run sends it first.
        spool_dir = tempfile.mkdtemp(dir=self.dir)
        config = os.path.join(spool_dir, "tcpdp.toml")
        with open(config, "w") as f:
            f.write('[log]\ndir = "%s"\n' % spool_dir)
        pg_config(config, self.dsn(user="alice", password="wrong"), schema="later", shutdownTimeout=0.5)
        rc, out, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "-c", config], cwd=self.dir)
        self.assertEqual(rc, 0, err)
        recs = records(out)
        self.assertIn("password authentication failed", err)
        with open(os.path.join(spool_dir, "pg.spool")) as f:
            spooled = [json.loads(line) for line in f]
        self.assertEqual(spooled, recs)
        with open(config, "w") as f:
            f.write('[log]\ndir = "%s"\n' % spool_dir)
        pg_config(config, self.dsn(), schema="later")
        rc, _, err = run(["read", pcap("tcp_lifecycle.pcap"), "-d", "conn", "-c", config], cwd=self.dir)
        self.assertEqual(rc, 0, err)
        rows = query(self.server, "SELECT conn_id FROM later.tcp_connections")
        self.assertIn(recs[-1]["conn_id"], {r["conn_id"] for r in rows})
        self.assertEqual(os.path.getsize(os.path.join(spool_dir, "pg.spool")), 0)


class EchoLoad:
    """Clients that connect to port, send a line, read it back and close, one after another,
    on `threads` threads, until stop(); an echo server on its own port answers."""

    def __init__(self, threads=4, pause=0.01):
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((HOST, 0))
        self.listener.listen(512)
        self.server_port = self.listener.getsockname()[1]
        self.stopping = False
        self.done = 0
        self.errors = []
        self.lock = threading.Lock()
        self.pause, self.nthreads = pause, threads
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                c, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(c,), daemon=True).start()

    @staticmethod
    def _echo(c):
        with c:
            while True:
                data = c.recv(4096)
                if not data:
                    return
                c.sendall(data)

    def start(self, port):
        self.threads = [threading.Thread(target=self._client, args=(port,), daemon=True) for _ in range(self.nthreads)]
        for t in self.threads:
            t.start()

    def _client(self, port):
        while not self.stopping:
            try:
                with socket.create_connection((HOST, port), timeout=5) as s:
                    s.sendall(b"ping\n")
                    got = b""
                    while len(got) < 5:
                        chunk = s.recv(16)
                        if not chunk:
                            break
                        got += chunk
                    if got != b"ping\n":
                        raise OSError("echo gave %r" % got)
                with self.lock:
                    self.done += 1
            except OSError as e:
                with self.lock:
                    self.errors.append(str(e))
            time.sleep(self.pause)

    def stop(self):
        self.stopping = True
        for t in self.threads:
            t.join(10)
        self.listener.close()


@unittest.skipUnless(os.geteuid() == 0, "live capture needs root")
class Probe(unittest.TestCase):
    def test_probe_stores_what_it_logs(self):
        with postgres() as server:
            t = TcpdpRun(self, "probe", "tcpdp-pgsink-")
            pg_config(t.config, server.dsn, batchLatency=0.2)
            load = EchoLoad(threads=2, pause=0.02)
            self.assertTrue(t.launch(["-i", "lo", "-t", str(load.server_port), "-d", "conn"], "listening"), t.stderr())
            load.start(load.server_port)
            self.assertTrue(wait_until(lambda: load.done >= 200, 30))
            load.stop()
            time.sleep(1)
            t.stop()
            recs = log_records(t.logs, "conn.log")
            summaries = [r for r in recs if r["event"] == "summary"]
            self.assertGreaterEqual(len(summaries), 200)
            rows = query(server, "SELECT uid FROM tcp_events")
            self.assertEqual(sorted(r["uid"] for r in rows), sorted(r["uid"] for r in recs if r["event"] == "state"))
            conns = query(server, "SELECT conn_id, dst_port, client_bytes FROM tcp_connections")
            self.assertEqual(sorted(r["conn_id"] for r in conns), sorted(r["conn_id"] for r in summaries))
            self.assertEqual({(r["dst_port"], r["client_bytes"]) for r in conns}, {(load.server_port, 5)})


if __name__ == "__main__":
    unittest.main()
