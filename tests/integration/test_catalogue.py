"""The record catalogue (`tcpdp records`) against what tcpdp writes and what it documents: every
record of every test capture, under every dumper, is of a kind the catalogue has and carries only
that kind's keys, with values of their types and in their closed sets; every kind's keys are in the
man page's sections for that kind, every key those sections define is a key of one of their kinds,
and every key the PostgreSQL schema reads from a record is one the record's kind has."""

import glob
import json
import os
import re
import socket
import unittest

import servers
import support

MYSQL8 = os.environ.get(
    "TCPDP_MYSQL8_CAPTURES",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "captures",
                 "mysql8"))
MAN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "man", "tcpdp.1")
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def catalogue():
    code, out, err = support.run(["records", "--format", "json"])
    assert code == 0, err
    return {k["name"]: k for k in map(json.loads, out.decode().splitlines())}


def fits(key, value):
    """Whether a JSON value is of the catalogue key's type (JSON has no timestamp or duration:
    they are RFC 3339 text and seconds)."""
    if value is None:
        return key["nullable"]
    t = key["type"]
    if t == "string":
        return isinstance(value, str) and (not key["values"] or value in key["values"])
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t in ("number", "duration"):
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "timestamp":
        return isinstance(value, str) and RFC3339.match(value) is not None
    if t == "array":
        return isinstance(value, list)
    return isinstance(value, dict)


def mismatches(kinds, record):
    kind = kinds.get(record.get("event"))
    if kind is None:
        return ["event %r is no kind of the catalogue" % record.get("event")]
    keys = {k["name"]: k for k in kind["keys"]}
    out = []
    for name, value in record.items():
        if name not in keys:
            out.append("%s: key %s is not in the catalogue" % (kind["name"], name))
        elif not fits(keys[name], value):
            out.append("%s: %s = %r is not a %s of its set" % (kind["name"], name, value,
                                                               keys[name]["type"]))
    return out


class Captures(unittest.TestCase):
    def test_every_record_of_every_capture_fits_the_catalogue(self):
        kinds = catalogue()
        captures = sorted(glob.glob(os.path.join(support.PCAPS, "*.pcap")))
        captures += sorted(glob.glob(os.path.join(MYSQL8, "*.pcap")))
        self.assertGreater(len(captures), 40)
        seen = set()
        for capture in captures:
            for dumper in ("hex", "pg", "mysql", "auto"):
                code, out, err = support.run(["read", capture, "-d", dumper, "--conn"])
                # A capture damaged on purpose ends with exit 1, after its good part.
                self.assertIn(code, (0, 1), err)
                for line in out.decode().splitlines():
                    record = json.loads(line)
                    seen.add(record.get("event"))
                    problems = mismatches(kinds, record)
                    self.assertEqual(problems, [], "%s -d %s: %s" % (capture, dumper, line[:300]))
        # The captures hold every kind read writes (digest records come from probe and proxy,
        # log records go to their tcpdp.log).
        self.assertEqual(seen, set(kinds) - {"digest", "log"})

    def test_a_record_with_a_stray_key_is_caught(self):
        # The check itself can fail: a key no kind has, a value outside a closed set.
        kinds = catalogue()
        self.assertTrue(mismatches(kinds, {"event": "gap", "gap_bytes": 3, "bytes": "x"}))
        self.assertTrue(mismatches(kinds, {"event": "pg", "message_type": "Z"}))
        self.assertTrue(mismatches(kinds, {"event": "summary", "src_port": "80"}))
        self.assertTrue(mismatches(kinds, {"event": "nothing"}))
        self.assertEqual(mismatches(kinds, {"event": "gap", "gap_bytes": 3, "direction": "<-"}),
                         [])


class ProgramLog(unittest.TestCase):
    """tcpdp.log of a proxy that turns a client away (a remote that refuses) and of a probe on
    lo: every record fits the catalogue's log kind."""

    def check(self, run, messages):
        recs = [json.loads(line) for line in
                support.read_text(os.path.join(run.logs, "tcpdp.log")).splitlines()]
        kinds = catalogue()
        self.assertEqual([p for r in recs for p in mismatches(kinds, r)], [], recs)
        self.assertEqual({r["event"] for r in recs}, {"log"})
        for msg in messages:
            self.assertIn(msg, [r["msg"] for r in recs])
        return recs

    def test_proxy(self):
        run = support.TcpdpRun(self, "proxy", "tcpdp-catalogue-")
        port, closed = servers.free_port(), servers.free_port()
        self.assertTrue(run.launch(["-l", "127.0.0.1:%d" % port, "-r", "127.0.0.1:%d" % closed,
                                    "-d", "pg"], "relaying"), run.stderr())
        with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
            self.assertEqual(s.recv(1), b"")  # closed once the remote refused
        run.stop()
        recs = self.check(run, ["start", "stop"])
        warns = [r for r in recs if r["level"] == "warn"]
        self.assertEqual(len(warns), 1, recs)
        self.assertEqual(warns[0]["remote"], "127.0.0.1:%d" % closed)

    @unittest.skipUnless(os.geteuid() == 0, "audit needs root")
    def test_audit(self):
        run = support.TcpdpRun(self, "audit", "tcpdp-catalogue-")
        self.assertTrue(run.launch([], "tcpdp: reading"), run.stderr())
        run.stop()
        self.check(run, ["start", "stop"])

    @unittest.skipUnless(os.geteuid() == 0, "probe needs root")
    def test_probe(self):
        run = support.TcpdpRun(self, "probe", "tcpdp-catalogue-")
        self.assertTrue(run.launch(["-i", "lo", "-t", "5999", "-d", "pg"], "listening on"), run.stderr())
        run.stop()
        self.check(run, ["start", "stop"])


