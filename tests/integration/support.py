"""Shared helpers for the integration tests: run the tcpdp binary, read its records back, and ask
tshark (an independent decoder) what a capture holds."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TCPDP = os.environ.get("TCPDP", "tcpdp")
PCAPS = os.environ.get("TCPDP_PCAPS", os.path.join(os.path.dirname(__file__), "..", "..", "testdata", "pcaps"))
# An unoptimised ASan + UBSan build (ctest sets this): bounds on time and memory are looser for it,
# by about the sanitizers' own cost (shadow memory, quarantine of freed blocks, no optimisation).
SANITIZED = os.environ.get("TCPDP_SANITIZED") == "1"
sys.path.insert(0, PCAPS)


def pcap(name):
    return os.path.join(PCAPS, name)


def run(args, stdin=None, input_bytes=None, env_update=None, cwd=None):
    """Runs tcpdp with args; returns (exit code, stdout bytes, stderr text)."""
    env = dict(os.environ, **(env_update or {}))
    proc = subprocess.run([TCPDP] + list(args), stdin=stdin, input=input_bytes,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120,
                          env=env, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr.decode("utf-8", "replace")


def read_text(path):
    """A file's text (undecodable bytes replaced), or "" while it does not exist."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def write_config(directory, logs, rotate=True):
    """Writes directory/tcpdp.toml: the pidfile directory/tcpdp.pid, and tcpdp.log, dump.log and
    conn.log in logs, rotated as by default or, with rotate=False, not at all (rotateEnable =
    false: each log one file by its plain name). -> its path."""
    config = os.path.join(directory, "tcpdp.toml")
    with open(config, "w") as f:
        f.write('[tcpdp]\npidfile = "%s"\n' % os.path.join(directory, "tcpdp.pid"))
        for section in ("log", "dumpLog", "connLog"):
            f.write('[%s]\ndir = "%s"\n' % (section, logs))
            if not rotate:
                f.write("rotateEnable = false\n")
    return config


