"""`tcpdp audit` against what a workload did: known connections made by a process running as an
unprivileged user (audit_workload.py), every state change and summary held to the states
RFC 9293 and Linux's tcp_states.h give for what it did, and the connecting process's pid, uid,
user and command to its own report. And the clear errors: no tracefs, no permission."""

import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import support
from servers import postgres
from test_catalogue import catalogue, mismatches

HERE = os.path.dirname(os.path.abspath(__file__))
USER = "nobody"


def free_port(family=socket.AF_INET, host="127.0.0.1"):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def as_user(args):
    """args run as USER with no supplementary groups."""
    return ["setpriv", "--reuid=" + USER, "--regid=" + str(pwd.getpwnam(USER).pw_gid),
            "--clear-groups"] + args


def steps(recs, side):
    return ["%s>%s" % (r["old_state"], r["new_state"]) for r in recs
            if r["event"] == "state" and r["side"] == side]


CLIENT_CLOSES = ["CLOSED>SYN-SENT", "SYN-SENT>ESTABLISHED", "ESTABLISHED>FIN-WAIT-1",
                 "FIN-WAIT-1>FIN-WAIT-2", "FIN-WAIT-2>CLOSED"]
SERVER_CLOSES = ["LISTEN>SYN-RECV", "SYN-RECV>ESTABLISHED", "ESTABLISHED>FIN-WAIT-1",
                 "FIN-WAIT-1>FIN-WAIT-2", "FIN-WAIT-2>CLOSED"]
# The end that closes second: its peer's FIN moves it to CLOSE-WAIT, its own to LAST-ACK.
CLIENT_FOLLOWS = ["CLOSED>SYN-SENT", "SYN-SENT>ESTABLISHED", "ESTABLISHED>CLOSE-WAIT",
                  "CLOSE-WAIT>LAST-ACK", "LAST-ACK>CLOSED"]
SERVER_FOLLOWS = ["LISTEN>SYN-RECV", "SYN-RECV>ESTABLISHED", "ESTABLISHED>CLOSE-WAIT",
                  "CLOSE-WAIT>LAST-ACK", "LAST-ACK>CLOSED"]


