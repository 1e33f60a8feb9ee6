"""`tcpdp read` end to end: the binary on captures whose content is known independently, from the
construction of hand-made files (edge_cases.py), from the workload that made a real capture
(tcp_workload.py), or from tshark's own reassembly."""

import os
import pty
import re
import struct
import subprocess
import tempfile
import time
import unittest

from support import (TCPDP, bytes_of_hex_dump, merge, normalize_addr, pcap, records, run, streams,
                     tshark_streams)

import edge_cases
import tcp_workload


def addr(ip, port):
    return "[%s]:%d" % (ip, port) if ":" in ip else "%s:%d" % (ip, port)


def conn_records(path, target=None):
    """The summaries of -d conn, each with src_addr and dst_addr made from its ip and port keys."""
    args = ["read", path, "-d", "conn"] + (["-t", target] if target else [])
    rc, out, err = run(args)
    summaries = [r for r in records(out) if r["event"] == "summary"]
    for r in summaries:
        r["src_addr"] = addr(r["src_ip"], r["src_port"])
        r["dst_addr"] = addr(r["dst_ip"], r["dst_port"])
    return rc, summaries, err


def hex_streams(path, target=None):
    args = ["read", path, "-d", "hex"] + (["-t", target] if target else [])
    rc, out, err = run(args)
    return rc, streams(records(out)), err


class HandMadeCaptures(unittest.TestCase):
    """Each edge_* file decodes to exactly what it was built to hold."""

    def check_case(self, name, case, target, expected):
        path = pcap(case["file"])
        rc, conns, err = conn_records(path, target)
        if case["truncated_file"]:
            self.assertEqual(rc, 1, err)
            self.assertIn("truncated", err)
        else:
            self.assertEqual(rc, 0, err)
        self.assertEqual([(c["src_addr"], c["dst_addr"], c["mid_stream"]) for c in conns],
                         [(c["client"], c["server"], c["mid_stream"]) for c in expected])

        rc, got, err = hex_streams(path, target)
        ids = [c["conn_id"] for c in conns]
        for conn_id, exp in zip(ids, expected):
            side = got.get(conn_id, {"->": [], "<-": []})
            self.assertEqual(side["->"], merge(exp["client_to_server"]), "%s %s ->" % (name, conn_id))
            self.assertEqual(side["<-"], merge(exp["server_to_client"]), "%s %s <-" % (name, conn_id))
        self.assertLessEqual(set(got), set(ids), "data for a connection the conn dumper did not report")

    def test_every_case(self):
        for name, case in sorted(edge_cases.CASES.items()):
            if case["error"]:
                continue
            with self.subTest(case=name):
                self.check_case(name, case, case["target"], case["connections"])
            if "connections_without_target" in case:
                with self.subTest(case=name + " without -t"):
                    self.check_case(name, case, None, case["connections_without_target"])

    def test_truncated_file_keeps_what_came_before(self):
        case = edge_cases.CASES["edge_truncated"]
        rc, out, err = run(["read", pcap(case["file"]), "-d", "hex"])
        self.assertEqual(rc, 1)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertTrue(err.startswith("tcpdp: "), err)
        self.assertGreater(len(records(out)), 0)

    def test_not_a_capture(self):
        rc, out, err = run(["read", pcap(edge_cases.CASES["edge_corrupt"]["file"])])
        self.assertEqual(rc, 1)
        self.assertEqual(out, b"")
        self.assertRegex(err, r"^tcpdp: .*edge_corrupt.pcap: .+\n$")

    def test_snaplen_is_reported(self):
        rc, _, err = run(["read", pcap("edge_snaplen.pcap")])
        self.assertEqual(rc, 0)
        self.assertIn("snapshot length", err)


