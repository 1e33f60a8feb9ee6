"""`tcpdp read -d mysql` on real MariaDB traffic: every command, its text and its outcome, checked
against tshark's MySQL dissector and against what the workload sent."""

import unittest

import json
import os

from support import PCAPS, by_client_port, dumper_records, pcap, tshark_mysql

import mysql_workload as workload


def mysql_records(name, port, *extra):
    return dumper_records("mysql", name, port, *extra)


class AgainstTshark(unittest.TestCase):
    def check(self, name, port, compare_text=True):
        recs = mysql_records(name, port)
        self.assertFalse([r for r in recs if "decode_error" in r],
                         "decode errors in a clean capture")
        mine = by_client_port(recs)
        for stream in tshark_mysql(pcap(name), port):
            got = mine[stream["client_port"]]
            commands = [r for r in got if "command_id" in r]
            self.assertEqual([r["command_id"] for r in commands], [c for c, _ in stream["commands"]])
            texts = [r.get("query", r.get("stmt_prepare_query", r.get("database"))).rstrip("\x00")
                     for r in commands if r["command_id"] in (2, 3, 22)]
            if compare_text:
                # tshark shows every byte outside ASCII as U+FFFD; compare the texts the same way
                as_tshark = lambda q: "".join(c if ord(c) < 0x80 else "\ufffd" * len(c.encode()) for c in q)
                self.assertEqual([as_tshark(t) for t in texts],
                                 [t for c, t in stream["commands"] if c in (2, 3, 22)])
            self.assertEqual([r["error_code"] for r in got if "error_code" in r], stream["error_codes"])
        return recs

    def test_mariadb_client(self):
        recs = self.check("mariadb.pcap", workload.MY_PORT)
        handshake = recs[0]
        self.assertEqual(handshake["message_type"], "HandshakeResponse")
        self.assertEqual(handshake["username"], "tcpdp")
        self.assertIn("MariaDB", handshake["server_version"])
        queries = {r["query"]: r for r in recs if "query" in r}
        self.assertEqual(queries["INSERT INTO t VALUES (1,'alice'),(2,'bob')"]["affected_rows"], 2)
        self.assertEqual(queries["SELECT * FROM t ORDER BY id"]["rows"], 2)
        self.assertEqual(queries["SELECT * FROM no_such_table"]["sql_state"], "42S02")
        # after COM_INIT_DB the records carry the new database
        init = [i for i, r in enumerate(recs) if r.get("command") == "COM_INIT_DB"][0]
        self.assertTrue(all(r["database"] == "d" for r in recs[init + 1:]))

    def test_other_captures(self):
        # (tshark 4.0 loses its way in mysql_compress.pcap, where a packet spans compressed frames:
        # PreparedStatements.test_compressed checks that capture against what was sent)
        for name in ("mysql_client.pcap", "mysql_stmt.pcap", "mysql_slap.pcap"):
            with self.subTest(capture=name):
                self.check(name, workload.MY_PORT)
        # tshark shows latin1 and Shift-JIS bytes as U+FFFD: compare commands, not text, here
        # (Workloads.test_charsets_transcoded_to_utf8 checks the text against what was sent)
        for name in ("mysql_latin1.pcap", "mysql_sjis.pcap"):
            with self.subTest(capture=name):
                self.check(name, workload.MY_PORT, compare_text=False)

    def test_no_response(self):
        recs = mysql_records("mariadb.pcap", workload.MY_PORT, "--no-response")
        self.assertFalse([r for r in recs if "duration" in r])
        self.assertEqual([r.get("query") for r in recs if r["direction"] == "->"],
                         [r.get("query") for r in mysql_records("mariadb.pcap", workload.MY_PORT)
                          if r["direction"] == "->"])


def commands(recs):
    return [r for r in recs if "command" in r]


def expected_outcome(results):
    """What tcpdp's outcome keys must say, from what the workload saw the server answer."""
    out = {}
    sets = [x for x in results if x["type"] == "resultset"]
    oks = [x for x in results if x["type"] == "ok"]
    errors = [x for x in results if x["type"] == "error"]
    if sets:
        out["rows"] = sum(len(x["rows"]) for x in sets)
    if oks:
        out["affected_rows"] = sum(x["affected_rows"] for x in oks)
    if errors:
        out["error_code"] = errors[0]["code"]
        out["sql_state"] = errors[0]["sql_state"]
    if len(results) > 1:
        out["result_sets"] = len(results)
    if sets or oks:
        out["warnings"] = sum(x["warnings"] for x in sets + oks)
    return out


