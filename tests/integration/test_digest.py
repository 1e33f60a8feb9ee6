"""tcpdp read --digest on real captures: the classes hold as many executions as the workloads
sent of each statement, their times agree with the dumper's records, errors are counted by
SQLSTATE as the server raised them, and the bounds and formats do what they say."""

import gzip
import json
import os
import shutil
import tempfile
import unittest

from support import pcap, records, run

import mysql_workload  # testdata/pcaps, on the path through support
import pg_workload


def digest(name, dumper, *args):
    rc, out, err = run(["read", pcap(name), "-d", dumper, "--digest", "--digest-format", "json"] + list(args))
    assert rc == 0, err
    return json.loads(out)


def by_example(report):
    return {c["example"]: c for c in report["top"]}


class Counts(unittest.TestCase):
    def test_pgbench_statements(self):
        # pg_pgbench.pcap holds pgbench -M prepared and -M extended runs: every statement of
        # pgbench's script ran clients x transactions times in each.
        report = digest("pg_pgbench.pcap", "pg", "--top", "100")
        want = sum(m["clients"] * m["transactions"] for m in pg_workload.PGBENCH.values())
        classes = by_example(report)
        for statement in pg_workload.PGBENCH_SCRIPT:
            with self.subTest(statement=statement):
                self.assertIn(statement, classes)
                self.assertEqual(classes[statement]["count"], want)
                self.assertEqual(classes[statement]["users"], {"postgres": want})
                self.assertEqual(classes[statement]["clients"], {"127.0.0.1": want})
        self.assertEqual(len({c["id"] for c in report["top"]}), len(report["top"]))

    def test_mariadb_slap_statements(self):
        slap = mysql_workload.SLAP
        report = digest("mysql_slap.pcap", "mysql", "--top", "100")
        inserts = [c for c in report["top"] if c["example"].startswith(slap["insert_prefix"])]
        selects = [c for c in report["top"] if c["example"] == slap["select_text"]]
        self.assertEqual([c["count"] for c in inserts], [slap["inserts"]], "one class for every INSERT")
        self.assertEqual([c["count"] for c in selects], [slap["selects"]])
        self.assertEqual(selects[0]["databases"], {"mysqlslap": slap["selects"]})