class TcpdpRun:
    """One long-running `tcpdp COMMAND` (probe or proxy) of a test: its configuration
    (write_config, no rotation), logs (self.logs) and standard error in a temporary directory.
    At the test's cleanup the process is killed if it still runs, then the directory removed.
    The load tests' Probe and Proxy start it with launch() and read its logs."""

    def __init__(self, test, command, prefix):
        self.test, self.command = test, command
        self.dir = tempfile.mkdtemp(prefix=prefix)
        test.addCleanup(shutil.rmtree, self.dir, True)
        self.logs = os.path.join(self.dir, "logs")
        self.config = write_config(self.dir, self.logs, rotate=False)
        self.stderr_path = os.path.join(self.dir, "stderr")
        self.proc = None
        test.addCleanup(self.kill)

    def launch(self, args, ready, timeout=30):
        """Runs `tcpdp COMMAND -c CONFIG args...` and waits until its standard error says ready;
        -> True, or False (the process killed) if it exited or timeout seconds went by first."""
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([TCPDP, self.command, "-c", self.config] + list(args),
                                         stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.monotonic() + timeout
        while ready not in self.stderr():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.kill()
                return False
            time.sleep(0.02)
        return True

    def stderr(self):
        return read_text(self.stderr_path)

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self):
        """SIGTERM: tcpdp must exit 0 within a minute, with every record written."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
            self.test.fail("%s did not exit within 60 s of SIGTERM: %s" % (self.command, self.stderr()))
        self.test.assertEqual(rc, 0, self.stderr())


def records(stdout):
    """JSON lines to a list of dicts; fails the test on any line that is not a JSON object."""
    out = []
    for line in stdout.decode("utf-8").splitlines():
        rec = json.loads(line)
        assert isinstance(rec, dict), line
        out.append(rec)
    return out


HEX_LINE = re.compile(r"^([0-9a-f]{8})  ((?:[0-9a-f]{2} |   ){8}) ((?:[0-9a-f]{2} |   ){8}) \|(.*)\|$")


def bytes_of_hex_dump(dump):
    """Reads a classic hexdump -C style dump back into bytes, checking its offsets and text column."""
    data = bytearray()
    assert dump.endswith("\n"), dump
    for line in dump[:-1].split("\n"):
        m = HEX_LINE.match(line)
        assert m, "not a hex dump line: %r" % line
        assert int(m.group(1), 16) == len(data), line
        chunk = bytes.fromhex(m.group(2) + m.group(3))
        text = "".join(chr(b) if 0x20 <= b <= 0x7E else "." for b in chunk)
        assert m.group(4) == text, line
        data += chunk
    return bytes(data)


def merge(stream):
    """Joins adjacent data chunks: [b"a", b"b", ("gap", 3)] -> [b"ab", ("gap", 3)]."""
    out = []
    for item in stream:
        if isinstance(item, (bytes, bytearray)):
            if not item:
                continue
            if out and isinstance(out[-1], bytes):
                out[-1] += bytes(item)
            else:
                out.append(bytes(item))
        else:
            out.append(tuple(item))
    return out


def streams(recs):
    """Hex-dumper records to {conn_id: {"->": [...], "<-": [...]}} in order of appearance."""
    conns = {}
    for r in recs:
        side = conns.setdefault(r["conn_id"], {"->": [], "<-": [], "addrs": set()})
        src, dst = (r["src_addr"], r["dst_addr"]) if r["direction"] == "->" else (r["dst_addr"], r["src_addr"])
        side["addrs"].add((src, dst))
        if "gap_bytes" in r:
            side[r["direction"]].append(("gap", r["gap_bytes"]))
        else:
            data = bytes_of_hex_dump(r["bytes"])
            assert r["ascii"] == "".join(chr(b) if 0x20 <= b <= 0x7E else "." for b in data)
            side[r["direction"]].append(data)
    for side in conns.values():
        side["->"] = merge(side["->"])
        side["<-"] = merge(side["<-"])
    return conns


def tshark_streams(path):
    """tshark's own reassembly of every TCP stream in a capture:
    [{"client": "ip:port", "server": "ip:port", "->": bytes, "<-": bytes}], by tcp.stream index.
    Node 0 of `follow` is the side that sent the first packet tshark saw."""
    ids = subprocess.run(["tshark", "-r", path, "-T", "fields", "-e", "tcp.stream"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True, text=True).stdout.split()
    result = []
    for sid in sorted({int(i) for i in ids if i}):
        out = subprocess.run(["tshark", "-r", path, "-q", "-z", "follow,tcp,raw,%d" % sid],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True, text=True).stdout
        nodes, first, second = [], bytearray(), bytearray()
        for line in out.splitlines():
            if line.startswith("Node "):
                nodes.append(line.split(": ", 1)[1])
            elif line.startswith("\t") and re.fullmatch(r"\t[0-9a-f]+", line):
                second += bytes.fromhex(line[1:])
            elif re.fullmatch(r"[0-9a-f]+", line):
                first += bytes.fromhex(line)
        result.append({"node0": nodes[0], "node1": nodes[1], "from_node0": bytes(first), "from_node1": bytes(second)})
    return result


def normalize_addr(addr):
    """tshark writes IPv6 nodes as 'addr:port' without brackets; tcpdp as '[addr]:port'."""
    host, port = addr.rsplit(":", 1)
    return (host.strip("[]"), int(port))


PG_FRONTEND_TYPES = {
    "Startup message": "StartupMessage", "SSL request": "SSLRequest", "Simple query": "Q",
    "Parse": "P", "Bind": "B", "Describe": "D", "Execute": "E", "Sync": "S", "Flush": "H",
    "Close": "C", "Termination": "X", "Function call": "F", "Password message": "p",
    "SASLInitialResponse message": "p", "SASLResponse message": "p", "Cancel request": "CancelRequest",
    "GSSENC request": "GSSENCRequest",
}


def tshark_pg_messages(path, port):
    """tshark's PostgreSQL dissection, message by message in capture order:
    [{"stream": n, "srcport": sender's port, "frontend": bool, "type": tshark's name, "query": str|None, "tag": str|None,
      "code": str|None}]."""
    out = subprocess.run(
        ["tshark", "-r", path, "-d", "tcp.port==%d,pgsql" % port, "-Y", "pgsql", "-T", "json",
         "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "pgsql.frontend", "-e", "pgsql.type", "-e", "pgsql.query",
         "-e", "pgsql.tag", "-e", "pgsql.code"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    messages = []
    for pkt in json.loads(out):
        f = pkt["_source"]["layers"]
        queries = list(f.get("pgsql.query", []))
        tags = list(f.get("pgsql.tag", []))
        codes = list(f.get("pgsql.code", []))
        for frontend, kind in zip(f["pgsql.frontend"], f["pgsql.type"]):
            m = {"stream": int(f["tcp.stream"][0]), "srcport": int(f["tcp.srcport"][0]), "frontend": frontend in ("1", "True", "true"),
                 "type": kind, "query": None, "tag": None, "code": None}
            if kind in ("Simple query", "Parse"):
                m["query"] = queries.pop(0)
            elif kind == "Command completion":
                m["tag"] = tags.pop(0)
            elif kind in ("Error", "Notice"):
                m["code"] = codes.pop(0)
            messages.append(m)
    return messages


def tshark_mysql(path, port):
    """tshark's MySQL dissection per TCP stream: {"client_port": p, "commands": [(command id,
    query or schema or None)], "error_codes": [...]}, streams in order."""
    out = subprocess.run(
        ["tshark", "-r", path, "-d", "tcp.port==%d,mysql" % port, "-Y", "mysql", "-T", "json",
         "-e", "tcp.stream", "-e", "tcp.srcport", "-e", "mysql.command", "-e", "mysql.query",
         "-e", "mysql.schema", "-e", "mysql.error_code"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, check=True).stdout
    streams = {}
    for pkt in json.loads(out):
        f = pkt["_source"]["layers"]
        s = streams.setdefault(int(f["tcp.stream"][0]), {"client_port": None, "commands": [], "error_codes": []})
        if int(f["tcp.srcport"][0]) != port:
            s["client_port"] = int(f["tcp.srcport"][0])
        texts = list(f.get("mysql.query", [])) + list(f.get("mysql.schema", []))
        # tshark shows strings up to a NUL; mysqlslap ends its queries with one (tcpdp keeps it)
        texts = [t.rstrip("\x00") for t in texts]
        for cmd in f.get("mysql.command", []):
            s["commands"].append((int(cmd), texts.pop(0) if int(cmd) in (2, 3, 22) and texts else None))
        s["error_codes"] += [int(c) for c in f.get("mysql.error_code", [])]
    return [streams[k] for k in sorted(streams)]


def dumper_records(dumper, name, port, *extra):
    """The records of `tcpdp read NAME -d DUMPER -t PORT`, failing on a non-zero exit."""
    rc, out, err = run(["read", pcap(name), "-d", dumper, "-t", str(port)] + list(extra))
    assert rc == 0, err
    return records(out)


def port_of(addr):
    """The port of an address as tcpdp writes one (1.2.3.4:5 or [::1]:5)."""
    return int(addr.rsplit(":", 1)[1])


def addr_text(sockaddr):
    """A socket address as tcpdp writes one: 1.2.3.4:5 or [::1]:5."""
    host, port = sockaddr[0], sockaddr[1]
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def conn_client(record):
    """The client end of a conn.log record's connection (src_ip, src_port), as addr_text."""
    return addr_text((record["src_ip"], record["src_port"]))


