"""Connection lifecycle (`-d conn`, `--conn`) on real loopback connections with known endings.

The state changes are checked against the kernel's own record of them: lifecycle_workload.py
traced the sock:inet_sock_set_state tracepoint (what tcp-audit reads) while it ran. The summaries
are checked against what the workload did, Zeek's definitions of conn_state, and tshark."""

import collections
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

from support import TCPDP, pcap, records, run

import lifecycle_workload as workload

# Zeek's conn_state for each ending (docs.zeek.org, base/protocols/conn/main.zeek: conn_state).
CONN_STATE = {"mid_stream": "SF", "client_fin": "SF", "server_fin": "SF", "simultaneous": "SF",
              "client_rst": "RSTO", "server_rst": "RSTR", "client_abort": "RSTO",
              "refused": "REJ", "open": "S1"}
CLOSED_BY = {"mid_stream": "client", "client_fin": "client", "server_fin": "server",
             "client_rst": "client", "server_rst": "server", "client_abort": "client",
             "refused": "server", "open": None}


def kernel_name(state):
    """TCP_FIN_WAIT1 -> FIN-WAIT-1, TCP_CLOSE -> CLOSED: the names tcp-audit writes."""
    name = state[len("TCP_"):]
    if name == "CLOSE":
        return "CLOSED"
    for n in ("1", "2"):
        name = name.replace("WAIT" + n, "WAIT-" + n)
    return name.replace("_", "-")


def comparable(new_states):
    """The kernel's full socket is freed when it enters TIME-WAIT (the timewait socket that
    takes over has no tracepoint): its trace says CLOSE where tcpdp says TIME-WAIT."""
    return ["CLOSED" if s == "TIME-WAIT" else s for s in new_states]