@unittest.skipUnless(os.geteuid() == 0, "tcpdp audit needs root")
class Audit(unittest.TestCase):
    def setUp(self):
        # A directory USER can read, for the workload (the checkout may be under /root).
        self.shared = tempfile.mkdtemp(prefix="tcpdp-audit-")
        self.addCleanup(shutil.rmtree, self.shared, True)
        os.chmod(self.shared, 0o755)
        self.workload = os.path.join(self.shared, "audit_workload.py")
        shutil.copy(os.path.join(HERE, "audit_workload.py"), self.workload)
        os.chmod(self.workload, 0o644)

    def audit(self, *args):
        run = support.TcpdpRun(self, "audit", "tcpdp-audit-run-")
        self.assertTrue(run.launch(list(args), "tcpdp: reading"), run.stderr())
        return run

    def test_connections_of_an_unprivileged_process(self):
        port4, closed_port, other = free_port(), free_port(), free_port()
        port6 = free_port(socket.AF_INET6, "::1")
        earlier = socket.socket()  # this process's: listening before audit starts
        self.addCleanup(earlier.close)
        earlier.bind(("127.0.0.1", 0))
        earlier.listen(4)
        earlier_port = earlier.getsockname()[1]
        run = self.audit("-t", "%d,[::1]:%d,%d,%d" % (port4, port6, closed_port, earlier_port))
        self.assertTrue(os.path.exists(os.path.join(run.dir, "tcpdp.pid")))
        out = subprocess.run(as_user([sys.executable, self.workload, str(port4), str(port6),
                                      str(closed_port), str(other), str(earlier_port)]),
                             stdout=subprocess.PIPE, check=True, timeout=60).stdout
        did = json.loads(out)
        accepted, _ = earlier.accept()
        self.assertEqual(accepted.recv(10), b"")
        accepted.close()
        earlier.close()
        time.sleep(0.2)
        run.stop()
        with open(os.path.join(run.logs, "conn.log"), "rb") as f:
            recs = support.records(f.read())
        user = pwd.getpwnam(USER)
        self.assertEqual(did["uid"], user.pw_uid)

        kinds = catalogue()
        self.assertEqual([m for r in recs for m in mismatches(kinds, r)], [])
        by_conn = {}
        for r in recs:
            self.assertIn(r["event"], ("state", "summary"), r)
            self.assertNotEqual(r["dst_port"], other, r)  # not targeted
            by_conn.setdefault(r["conn_id"], []).append(r)

        def connection(server_port, client_port):
            found = [rs for rs in by_conn.values()
                     if rs[0]["dst_port"] == server_port and rs[0]["src_port"] == client_port]
            self.assertEqual(len(found), 1, (server_port, client_port, recs))
            return found[0]

        def summary_of(rs):
            sums = [r for r in rs if r["event"] == "summary"]
            self.assertEqual(len(sums), 1, rs)
            return sums[0]

        def check_server(r, pid, name):
            self.assertEqual(r["server_pid"], pid, r)
            self.assertEqual(r["server_user"], name, r)
            self.assertEqual(r["server_uid"], pwd.getpwnam(name).pw_uid, r)

        def check_caller(r):
            self.assertEqual(r["client_pid"], did["pid"], r)
            self.assertEqual(r["client_uid"], user.pw_uid, r)
            self.assertEqual(r["client_user"], USER, r)
            self.assertEqual(r["client_comm"], did["comm"], r)
            self.assertEqual(r["hostname"], socket.gethostname(), r)

        conns = {c["name"]: c for c in did["connections"]}
        expected = {
            "close4": (CLIENT_CLOSES, SERVER_FOLLOWS, "client", "fin", "127.0.0.1"),
            "close6": (CLIENT_FOLLOWS, SERVER_CLOSES, "server", "fin", "::1"),
            "reset4": (["CLOSED>SYN-SENT", "SYN-SENT>ESTABLISHED", "ESTABLISHED>CLOSED"],
                       ["LISTEN>SYN-RECV", "SYN-RECV>ESTABLISHED", "ESTABLISHED>CLOSED"],
                       None, "reset", "127.0.0.1"),
        }
        for name, (client, server, closed_by, reason, ip) in expected.items():
            with self.subTest(name):
                c = conns[name]
                rs = connection(c["server_port"], c["client_port"])
                self.assertEqual(steps(rs, "client"), client)
                self.assertEqual(steps(rs, "server"), server)
                for r in rs:
                    self.assertEqual((r["src_ip"], r["dst_ip"]), (ip, ip), r)
                syn_sent = [r for r in rs if r.get("new_state") == "SYN-SENT"]
                check_caller(syn_sent[0])
                self.assertEqual(syn_sent[0]["pid_on_cpu"], did["pid"])  # one thread
                accepted = [r for r in rs if r.get("old_state") == "LISTEN"]
                check_server(accepted[0], did["pid"], USER)
                s = summary_of(rs)
                check_caller(s)
                check_server(s, did["pid"], USER)
                self.assertEqual(s.get("closed_by"), closed_by, s)
                self.assertEqual(s["close_reason"], reason, s)
                self.assertEqual((s["client_state"], s["server_state"]), ("CLOSED", "CLOSED"))
                self.assertFalse(s["connect_failed"])
                self.assertFalse(s["mid_stream"])
                states = [r for r in rs if r["event"] == "state"]
                self.assertEqual([r["uid"] for r in states],
                                 ["%s.%d" % (s["conn_id"], i + 1) for i in range(len(states))])
                self.assertEqual(len({r["skaddr"] for r in states}), 2)  # both ends on this host

        refused = [rs for rs in by_conn.values() if rs[0]["dst_port"] == closed_port]
        self.assertEqual(len(refused), 1, recs)
        rs = refused[0]
        self.assertEqual(steps(rs, "client"), ["CLOSED>SYN-SENT", "SYN-SENT>CLOSED"])
        self.assertEqual(steps(rs, "server"), [])
        s = summary_of(rs)
        self.assertTrue(s["connect_failed"])
        check_caller(s)
        self.assertNotIn("closed_by", s)

        # The listeners: their own state records, no summary; listen() names its caller.
        for port in (port4, port6):
            rs = [r for r in recs if r["dst_port"] == port and r["src_port"] == 0]
            self.assertEqual(steps(rs, "server"), ["CLOSED>LISTEN", "LISTEN>CLOSED"], rs)
            self.assertEqual([r["event"] for r in rs], ["state", "state"])
            check_server(rs[0], did["pid"], USER)

        # A listener older than audit: its owner found at the start (this test, as root).
        c = conns["earlier"]
        rs = connection(c["server_port"], c["client_port"])
        self.assertEqual(steps(rs, "client"), CLIENT_CLOSES)
        self.assertEqual(steps(rs, "server"), SERVER_FOLLOWS)
        check_server(summary_of(rs), os.getpid(), "root")
        check_caller(summary_of(rs))

        with open(os.path.join(run.logs, "tcpdp.log")) as f:
            log = [json.loads(line) for line in f]
        start = [r for r in log if r["msg"] == "start"]
        self.assertEqual(start[0]["source"], "sock:inet_sock_set_state")
        stop = [r for r in log if r["msg"] == "stop"]
        self.assertEqual(stop[0]["lost"], 0)
        self.assertEqual(stop[0]["connections"], 5)
        self.assertFalse(os.path.exists(start[0]["instance"]))  # removed at the stop

    def test_into_postgresql(self):
        """--pg: the state changes in tcp_events with the task on the CPU, the summaries in
        tcp_connections with connect_failed, row for row as conn.log has them."""
        port4, closed_port, other = free_port(), free_port(), free_port()
        port6 = free_port(socket.AF_INET6, "::1")
        with postgres() as server:
            run = self.audit("-t", "%d,%d" % (port4, closed_port), "--pg", server.dsn)
            subprocess.run(as_user([sys.executable, self.workload, str(port4), str(port6),
                                    str(closed_port), str(other)]),
                           stdout=subprocess.PIPE, check=True, timeout=60)
            run.stop()
            with open(os.path.join(run.logs, "conn.log"), "rb") as f:
                recs = support.records(f.read())
            rows = json.loads(server.psql_local(
                "SELECT coalesce(json_agg(t ORDER BY uid), '[]') FROM "
                "(SELECT uid, pid_on_cpu, comm_on_cpu, src_port, dst_port, old_state, new_state,"
                " side FROM tcp_events) t"))
            conns = json.loads(server.psql_local(
                "SELECT coalesce(json_agg(t ORDER BY conn_id), '[]') FROM "
                "(SELECT conn_id, connect_failed, client_pid, client_comm FROM tcp_connections) t"))
        states = sorted((r for r in recs if r["event"] == "state"), key=lambda r: r["uid"])
        self.assertGreater(len(states), 10)
        self.assertEqual(rows, [{k: r[k] for k in ("uid", "pid_on_cpu", "comm_on_cpu", "src_port",
                                                    "dst_port", "old_state", "new_state", "side")}
                                for r in states])
        # Every change has its task (0 is the idle task); a connect() runs in the caller's.
        self.assertTrue(all(r["pid_on_cpu"] is not None for r in rows), rows)
        syn_sent = [r for r in rows if r["new_state"] == "SYN-SENT"]
        self.assertEqual(len(syn_sent), 3)
        self.assertTrue(all(r["comm_on_cpu"] for r in syn_sent), syn_sent)
        sums = sorted((r for r in recs if r["event"] == "summary"), key=lambda r: r["conn_id"])
        self.assertEqual(conns, [{k: r[k] for k in ("conn_id", "connect_failed", "client_pid",
                                                     "client_comm")} for r in sums])
        self.assertEqual(sorted(c["connect_failed"] for c in conns), [False, False, True])

    def test_kernel_drops_are_counted_and_said(self):
        """A trace buffer of one page a CPU and a burst of 3,000 connections: the kernel drops
        changes, and audit says how many, in tcpdp.log while they rise, at the stop (a warning)
        and on standard error; what it read and what was lost add up to at least the 10 changes
        each connection makes (the listener's and other connections of the host may add)."""
        port = free_port()
        run = self.audit("-B", "4KiB", "-t", str(port))
        listener = socket.socket()
        self.addCleanup(listener.close)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen(1024)

        def serve():
            while True:
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                conn.close()

        threading.Thread(target=serve, daemon=True).start()

        def connect_many(thread):
            for k in range(1000):
                with socket.socket() as c:  # from 127.0.T.K: no TIME-WAIT sockets in the way
                    c.bind(("127.0.%d.%d" % (thread + 1, 2 + k % 250), 0))
                    c.connect(("127.0.0.1", port))
                    c.recv(1)

        threads = [threading.Thread(target=connect_many, args=(t,)) for t in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        listener.shutdown(socket.SHUT_RDWR)  # wakes the accept, which then ends its thread
        listener.close()
        time.sleep(1.5)  # past a once-a-second look at the kernel's counts
        run.stop()
        with open(os.path.join(run.logs, "tcpdp.log")) as f:
            log = [json.loads(line) for line in f]
        rising = [r for r in log if r["msg"] == "the kernel dropped state changes"]
        self.assertTrue(rising, log)
        self.assertEqual(rising[0]["level"], "warn")
        self.assertGreater(rising[0]["since_last"], 0)
        stop = [r for r in log if r["msg"] == "stop"][0]
        self.assertEqual(stop["level"], "warn")
        self.assertGreater(stop["lost"], 0)
        self.assertGreaterEqual(stop["lost"], rising[-1]["lost"])
        self.assertGreaterEqual(stop["state_changes"] + stop["lost"], 3000 * 10, stop)
        self.assertIn("%d lost by the kernel" % stop["lost"], run.stderr())

    def test_without_tracefs(self):
        script = ("for m in /sys/kernel/tracing /sys/kernel/debug/tracing /sys/kernel/debug; do "
                  "umount $m 2>/dev/null; done; exec \"$0\" audit --stdout")
        proc = subprocess.run(["unshare", "-m", "sh", "-c", script, support.TCPDP],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60,
                              cwd=self.shared)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(b"tracefs is not mounted: mount it with `mount -t tracefs nodev "
                      b"/sys/kernel/tracing`", proc.stderr)

    def test_without_permission(self):
        binary = os.path.join(self.shared, "tcpdp")
        shutil.copy(support.TCPDP, binary)
        os.chmod(binary, 0o755)
        proc = subprocess.run(as_user([binary, "audit", "--stdout"]), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, timeout=60, cwd=self.shared)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(b"Permission denied (tcpdp audit runs as root, or with CAP_SYS_ADMIN)",
                      proc.stderr)


if __name__ == "__main__":
    unittest.main()