class Workloads(unittest.TestCase):
    """Every command as the client sent it, with the outcome the server gave it."""

    def check_commands(self, recs, expected):
        got = commands(recs)
        text = {"COM_QUERY": "query", "COM_INIT_DB": "database"}
        self.assertEqual([(r["command"], r.get(text.get(r["command"], ""))) for r in got],
                         [(c["command"], c["text"]) for c in expected])
        for r, c in zip(got, expected):
            want = expected_outcome(c["results"])
            with self.subTest(command=c["command"], text=(c["text"] or "")[:60]):
                self.assertEqual({k: r.get(k) for k in want}, want)

    def test_mysql_client(self):
        recs = mysql_records("mysql_client.pcap", workload.MY_PORT)
        self.check_commands(recs, workload.CLIENT_COMMANDS)
        self.assertEqual(recs[0]["username"], workload.USER)
        # COM_INIT_DB moved the session to the other database
        self.assertEqual(commands(recs)[-1]["database"], workload.OTHER_DATABASE)

    def test_charsets_transcoded_to_utf8(self):
        for name, case in workload.CHARSET_CASES.items():
            with self.subTest(charset=name):
                recs = mysql_records("mysql_%s.pcap" % name, workload.MY_PORT)
                self.assertEqual(recs[0]["character_set"], case["charset"])
                self.check_commands(recs, case["commands"])

    def test_ssl_says_so_then_nothing(self):
        recs = mysql_records("mysql_ssl.pcap", workload.MY_PORT)
        self.assertEqual(len(recs), 2, recs)
        self.assertEqual(recs[0]["message_type"], "SSLRequest")
        self.assertEqual((recs[1]["event"], recs[1]["direction"], recs[1]["protocol"],
                          recs[1]["negotiation"], recs[1]["encryption"]),
                         ("encrypted", "->", "mysql", "SSLRequest", "tls"))

    def test_mysqlslap(self):
        recs = mysql_records("mysql_slap.pcap", workload.MY_PORT)
        handshakes = [r for r in recs if r.get("message_type") == "HandshakeResponse"]
        self.assertEqual(len(handshakes), workload.SLAP["connections"])
        queries = [r for r in recs if r.get("command") == "COM_QUERY"]
        self.assertEqual(len(queries), workload.SLAP["com_query"])
        self.assertEqual(sum(1 for r in queries if r["query"] == workload.SLAP["select_text"]),
                         workload.SLAP["selects"])


class PreparedStatements(unittest.TestCase):
    """COM_STMT_EXECUTE values against what the C program bound (mysql_stmt.expected.json)."""

    def check(self, capture, expected_json):
        with open(os.path.join(PCAPS, expected_json)) as f:
            expected = json.load(f)
        recs = mysql_records(capture, workload.MY_PORT)
        executes = [r for r in recs if r.get("command") == "COM_STMT_EXECUTE"]
        self.assertEqual(len(executes), len(expected))
        for r, want in zip(executes, expected):
            with self.subTest(name=want["name"]):
                self.assertEqual(r["stmt_id"], want["stmt_id"])
                self.assertEqual(r["stmt_prepare_query"], want["query"])
                if want["values"]:
                    self.assertEqual(r["stmt_execute_values"], want["values"])
                if "error" in want:
                    self.assertEqual((r["error_code"], r["sql_state"]), (want["error"], want["sql_state"]))
                if "rows" in want:
                    self.assertEqual(r["rows"], len(want["rows"]))
                if "affected_rows" in want:
                    self.assertEqual(r["affected_rows"], want["affected_rows"])
        prepares = [r for r in recs if r.get("command") == "COM_STMT_PREPARE"]
        self.assertTrue(all("stmt_id" in r for r in prepares))
        return recs

    def test_every_type(self):
        recs = self.check("mysql_stmt.pcap", "mysql_stmt.expected.json")
        long_data = [r for r in recs if r.get("command") == "COM_STMT_SEND_LONG_DATA"]
        self.assertGreaterEqual(len(long_data), 3)

    def test_compressed(self):
        recs = self.check("mysql_compress.pcap", "mysql_compress.expected.json")
        self.assertTrue(recs[0]["compressed"])
        self.assertEqual([r["query"] for r in recs if "query" in r], workload.COMPRESS_QUERIES)


if __name__ == "__main__":
    unittest.main()