class Lifecycle(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(pcap("tcp_lifecycle.expected.json")) as f:
            cls.entries = json.load(f)
        rc, out, err = run(["read", pcap("tcp_lifecycle.pcap"), "-d", "conn"])
        assert rc == 0, err
        cls.records = records(out)
        cls.changes = collections.defaultdict(lambda: {"client": [], "server": []})
        cls.summaries = {}
        for r in cls.records:
            if r["event"] == "state":
                cls.changes[r["src_port"]][r["side"]].append(r)
            else:
                cls.summaries[r["src_port"]] = r

    def test_every_connection_is_summed_up_once(self):
        self.assertEqual(sorted(self.summaries), sorted(e["client_port"] for e in self.entries))
        self.assertEqual(len([r for r in self.records if r["event"] == "summary"]), len(self.entries))
        self.assertEqual(sorted(set(e["case"] for e in self.entries)), sorted(workload.CASES))

    def test_state_changes_match_the_kernel(self):
        for e in self.entries:
            for side in ("client", "server"):
                with self.subTest(case=e["case"], port=e["client_port"], side=side):
                    mine = [r for r in self.changes[e["client_port"]][side]
                            if r["old_state"] != "UNKNOWN"]  # the pickup's pseudo-state
                    kernel = [kernel_name(new) for _, new in e["kernel"][side]]
                    self.assertEqual(comparable([r["new_state"] for r in mine]), kernel)
                    # each change starts where the one before ended
                    for a, b in zip(mine, mine[1:]):
                        self.assertEqual(a["new_state"], b["old_state"])

    def test_the_crossed_fins_go_through_closing(self):
        crossed = [e for e in self.entries if e["case"] == "simultaneous" and
                   "TCP_CLOSING" in [n for _, n in e["kernel"]["client"]]]
        self.assertTrue(crossed)
        for e in crossed:
            for side in ("client", "server"):
                self.assertIn("CLOSING", [r["new_state"] for r in self.changes[e["client_port"]][side]])

    def test_a_pickup_starts_from_the_pseudo_state(self):
        (e,) = [e for e in self.entries if e["case"] == "mid_stream"]
        for side in ("client", "server"):
            first = self.changes[e["client_port"]][side][0]
            self.assertEqual((first["old_state"], first["new_state"]), ("UNKNOWN", "ESTABLISHED"))
        self.assertTrue(self.summaries[e["client_port"]]["mid_stream"])

    def test_summaries(self):
        for e in self.entries:
            with self.subTest(case=e["case"], port=e["client_port"]):
                s = self.summaries[e["client_port"]]
                self.assertEqual(s["conn_state"], CONN_STATE[e["case"]])
                if e["case"] in CLOSED_BY:
                    self.assertEqual(s["closed_by"], CLOSED_BY[e["case"]])
                self.assertEqual((s["client_bytes"], s["server_bytes"]), (e["client_sent"], e["server_sent"]))
                self.assertEqual(s["dst_port"], e["server_port"])
                self.assertEqual(s["mid_stream"], e["case"] == "mid_stream")
                self.assertEqual(s["missed_bytes"], 0)
                self.assertEqual(s["history"][0], "D" if e["case"] == "mid_stream" else "S")
                if e["case"] in ("refused", "mid_stream"):
                    self.assertIsNone(s["handshake_rtt"])
                else:
                    self.assertGreater(s["handshake_rtt"], 0)

    def test_packets_and_ip_bytes_match_tshark(self):
        out = subprocess.run(["tshark", "-r", pcap("tcp_lifecycle.pcap"), "-T", "fields",
                              "-e", "tcp.srcport", "-e", "tcp.dstport", "-e", "ip.len"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                             check=True).stdout
        count = collections.Counter()
        size = collections.Counter()
        for line in out.splitlines():
            sport, dport, length = (int(x) for x in line.split("\t"))
            client, side = (sport, "client") if dport in (workload.PORT, workload.REFUSED_PORT) \
                else (dport, "server")
            count[client, side] += 1
            size[client, side] += length
        for e in self.entries:
            with self.subTest(case=e["case"]):
                s = self.summaries[e["client_port"]]
                for side in ("client", "server"):
                    self.assertEqual(s[side + "_packets"], count[e["client_port"], side])
                    self.assertEqual(s[side + "_ip_bytes"], size[e["client_port"], side])

    def test_conn_adds_the_lifecycle_to_another_dumper(self):
        rc, out, err = run(["read", pcap("tcp_lifecycle.pcap"), "-d", "hex", "--conn"])
        self.assertEqual(rc, 0, err)
        recs = records(out)
        lifecycle = ("state", "summary")
        self.assertEqual([r for r in recs if r["event"] in lifecycle], self.records)
        self.assertTrue([r for r in recs if r["event"] == "hex"])
        rc, out, err = run(["read", pcap("tcp_lifecycle.pcap"), "-d", "hex"])
        self.assertFalse([r for r in records(out) if r["event"] in lifecycle])




class Bounds(unittest.TestCase):
    def summaries(self, name, *flags):
        rc, out, err = run(["read", pcap(name), "-d", "conn"] + list(flags))
        self.assertEqual(rc, 0, err)
        return [r for r in records(out) if r["event"] == "summary"], err

    def test_idle_timeout(self):
        # tcp_close.pcap pauses 20 ms before every message (tcp_workload.PAUSE)
        summaries, _ = self.summaries("tcp_close.pcap", "--idle-timeout", "0.01")
        self.assertEqual(summaries[0]["close_reason"], "idle")
        self.assertGreater(len(summaries), 1)
        self.assertTrue(all(s["mid_stream"] for s in summaries[1:]))  # picked up again
        summaries, _ = self.summaries("tcp_close.pcap")
        self.assertEqual([s["close_reason"] for s in summaries], ["fin"])

    def test_max_connections(self):
        # pg_pgbench.pcap has two pgbench connections open at once
        summaries, err = self.summaries("pg_pgbench.pcap", "--max-connections", "1")
        evicted = [s for s in summaries if s["close_reason"] == "evicted"]
        self.assertTrue(evicted)
        self.assertIn("%d connections were given up to keep at most 1 open" % len(evicted), err)
        summaries, err = self.summaries("pg_pgbench.pcap")
        self.assertFalse([s for s in summaries if s["close_reason"] == "evicted"])
        self.assertNotIn("given up", err)

    def test_bad_values_are_explained(self):
        for flag, value, wanted in (("--idle-timeout", "0", "a number of seconds above 0"),
                                    ("--max-connections", "-3", "a whole number above 0")):
            rc, _, err = run(["read", pcap("tcp_close.pcap"), flag, value])
            self.assertEqual(rc, 2)
            self.assertIn("'%s' is not %s" % (value, wanted), err)


# The child: names itself (comm), connects, sends a byte, and holds the connection a while.
CHILD = """
import ctypes, socket, sys, time
ctypes.CDLL(None).prctl(15, b"tcpdp-owner", 0, 0, 0)  # PR_SET_NAME
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"x")
time.sleep(2)
"""


class LiveOwners(unittest.TestCase):
    """`tcpdump -w - | tcpdp read -d conn --processes` names the processes at both ends."""

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("tcpdump"),
                         "a live capture on lo needs root and tcpdump")
    def test_summaries_name_the_processes(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        port = listener.getsockname()[1]
        tcpdump = subprocess.Popen(["tcpdump", "-i", "lo", "-U", "-s", "0", "-w", "-",
                                    "tcp port %d" % port],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        tcpdp = subprocess.Popen([TCPDP, "read", "-", "-d", "conn", "--processes"],
                                 stdin=tcpdump.stdout, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
        tcpdump.stdout.close()
        try:
            self.assertIn(b"listening on", tcpdump.stderr.readline())
            child = subprocess.Popen([sys.executable, "-c", CHILD, str(port)])
            conn, _ = listener.accept()
            self.assertEqual(conn.recv(1), b"x")
            self.assertEqual(child.wait(timeout=30), 0)
            conn.close()
            time.sleep(0.5)
        finally:
            listener.close()
            tcpdump.send_signal(signal.SIGINT)
            tcpdump.wait(timeout=30)
        out, err = tcpdp.communicate(timeout=60)
        self.assertEqual(tcpdp.returncode, 0, err)
        (summary,) = [r for r in records(out) if r["event"] == "summary"]
        self.assertEqual(summary["client_pid"], child.pid)
        self.assertEqual(summary["client_ppid"], os.getpid())
        self.assertEqual(summary["client_comm"], "tcpdp-owner")
        self.assertEqual((summary["client_uid"], summary["client_user"]), (0, "root"))
        self.assertEqual(summary["server_pid"], os.getpid())
        self.assertEqual(summary["server_uid"], 0)


if __name__ == "__main__":
    unittest.main()
