"""The PostgreSQL sink through an outage: `tcpdp proxy` under steady load while the real
PostgreSQL it stores into is stopped for 10 s and started again; no event lost or duplicated, the
queue and spool bounds held, and what is left at a stop kept for the next start. The helpers are
test_pg_sink.py's.
"""

import os
import socket
import subprocess
import time
import unittest
import unittest.mock

from servers import free_port, postgres
from support import TcpdpRun, wait_until
from test_pg_sink import HOST, EchoLoad, log_records, pg_config, query, scalar


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Outage(unittest.TestCase):
    """tcpdp proxy -d conn --pg under steady load, with the database going away."""

    def proxy(self, server, **pg_keys):
        t = TcpdpRun(self, "proxy", "tcpdp-pgsink-")
        keys = {"retryWaitMin": 0.2, "retryWaitMax": 1, "retryWaitDelta": 0.2, "batchLatency": 0.2}
        keys.update(pg_keys)
        pg_config(t.config, server.dsn, **keys)
        t.load = EchoLoad()
        t.port = free_port()
        self.assertTrue(t.launch(["-l", "%s:%d" % (HOST, t.port), "-r", "%s:%d" % (HOST, t.load.server_port),
                                  "-d", "conn"], "relaying"), t.stderr())
        return t

    def events_logged(self, t):
        recs = log_records(t.logs, "conn.log")
        states = {r["uid"] for r in recs if r["event"] == "state"}
        summaries = {r["conn_id"] for r in recs if r["event"] == "summary"}
        return recs, states, summaries

    def assertAllStored(self, server, t):
        recs, states, summaries = self.events_logged(t)
        rows = query(server, "SELECT uid FROM tcp_events")
        self.assertEqual(len(rows), len({r["uid"] for r in rows}))
        self.assertEqual({r["uid"] for r in rows}, states)
        conns = query(server, "SELECT conn_id, client_bytes, server_bytes, conn_state FROM tcp_connections")
        self.assertEqual({r["conn_id"] for r in conns}, summaries)
        self.assertEqual({(r["client_bytes"], r["server_bytes"], r["conn_state"]) for r in conns}, {(5, 5, "SF")})
        return len(states) + len(summaries)

    def test_server_down_for_10_s_loses_nothing(self):
        with postgres() as server:
            # A small queue: the spool file takes the rest of the outage.
            t = self.proxy(server, queueMax=2000)
            t.load.start(t.port)
            self.assertTrue(wait_until(lambda: t.load.done >= 100, 30))
            time.sleep(2)
            server.stop()
            down_from = t.load.done
            time.sleep(10)
            server.start()
            self.assertGreater(t.load.done - down_from, 100, "the load went on while the database was down")
            # Under the same steady load the spool is sent and emptied.
            spool = os.path.join(t.logs, "pg.spool")
            self.assertGreater(os.path.getsize(spool), 0)
            self.assertTrue(wait_until(lambda: os.path.getsize(spool) == 0, 20), os.path.getsize(spool))
            time.sleep(1)
            t.load.stop()
            t.stop()
            self.assertEqual(t.load.errors, [])
            n = self.assertAllStored(server, t)
            self.assertGreater(n, 5000)
            msgs = [r["msg"] for r in log_records(t.logs, "tcpdp.log")]
            self.assertTrue(any("connection was lost" in m for m in msgs), msgs)
            self.assertTrue(any("connected again" in m for m in msgs), msgs)
            self.assertRegex(msgs[-2], r"^PostgreSQL sink: %d records taken, %d stored, [1-9]\d* spooled, 0 left in "
                                       r"the spool file, 0 refused by the database, 0 dropped$" % (n, n))
            self.assertTrue(any(m.startswith("PostgreSQL sink: the queue is full") for m in msgs), msgs)

    def test_bounds_hold_while_the_server_is_down(self):
        # Queue 200 records, spool 300 KB: memory stays flat while the database is away, the
        # spool file never passes its bound, records past both are counted as dropped, and
        # what the spool held is stored once the database is back.
        with postgres() as server:
            # Under AddressSanitizer freed memory is held back (quarantine) and RSS would grow
            # with the churn, not with what tcpdp keeps: a small quarantine for this run (the
            # variable means nothing to a build without it).
            with unittest.mock.patch.dict(os.environ, {"ASAN_OPTIONS": "quarantine_size_mb=1"}):
                t = self.proxy(server, queueMin=16, queueDelta=16, queueMax=200, spoolMaxSize="300KB")
            server.stop()
            t.load.start(t.port)
            self.assertTrue(wait_until(lambda: t.load.done >= 300, 30))
            base = rss_kib(t.proc.pid)
            spool = os.path.join(t.logs, "pg.spool")
            samples = []
            deadline = time.monotonic() + 12
            while time.monotonic() < deadline:
                samples.append((rss_kib(t.proc.pid), os.path.getsize(spool) if os.path.exists(spool) else 0))
                time.sleep(0.5)
            msgs = [r["msg"] for r in log_records(t.logs, "tcpdp.log")]
            self.assertTrue(any("records dropped: the queue and the spool file are full" in m for m in msgs), msgs)
            self.assertLessEqual(max(s for _, s in samples), 300000)
            self.assertLess(max(r for r, _ in samples) - base, 8 * 1024, samples)
            t.load.stop()
            server.start()
            time.sleep(0.5)
            t.stop()
            recs, states, summaries = self.events_logged(t)
            last = [r for r in log_records(t.logs, "tcpdp.log") if r["msg"].startswith("PostgreSQL sink: ")][-1]["msg"]
            taken, stored, dropped = (int(last.split()[i]) for i in (2, 5, -2))
            self.assertEqual(taken, len(recs))
            self.assertGreater(dropped, 0)
            self.assertEqual(stored + dropped, taken, last)
            rows = int(scalar(server, "SELECT (SELECT count(*) FROM tcp_events) + (SELECT count(*) FROM tcp_connections)"))
            self.assertEqual(rows, stored)

    def test_a_lone_connection_is_stored_within_seconds(self):
        # Far fewer records than a batch: they go after batchLatency (1 s by default) plus the
        # log writer's hand-over (1 s), not at the stop.
        with postgres() as server:
            t = TcpdpRun(self, "proxy", "tcpdp-pgsink-")
            pg_config(t.config, server.dsn)
            load = EchoLoad()
            port = free_port()
            self.assertTrue(t.launch(["-l", "%s:%d" % (HOST, port), "-r", "%s:%d" % (HOST, load.server_port),
                                      "-d", "conn"], "relaying"), t.stderr())
            with socket.create_connection((HOST, port)) as s:
                s.sendall(b"one\n")
                self.assertEqual(s.recv(16), b"one\n")
            self.assertTrue(wait_until(lambda: scalar(server, "SELECT count(*) FROM tcp_connections") == "1", 5))
            load.listener.close()
            t.stop()

    def test_queries_keep_their_order_through_an_outage(self):
        # psql sends SELECT 1, SELECT 2, ... through `tcpdp proxy -d pg --pg-dumps` to a second
        # server while the sink's database is away for 5 s: queries (ordered by its serial id)
        # holds dump.log's records in dump.log's order, the spooled ones included.
        with postgres() as sink_db, postgres() as remote:
            t = TcpdpRun(self, "proxy", "tcpdp-pgsink-")
            pg_config(t.config, sink_db.dsn, dumps=True, queueMin=50, queueMax=50, retryWaitMin=0.2, retryWaitMax=0.5,
                      batchLatency=0.1)
            port = free_port()
            self.assertTrue(t.launch(["-l", "%s:%d" % (HOST, port), "-r", "%s:%d" % (HOST, remote.port), "-d", "pg"],
                                     "relaying"), t.stderr())
            env = dict(remote.env, PGPORT=str(port))
            psql = subprocess.Popen([remote.bin("psql"), "-X", "-q", "-A", "-t"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
            sent = 0

            def send_for(seconds):
                nonlocal sent
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    sent += 1
                    psql.stdin.write(b"SELECT %d;\n" % sent)
                    psql.stdin.flush()
                    time.sleep(0.01)

            send_for(2)
            sink_db.stop()
            send_for(5)
            sink_db.start()
            send_for(2)
            out, err = psql.communicate(timeout=30)
            self.assertEqual(psql.returncode, 0, err)
            self.assertEqual(out.split(), [b"%d" % i for i in range(1, sent + 1)])
            time.sleep(1)
            t.stop()
            dumped = log_records(t.logs, "dump.log")
            selects = [r["query"] for r in dumped if r.get("message_type") == "Q"]
            self.assertEqual(selects, ["SELECT %d;" % i for i in range(1, sent + 1)])
            rows = query(sink_db, "SELECT record FROM queries ORDER BY id")
            self.assertEqual([r["record"] for r in rows], dumped)
            msgs = [r["msg"] for r in log_records(t.logs, "tcpdp.log")]
            self.assertTrue(any(m.startswith("PostgreSQL sink: the queue is full") for m in msgs), msgs)

    def test_a_stop_while_down_keeps_the_rest_for_the_next_start(self):
        with postgres() as server:
            t = self.proxy(server, shutdownTimeout=1)
            t.load.start(t.port)
            self.assertTrue(wait_until(lambda: t.load.done >= 50, 30))
            server.stop()
            time.sleep(2)
            t.load.stop()
            t.stop()
            spool = os.path.join(t.logs, "pg.spool")
            self.assertGreater(os.path.getsize(spool), 0)
            server.start()
            # The next start sends the spool first; the events of both runs are there once.
            first_recs, first_states, first_summaries = self.events_logged(t)
            os.rename(os.path.join(t.logs, "conn.log"), os.path.join(t.logs, "conn.log.1"))
            t.load = EchoLoad()
            self.assertTrue(t.launch(["-l", "%s:%d" % (HOST, t.port), "-r", "%s:%d" % (HOST, t.load.server_port),
                                      "-d", "conn"], "relaying"), t.stderr())
            t.load.start(t.port)
            self.assertTrue(wait_until(lambda: t.load.done >= 50, 30))
            t.load.stop()
            t.stop()
            _, states, summaries = self.events_logged(t)
            rows = {r["uid"] for r in query(server, "SELECT uid FROM tcp_events")}
            self.assertEqual(rows, states | first_states)
            conns = {r["conn_id"] for r in query(server, "SELECT conn_id FROM tcp_connections")}
            self.assertEqual(conns, summaries | first_summaries)
            self.assertEqual(os.path.getsize(spool), 0)



if __name__ == "__main__":
    unittest.main()
