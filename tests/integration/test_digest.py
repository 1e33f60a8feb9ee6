"""tcpdp read --digest on real captures: the classes hold as many executions as the workloads
sent of each statement, their times agree with the dumper's records, errors are counted by
SQLSTATE as the server raised them, and the bounds and formats do what they say."""

import gzip
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

from servers import free_port, mariadb, postgres
from support import SANITIZED, TCPDP, Capture, TcpdpRun, pcap, records, run

# Peak RSS of `tcpdp digest` fed over-long lines: 85 MB measured in a Release build (the 72 MiB
# bound on a line held); the sanitizers' shadow memory and quarantine roughly double it.
RSS_BOUND_MB = 300 if SANITIZED else 100

import mysql_workload  # testdata/pcaps, on the path through support
import pg_workload


def digest(name, dumper, *args):
    rc, out, err = run(["read", name if os.path.isabs(name) else pcap(name), "-d", dumper, "--digest", "--digest-format", "json"] + list(args))
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


class PtQueryDigest(unittest.TestCase):
    """Against pt-query-digest (Percona Toolkit), the MySQL digest DBAs know, reading the same
    capture as tcpdump -x text: the same statement classes with the same counts. Its fingerprints
    are written differently (digits in names made ?), so classes are matched by their counts; its
    "administrator command" classes (COM_INIT_DB, ...) are commands without SQL, which tcpdp's
    digest leaves out."""

    def test_mariadb_slap_classes(self):
        name = pcap("mysql_slap.pcap")
        text = subprocess.run(["tcpdump", "-r", name, "-x", "-n", "-q", "-tttt"], check=True,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout
        with tempfile.NamedTemporaryFile(suffix=".txt") as f:
            f.write(text)
            f.flush()
            pt = subprocess.run(["pt-query-digest", "--type", "tcpdump", "--no-version-check",
                                 "--watch-server", "%s:%d" % (mysql_workload.MY_HOST, mysql_workload.MY_PORT),
                                 "--output", "json", "--limit", "100%", f.name],
                                check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout.decode()
        pt = json.loads(pt[pt.index("{"):])
        pt_counts = sorted(c["query_count"] for c in pt["classes"]
                           if not c["fingerprint"].startswith("administrator command"))
        report = digest("mysql_slap.pcap", "mysql", "--top", "1000")
        self.assertEqual(sorted(c["count"] for c in report["top"]), pt_counts)
        self.assertEqual(report["executions"], sum(pt_counts))
        self.assertGreaterEqual(len(pt_counts), 5)


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

    def test_counts_are_whole_numbers_from_1(self):
        # Not CLI11's "not in range 0.000000 to 1797...e308" for a count.
        for command in (["digest", "-"], ["read", pcap("pg_pgbench.pcap"), "-d", "pg", "--digest"]):
            for flag in ("--top", "--digest-max-classes"):
                for value in ("0", "-1", "1.5", "ten"):
                    with self.subTest(command=command[0], flag=flag, value=value):
                        rc, out, err = run(command + [flag, value], input_bytes=b"")
                        self.assertEqual((rc, out), (2, b""))
                        self.assertEqual(err, "%s: '%s' is not a whole number of 1 or more\n"
                                              "Run with --help for more information.\n" % (flag, value))
        rc, _, err = run(["digest", "-", "--top", "1" + "0" * 20], input_bytes=b"")
        self.assertEqual(rc, 2)
        self.assertIn("--top: '1%s' is too large: at most 18446744073709551615\n" % ("0" * 20), err)

    def test_digest_needs_an_sql_dumper(self):
        rc, out, err = run(["read", pcap("tcp_close.pcap"), "-d", "hex", "--digest"])
        self.assertEqual(rc, 1)
        self.assertEqual(err, "tcpdp: --digest reports SQL statements: use -d pg, mysql or auto\n")



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

    def test_gzip_cut_short(self):
        # A rotated log whose compression was cut off: what it holds up to the cut is reported,
        # and the damage said with exit status 1.
        _, as_json, _ = run(["read", pcap("pg_pgbench.pcap"), "-d", "pg"])
        packed = gzip.compress(as_json)
        path = self.write("dump.log.gz", packed[:len(packed) * 6 // 10])
        rc, out, err = run(["digest", path, "--digest-format", "json"])
        self.assertEqual(rc, 1, err)
        m = re.search(r"^tcpdp: .*dump.log.gz: .* after line (\d+) \(the lines before it are in the digest\)\n$", err)
        self.assertTrue(m, err)
        self.assertEqual(err.count("dump.log.gz"), 1, err)
        kept = int(m.group(1))
        self.assertGreater(kept, 0)
        self.assertLess(kept, len(as_json.splitlines()))
        before = self.write("before.log", b"".join(as_json.splitlines(keepends=True)[:kept]))
        rc, whole, err = run(["digest", before, "--digest-format", "json"])
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(json.loads(out), json.loads(whole))

    def digest_fed_by(self, shell):
        """tcpdp digest - --digest-format json with the output of a shell command on its standard
        input: (exit code, stdout, stderr, its peak resident memory in MiB)."""
        feed = subprocess.Popen(["sh", "-c", shell], stdout=subprocess.PIPE)
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            proc = subprocess.Popen([TCPDP, "digest", "-", "--digest-format", "json"], stdin=feed.stdout,
                                    stdout=out, stderr=err)
            feed.stdout.close()
            _, status, usage = os.wait4(proc.pid, 0)  # the memory of this process alone
            proc.returncode = os.waitstatus_to_exitcode(status)
            feed.wait()
            out.seek(0)
            err.seek(0)
            return proc.returncode, out.read(), err.read().decode(), usage.ru_maxrss / 1024

    def test_an_endless_line_is_skipped_in_bounded_memory(self):
        # No newline in 200 MB: not held whole (it used to be up to 512 MiB of it).
        rc, _, err, rss = self.digest_fed_by("head -c 200M /dev/zero")
        self.assertEqual(err, "tcpdp: warning: 1 lines over 72 MiB were skipped: too long for tcpdp records "
                              "(the first: -:1)\ntcpdp: no tcpdp records in 1 file(s)\n")
        self.assertEqual(rc, 1)
        self.assertLess(rss, RSS_BOUND_MB)

    def test_an_over_long_record_between_good_ones_is_counted(self):
        # A JSON line of 100 MiB, longer than any record tcpdp writes (queries stop at 64 MiB):
        # skipped and said, the records around it digested, memory bounded all the same.
        _, as_json, _ = run(["read", pcap("pg_pgbench.pcap"), "-d", "pg"])
        lines = as_json.splitlines(keepends=True)
        head, tail = self.write("head.log", lines[0]), self.write("tail.log", b"".join(lines[1:]))
        rc, out, err, rss = self.digest_fed_by(
            "cat %s; printf '{\"query\":\"'; head -c 100M /dev/zero | tr '\\0' a; printf '\"}\\n'; cat %s"
            % (head, tail))
        self.assertEqual((rc, err), (0, "tcpdp: warning: 1 lines over 72 MiB were skipped: too long for tcpdp "
                                        "records (the first: -:2)\n"))
        self.assertEqual(json.loads(out)["executions"], digest("pg_pgbench.pcap", "pg")["executions"])
        self.assertLess(rss, RSS_BOUND_MB)

    def test_errors(self):
        rc, _, err = run(["digest", os.path.join(self.dir, "missing.log")])
        self.assertEqual(rc, 1)
        self.assertIn("missing.log: cannot open it: No such file or directory", err)
        rc, _, err = run(["digest", self.write("empty.log", b"")])
        self.assertEqual((rc, err), (1, "tcpdp: no tcpdp records in 1 file(s)\n"))


SLEEPS = [0.011, 0.02, 0.035, 0.05, 0.08, 0.013, 0.027]


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("tcpdump"), "a live capture on lo needs root and tcpdump")
class ServerTimes(unittest.TestCase):
    """Durations of queries over 10 ms against the server's own timing of them, within 1 ms."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tcpdp-digest-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def check(self, report, example_start, server_ms):
        found = [c for c in report["top"] if c["example"].lower().startswith(example_start)]
        self.assertEqual(len(found), 1, report)
        (c,) = found
        self.assertEqual(c["count"], len(SLEEPS))
        self.assertEqual(len(server_ms), len(SLEEPS))
        self.assertLess(abs(c["max"] * 1000 - max(server_ms)), 1.0, (c, server_ms))
        self.assertLess(abs(c["total_duration"] * 1000 - sum(server_ms)), 1.0 * len(SLEEPS), (c, server_ms))
        for p, q in (("p50", 50), ("p95", 95)):
            ranked = sorted(server_ms)
            want = ranked[max(1, -(-q * len(ranked) // 100)) - 1]
            self.assertLess(abs(c[p] * 1000 - want), 1.0 + want / 256, (p, c, server_ms))

    def test_postgresql_log_min_duration_statement(self):
        with postgres(options=["log_min_duration_statement=0"]) as server:
            capture = os.path.join(self.dir, "pg.pcap")
            since = server.log_position()
            with Capture(capture, server.port):
                script = "".join("SELECT pg_sleep(%s);\n" % s for s in SLEEPS)
                p = subprocess.run([server.bin("psql"), "-X", "-q", "-d", server.dsn], input=script.encode(),
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=server.env)
                self.assertEqual(p.returncode, 0, p.stderr)
            entries = server.sync_log()[since:]
            server_ms = [float(re.match(r"duration: ([0-9.]+) ms", e["message"]).group(1)) for e in entries
                         if e.get("message", "").startswith("duration:") and e.get("remote_host") not in (None, "[local]")]
            report = digest(capture, "pg", "-t", str(server.port), "--top", "100")
            self.check(report, "select pg_sleep(", server_ms)

    def test_mariadb_slow_log(self):
        slow = os.path.join(self.dir, "slow.log")
        os.chmod(self.dir, 0o777)  # mariadbd runs as mysql
        with mariadb(options=["--slow-query-log=1", "--long-query-time=0", "--slow-query-log-file=" + slow]) as server:
            capture = os.path.join(self.dir, "my.pcap")
            with Capture(capture, server.port):
                for s in SLEEPS:
                    p = subprocess.run(["mariadb"] + server.client_args + ["-e", "SELECT SLEEP(%s)" % s],
                                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=server.env)
                    self.assertEqual(p.returncode, 0, p.stderr)
            with open(slow) as f:
                text = f.read()
            # Each entry: comment lines (one "# Query_time: 0.020123 ..."), "SET timestamp=...;",
            # perhaps "use db;", then its statement.
            server_ms, query_time = [], None
            for line in text.splitlines():
                if line.startswith("# Query_time: "):
                    query_time = float(line.split()[2])
                elif line.startswith("#") or line.startswith("SET timestamp=") or line.startswith("use "):
                    continue
                elif query_time is not None:
                    if line.startswith("SELECT SLEEP("):
                        server_ms.append(query_time * 1000)
                    query_time = None
            report = digest(capture, "mysql", "-t", str(server.port), "--top", "100")
            self.check(report, "select sleep(", server_ms)


class Intervals(unittest.TestCase):
    """probe's and proxy's --digest-interval: digest records in dump.log, and in PostgreSQL with
    the sink's dumps."""

    def log(self, t, name):
        with open(os.path.join(t.logs, name)) as f:
            return [json.loads(line) for line in f if line.strip()]

    def workload(self, server, port):
        """12 psql runs 0.25 s apart, two statement classes; -> executions sent per class."""
        env = dict(server.env, PGPORT=str(port))
        sent = {"select ?": 0, "select ?, ?": 0}
        for i in range(12):
            sql = "SELECT %d" % i if i % 3 else "SELECT %d, 'x'" % i
            sent["select ?" if i % 3 else "select ?, ?"] += 1
            p = subprocess.run([server.bin("psql"), "-X", "-q", "-c", sql], env=env, stdout=subprocess.DEVNULL)
            self.assertEqual(p.returncode, 0)
            time.sleep(0.25)
        return sent

    def check_dump_log(self, t, sent):
        """The digest records of dump.log add up to what was sent, over more than one interval."""
        digests = [r for r in self.log(t, "dump.log") if r.get("event") == "digest"]
        got = {}
        for r in digests:
            got[r["fingerprint"]] = got.get(r["fingerprint"], 0) + r["count"]
            self.assertLess(r["interval_start"], r["interval_end"])
            self.assertEqual(r["ts"], r["interval_end"])
            self.assertEqual(r["users"], {"postgres": r["count"]})
            self.assertLessEqual(r["p50"], r["max"])
        self.assertEqual(got, sent)
        # The keys of read --digest's JSON classes, as the README says.
        report_keys = set(digest("pg_pgbench.pcap", "pg")["top"][0]) - {"rank", "time_share"}
        for r in digests:
            self.assertEqual(set(r) - {"event", "ts", "interval_start", "interval_end"}, report_keys)
        starts = sorted({r["interval_start"] for r in digests})
        self.assertGreater(len(starts), 1, "more than one interval")
        return digests

    def test_proxy_writes_digests_to_dump_log_and_postgresql(self):
        with postgres() as remote, postgres() as sink_db:
            t = TcpdpRun(self, "proxy", "tcpdp-digest-")
            port = free_port()
            self.assertTrue(t.launch(["-l", "127.0.0.1:%d" % port, "-r", "127.0.0.1:%d" % remote.port, "-d", "pg",
                                      "--digest-interval", "1s", "--pg", sink_db.dsn, "--pg-dumps"], "relaying"),
                            t.stderr())
            sent = self.workload(remote, port)
            t.stop()
            digests = self.check_dump_log(t, sent)
            rows = json.loads(sink_db.psql_local(
                "SELECT coalesce(json_agg(t), '[]') FROM (SELECT fingerprint, count, id,"
                " first_seen <= last_seen AND last_seen <= interval_end AS ordered FROM query_digests) t"))
            self.assertEqual(len(rows), len(digests))
            self.assertTrue(all(r["ordered"] for r in rows), rows)
            by_fp = {}
            for r in rows:
                by_fp[r["fingerprint"]] = by_fp.get(r["fingerprint"], 0) + r["count"]
            self.assertEqual(by_fp, sent)

    def test_probe_writes_digests_to_dump_log(self):
        with postgres() as server:
            t = TcpdpRun(self, "probe", "tcpdp-digest-")
            self.assertTrue(t.launch(["-i", "lo", "-t", str(server.port), "-d", "pg", "--digest-interval", "1"],
                                     "listening"), t.stderr())
            sent = self.workload(server, server.port)
            time.sleep(0.5)
            t.stop()
            self.check_dump_log(t, sent)

    def test_bad_interval(self):
        for interval in ("soon", "0", "-5s", "10d", "169h"):
            with self.subTest(interval=interval), tempfile.TemporaryDirectory() as d:
                rc, _, err = run(["proxy", "-l", "127.0.0.1:%d" % free_port(), "-r", "127.0.0.1:1",
                                  "--digest-interval", interval], cwd=d)
                self.assertEqual(rc, 2)
                self.assertIn("--digest-interval %s: seconds above 0 are wanted" % interval, err)
                self.assertEqual(os.listdir(d), [], "nothing started")
        for command in (["proxy", "-l", "127.0.0.1:%d" % free_port(), "-r", "127.0.0.1:1"], ["probe", "-i", "lo"]):
            with self.subTest(command=command[0]), tempfile.TemporaryDirectory() as d:
                rc, _, err = run(command + ["-d", "hex", "--digest-interval", "60"], cwd=d)
                self.assertEqual(rc, 2)
                self.assertIn("--digest-interval digests SQL statements: use -d pg, mysql or auto", err)


if __name__ == "__main__":
    unittest.main()