class RealCaptures(unittest.TestCase):
    """Captures of real traffic on loopback (generate.sh): tcpdp's streams are byte for byte what
    tshark reassembles, and what the workload sent."""

    def compare_with_tshark(self, name):
        path = pcap(name)
        rc, got, err = hex_streams(path)
        self.assertEqual(rc, 0, err)
        expected = tshark_streams(path)
        by_pair = {}
        for conn_id, side in got.items():
            (pair,) = side["addrs"]
            by_pair[(normalize_addr(pair[0]), normalize_addr(pair[1]))] = side
        compared = 0
        for ts in expected:
            n0, n1 = normalize_addr(ts["node0"]), normalize_addr(ts["node1"])
            if (n0, n1) in by_pair:
                side, c2s, s2c = by_pair[(n0, n1)], ts["from_node0"], ts["from_node1"]
            elif (n1, n0) in by_pair:
                side, c2s, s2c = by_pair[(n1, n0)], ts["from_node1"], ts["from_node0"]
            else:
                self.assertEqual(ts["from_node0"] + ts["from_node1"], b"", "tshark saw data tcpdp did not: %s" % ts)
                continue
            self.assertEqual(side["->"], merge([c2s]), "%s client->server" % name)
            self.assertEqual(side["<-"], merge([s2c]), "%s server->client" % name)
            compared += 1
        self.assertEqual(compared, len(got), "tcpdp reported a stream tshark did not see")
        return got

    def test_postgresql(self):
        got = self.compare_with_tshark("pg.pcap")
        client_bytes = b"".join(b"".join(x for x in s["->"] if isinstance(x, bytes)) for s in got.values())
        for query in (b"SELECT 1;", b"SELECT * FROM t ORDER BY id;", b"SELECT * FROM no_such_table;"):
            self.assertIn(b"Q" + struct.pack(">I", 4 + len(query) + 1) + query + b"\0", client_bytes)

    def test_postgresql_long_query_spans_many_segments(self):
        rc, out, _ = run(["read", pcap("pg.pcap"), "-d", "hex"])
        recs = records(out)
        sizes = [len(bytes_of_hex_dump(r["bytes"])) for r in recs if "bytes" in r]
        self.assertGreater(max(sizes), 60000)  # loopback GSO: tens of KB in one segment

    def test_mariadb(self):
        got = self.compare_with_tshark("mariadb.pcap")
        client_bytes = b"".join(s["->"][0] for s in got.values() if s["->"])
        self.assertIn(b"\x03SELECT * FROM t ORDER BY id", client_bytes)  # COM_QUERY

    def test_plain_tcp_workloads(self):
        for case_name, case in tcp_workload.CASES.items():
            with self.subTest(case=case_name):
                path = pcap("tcp_%s.pcap" % case_name)
                rc, conns, err = conn_records(path)
                self.assertEqual(rc, 0, err)
                if case["end"] == "refused":
                    self.assertEqual(len(conns), case["attempts"])
                    rc, got, _ = hex_streams(path)
                    self.assertEqual(got, {})
                    continue
                self.assertEqual(len(conns), 1)
                self.assertEqual(normalize_addr(conns[0]["dst_addr"]), (case["host"], case["port"]))
                self.assertFalse(conns[0]["mid_stream"])
                got = self.compare_with_tshark("tcp_%s.pcap" % case_name)
                (side,) = got.values()
                self.assertEqual(side["->"], [b"".join(case["client_sends"])])
                self.assertEqual(side["<-"], [b"".join(case["server_sends"])])

    def test_snaplen_capture_gaps_add_up(self):
        path = pcap("pg_snaplen.pcap")
        rc, got, err = hex_streams(path)
        self.assertEqual(rc, 0)
        self.assertIn("snapshot length (96 bytes)", err)
        # tshark's sequence analysis: each direction's length is the highest relative seq + len - 1.
        fields = subprocess.run(
            ["tshark", "-r", path, "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.seq", "-e", "tcp.len",
             "-e", "frame.cap_len", "-e", "frame.len", "-Y", "tcp.len > 0 && !tcp.analysis.retransmission"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True, text=True).stdout.split("\n")
        length, truncated = {}, {}
        for line in filter(None, fields):
            sport, seq, tlen, cap, wire = map(int, line.split("\t"))
            length[sport] = max(length.get(sport, 0), seq + tlen - 1)
            truncated[sport] = truncated.get(sport, 0) + (cap < wire)
        (side,) = got.values()
        server_port = normalize_addr(next(iter(side["addrs"]))[1])[1]
        for direction, from_server in (("->", False), ("<-", True)):
            sport = [p for p in length if (p == server_port) == from_server][0]
            total = sum(len(x) if isinstance(x, bytes) else x[1] for x in side[direction])
            self.assertEqual(total, length[sport], direction)
            self.assertEqual(sum(1 for x in side[direction] if not isinstance(x, bytes)), truncated[sport], direction)


class Interface(unittest.TestCase):
    def test_stdin_gives_the_same_output_as_the_file(self):
        path = pcap("tcp_close.pcap")
        _, from_file, _ = run(["read", path, "-d", "hex"])
        with open(path, "rb") as f:
            rc, from_stdin, err = run(["read", "-d", "hex"], stdin=f)
        self.assertEqual(rc, 0, err)
        self.assertEqual(from_stdin, from_file)
        with open(path, "rb") as f:
            rc, dash, _ = run(["read", "-", "-d", "hex"], stdin=f)
        self.assertEqual(dash, from_file)

    def test_same_file_twice_gives_identical_output(self):
        outs = [run(["read", pcap("pg.pcap"), "-d", "hex"])[1] for _ in range(2)]
        self.assertEqual(outs[0], outs[1])
        ids = [r["conn_id"] for r in records(outs[0])]
        self.assertTrue(all(len(i) == 20 for i in ids))

    def test_record_keys_and_timestamps(self):
        rc, out, _ = run(["read", pcap("tcp_reset.pcap"), "-d", "hex"])
        recs = records(out)
        self.assertEqual(list(recs[0]),
                         ["ts", "event", "conn_id", "src_addr", "dst_addr", "direction", "bytes",
                          "ascii"])
        first_ts = subprocess.run(["tshark", "-r", pcap("tcp_reset.pcap"), "-c", "1", "-T", "fields", "-e",
                                   "frame.time_epoch"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, check=True).stdout
        rc, out, _ = run(["read", pcap("tcp_reset.pcap"), "-d", "conn"])
        import datetime
        want = datetime.datetime.fromtimestamp(round(float(first_ts), 6), datetime.timezone.utc)
        self.assertEqual(records(out)[0]["ts"], want.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))

    def test_ltsv_carries_the_same_fields_as_json(self):
        path = pcap("edge_ooo.pcap")
        _, js, _ = run(["read", path, "-d", "hex", "-f", "json"])
        rc, lt, _ = run(["read", path, "-d", "hex", "-f", "ltsv"])
        self.assertEqual(rc, 0)
        unescape = lambda v: v.replace("\\n", "\n").replace("\\t", "\t").replace("\\r", "\r").replace("\\\\", "\\")
        lt_recs = []
        for line in lt.decode().splitlines():
            lt_recs.append({k: unescape(v) for k, v in (f.split(":", 1) for f in line.split("\t"))})
        js_recs = [{k: str(v) for k, v in r.items()} for r in records(js)]
        self.assertEqual(lt_recs, js_recs)

    def test_console_is_readable(self):
        rc, out, _ = run(["read", pcap("tcp_reset.pcap"), "-d", "hex", "-f", "console"])
        self.assertEqual(rc, 0)
        text = out.decode()
        self.assertRegex(text, r"127\.0\.0\.1:\d+ <- 127\.0\.0\.1:%d" % tcp_workload.CASES["reset"]["port"])
        self.assertIn("|client message b|", text)

    def test_bad_arguments_are_explained(self):
        for args, needle in (
            (["read", pcap("tcp_close.pcap"), "-d", "nope"], "unknown dumper 'nope'"),
            (["read", pcap("tcp_close.pcap"), "-f", "xml"], "unknown format 'xml'"),
            (["read", pcap("tcp_close.pcap"), "-t", "notaport"], "bad target"),
            (["read", "/no/such/file.pcap"], "/no/such/file.pcap"),
        ):
            with self.subTest(args=args):
                rc, out, err = run(args)
                self.assertNotEqual(rc, 0)
                self.assertIn(needle, err)
                self.assertEqual(out, b"")

    def test_unsupported_link_type(self):
        with tempfile.NamedTemporaryFile(suffix=".pcap") as f:
            f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 105))  # 802.11
            f.flush()
            rc, out, err = run(["read", f.name])
        self.assertEqual(rc, 1)
        self.assertIn("link type", err)
        self.assertIn("not supported", err)

    def test_help_and_version(self):
        rc, out, _ = run(["read", "--help"])
        self.assertEqual(rc, 0)
        self.assertIn(b"Examples:", out)
        rc, out, _ = run(["version"])
        self.assertEqual(rc, 0)
        self.assertRegex(out.decode(), r"^tcpdp \d+\.\d+\.\d+\n$")
        rc, _, err = run([])
        self.assertEqual(rc, 2)


