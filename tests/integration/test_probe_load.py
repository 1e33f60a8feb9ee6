"""`tcpdp probe` under real database load (needs root): PostgreSQL driven by pgbench and MariaDB
driven by mariadb-slap, 20 clients each, on throwaway servers (servers.py). The probe must keep up
and decode every query. What it wrote is checked against sources that do not depend on it:

- what the load generator says it did (pgbench's transactions actually processed, mariadb-slap's
  options),
- the server's own log of every statement it received (PostgreSQL's log_statement = 'all',
  MariaDB's general query log),
- a tcpdump capture of the same traffic, decoded by tshark (for the SIGTERM test),

and the probe's own statistics at stop (tcpdp.log) must count no dropped packet (but in the
SIGTERM test, where the load goes on past the stop).

What "one decoded query" is:
- pg, simple query protocol: one `Q` record (key `query`); the server logs one "statement: ..."
  per Query message.
- pg, extended protocol (pgbench -M extended sends Parse, Bind, Describe, Execute, Sync for every
  statement): one `E` record (key `execute_query`, the text bound to the portal). Execute is what
  runs a statement and what the server logs ("execute <unnamed>: ..."); Parse and Bind records
  are checked too (one of each per Execute, the Bind's values equal to the parameters the server
  logged), but they are not counted as queries.
- mysql: one `COM_QUERY` record (key `query`); the server's general log has one "Query" entry per
  COM_QUERY.
"""

import collections
import json
import os
import re
import signal
import subprocess
import time
import unittest

import servers
from support import TcpdpRun, client_port, read_text
from workloads import (MY_QUERIES, PG_EXTENDED_TEXTS, PG_SCRIPT_STATEMENTS, STATEMENTS_PER_TRANSACTION, Slap,
                       bound_executes, counter_diff, pgbench_command, setup_pgbench, template)

CLIENTS = 20

# The workloads are workloads.py's (shared with test_proxy_load.py); their sizes here:
PG_TRANSACTIONS_PER_CLIENT = 100  # 2000 transactions, 10000 statements a run
# mariadb-slap: a client's share is 75 queries an iteration; 4500 load queries in all
SLAP = Slap(schema="tcpdp_slap", clients=CLIENTS, iterations=3, number_of_queries=1500)

SIGTERM_MARGIN = 0.05  # queries on the wire this long before the SIGTERM must have been decoded


def drop_keys(record):
    """The statistics keys about lost packets: dropped, if_dropped, and any the engine adds."""
    return {k: v for k, v in record.items() if "drop" in k}


class Probe(TcpdpRun):
    """One `tcpdp probe` run, its logs (no rotation) in a temporary directory; stop() (SIGTERM)
    must see it exit 0 within a minute."""

    def __init__(self, test, *args):
        super().__init__(test, "probe", "tcpdp-probe-load-")
        if not self.launch(args, "listening on"):
            test.fail("probe did not start: " + self.stderr())

    def records(self, name):
        path = os.path.join(self.logs, name)
        if not os.path.exists(path):
            return []
        with open(path, encoding="utf-8") as f:
            lines = f.read().split("\n")
        return [json.loads(line) for line in lines[:-1]]  # the last line may be half written

    def wait_for(self, count, want, timeout=60, quiet=3.0):
        """While the probe runs: waits until count(dump records) reaches want, or stops growing for
        quiet seconds (records reach dump.log within about a second)."""
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            n = count(self.records("dump.log"))
            if n >= want:
                return n
            if n != last:
                last, since = n, time.monotonic()
            elif time.monotonic() - since > quiet:
                return n
            time.sleep(0.2)
        return last

    def stop_record(self):
        """tcpdp.log's stop record (statistics), or None; for failure messages."""
        stops = [r for r in self.records("tcpdp.log") if r.get("msg") == "stop"]
        return stops[-1] if stops else None

    def check_no_drops(self):
        """tcpdp.log's stop record: packets received, none dropped (by the kernel, the interface,
        or any queue of the engine that reports one), and no 'packets dropped' warning."""
        program = self.records("tcpdp.log")
        stops = [r for r in program if r.get("msg") == "stop"]
        self.test.assertEqual(len(stops), 1, program)
        stop = stops[0]
        self.test.assertGreater(stop["received"], 0, stop)
        drops = drop_keys(stop)
        self.test.assertTrue({"dropped", "if_dropped"} <= set(drops), stop)
        self.test.assertEqual({k: v for k, v in drops.items() if v != 0}, {}, "packets lost: %s" % stop)
        self.test.assertEqual([r for r in program if "drop" in r.get("msg", "")], [], "drop warnings")
        return stop

    def check_connections_whole(self):
        """conn.log: every connection's summary says no stream byte was missed (no gap)."""
        summaries = [r for r in self.records("conn.log") if r.get("event") == "summary"]
        self.test.assertTrue(summaries)
        self.test.assertEqual([s for s in summaries if s["missed_bytes"]], [], "connections with gaps")
        return summaries