class Times(unittest.TestCase):
    def test_durations_agree_with_the_records(self):
        rc, out, err = run(["read", pcap("pg_pgbench.pcap"), "-d", "pg"])
        self.assertEqual(rc, 0, err)
        durations = {}
        for r in records(out):
            sql = r.get("query") if r.get("message_type") == "Q" else r.get("execute_query")
            if r.get("message_type") in ("Q", "E") and "duration" in r:
                durations.setdefault(sql, []).append(r["duration"])
        report = digest("pg_pgbench.pcap", "pg", "--top", "100")
        total = 0.0
        for c in report["top"]:
            with self.subTest(example=c["example"]):
                ds = sorted(durations[c["example"]])
                self.assertAlmostEqual(c["total_duration"], sum(ds), places=5)
                self.assertAlmostEqual(c["max"], ds[-1], places=6)
                for p in ("p50", "p95", "p99"):
                    rank = max(1, -(-int(p[1:]) * len(ds) // 100))
                    self.assertAlmostEqual(c[p], ds[rank - 1], delta=ds[rank - 1] / 256 + 1e-6)
                total += c["total_duration"]
        self.assertAlmostEqual(report["total_duration"], total, places=5)
        shares = [c["time_share"] for c in report["top"]]
        self.assertAlmostEqual(sum(shares), 1.0, places=4)
        self.assertEqual(shares, sorted(shares, reverse=True), "ranked by total time")

    def test_errors_by_sqlstate(self):
        # pg_params' workload records the SQLSTATE of the one execution the server refused.
        expected = [p["error"] for p in pg_workload.load_params_expected(pcap("pg_params.expected.json"))
                    if "error" in p]
        report = digest("pg_params.pcap", "pg", "--top", "100")
        errors = {}
        for c in report["top"]:
            for code, n in c["errors"].items():
                errors[code] = errors.get(code, 0) + n
        self.assertEqual(errors, {code: expected.count(code) for code in expected})


class Options(unittest.TestCase):
    def test_top_and_max_classes(self):
        full = digest("pg_pgbench.pcap", "pg", "--top", "100")
        top2 = digest("pg_pgbench.pcap", "pg", "--top", "2")
        self.assertEqual([c["id"] for c in top2["top"]], [c["id"] for c in full["top"][:2]])
        capped = digest("pg_pgbench.pcap", "pg", "--top", "100", "--digest-max-classes", "3")
        self.assertEqual(capped["classes"], 4)
        other = [c for c in capped["top"] if c["id"] == "other"]
        self.assertEqual(len(other), 1)
        self.assertEqual(sum(c["count"] for c in capped["top"]), full["executions"])

    def test_text_report(self):
        rc, out, err = run(["read", pcap("pg_pgbench.pcap"), "-d", "pg", "--digest", "--top", "3"])
        self.assertEqual(rc, 0, err)
        text = out.decode()
        self.assertTrue(text.startswith("# tcpdp query digest: "), text[:200])
        self.assertEqual(text.count("\n# 1. "), 1)
        self.assertEqual(text.count("#   fingerprint: "), 3)
        self.assertNotIn('"conn_id"', text, "no records with --digest")

    def test_digest_needs_an_sql_dumper(self):
        rc, out, err = run(["read", pcap("tcp_close.pcap"), "-d", "hex", "--digest"])
        self.assertEqual(rc, 1)
        self.assertEqual(err, "tcpdp: --digest reports SQL statements: use -d pg, mysql or auto\n")


if __name__ == "__main__":
    unittest.main()


class FromLogs(unittest.TestCase):
    """tcpdp digest LOG...: the same report from tcpdp's dump logs as read --digest gives."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tcpdp-digest-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def write(self, name, data):
        path = os.path.join(self.dir, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def test_json_ltsv_gzip_and_rotated_files(self):
        want = digest("pg_pgbench.pcap", "pg", "--top", "100")
        _, as_json, _ = run(["read", pcap("pg_pgbench.pcap"), "-d", "pg"])
        _, as_ltsv, _ = run(["read", pcap("pg_pgbench.pcap"), "-d", "pg", "-f", "ltsv"])
        lines = as_json.splitlines(keepends=True)
        half = len(lines) // 2
        cases = {
            "json": [self.write("dump.log", as_json)],
            "ltsv": [self.write("dump.ltsv", as_ltsv)],
            "rotated, one gzip'd": [self.write("dump.log.2026120510.gz", gzip.compress(b"".join(lines[:half]))),
                                    self.write("dump.log.2026120511", b"".join(lines[half:]))],
        }
        for what, files in cases.items():
            with self.subTest(what):
                rc, out, err = run(["digest"] + files + ["--top", "100", "--digest-format", "json"])
                self.assertEqual((rc, err), (0, ""))
                self.assertEqual(json.loads(out), want)

    def test_bad_lines_are_skipped_and_said(self):
        _, as_json, _ = run(["read", pcap("pg_pgbench.pcap"), "-d", "pg"])
        path = self.write("dump.log", b"not a record\n" + as_json + b'{"ts": "cut sh')
        rc, out, err = run(["digest", path, "--digest-format", "json"])
        self.assertEqual(rc, 0, err)
        self.assertEqual(json.loads(out)["executions"], digest("pg_pgbench.pcap", "pg")["executions"])
        self.assertRegex(err, r"^tcpdp: warning: 2 lines that are not tcpdp records were skipped "
                              r"\(the first: .*dump.log:1: an LTSV field without ':' at byte 1\)\n$")

    def test_errors(self):
        rc, _, err = run(["digest", os.path.join(self.dir, "missing.log")])
        self.assertEqual(rc, 1)
        self.assertIn("missing.log: cannot open it: No such file or directory", err)
        rc, _, err = run(["digest", self.write("empty.log", b"")])
        self.assertEqual((rc, err), (1, "tcpdp: no tcpdp records in 1 file(s)\n"))
