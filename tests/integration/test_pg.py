"""`tcpdp read -d pg` on real PostgreSQL traffic: every client message, its text and its outcome,
checked against tshark's PostgreSQL dissector and against what the workload sent."""

import json
import os
import unittest

from support import (PCAPS, PG_FRONTEND_TYPES, by_client_port, dumper_records, pcap, records, run,
                     tshark_pg_messages)

import pg_workload


def pg_records(name, port, *extra):
    return dumper_records("pg", name, port, *extra)


class AgainstTshark(unittest.TestCase):
    """Message for message, tcpdp and tshark must tell the same story."""

    def check(self, name, port):
        recs = pg_records(name, port)
        self.assertFalse([r for r in recs if "decode_error" in r], "decode errors in a clean capture")
        mine = by_client_port(recs)
        theirs = {}
        for m in tshark_pg_messages(pcap(name), port):
            client_port = m["srcport"] if m["frontend"] else None
            theirs.setdefault(m["stream"], {"port": None, "msgs": []})
            if client_port:
                theirs[m["stream"]]["port"] = client_port
            theirs[m["stream"]]["msgs"].append(m)
        self.assertEqual(sorted(mine), sorted(t["port"] for t in theirs.values()))
        for stream in theirs.values():
            # COPY data and its end are counted into the COPY's record, not records of their own
            client = [m for m in stream["msgs"] if m["frontend"] and not m["type"].startswith("Copy ")]
            backend = [m for m in stream["msgs"] if not m["frontend"]]
            got = mine[stream["port"]]
            sent = [r for r in got if r["direction"] == "->" and "message_type" in r]
            self.assertEqual([r["message_type"] for r in sent], [PG_FRONTEND_TYPES[m["type"]] for m in client])
            # tshark shows every byte outside ASCII as U+FFFD; compare the texts the same way
            as_tshark = lambda q: "".join(c if ord(c) < 0x80 else "\ufffd" * len(c.encode()) for c in q)
            self.assertEqual([as_tshark(r.get("query", r.get("parse_query"))) for r in sent
                              if r["message_type"] in ("Q", "P")],
                             [m["query"] for m in client if m["query"] is not None])
            tags = []
            for r in sent:
                if "command_tag" in r:
                    tags += r["command_tag"].split("; ")
            self.assertEqual(tags, [m["tag"] for m in backend if m["tag"] is not None])
            self.assertEqual([r["sql_state"] for r in got if "sql_state" in r],
                             [m["code"] for m in backend if m["type"] == "Error"])
        return recs

    def test_psql_and_pgbench(self):
        recs = self.check("pg.pcap", pg_workload.PG_PORT)
        queries = [r["query"] for r in recs if r.get("message_type") == "Q"]
        self.assertIn("SELECT * FROM no_such_table;", queries)
        long_query = [q for q in queries if len(q) > 100000]
        self.assertEqual(len(long_query), 1)
        self.assertEqual(long_query[0], "SELECT length('%s');" % ("abcdefghijklmnopqrstuvwxyz" * 8000)[:200000])
        executes = [r for r in recs if r.get("message_type") == "E"]
        self.assertEqual(len(executes), 20)
        self.assertTrue(all(r["execute_query"] == "SELECT name FROM t WHERE id = $1;" for r in executes))
        binds = [r["bind_values"] for r in recs if r.get("message_type") == "B"]
        self.assertTrue(all(b in (["1"], ["2"]) for b in binds))


    def test_psql_workload(self):
        self.check("pg_psql.pcap", pg_workload.PG_PORT)

    def test_pgbench_prepared_and_extended(self):
        recs = self.check("pg_pgbench.pcap", pg_workload.PG_PORT)
        binds = [r for r in recs if r.get("message_type") == "B"]
        self.assertEqual(len(binds), sum(run["binds"] for run in pg_workload.PGBENCH.values()))
        executes = [r for r in recs if r.get("message_type") == "E"]
        self.assertEqual(len(executes), len(binds))
        self.assertTrue(all(r["execute_query"] in pg_workload.PGBENCH_SCRIPT for r in executes))
        names = {r["stmt_name"] for r in binds}
        self.assertEqual(names, set(pg_workload.PGBENCH["prepared"]["statement_names"]) |
                         set(pg_workload.PGBENCH["extended"]["statement_names"]))


class PsqlWorkload(unittest.TestCase):
    """pg_psql.pcap holds exactly the statements pg_workload.py sent, with known answers."""

    @classmethod
    def setUpClass(cls):
        cls.recs = pg_records("pg_psql.pcap", pg_workload.PG_PORT)
        cls.queries = [r for r in cls.recs if r.get("message_type") == "Q"]

    def test_every_statement_exactly_as_sent_in_order(self):
        self.assertEqual([r["query"] for r in self.queries], pg_workload.PSQL_STATEMENTS)

    def test_outcomes_match_what_the_server_answered(self):
        for r, want in zip(self.queries, pg_workload.PSQL_RESULTS):
            with self.subTest(query=r["query"][:60]):
                self.assertEqual(r.get("command_tag", "").split("; ") if want["tags"] else [],
                                 want["tags"] if "command_tag" in r or want["tags"] else [])
                self.assertEqual(r.get("sql_state"), want["error"])
                self.assertEqual(r.get("empty_query", False), want["empty"])
                counts = [int(t.rsplit(" ", 1)[1]) for t in want["tags"] if t.rsplit(" ", 1)[-1].isdigit()]
                if counts:
                    self.assertEqual(r["rows"], sum(counts))
                self.assertGreater(r["duration"], 0)
                self.assertEqual(r["transaction_status"], "idle")

    def test_copy_data_is_counted_not_dumped(self):
        copy_in = self.queries[pg_workload.PSQL_COPY_IN_INDEX]
        self.assertEqual(copy_in["copy_bytes"], len(pg_workload.COPY_IN_DATA))
        self.assertEqual(copy_in["rows"], len(pg_workload.COPY_IN_ROWS))
        copy_out = self.queries[pg_workload.PSQL_COPY_OUT_INDEX]
        self.assertEqual(copy_out["copy_bytes"], len(pg_workload.COPY_OUT_DATA))
        self.assertEqual(copy_out["copy_messages"], len(pg_workload.COPY_OUT_ROWS))
        text = json.dumps(self.recs)
        some_row = pg_workload.COPY_IN_DATA.split(b"\n")[500].decode()
        self.assertNotIn(json.dumps(some_row)[1:-1], text)

    def test_session_on_every_record(self):
        for r in self.recs:
            self.assertEqual((r["username"], r["database"], r["application_name"]),
                             ("postgres", "postgres", "tcpdp-test"))