def conn_server(record):
    """The server end of a conn.log record's connection (dst_ip, dst_port), as addr_text."""
    return addr_text((record["dst_ip"], record["dst_port"]))


def client_addr(record):
    """The client end of a captured dump record's connection (probe, read): its src_addr if it
    goes to the server (->), else its dst_addr. Not from a PROXY header."""
    return record["src_addr"] if record["direction"] == "->" else record["dst_addr"]


def client_port(record):
    return port_of(client_addr(record))


def by_client_port(recs):
    """Records grouped by the client's port, connections in order of appearance."""
    conns = {}
    for r in recs:
        conns.setdefault(client_port(r), []).append(r)
    return conns


def wait_until(predicate, timeout, step=0.02):
    """predicate() until it is true or `timeout` seconds passed; its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


class Capture:
    """tcpdump -i lo on one or more ports into a file, for the duration of a with block; in
    immediate mode, so that no packet still waits in the kernel's buffer when it is stopped."""

    def __init__(self, path, *ports):
        self.path, self.ports = path, ports

    def __enter__(self):
        bpf = " or ".join("tcp port %d" % p for p in self.ports)
        self.proc = subprocess.Popen(["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-s", "0", "-B", "16384", "-w", self.path, bpf],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        assert b"listening on" in self.proc.stderr.readline()
        return self

    def __exit__(self, *exc):
        time.sleep(0.5)
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=30)
        self.proc.stderr.close()
