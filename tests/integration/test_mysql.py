"""`tcpdp read -d mysql` on real MariaDB traffic: every command, its text and its outcome, checked
against tshark's MySQL dissector and against what the workload sent."""

import collections
import unittest

from support import pcap, records, run, tshark_mysql


def mysql_records(name, port, *extra):
    rc, out, err = run(["read", pcap(name), "-d", "mysql", "-t", str(port)] + list(extra))
    assert rc == 0, err
    return records(out)


def by_client_port(recs):
    conns = collections.OrderedDict()
    for r in recs:
        client = r["src_addr"] if r["direction"] == "->" else r["dst_addr"]
        conns.setdefault(int(client.rsplit(":", 1)[1]), []).append(r)
    return conns


class AgainstTshark(unittest.TestCase):
    def check(self, name, port):
        recs = mysql_records(name, port)
        self.assertFalse([r for r in recs if "decode_error" in r and not r.get("encrypted")],
                         "decode errors in a clean capture")
        mine = by_client_port(recs)
        for stream in tshark_mysql(pcap(name), port):
            got = mine[stream["client_port"]]
            commands = [r for r in got if "command_id" in r]
            self.assertEqual([r["command_id"] for r in commands], [c for c, _ in stream["commands"]])
            texts = [r.get("query", r.get("stmt_prepare_query", r.get("database"))) for r in commands
                     if r["command_id"] in (2, 3, 22)]
            self.assertEqual(texts, [t for c, t in stream["commands"] if c in (2, 3, 22)])
            self.assertEqual([r["error_code"] for r in got if "error_code" in r], stream["error_codes"])
        return recs

    def test_mariadb_client(self):
        recs = self.check("mariadb.pcap", 53306)
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

    def test_no_response(self):
        recs = mysql_records("mariadb.pcap", 53306, "--no-response")
        self.assertFalse([r for r in recs if "duration" in r])
        self.assertEqual([r.get("query") for r in recs if r["direction"] == "->"],
                         [r.get("query") for r in mysql_records("mariadb.pcap", 53306)
                          if r["direction"] == "->"])


if __name__ == "__main__":
    unittest.main()