if __name__ == "__main__":
    unittest.main()


def with_port(src, dst, old, new):
    """Copies an Ethernet/IPv4 pcap, with TCP port old written as new (tcpdp does not check
    TCP checksums: offloading leaves them wrong in loopback captures anyway)."""
    with open(src, "rb") as f:
        data = bytearray(f.read())
    at = 24
    while at + 16 <= len(data):
        caplen = struct.unpack_from("<I", data, at + 8)[0]
        frame = at + 16
        if caplen >= 14 + 20 + 4 and data[frame + 12:frame + 14] == b"\x08\x00":
            tcp = frame + 14 + (data[frame + 14] & 15) * 4
            for off in (0, 2):
                if struct.unpack_from(">H", data, tcp + off)[0] == old:
                    struct.pack_into(">H", data, tcp + off, new)
        at = frame + caplen
    with open(dst, "wb") as f:
        f.write(data)


class AutoDumper(unittest.TestCase):
    """-d auto decodes a connection with the dumper of its server port's protocol."""

    def test_the_server_port_picks_the_dumper(self):
        import pg_workload
        import mysql_workload
        cases = [("pg.pcap", pg_workload.PG_PORT, 5432, "pg"),
                 ("mariadb.pcap", mysql_workload.MY_PORT, 3306, "mysql"),
                 ("tcp_close.pcap", tcp_workload.CASES["close"]["port"], 27001, "hex")]
        with tempfile.TemporaryDirectory() as d:
            for name, old, new, dumper in cases:
                with self.subTest(name=name):
                    path = os.path.join(d, name)
                    with_port(pcap(name), path, old, new)
                    rc, auto, err = run(["read", path, "-d", "auto"])
                    self.assertEqual(rc, 0, err)
                    _, explicit, _ = run(["read", path, "-d", dumper])
                    self.assertEqual(auto, explicit)
                    self.assertTrue(records(auto))
                    if dumper == "pg":
                        self.assertIn("message_type", records(auto)[0])
                    if dumper == "mysql":
                        self.assertTrue(any("command_id" in r for r in records(auto)))