# The man page's sections that define each kind's keys (a key is defined by a .TP entry whose
# term names it in bold); RECORDS has the keys every kind begins with.
SECTIONS = {
    "hex": ["RECORDS"],
    "gap": ["RECORDS"],
    "pg": ["RECORDS", "PG DUMPER"],
    "mysql": ["RECORDS", "MYSQL DUMPER"],
    "decode_error": ["RECORDS", "PG DUMPER", "MYSQL DUMPER"],
    "encrypted": ["RECORDS", "PG DUMPER", "MYSQL DUMPER"],
    "state": ["RECORDS", "LIFECYCLE", "AUDIT"],
    "summary": ["RECORDS", "LIFECYCLE", "AUDIT"],
    "digest": ["RECORDS", "QUERY DIGEST"],
    "log": ["LOGS"],
}


def roff_args(line):
    """The arguments of a roff macro line, quotes taken off."""
    return [a[1:-1] if a.startswith('"') else a for a in re.findall(r'"[^"]*"|\S+', line)]


def man_terms():
    """{section: set of the bold words of its .TP terms}."""
    sections, current, after_tp = {}, None, False
    with open(MAN, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n").replace("\\-", "-")
            if line.startswith(".SH "):
                current = line[4:].strip('"')
                sections[current] = set()
                continue
            if after_tp and current is not None:
                words = line.split(None, 1)
                args = roff_args(words[1]) if len(words) > 1 else []
                bold = {".B": args, ".BR": args[0::2], ".RB": args[1::2]}.get(words[0], [])
                for a in bold:
                    sections[current].update(w for w in re.split(r"[ ,]+", a) if w)
            after_tp = line == ".TP"
    return sections


class Documentation(unittest.TestCase):
    def test_every_key_of_every_kind_is_defined_in_its_man_page_sections(self):
        kinds, terms = catalogue(), man_terms()
        self.assertEqual(set(SECTIONS), set(kinds))
        missing = {}
        for name, kind in kinds.items():
            documented = set().union(*(terms[s] for s in SECTIONS[name]))
            keys = [k["name"] for k in kind["keys"] if k["name"] not in documented]
            if keys:
                missing[name] = keys
        self.assertEqual(missing, {}, "keys of these kinds the man page does not define")

    def test_every_key_the_man_page_defines_is_written(self):
        kinds, terms = catalogue(), man_terms()
        for section in set(s for ss in SECTIONS.values() for s in ss):
            keys = set(k["name"] for name, ss in SECTIONS.items() if section in ss
                       for k in kinds[name]["keys"])
            self.assertEqual(sorted(terms[section] - keys), [],
                             "%s defines keys no record of its kinds has" % section)

    def test_every_key_the_schema_reads_is_one_its_records_have(self):
        kinds = catalogue()
        with open(os.path.join(os.path.dirname(MAN), "..", "config", "schema.sql")) as f:
            schema = f.read()
        body = schema[schema.index("CREATE OR REPLACE FUNCTION tcpdp_insert"):]
        body = body[:body.index("$$;")]
        statements = body.split("INSERT INTO ")[1:]
        self.assertEqual(len(statements), 4)
        for statement in statements:
            where = re.search(r"WHERE r->>'event' (?:= '(\w+)'|IN \(([^)]*)\))", statement)
            self.assertIsNotNone(where, statement[:80])
            names = [where.group(1)] if where.group(1) else re.findall(r"'(\w+)'", where.group(2))
            keys = set(k["name"] for n in names for k in kinds[n]["keys"])
            read = set(re.findall(r"r->>?'(\w+)'", statement)) - {"event"}
            self.assertTrue(read)
            self.assertEqual(sorted(read - keys), [], "%s reads keys %s records do not have"
                             % (statement.split()[0], "/".join(names)))


if __name__ == "__main__":
    unittest.main()
