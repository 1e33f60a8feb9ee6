"""The plain TCP cases (tcp_workload.py), the connection lifecycle capture, and the first pg and
MariaDB captures, checked byte for byte against what their workloads sent."""

import json
import struct

import mysql_workload as M
import pg_workload as P
import tcp_workload as W
from capture_reader import (ACK, FIN, LINKTYPES, RST, SYN, connections, fail, out_path, read_pcap,
                            tshark_follow)


def check_tcp(name):
    case = W.CASES[name]
    path = out_path("tcp_%s.pcap" % name)
    _, linktype, pkts = read_pcap(path)
    if linktype != LINKTYPES[case["link"]]:
        fail("%s: link type %d, want %s" % (name, linktype, case["link"]))
    conns = connections(pkts, linktype, case["port"])
    if case["end"] == "refused":
        syns = sum(c.syns for c in conns)
        rsts = sum(1 for c in conns if c.flags["s"] & RST)
        data = sum(len(p) for c in conns for d in "cs" for _, p in c.segs[d])
        if syns != case["attempts"] or rsts != case["attempts"] or data:
            fail("%s: %d SYNs, %d RSTs, %d data bytes" % (name, syns, rsts, data))
        print("ok   tcp_%s.pcap: %d packets, %d refused attempts" % (name, len(pkts), syns))
        return
    if len(conns) != 1:
        fail("%s: %d connections, want 1" % (name, len(conns)))
        return
    c = conns[0]
    for d, key in (("c", "client_sends"), ("s", "server_sends")):
        got, starts, gap = c.stream(d)
        want = b"".join(case[key])
        if gap or got != want:
            fail("%s: %s stream differs (%d bytes, want %d, gap=%s)"
                 % (name, key, len(got), len(want), gap))
        off = 0
        for msg in case[key]:
            if off not in starts:
                fail("%s: a %s message does not start a segment" % (name, key))
            off += len(msg)
    fc, fs = c.flags["c"], c.flags["s"]
    if not (fs & SYN and fs & ACK):
        fail("%s: no SYN-ACK" % name)
    end = case["end"]
    if end == "close" and not (fc & FIN and fs & FIN and not (fc | fs) & RST):
        fail("%s: not a FIN/FIN close" % name)
    if end == "reset" and not (fc & RST and not (fc | fs) & FIN):
        fail("%s: no client RST (or a FIN was seen)" % name)
    if end == "open" and (fc | fs) & (FIN | RST):
        fail("%s: connection was not left open" % name)
    if c.v6 != (":" in case["host"]):
        fail("%s: wrong IP version" % name)
    tf = tshark_follow(path)
    if tf is not None and tf != (b"".join(case["client_sends"]),
                                 b"".join(case["server_sends"])):
        fail("%s: tshark follow differs from tcp_workload.CASES" % name)
    print("ok   tcp_%s.pcap: %d packets, client %d bytes, server %d bytes%s"
          % (name, len(pkts), len(b"".join(case["client_sends"])),
             len(b"".join(case["server_sends"])),
             ", tshark agrees" if tf is not None else ""))


def pg_query(q):
    q = q.encode() + b"\0"
    return b"Q" + struct.pack("!I", len(q) + 4) + q