@unittest.skipUnless(os.geteuid() == 0, "live capture and the servers need root")
class PostgresLoad(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        setup_pgbench(cls, "tcpdp-load-")

    def pgbench(self, *args, wait=True):
        cmd = pgbench_command(self.pg, self.script, CLIENTS, *args)
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self.pg.env)
        return self.pgbench_result(proc) if wait else proc

    def pgbench_result(self, proc):
        """Waits for pgbench; -> transactions actually processed (pgbench must succeed)."""
        out, err = proc.communicate(timeout=300)
        out, err = out.decode(), err.decode()
        self.assertEqual(proc.returncode, 0, out + err)
        m = re.search(r"number of transactions actually processed: (\d+)(?:/(\d+))?", out)
        self.assertTrue(m, out)
        if m.group(2):
            self.assertEqual(m.group(1), m.group(2), out)
        self.assertNotRegex(out, r"number of failed transactions: [1-9]")
        return int(m.group(1))

    def probe(self, interface="lo"):
        return Probe(self, "-i", interface, "-t", str(self.pg.port), "-d", "pg")

    # ---------------------------------------------------------------------------------- checks

    def check_simple(self, probe, transactions, log):
        """Simple protocol: Q records against pgbench's count and the server's statement log."""
        want = transactions * STATEMENTS_PER_TRANSACTION
        recs = probe.records("dump.log")
        self.assertEqual([r for r in recs if "decode_error" in r][:3], [], "decode errors")
        queries = [r for r in recs if r.get("message_type") == "Q"]
        server = [s for s in log if s["kind"] == "statement"]
        self.assertEqual([s for s in log if s["kind"] != "statement"], [])
        self.assertEqual(len(server), want, "the server logged %d statements, pgbench says %d" % (len(server), want))
        self.assertEqual(len(queries), want, "decoded %d queries, pgbench ran %d (server: %d); probe's stop record: %s"
                         % (len(queries), want, len(server), probe.stop_record()))
        # per statement of the script: each one once a transaction
        per_statement = collections.Counter(template(r["query"]) for r in queries)
        self.assertEqual(per_statement, {template(s): transactions for s in PG_SCRIPT_STATEMENTS})
        # per statement text (pgbench puts the random values in: most texts are unique)
        theirs = collections.Counter(s["text"] for s in server)
        mine = collections.Counter(r["query"] for r in queries)
        self.assertEqual(mine, theirs, counter_diff(theirs, mine))
        # and per connection
        theirs = collections.Counter((s["remote_port"], s["text"]) for s in server)
        mine = collections.Counter((client_port(r), r["query"]) for r in queries)
        self.assertEqual(mine, theirs, counter_diff(theirs, mine))
        self.assertEqual(len({client_port(r) for r in queries}), CLIENTS)
        # every query decoded with the server's answer
        self.assertEqual([r for r in queries if "command_tag" not in r or "sql_state" in r][:3], [])

    def run_simple(self, interface, transactions_per_client):
        start = self.pg.log_position()
        probe = self.probe(interface)
        transactions = self.pgbench("-t", str(transactions_per_client))
        self.assertEqual(transactions, CLIENTS * transactions_per_client)
        probe.wait_for(lambda recs: sum(1 for r in recs if r.get("message_type") == "Q"),
                       transactions * STATEMENTS_PER_TRANSACTION)
        probe.stop()
        self.check_simple(probe, transactions, self.pg.statement_log(since=start))
        probe.check_no_drops()
        probe.check_connections_whole()

    # ----------------------------------------------------------------------------------- tests

    def test_pgbench_simple_protocol(self):
        self.run_simple("lo", PG_TRANSACTIONS_PER_CLIENT)

    def test_pgbench_extended_protocol(self):
        start = self.pg.log_position()
        probe = self.probe()
        transactions = self.pgbench("-M", "extended", "-t", str(PG_TRANSACTIONS_PER_CLIENT))
        self.assertEqual(transactions, CLIENTS * PG_TRANSACTIONS_PER_CLIENT)
        want = transactions * STATEMENTS_PER_TRANSACTION
        probe.wait_for(lambda recs: sum(1 for r in recs if r.get("message_type") == "E"), want)
        probe.stop()
        log = self.pg.statement_log(since=start)
        recs = probe.records("dump.log")
        self.assertEqual([r for r in recs if "decode_error" in r][:3], [], "decode errors")
        executes = [r for r in recs if r.get("message_type") == "E"]
        server = [s for s in log if s["kind"] == "execute"]
        self.assertEqual([s for s in log if s["kind"] != "execute"], [])
        self.assertEqual(len(server), want, "the server logged %d executes, pgbench says %d" % (len(server), want))
        self.assertEqual(len(executes), want, "decoded %d executes, pgbench ran %d (server: %d); probe's stop record: %s"
                         % (len(executes), want, len(server), probe.stop_record()))
        self.assertEqual(collections.Counter(r.get("execute_query") for r in executes),
                         {text: transactions for text in PG_EXTENDED_TEXTS}, "per statement of the script")
        # per statement text, with the values the Bind before it carried, against the server's
        # "execute <unnamed>: TEXT" and its "parameters: $1 = '...', ..." detail
        mine, parses = bound_executes(recs, client_port, lambda r: (client_port(r),))
        theirs = collections.Counter((s["remote_port"], s["text"], s["parameters"]) for s in server)
        self.assertEqual(collections.Counter(t for _, t, _ in mine.elements()),
                         collections.Counter(t for _, t, _ in theirs.elements()), "per statement text")
        self.assertEqual(mine, theirs, counter_diff(theirs, mine))
        self.assertEqual(parses, collections.Counter(r["execute_query"] for r in executes), "one Parse per Execute")
        self.assertEqual(len({client_port(r) for r in executes}), CLIENTS)
        self.assertEqual([r for r in executes if "command_tag" not in r or "sql_state" in r][:3], [])
        probe.check_no_drops()
        probe.check_connections_whole()

    def test_pgbench_on_interface_any(self):
        self.run_simple("any", 25)

    def test_query_over_64k_decoded_whole(self):
        # 100 KB in one Query message: more than one 64 KB loopback segment; every 8 characters
        # differ from the others, so any byte out of place changes the text
        literal = "".join("%07d," % i for i in range(12800))
        sql = "SELECT length('%s') AS n" % literal
        start = self.pg.log_position()
        probe = self.probe()
        out = subprocess.run([self.pg.bin("psql"), "-X", "-A", "-t", "-c", sql], env=self.pg.env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        self.assertEqual((out.returncode, out.stdout.decode().strip()), (0, str(len(literal))), out.stderr)
        probe.wait_for(lambda recs: sum(1 for r in recs if r.get("message_type") == "Q"), 1)
        probe.stop()
        self.assertEqual([s["text"] for s in self.pg.statement_log(since=start)], [sql])
        recs = probe.records("dump.log")
        queries = [r for r in recs if r.get("message_type") == "Q"]
        self.assertEqual(len(queries), 1, [r.get("query", "")[:80] for r in queries])
        self.assertEqual(len(queries[0]["query"]), len(sql))
        self.assertTrue(queries[0]["query"] == sql, "the decoded text differs from the one sent")
        self.assertEqual((queries[0].get("command_tag"), queries[0].get("rows")), ("SELECT 1", 1))
        self.assertEqual([r for r in recs if "decode_error" in r], [])
        probe.check_no_drops()
        probe.check_connections_whole()

    def test_sigterm_mid_load_loses_nothing_sent_before(self):
        """tcpdump records the same port; the probe is stopped while pgbench runs. Every query
        the capture shows on the wire before the SIGTERM (less SIGTERM_MARGIN) must be in the
        probe's dump.log."""
        capture = os.path.join(self.work, "sigterm.pcap")
        tcpdump_err = capture + ".log"
        # The reference capture: a 64 MiB ring, and no --immediate-mode (waking tcpdump for every
        # packet made it drop packets itself under this load on 2 cores); the packets still in the
        # ring at its SIGINT are lost, but that is after the load has ended.
        with open(tcpdump_err, "wb") as err:
            tcpdump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-n", "-s", "0", "-B", "65536",
                                        "-Z", "root", "-w", capture, "tcp", "port", str(self.pg.port)],
                                       stdout=subprocess.DEVNULL, stderr=err)
        self.addCleanup(lambda: tcpdump.poll() is None and (tcpdump.kill(), tcpdump.wait()))
        deadline = time.monotonic() + 30
        while "listening on" not in read_text(tcpdump_err):
            self.assertIsNone(tcpdump.poll(), read_text(tcpdump_err))
            self.assertLess(time.monotonic(), deadline, "tcpdump did not start")
            time.sleep(0.02)
        probe = self.probe()
        bench = self.pgbench("-T", "4", wait=False)
        self.addCleanup(lambda: bench.poll() is None and (bench.kill(), bench.wait()))
        time.sleep(2)
        self.assertIsNone(bench.poll(), "pgbench ended before the SIGTERM")
        signalled = time.time()
        probe.stop()
        self.assertGreater(self.pgbench_result(bench), 0)
        time.sleep(0.5)
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=60)
        self.assertRegex(read_text(tcpdump_err), r"(?m)^0 packets dropped by kernel", "the reference capture lost packets")

        # tshark: every Query message the client sent, with the time of the frame that completed it
        out = subprocess.run(["tshark", "-r", capture, "-d", "tcp.port==%d,pgsql" % self.pg.port, "-Y", "pgsql.query",
                              "-T", "json", "-e", "frame.time_epoch", "-e", "tcp.srcport", "-e", "pgsql.type",
                              "-e", "pgsql.query"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        self.assertEqual(out.returncode, 0, out.stderr.decode())
        wire = []
        for pkt in json.loads(out.stdout):
            f = pkt["_source"]["layers"]
            texts = iter(f.get("pgsql.query", []))
            for kind in f["pgsql.type"]:
                if kind in ("Simple query", "Parse"):
                    wire.append((float(f["frame.time_epoch"][0]), int(f["tcp.srcport"][0]), kind, next(texts)))
        self.assertTrue(wire)
        self.assertEqual({k for _, _, k, _ in wire}, {"Simple query"})
        before = [w for w in wire if w[0] <= signalled - SIGTERM_MARGIN]
        self.assertGreater(len(before), 1000, "too little load before the SIGTERM to tell anything")
        self.assertLess(len(before), len(wire), "the SIGTERM came after the load")

        # per connection, in order: what the probe decoded must begin with every query the capture
        # shows before the signal, and be the capture's own sequence (nothing invented or reordered)
        recs = probe.records("dump.log")
        mine, wire_all = {}, {}
        for r in recs:
            if r.get("message_type") == "Q":
                mine.setdefault(client_port(r), []).append(r["query"])
        for t, port, _, text in wire:
            wire_all.setdefault(port, []).append((t, text))
        missing, wrong = [], []
        for port, sent in wire_all.items():
            got = mine.get(port, [])
            want = [text for t, text in sent if t <= signalled - SIGTERM_MARGIN]
            if got[:len(want)] != want:
                # the first query of this connection sent before the signal that is not decoded
                i = next(i for i, (a, b) in enumerate(zip(got + [None] * len(want), want)) if a != b)
                missing.append((signalled - sent[i][0], port, len(want) - i, want[i][:80]))
            if got != [text for _, text in sent][:len(got)]:
                wrong.append((port, len(got), len(sent)))
        missing.sort(reverse=True)  # the earliest loss first
        self.assertEqual(set(mine) - set(wire_all), set(), "connections the capture does not have")
        stop = probe.stop_record()
        self.assertEqual(missing, [], "connections whose queries sent before the SIGTERM are not all in dump.log: "
                         "(seconds before the signal the first missing one was sent, client port, queries "
                         "missing, first missing); %d of %d queries before the signal decoded; probe's stop "
                         "record: %s" % (sum(len(v) for v in mine.values()), len(before), stop))
        self.assertEqual(wrong, [], "connections whose decoded queries are not what the capture shows")
        # No zero-drop check here: the load goes on after the signal, and what the kernel drops
        # between the signal and the closing of the capture is counted at stop too. Drops before
        # the signal show up above as missing queries (the stop record is in the message).
        self.assertIsNotNone(stop, probe.records("tcpdp.log"))


@unittest.skipUnless(os.geteuid() == 0, "live capture and the servers need root")
class MariadbLoad(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.my = cls.enterClassContext(servers.mariadb())

    def test_mariadb_slap(self):
        start = self.my.log_position()
        probe = Probe(self, "-i", "lo", "-t", str(self.my.port), "-d", "mysql")
        SLAP.run(self, self.my.client_args, self.my.env)

        log = self.my.general_log(since=start)
        server = [e for e in log if e["command"] == "Query"]
        probe.wait_for(lambda recs: sum(1 for r in recs if r.get("command") == "COM_QUERY"), len(server))
        probe.stop()
        recs = probe.records("dump.log")
        self.assertEqual([r for r in recs if "decode_error" in r][:3], [], "decode errors")
        queries = [r for r in recs if r.get("command") == "COM_QUERY"]

        # what the options imply: each client of each iteration sends its share, the queries in turn
        implied = SLAP.implied()
        load_server = collections.Counter(e["argument"] for e in server if e["argument"] in MY_QUERIES)
        self.assertEqual(load_server, implied, "the server's log against the mariadb-slap options")
        load_mine = collections.Counter(r["query"] for r in queries if r["query"] in MY_QUERIES)
        self.assertEqual(load_mine, implied, "%s; probe's stop record: %s"
                         % (counter_diff(implied, load_mine), probe.stop_record()))

        # everything the TCP connections sent (setup included), per text and per connection: the
        # connection id the server gave each client is in tcpdp's handshake record
        self.assertEqual(len(queries), len(server), "decoded %d COM_QUERY, the server logged %d; probe's stop record: %s"
                         % (len(queries), len(server), probe.stop_record()))
        theirs = collections.Counter(e["argument"] for e in server)
        mine = collections.Counter(r["query"] for r in queries)
        self.assertEqual(mine, theirs, counter_diff(theirs, mine))
        connection_ids = {r["conn_id"]: r["connection_id"] for r in recs if "connection_id" in r}
        self.assertEqual(len(connection_ids), len({e["id"] for e in log}), "handshakes decoded")
        theirs = collections.Counter((e["id"], e["argument"]) for e in server)
        mine = collections.Counter((connection_ids.get(r["conn_id"]), r["query"]) for r in queries)
        self.assertEqual(mine, theirs, counter_diff(theirs, mine))
        self.assertEqual([r for r in queries if "error_code" in r][:3], [])
        probe.check_no_drops()
        probe.check_connections_whole()


if __name__ == "__main__":
    unittest.main()
