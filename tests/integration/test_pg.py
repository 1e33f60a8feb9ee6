"""`tcpdp read -d pg` on real PostgreSQL traffic: every client message, its text and its outcome,
checked against tshark's PostgreSQL dissector and against what the workload sent."""

import collections
import json
import os
import unittest

from support import PG_FRONTEND_TYPES, pcap, records, run, tshark_pg_messages


def pg_records(name, port, *extra):
    rc, out, err = run(["read", pcap(name), "-d", "pg", "-t", str(port)] + list(extra))
    assert rc == 0, err
    return records(out)


def by_client_port(recs):
    conns = collections.OrderedDict()
    for r in recs:
        client = r["src_addr"] if r["direction"] == "->" else r["dst_addr"]
        conns.setdefault(int(client.rsplit(":", 1)[1]), []).append(r)
    return conns


class AgainstTshark(unittest.TestCase):
    """Message for message, tcpdp and tshark must tell the same story."""

    def check(self, name, port):
        recs = pg_records(name, port)
        self.assertFalse([r for r in recs if "decode_error" in r], "decode errors in a clean capture")
        mine = by_client_port(recs)
        theirs = collections.OrderedDict()
        for m in tshark_pg_messages(pcap(name), port):
            client_port = m["srcport"] if m["frontend"] else None
            theirs.setdefault(m["stream"], {"port": None, "msgs": []})
            if client_port:
                theirs[m["stream"]]["port"] = client_port
            theirs[m["stream"]]["msgs"].append(m)
        self.assertEqual(sorted(mine), sorted(t["port"] for t in theirs.values()))
        for stream in theirs.values():
            client = [m for m in stream["msgs"] if m["frontend"]]
            backend = [m for m in stream["msgs"] if not m["frontend"]]
            got = mine[stream["port"]]
            sent = [r for r in got if r["direction"] == "->" and "message_type" in r]
            self.assertEqual([r["message_type"] for r in sent], [PG_FRONTEND_TYPES[m["type"]] for m in client])
            self.assertEqual([r.get("query", r.get("parse_query")) for r in sent if r["message_type"] in ("Q", "P")],
                             [m["query"] for m in client if m["query"] is not None])
            tags = []
            for r in sent:
                if "command_tag" in r:
                    tags += r["command_tag"].split("; ")
            self.assertEqual(tags, [m["tag"] for m in backend if m["tag"] is not None])
            self.assertEqual([r["error_code"] for r in got if "error_code" in r],
                             [m["code"] for m in backend if m["type"] == "Error"])
        return recs

    def test_psql_and_pgbench(self):
        recs = self.check("pg.pcap", 55432)
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


class Outcomes(unittest.TestCase):
    def test_every_record_is_valid_and_has_the_session(self):
        for r in pg_records("pg.pcap", 55432):
            self.assertEqual(r["username"], "postgres")
            self.assertEqual(r["database"], "postgres")

    def test_no_response_writes_without_outcomes(self):
        recs = pg_records("pg.pcap", 55432, "--no-response")
        self.assertFalse([r for r in recs if "duration" in r or "command_tag" in r])
        client = lambda rs: [(r["message_type"], r.get("query")) for r in rs if r["direction"] == "->"]
        self.assertEqual(client(recs), client(pg_records("pg.pcap", 55432)))
        # without pairing, the server's error stands on its own
        self.assertEqual([r["error_code"] for r in recs if r["direction"] == "<-"], ["42P01"])

    def test_snaplen_capture_never_invents(self):
        rc, out, err = run(["read", pcap("pg_snaplen.pcap"), "-d", "pg", "-t", "55432"])
        self.assertEqual(rc, 0)
        recs = records(out)
        self.assertTrue(any("gap_bytes" in r for r in recs))
        clean = {r["query"] for r in pg_records("pg.pcap", 55432) if r.get("message_type") == "Q"}
        queries = [r["query"] for r in recs if "query" in r]
        self.assertIn("SELECT 1;", queries)
        for q in queries:  # whatever came out is a whole statement as psql sent it
            self.assertTrue(q in clean or (q.startswith("SELECT length('") and q.endswith("');")), q[:80])


if __name__ == "__main__":
    unittest.main()