def tshark_packets(path):
    out = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "frame.number"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    return len(out.split())


STATS = re.compile(r"tcpdp: (\d+) packets, (\d+) bytes, (\d+) connections, (\d+) records, (\d+) gaps, "
                   r"(\d+) decode errors, (\d+) TLS connections skipped\n")


class Statistics(unittest.TestCase):
    """The closing statistics of read: with --stats, or on a terminal unless --quiet."""

    def stats(self, name, dumper):
        rc, out, err = run(["read", pcap(name), "-d", dumper, "--stats"])
        self.assertEqual(rc, 0, err)
        m = STATS.fullmatch(err)
        self.assertIsNotNone(m, err)
        return [int(x) for x in m.groups()], records(out)

    def test_counts(self):
        # packets as tshark counts them, bytes as the file's size, TLS as the workload made it
        (packets, size, conns, recs, gaps, errors, tls), out = self.stats("pg_ssl_accepted.pcap", "pg")
        self.assertEqual((packets, size), (tshark_packets(pcap("pg_ssl_accepted.pcap")),
                                           os.path.getsize(pcap("pg_ssl_accepted.pcap"))))
        self.assertEqual((conns, recs, gaps, errors, tls), (1, len(out), 0, 0, 1))
        # edge_gap: one 17-byte segment missing (edge_cases.py)
        (packets, _, conns, recs, gaps, _, tls), out = self.stats("edge_gap.pcap", "hex")
        self.assertEqual((packets, conns, recs, gaps, tls), (tshark_packets(pcap("edge_gap.pcap")), 1, len(out), 1, 0))
        self.assertEqual(sum(1 for r in out if "gap_bytes" in r), 1)

    def test_bytes_of_standard_input_are_counted(self):
        for name in ("pg_ssl_accepted.pcap", "edge_pcapng.pcapng"):
            size = os.path.getsize(pcap(name))
            for how in ("pipe", "redirected file"):
                with self.subTest(name=name, how=how), open(pcap(name), "rb") as f:
                    if how == "pipe":
                        rc, _, err = run(["read", "-d", "hex", "--stats"], input_bytes=f.read())
                    else:
                        rc, _, err = run(["read", "-d", "hex", "--stats"], stdin=f)
                    self.assertEqual(rc, 0, err)
                    m = STATS.fullmatch(err)
                    self.assertIsNotNone(m, err)
                    self.assertEqual(int(m.group(2)), size)

    def test_silent_unless_asked_or_a_terminal(self):
        rc, _, err = run(["read", pcap("pg_psql.pcap"), "-d", "pg"])
        self.assertEqual((rc, err), (0, ""))
        for quiet, want in ((False, True), (True, False)):
            master, slave = pty.openpty()
            proc = subprocess.Popen([TCPDP, "read", pcap("pg_psql.pcap"), "-d", "pg"] + (["-q"] if quiet else []),
                                    stdout=subprocess.DEVNULL, stderr=slave)
            os.close(slave)
            self.assertEqual(proc.wait(timeout=60), 0)
            text = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                text += chunk
            os.close(master)
            self.assertEqual(bool(STATS.search(text.decode().replace("\r\n", "\n"))), want, text)


