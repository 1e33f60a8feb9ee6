"""`tcpdp read -d mysql` on real MySQL 8 traffic captured by another project (Zeek's MySQL analyzer
tests, in ../shared/captures/mysql8/): every login, command and argument against Zeek's own
mysql.log of the same capture, an independent reading of the same bytes; query attributes against
the server's own answer to mysql_query_attribute_string()."""

import os
import subprocess
import tempfile
import unittest

from support import client_port, records, run

CAPTURES = os.environ.get(
    "TCPDP_MYSQL8_CAPTURES",
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "captures",
                 "mysql8"))
NAMES = ["caching_sha2_password", "change-user-error", "change-user-success", "many-query-attrs",
         "query-attr"]

# Zeek's cmd column for tcpdp's command names.
ZEEK_CMD = {"COM_QUERY": "query", "COM_FIELD_LIST": "field_list", "COM_CHANGE_USER": "change_user",
            "COM_PING": "ping", "COM_QUIT": "quit", "COM_INIT_DB": "init_db"}


def zeek_log(name):
    """The rows of X.zeek-mysql.log as dicts named by its #fields line."""
    fields, rows = None, []
    with open(os.path.join(CAPTURES, name + ".zeek-mysql.log")) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#fields"):
                fields = line.split("\t")[1:]
            elif line and not line.startswith("#"):
                rows.append(dict(zip(fields, line.split("\t"))))
    return rows


def tcpdp_rows(name):
    """tcpdp's records of the capture in Zeek's terms: (client port, cmd, arg, success, response)."""
    rc, out, err = run(["read", os.path.join(CAPTURES, name + ".pcap"), "-d", "mysql", "-t", "3306"])
    assert rc == 0, err
    rows = []
    for r in records(out):
        failed = "error_code" in r
        if r.get("message_type") == "HandshakeResponse":
            rows.append((client_port(r), "login", r["username"], r.get("login_ok"),
                         r.get("error_message")))
            continue
        cmd = ZEEK_CMD[r["command"]]
        arg = r.get("query", r.get("table", r.get("new_username", "")))
        if cmd == "init_db":
            arg = r["database"]
        # Zeek gives no outcome to COM_QUIT, which has no answer.
        success = None if cmd == "quit" else not failed
        rows.append((client_port(r), cmd, arg, success, r.get("error_message")))
    return rows


def zeek_rows(name):
    rows = []
    for z in zeek_log(name):
        arg = "" if z["arg"] == "(empty)" else z["arg"]
        success = {"T": True, "F": False, "-": None}[z["success"]]
        response = None if z["response"] == "-" else z["response"]
        rows.append((int(z["id.orig_p"]), z["cmd"], arg, success, response))
    return rows


@unittest.skipUnless(os.path.isdir(CAPTURES), "no MySQL 8 captures at %s" % CAPTURES)
class AgainstZeek(unittest.TestCase):
    def test_every_command_and_login(self):
        for name in NAMES:
            with self.subTest(capture=name):
                self.assertEqual(tcpdp_rows(name), zeek_rows(name))

    def test_query_text_has_no_attribute_bytes(self):
        # With CLIENT_QUERY_ATTRIBUTES every COM_QUERY of the mysql 8 CLI starts with a parameter
        # count and a set count (00 01) before the SQL text: none of it belongs to the text.
        for name in NAMES:
            rc, out, _ = run(["read", os.path.join(CAPTURES, name + ".pcap"), "-d", "mysql"])
            for r in records(out):
                if "query" in r:
                    self.assertTrue(r["query"][0].isalpha(), (name, r["query"]))


@unittest.skipUnless(os.path.isdir(CAPTURES), "no MySQL 8 captures at %s" % CAPTURES)
class PickedUpMidway(unittest.TestCase):
    def test_queries_after_a_missed_handshake(self):
        # The capture without the packets before its first COM_QUERY, as a probe started on a
        # live connection sees it: the query texts are still Zeek's, attributes or not.
        with tempfile.TemporaryDirectory() as d:
            for name in ("query-attr", "many-query-attrs", "caching_sha2_password"):
                first = subprocess.run(
                    ["tshark", "-r", os.path.join(CAPTURES, name + ".pcap"), "-Y",
                     "mysql.command == 3", "-T", "fields", "-e", "frame.number"],
                    stdout=subprocess.PIPE, check=True, text=True).stdout.split()[0]
                cut = os.path.join(d, name + ".pcap")
                subprocess.run(["editcap", "-r", os.path.join(CAPTURES, name + ".pcap"), cut,
                                first + "-10000000"], check=True, stdout=subprocess.DEVNULL)
                rc, out, err = run(["read", cut, "-d", "mysql", "-t", "3306"])
                self.assertEqual(rc, 0, err)
                got = [r["query"] for r in records(out) if "query" in r]
                zeek = zeek_rows(name)  # in time order
                first_query = [z[1] for z in zeek].index("query")
                want = [z[2] for z in zeek[first_query:] if z[1] == "query"]
                self.assertEqual(got, want, name)


def server_row(name, query_frame_text):
    """The text row the server sent after the query, as tshark dissects it."""
    out = subprocess.run(
        ["tshark", "-r", os.path.join(CAPTURES, name + ".pcap"), "-Y", "mysql", "-T", "fields",
         "-e", "mysql.query", "-e", "mysql.row.text"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True, text=True).stdout
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.split("\t")[0] == query_frame_text:
            for later in lines[i + 1:]:
                if later.split("\t")[-1]:
                    return later.split("\t")[-1].split(",")
    raise AssertionError("no answer to %r" % query_frame_text)


@unittest.skipUnless(os.path.isdir(CAPTURES), "no MySQL 8 captures at %s" % CAPTURES)
class QueryAttributes(unittest.TestCase):
    def attributed(self, name):
        rc, out, err = run(["read", os.path.join(CAPTURES, name + ".pcap"), "-d", "mysql"])
        self.assertEqual(rc, 0, err)
        return [r for r in records(out) if r.get("command") == "COM_QUERY"]

    def test_cli_query_attributes_apply_to_the_next_query_only(self):
        # The capture's workload: `query_attributes n1 v1 n2 v2` in the mysql CLI, then
        # `select now()` twice; the CLI sends the attributes with the first one only.
        queries = self.attributed("query-attr")
        nows = [r for r in queries if r["query"] == "select now()"]
        self.assertEqual(len(nows), 2)
        self.assertEqual(nows[0]["query_attributes"], {"n1": "v1", "n2": "v2"})
        self.assertNotIn("query_attributes", nows[1])

    def test_attributes_equal_what_the_server_read(self):
        sql = "SELECT mysql_query_attribute_string('n1'), mysql_query_attribute_string('n2')"
        (rec,) = [r for r in self.attributed("many-query-attrs") if r["query"] == sql]
        answer = server_row("many-query-attrs", sql)
        self.assertEqual([rec["query_attributes"]["n1"], rec["query_attributes"]["n2"]], answer)
        self.assertEqual(len(rec["query_attributes"]), 12)


if __name__ == "__main__":
    unittest.main()
