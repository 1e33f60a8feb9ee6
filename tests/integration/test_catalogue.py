"""The record catalogue (`tcpdp records`) against what tcpdp writes and what it documents: every
record of every test capture, under every dumper, is of a kind the catalogue has and carries only
that kind's keys, with values of their types and in their closed sets; every kind's keys are in the
man page's section for that kind, and every key those sections name is in the catalogue."""

import glob
import json
import os
import re
import unittest

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
        # The captures hold every kind read writes (digest records come from probe and proxy).
        self.assertEqual(seen, set(kinds) - {"digest"})

    def test_a_record_with_a_stray_key_is_caught(self):
        # The check itself can fail: a key no kind has, a value outside a closed set.
        kinds = catalogue()
        self.assertTrue(mismatches(kinds, {"event": "gap", "gap_bytes": 3, "bytes": "x"}))
        self.assertTrue(mismatches(kinds, {"event": "pg", "message_type": "Z"}))
        self.assertTrue(mismatches(kinds, {"event": "summary", "src_port": "80"}))
        self.assertTrue(mismatches(kinds, {"event": "nothing"}))
        self.assertEqual(mismatches(kinds, {"event": "gap", "gap_bytes": 3, "direction": "<-"}),
                         [])


if __name__ == "__main__":
    unittest.main()