def record_offsets(data):
    """Where each record of a little-endian classic pcap starts, and where the file ends."""
    offsets, at = [], 24
    while at < len(data):
        offsets.append(at)
        at += 16 + struct.unpack_from("<I", data, at + 8)[0]
    return offsets + [at]


def read_position(pid, path):
    """The file offset of the process's descriptor open on path (/proc/PID/fdinfo)."""
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == path:
                with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                    return int(re.search(r"^pos:\s+(\d+)", f.read(), re.M).group(1))
        except FileNotFoundError:
            pass
    return None


class UnluckyInputs(unittest.TestCase):
    """Inputs that change, never end, or are not files: a sentence and exit 1, never a signal or a
    hang, and what was decoded before the trouble is written."""

    def test_a_file_that_shrinks_while_it_is_read(self):
        # One connection, 8 kB segments each way, about 24 MB: far more than tcpdp reads ahead
        # while its output waits.
        cap = edge_cases.Capture()
        c = edge_cases.Conn(cap, edge_cases.Ether(), (edge_cases.V4C, 40000), (edge_cases.V4S, 7000), 1000, 5000)
        c.handshake()
        payloads = []
        for i in range(1500):
            for side, fill in (("c", b"q"), ("s", b"r")):
                payloads.append((side, fill + b"%07d" % i + fill * 8000))
                c.seg(side, "PA", payloads[-1][1])
        data = cap.to_bytes()
        offsets = record_offsets(data)
        self.assertEqual(len(offsets), 3 + len(payloads) + 1)
        whole = 2000  # records before the cut: the handshake's 3, then 1997 data segments
        cut = offsets[whole] + 100
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "ring.pcap")
            with open(path, "wb") as f:
                f.write(data)
            proc = subprocess.Popen([TCPDP, "read", path, "-d", "hex"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            try:
                # Nobody reads tcpdp's output yet, so it soon waits to write: its read position
                # stops, short of the cut. Then the file is cut, as a capture ring reusing it does.
                positions = []
                deadline = time.monotonic() + 60
                while len(positions) < 5 or len(set(positions[-5:])) != 1 or not positions[-1]:
                    self.assertLess(time.monotonic(), deadline, positions[-5:])
                    positions.append(read_position(proc.pid, path))
                    time.sleep(0.1)
                self.assertLess(positions[-1], cut)
                os.truncate(path, cut)
                out, err = proc.communicate(timeout=120)
            finally:
                proc.kill()
                proc.wait()
        err = err.decode()
        self.assertEqual(proc.returncode, 1, err)
        self.assertRegex(err, r"^tcpdp: %s: the file shrank from %d to %d bytes while it was read"
                         % (re.escape(path), len(data), cut))
        self.assertEqual(len(err.splitlines()), 1, err)
        before = payloads[:whole - 3]
        got = list(streams(records(out)).values())
        self.assertEqual(len(got), 1)
        self.assertEqual(got[0]["->"], [b"".join(p for side, p in before if side == "c")])
        self.assertEqual(got[0]["<-"], [b"".join(p for side, p in before if side == "s")])

    def read_fifo(self, name):
        with tempfile.TemporaryDirectory() as d:
            fifo = os.path.join(d, "capture")
            os.mkfifo(fifo)
            proc = subprocess.Popen([TCPDP, "read", fifo, "-d", "hex"], stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
            try:
                # The whole capture, and the writer gone, as soon as tcpdp opens the FIFO.
                deadline = time.monotonic() + 30
                while True:
                    try:
                        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                        break
                    except OSError:  # ENXIO: no reader yet
                        self.assertLess(time.monotonic(), deadline)
                        time.sleep(0.01)
                os.set_blocking(fd, True)
                with open(pcap(name), "rb") as f:
                    os.write(fd, f.read())
                os.close(fd)
                out, err = proc.communicate(timeout=30)
            finally:
                proc.kill()
                proc.wait()
        return proc.returncode, out, err.decode()

    def test_a_fifo_reads_like_the_file(self):
        # edge_ooo fits in a pipe's buffer: the writer is gone before tcpdp reads the records.
        for name in ("edge_ooo.pcap", "pg_pgbench.pcap", "edge_pcapng.pcapng"):
            with self.subTest(name=name):
                rc, out, err = self.read_fifo(name)
                self.assertEqual(rc, 0, err)
                self.assertEqual(out, run(["read", pcap(name), "-d", "hex"])[1])
                self.assertGreater(len(records(out)), 0)

    def test_seconds_past_2038_from_a_file_and_from_stdin(self):
        # pcap-savefile(5): seconds are unsigned 32 bits. The records of tcp_close moved so that
        # the first is at 4102444800 + 0.5 s; date(1) says what that is.
        with open(pcap("tcp_close.pcap"), "rb") as f:
            data = bytearray(f.read())
        offsets = record_offsets(data)[:-1]
        first = struct.unpack_from("<I", data, offsets[0])[0]
        for at in offsets:
            sec = struct.unpack_from("<I", data, at)[0]
            struct.pack_into("<II", data, at, 4102444800 + sec - first, 500000 if at == offsets[0] else 0)
        want = subprocess.run(["date", "-u", "-d", "@4102444800", "+%Y-%m-%dT%H:%M:%S.500000Z"],
                              stdout=subprocess.PIPE, text=True, check=True).stdout.strip()
        with tempfile.NamedTemporaryFile(suffix=".pcap") as f:
            f.write(data)
            f.flush()
            rc, from_file, err = run(["read", f.name, "-d", "conn"])
            self.assertEqual(rc, 0, err)
            rc, from_stdin, err = run(["read", "-d", "conn"], input_bytes=bytes(data))
            self.assertEqual(rc, 0, err)
        self.assertEqual(records(from_file)[0]["ts"], want)
        self.assertEqual(from_stdin, from_file)

    def test_not_a_capture_file(self):
        with tempfile.TemporaryDirectory() as d:
            empty = os.path.join(d, "empty.pcap")
            open(empty, "wb").close()
            for path, needle in ((d, "is a directory"), (empty, "empty"), ("/dev/zero", "unknown file format")):
                with self.subTest(path=path):
                    rc, out, err = run(["read", path, "-d", "hex"])
                    self.assertEqual((rc, out), (1, b""), err)
                    self.assertRegex(err, r"^tcpdp: %s: .*%s.*\n$" % (re.escape(path), needle))