class BinaryParameters(unittest.TestCase):
    """pg_params.pcap: a libpq program bound values in binary and text; the server's own text
    rendering of each binary value (pg_params.expected.json) is what tcpdp must print."""

    def test_bind_values(self):
        expected = pg_workload.load_params_expected(os.path.join(PCAPS, "pg_params.expected.json"))
        recs = pg_records("pg_params.pcap", pg_workload.PG_PORT)
        binds = [r for r in recs if r.get("message_type") == "B"]
        executes = [r for r in recs if r.get("message_type") == "E"]
        self.assertEqual(len(binds), len(expected))
        for bind, execute, want in zip(binds, executes, expected):
            with self.subTest(stmt=want["stmt_name"], query=want["query"]):
                self.assertEqual(bind["stmt_name"], want["stmt_name"])
                self.assertEqual(execute["execute_query"], want["query"])
                if "error" in want:  # raised by Bind (planning folds the constant) or by Execute
                    self.assertEqual(bind.get("sql_state") or execute.get("sql_state"), want["error"])
                    continue
                self.assertEqual(bind["bind_values"], pg_workload.expected_bind_values(want))


class Ssl(unittest.TestCase):
    def test_refused_goes_on_in_plaintext(self):
        case = pg_workload.SSL_CASES["ssl_refused"]
        recs = pg_records("pg_ssl_refused.pcap", case["port"])
        self.assertEqual((recs[0]["message_type"], recs[0]["ssl_response"]), ("SSLRequest", "N"))
        self.assertNotIn("encrypted", [r["event"] for r in recs])
        self.assertIn(case["query"], [r.get("query") for r in recs])
        summaries = [r for r in pg_records("pg_ssl_refused.pcap", case["port"], "--conn")
                     if r["event"] == "summary"]
        self.assertEqual([s["decoder_state"] for s in summaries], ["in_sync"])

    def test_accepted_says_so_once_then_nothing(self):
        case = pg_workload.SSL_CASES["ssl_accepted"]
        recs = pg_records("pg_ssl_accepted.pcap", case["port"])
        self.assertEqual(len(recs), 2, recs)
        self.assertEqual((recs[0]["message_type"], recs[0]["ssl_response"]), ("SSLRequest", "S"))
        self.assertEqual((recs[1]["event"], recs[1]["direction"], recs[1]["protocol"],
                          recs[1]["negotiation"], recs[1]["encryption"]),
                         ("encrypted", "<-", "pg", "SSLRequest", "tls"))
        summaries = [r for r in pg_records("pg_ssl_accepted.pcap", case["port"], "--conn")
                     if r["event"] == "summary"]
        self.assertEqual([s["decoder_state"] for s in summaries], ["encrypted"])


class Outcomes(unittest.TestCase):
    def test_every_record_is_valid_and_has_the_session(self):
        for r in pg_records("pg.pcap", pg_workload.PG_PORT):
            self.assertEqual(r["username"], "postgres")
            self.assertEqual(r["database"], "postgres")

    def test_no_response_writes_without_outcomes(self):
        recs = pg_records("pg.pcap", pg_workload.PG_PORT, "--no-response")
        self.assertFalse([r for r in recs if "duration" in r or "command_tag" in r])
        client = lambda rs: [(r["message_type"], r.get("query")) for r in rs if r["direction"] == "->"]
        self.assertEqual(client(recs), client(pg_records("pg.pcap", pg_workload.PG_PORT)))
        # without pairing, the server's error stands on its own
        self.assertEqual([r["sql_state"] for r in recs if r["direction"] == "<-"], ["42P01"])

    def test_snaplen_capture_never_invents(self):
        rc, out, err = run(["read", pcap("pg_snaplen.pcap"), "-d", "pg", "-t", str(pg_workload.PG_PORT)])
        self.assertEqual(rc, 0)
        recs = records(out)
        self.assertTrue(any("gap_bytes" in r for r in recs))
        clean = {r["query"] for r in pg_records("pg.pcap", pg_workload.PG_PORT) if r.get("message_type") == "Q"}
        queries = [r["query"] for r in recs if "query" in r]
        self.assertIn("SELECT 1;", queries)
        for q in queries:  # whatever came out is a whole statement as psql sent it
            self.assertTrue(q in clean or (q.startswith("SELECT length('") and q.endswith("');")), q[:80])


if __name__ == "__main__":
    unittest.main()