def pg_queries(long_len):
    lit = ("abcdefghijklmnopqrstuvwxyz" * (long_len // 26 + 1))[:long_len]
    return ["SELECT 1;",
            "CREATE TABLE t (id int primary key, name text);",
            "INSERT INTO t VALUES (1, 'alice'), (2, 'bob');",
            "SELECT * FROM t ORDER BY id;",
            "SELECT * FROM no_such_table;",
            "SELECT length('%s');" % lit]


SSL_REQUEST = struct.pack("!II", 8, 80877103)
GSS_REQUEST = struct.pack("!II", 8, 80877104)


def check_pg():
    path = out_path("pg.pcap")
    _, linktype, pkts = read_pcap(path)
    conns = connections(pkts, linktype, P.PG_PORT)
    if linktype != 1 or len(conns) < 2:
        fail("pg: link type %d, %d connections" % (linktype, len(conns)))
        return
    notes = []
    for i, c in enumerate(conns):
        cs, _, gc = c.stream("c")
        ss, _, gs = c.stream("s")
        if gc or gs:
            fail("pg: connection %d has a gap" % i)
        if not (c.flags["c"] & FIN or c.flags["c"] & RST):
            fail("pg: connection %d not closed" % i)
        if cs.startswith(SSL_REQUEST) or cs.startswith(GSS_REQUEST):
            notes.append("conn %d starts with SSL/GSS request" % i)
        if not cs.endswith(b"X\0\0\0\x04"):
            fail("pg: connection %d does not end with Terminate" % i)
    cs, _, _ = conns[0].stream("c")
    ss, _, _ = conns[0].stream("s")
    pos = 0
    for q in pg_queries(200000):
        j = cs.find(pg_query(q), pos)
        if j < 0:
            fail("pg: query %r... not found in order" % q[:40])
        else:
            pos = j
    if b"no_such_table" not in ss or b"200000" not in ss:
        fail("pg: server replies incomplete")
    bench, _, _ = conns[-1].stream("c")
    if b"SELECT name FROM t WHERE id = $1" not in bench or bench.count(b"E\0\0\0\x09") < 20:
        fail("pg: pgbench extended-protocol traffic missing")
    print("ok   pg.pcap: %d packets, %d connections, largest TCP payload %d bytes%s"
          % (len(pkts), len(conns), max(c.max_seg for c in conns),
             "; " + "; ".join(notes) if notes else ""))


def check_pg_snaplen():
    path = out_path("pg_snaplen.pcap")
    snaplen, linktype, pkts = read_pcap(path)
    trunc = sum(1 for cap, orig, _ in pkts if cap < orig)
    if snaplen != 96 or linktype != 1 or any(cap > 96 for cap, _, _ in pkts) or not trunc:
        fail("pg_snaplen: snaplen %d, %d truncated packets" % (snaplen, trunc))
    conns = connections(pkts, linktype, P.PG_PORT)
    if len(conns) != 1 or not conns[0].syns:
        fail("pg_snaplen: %d connections" % len(conns))
    if not any(pg_query("SELECT 1;") in f for _, _, f in pkts):
        fail("pg_snaplen: SELECT 1 not seen")
    print("ok   pg_snaplen.pcap: %d packets, %d truncated by snaplen 96" % (len(pkts), trunc))


def check_mariadb():
    path = out_path("mariadb.pcap")
    _, linktype, pkts = read_pcap(path)
    conns = connections(pkts, linktype, M.MY_PORT)
    if linktype != 1 or len(conns) != 1:
        fail("mariadb: link type %d, %d connections" % (linktype, len(conns)))
        return
    c = conns[0]
    cs, _, gc = c.stream("c")
    ss, _, gs = c.stream("s")
    if gc or gs:
        fail("mariadb: gap in stream")
    for q in [b"\x03SELECT 1", b"\x03CREATE DATABASE d", b"\x02d",
              b"\x03CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))",
              b"\x03INSERT INTO t VALUES (1,'alice'),(2,'bob')",
              b"\x03SELECT * FROM t ORDER BY id", b"\x03SELECT * FROM no_such_table"]:
        if q not in cs:
            fail("mariadb: command %r not found" % q)
    if b"\xff\x7a\x04" not in ss or b"mysql_native_password" not in ss:
        fail("mariadb: error 1146 or auth plugin name not in server stream")
    print("ok   mariadb.pcap: %d packets, client %d bytes, server %d bytes"
          % (len(pkts), len(cs), len(ss)))


def check_lifecycle():
    import lifecycle_workload as L
    path = out_path("tcp_lifecycle.pcap")
    with open(out_path("tcp_lifecycle.expected.json")) as f:
        entries = json.load(f)
    _, linktype, pkts = read_pcap(path)
    conns = {c.client[1]: c for port in (L.PORT, L.REFUSED_PORT)
             for c in connections(pkts, linktype, port)}
    if sorted(set(e["case"] for e in entries)) != sorted(L.CASES):
        fail("tcp_lifecycle: cases %s" % sorted(set(e["case"] for e in entries)))
    if sorted(conns) != sorted(e["client_port"] for e in entries):
        fail("tcp_lifecycle: connections in the capture %s, in the workload's record %s"
             % (sorted(conns), sorted(e["client_port"] for e in entries)))
        return
    for e in entries:
        c = conns[e["client_port"]]
        sent = (sum(len(p) for _, p in c.segs["c"]), sum(len(p) for _, p in c.segs["s"]))
        if sent != (e["client_sent"], e["server_sent"]):
            fail("tcp_lifecycle %s: payload %s, the workload sent %s"
                 % (e["case"], sent, (e["client_sent"], e["server_sent"])))
        if (c.syns == 0) != (e["case"] == "mid_stream"):
            fail("tcp_lifecycle %s: %d SYNs" % (e["case"], c.syns))
        if not e["kernel"]["client"]:
            fail("tcp_lifecycle %s: no kernel state changes recorded" % e["case"])
    crossed = [e for e in entries if e["case"] == "simultaneous" and
               all(["TCP_FIN_WAIT1", "TCP_CLOSING"] in e["kernel"][side]
                   for side in ("client", "server"))]
    if not crossed:
        fail("tcp_lifecycle: no simultaneous close went through CLOSING")


