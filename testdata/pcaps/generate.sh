#!/usr/bin/env bash
# Regenerates the real captures in this directory (see README.md).
#
# Run as root on Debian bookworm:  bash testdata/pcaps/generate.sh
# It installs what it needs, starts PostgreSQL and MariaDB on 127.0.0.1 in
# temporary directories, captures real client traffic and plain-TCP
# workloads (tcp_workload.py) with tcpdump, checks every capture, and only
# then copies the .pcap files next to this script. Servers, tcpdump and the
# temporary directory are removed at exit, also on failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PG_PORT=55432
MY_PORT=53306
MAX_BYTES=$((1024 * 1024))
TCP_CASES=(close reset refused open ipv6 sll2)

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'generate.sh: error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (servers and tcpdump need it)"

# ---------------------------------------------------------------- packages
install_deps() {
  local p missing=()
  for p in postgresql mariadb-server mariadb-client tcpdump python3; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
        grep -qx 'install ok installed'; then
      missing+=("$p")
    fi
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
install_deps

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -x $PGBIN/initdb && -x $PGBIN/pgbench ]] || die "PostgreSQL binaries not found"
for c in mariadbd mariadb-install-db mariadb mariadb-admin tcpdump python3 runuser; do
  command -v "$c" >/dev/null || die "missing command: $c"
done

# ------------------------------------------------------ state and cleanup
WORK=$(mktemp -d /tmp/tcpdp-pcaps.XXXXXX)
chmod 755 "$WORK"          # postgres and mysql must be able to enter it
OUT=$WORK/out
mkdir "$OUT"
TCPDUMP_PID=""
WORKLOAD_PID=""
RELEASE_FILE=$WORK/release-open-connection
PG_DATA=""
MY_PID=""

cleanup() {
  local rc=$?
  set +e
  if [[ -n $TCPDUMP_PID ]]; then
    kill -INT "$TCPDUMP_PID" 2>/dev/null
    wait "$TCPDUMP_PID" 2>/dev/null
  fi
  if [[ -n $WORKLOAD_PID ]]; then
    touch "$RELEASE_FILE"
    kill "$WORKLOAD_PID" 2>/dev/null
    wait "$WORKLOAD_PID" 2>/dev/null
  fi
  if [[ -n $PG_DATA ]]; then
    (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_DATA" -m fast \
      -w -t 30 stop >/dev/null 2>&1) ||
      (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PG_DATA" \
        -m immediate -w -t 30 stop >/dev/null 2>&1)
  fi
  if [[ -n $MY_PID ]]; then
    kill -TERM "$MY_PID" 2>/dev/null
    local i
    for i in $(seq 300); do
      kill -0 "$MY_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$MY_PID" 2>/dev/null
    wait "$MY_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
  if ((rc != 0)); then
    printf 'generate.sh: FAILED (exit %d); existing captures left as they were\n' \
      "$rc" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A clean environment for the clients: no PG*/MYSQL* variables, no rc files.
client_env() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$WORK" LC_ALL=C "$@"; }

# ------------------------------------------------------------- capturing
# capture_start FILE TCPDUMP-ARGS...: start tcpdump and wait until it listens.
# --immediate-mode: without it libpcap's TPACKET_V3 ring hands packets over
# only when a block fills or its ~1 s timeout expires, and packets still in
# the ring when SIGINT arrives are lost. -Z root: keep root so the file can
# be written in the root-only temp dir.
capture_start() {
  local file=$1 i
  shift
  tcpdump -Z root -U --immediate-mode -w "$file" "$@" 2>"$file.log" &
  TCPDUMP_PID=$!
  for i in $(seq 200); do
    grep -q 'listening on' "$file.log" && return 0
    kill -0 "$TCPDUMP_PID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$file.log" >&2
  die "tcpdump did not start for $file"
}

# capture_stop: let the last packets arrive, then SIGINT so all is flushed.
capture_stop() {
  local file=$1
  sleep 1.5
  kill -INT "$TCPDUMP_PID"
  wait "$TCPDUMP_PID" || die "tcpdump failed for $file: $(cat "$file.log")"
  TCPDUMP_PID=""
  if ! grep -q '^0 packets dropped by kernel' "$file.log"; then
    cat "$file.log" >&2
    die "tcpdump dropped packets for $file"
  fi
}

# ------------------------------------------------------------ PostgreSQL
as_postgres() { (cd "$WORK" && runuser -u postgres -- "$@"); }

pg_start() {
  local dir=$WORK/pg
  mkdir "$dir"
  chown postgres:postgres "$dir"
  as_postgres "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
    --locale=C --no-sync --no-instructions >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  PG_DATA=$dir/data
  as_postgres "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$dir -c ssl=off -c fsync=off" \
    start >/dev/null ||
    { cat "$dir/server.log" >&2; die "PostgreSQL did not start"; }
}

# psql over TCP; the SQL file comes as $1
pg_psql_tcp() {
  client_env "$PGBIN/psql" \
    "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres sslmode=disable gssencmode=disable" \
    -X -v ON_ERROR_STOP=0 -f "$1"
}

# psql over the unix socket (not captured), for setup only
pg_psql_local() {
  as_postgres "$PGBIN/psql" -h "$WORK/pg" -p "$PG_PORT" -U postgres -X -q \
    -v ON_ERROR_STOP=1 -c "$1" postgres
}

# pg_workload FILE LONG_LEN: the simple-query psql workload
pg_workload() {
  local file=$1 long_len=$2
  python3 - "$file" "$long_len" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
literal = ("abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n]
with open(path, "w") as f:
    f.write("SELECT 1;\n"
            "CREATE TABLE t (id int primary key, name text);\n"
            "INSERT INTO t VALUES (1, 'alice'), (2, 'bob');\n"
            "SELECT * FROM t ORDER BY id;\n"
            "SELECT * FROM no_such_table;\n"
            "SELECT length('" + literal + "');\n")
PY
}

capture_pg() {
  log "pg.pcap"
  pg_workload "$WORK/pg.sql" 200000
  printf '%s\n' '\set id random(1, 2)' 'SELECT name FROM t WHERE id = :id;' \
    >"$WORK/pgbench.sql"
  capture_start "$OUT/pg.pcap" -i lo -s 0 tcp port "$PG_PORT"
  pg_psql_tcp "$WORK/pg.sql" >"$WORK/pg.out" 2>&1 ||
    { cat "$WORK/pg.out" >&2; die "psql failed"; }
  client_env PGSSLMODE=disable PGGSSENCMODE=disable "$PGBIN/pgbench" \
    -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -c 1 -t 20 -M prepared \
    -f "$WORK/pgbench.sql" postgres >"$WORK/pgbench.out" 2>&1 ||
    { cat "$WORK/pgbench.out" >&2; die "pgbench failed"; }
  capture_stop "$OUT/pg.pcap"
  grep -q 'no_such_table' "$WORK/pg.out" || die "psql did not report the error"
  grep -q '200000' "$WORK/pg.out" || die "long query gave no result"
  grep -q 'number of transactions actually processed: 20/20' "$WORK/pgbench.out" ||
    { cat "$WORK/pgbench.out" >&2; die "pgbench did not run 20 transactions"; }
}

capture_pg_snaplen() {
  log "pg_snaplen.pcap"
  pg_psql_local 'DROP TABLE t;'
  pg_workload "$WORK/pg_snaplen.sql" 5000
  capture_start "$OUT/pg_snaplen.pcap" -i lo -s 96 tcp port "$PG_PORT"
  pg_psql_tcp "$WORK/pg_snaplen.sql" >"$WORK/pg_snaplen.out" 2>&1 ||
    { cat "$WORK/pg_snaplen.out" >&2; die "psql failed"; }
  capture_stop "$OUT/pg_snaplen.pcap"
  grep -q '5000' "$WORK/pg_snaplen.out" || die "5 KB query gave no result"
}

# --------------------------------------------------------------- MariaDB
my_start() {
  local dir=$WORK/my i
  mkdir "$dir"
  chown mysql:mysql "$dir"
  mariadb-install-db --no-defaults --user=mysql --datadir="$dir/data" \
    --auth-root-authentication-method=socket --skip-test-db \
    >"$dir/install.log" 2>&1 ||
    { cat "$dir/install.log" >&2; die "mariadb-install-db failed"; }
  mariadbd --no-defaults --user=mysql --datadir="$dir/data" \
    --socket="$dir/mysqld.sock" --port="$MY_PORT" --bind-address=127.0.0.1 \
    --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" \
    --skip-name-resolve --innodb-buffer-pool-size=16M \
    </dev/null >/dev/null 2>&1 &
  MY_PID=$!
  for i in $(seq 300); do
    if mariadb-admin --no-defaults --socket="$dir/mysqld.sock" -u root \
        ping >/dev/null 2>&1; then
      break
    fi
    kill -0 "$MY_PID" 2>/dev/null ||
      { cat "$dir/error.log" >&2; die "mariadbd exited"; }
    sleep 0.1
  done
  mariadb --no-defaults --socket="$dir/mysqld.sock" -u root -e \
    "CREATE USER 'tcpdp'@'127.0.0.1' IDENTIFIED BY 'tcpdp';
     GRANT ALL ON *.* TO 'tcpdp'@'127.0.0.1';" ||
    { cat "$dir/error.log" >&2; die "MariaDB setup failed"; }
}

capture_mariadb() {
  log "mariadb.pcap"
  cat >"$WORK/my.sql" <<'SQL'
SELECT 1;
CREATE DATABASE d;
USE d;
CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20));
INSERT INTO t VALUES (1,'alice'),(2,'bob');
SELECT * FROM t ORDER BY id;
SELECT * FROM no_such_table;
SQL
  capture_start "$OUT/mariadb.pcap" -i lo -s 0 tcp port "$MY_PORT"
  # --force: go on after the error; the exit status is then 1
  client_env mariadb --no-defaults -h 127.0.0.1 -P "$MY_PORT" --protocol=TCP \
    --skip-ssl -u tcpdp -ptcpdp --force <"$WORK/my.sql" \
    >"$WORK/my.out" 2>&1 || true
  capture_stop "$OUT/mariadb.pcap"
  grep -q "ERROR 1146" "$WORK/my.out" ||
    { cat "$WORK/my.out" >&2; die "mariadb workload did not behave"; }
  grep -q "bob" "$WORK/my.out" ||
    { cat "$WORK/my.out" >&2; die "mariadb workload did not behave"; }
}

# -------------------------------------------------------------- plain TCP
case_port() {
  python3 -c 'import sys, tcp_workload as w; print(w.CASES[sys.argv[1]]["port"])' "$1"
}

capture_tcp() {
  local name=$1 port file
  port=$(cd "$HERE" && case_port "$name")
  file=$OUT/tcp_$name.pcap
  log "tcp_$name.pcap (port $port)"
  if [[ $name == sll2 ]]; then
    capture_start "$file" -i any -y LINUX_SLL2 -s 0 tcp port "$port"
  else
    capture_start "$file" -i lo -s 0 tcp port "$port"
  fi
  if [[ $name == open ]]; then
    rm -f "$RELEASE_FILE"
    python3 "$HERE/tcp_workload.py" open "$RELEASE_FILE" >"$WORK/open.out" 2>&1 &
    WORKLOAD_PID=$!
    local i
    for i in $(seq 200); do
      grep -q 'holding connection open' "$WORK/open.out" && break
      kill -0 "$WORKLOAD_PID" 2>/dev/null || break
      sleep 0.05
    done
    grep -q 'holding connection open' "$WORK/open.out" ||
      { cat "$WORK/open.out" >&2; die "tcp workload open failed"; }
    capture_stop "$file"          # stopped while the connection is open
    touch "$RELEASE_FILE"
    wait "$WORKLOAD_PID" || { cat "$WORK/open.out" >&2; die "tcp workload open failed"; }
    WORKLOAD_PID=""
  else
    python3 "$HERE/tcp_workload.py" "$name" >/dev/null ||
      die "tcp workload $name failed"
    capture_stop "$file"
  fi
}

# ------------------------------------------------------------------- run
pg_start
capture_pg
capture_pg_snaplen
my_start
capture_mariadb
for c in "${TCP_CASES[@]}"; do
  capture_tcp "$c"
done

# ---------------------------------------------------------- verification
log "verifying captures"
for f in "$OUT"/*.pcap; do
  size=$(stat -c %s "$f")
  ((size < MAX_BYTES)) || die "$(basename "$f") is $size bytes (limit 1 MB)"
done

python3 - "$OUT" "$HERE" "$PG_PORT" "$MY_PORT" <<'PY'
"""Reads the captures with a small pcap/TCP reader of its own and checks
them against what the workloads sent; cross-checks with tshark if present."""
import os
import shutil
import struct
import subprocess
import sys

out_dir, here, pg_port, my_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, here)
import tcp_workload as W

LINKTYPES = {"EN10MB": 1, "LINUX_SLL": 113, "LINUX_SLL2": 276}
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit("%s: not a pcap file" % path)
    _, _, _, _, _, snaplen, linktype = struct.unpack(e + "IHHiIII", data[:24])
    pkts, pos = [], 24
    while pos < len(data):
        _, _, caplen, origlen = struct.unpack(e + "IIII", data[pos:pos + 16])
        pkts.append((caplen, origlen, data[pos + 16:pos + 16 + caplen]))
        pos += 16 + caplen
    return snaplen, linktype & 0x0FFFFFFF, pkts


def parse(linktype, frame):
    """-> dict for a TCP packet, or None"""
    if linktype == 1:
        etype, off = struct.unpack("!H", frame[12:14])[0], 14
    elif linktype == 276:
        etype, off = struct.unpack("!H", frame[0:2])[0], 20
    elif linktype == 113:
        etype, off = struct.unpack("!H", frame[14:16])[0], 16
    else:
        raise SystemExit("unexpected link type %d" % linktype)
    if etype == 0x0800:
        ihl = (frame[off] & 0x0F) * 4
        total = struct.unpack("!H", frame[off + 2:off + 4])[0]
        if frame[off + 9] != 6:
            return None
        src, dst = frame[off + 12:off + 16], frame[off + 16:off + 20]
        tcp, end = off + ihl, off + total
    elif etype == 0x86DD:
        if frame[off + 6] != 6:
            return None
        plen = struct.unpack("!H", frame[off + 4:off + 6])[0]
        src, dst = frame[off + 8:off + 24], frame[off + 24:off + 40]
        tcp, end = off + 40, off + 40 + plen
    else:
        return None
    sport, dport, seq, ack = struct.unpack("!HHII", frame[tcp:tcp + 12])
    doff = (frame[tcp + 12] >> 4) * 4
    flags = frame[tcp + 13]
    return {"src": (src, sport), "dst": (dst, dport), "seq": seq,
            "flags": flags, "payload": frame[tcp + doff:end],
            "truncated": len(frame) < end, "v6": etype == 0x86DD}


class Conn:
    def __init__(self, client, server):
        self.client, self.server = client, server
        self.syns = 0
        self.flags = {"c": 0, "s": 0}          # OR of flags per direction
        self.isn = {}
        self.segs = {"c": [], "s": []}          # (seq, payload)
        self.v6 = False
        self.max_seg = 0

    def stream(self, d):
        """-> (bytes, segment start offsets, gap?)"""
        isn = self.isn.get(d)
        segs = self.segs[d]
        if isn is None:
            if not segs:
                return b"", [], False
            isn = min(s for s, _ in segs) - 1
        buf, starts, gap = bytearray(), set(), False
        for off, data in sorted(((s - isn - 1) & 0xFFFFFFFF, p) for s, p in segs):
            if off > len(buf):
                gap = True
                break
            starts.add(off)
            overlap = buf[off:off + len(data)]
            if overlap != data[:len(overlap)]:
                gap = True                      # inconsistent retransmission
            buf += data[len(buf) - off:]
        return bytes(buf), sorted(starts), gap


def connections(pkts, linktype, server_port):
    conns = {}
    order = []
    for _, _, frame in pkts:
        p = parse(linktype, frame)
        if p is None:
            continue
        if p["dst"][1] == server_port:
            key, d = (p["src"], p["dst"]), "c"
        elif p["src"][1] == server_port:
            key, d = (p["dst"], p["src"]), "s"
        else:
            continue
        c = conns.get(key)
        if c is None:
            c = conns[key] = Conn(*key)
            order.append(c)
        c.v6 = p["v6"]
        c.flags[d] |= p["flags"]
        if p["flags"] & SYN:
            if d == "c":
                c.syns += 1
            c.isn[d] = p["seq"]
        if p["payload"]:
            c.segs[d].append((p["seq"], p["payload"]))
            c.max_seg = max(c.max_seg, len(p["payload"]))
    return order


def tshark_follow(path):
    """-> (client bytes, server bytes) of tcp.stream 0, or None without tshark"""
    if not shutil.which("tshark"):
        return None
    out = subprocess.run(["tshark", "-r", path, "-q", "-z", "follow,tcp,raw,0"],
                         check=True, capture_output=True, text=True).stdout
    c, s, body = [], [], False
    for line in out.splitlines():
        if line.startswith("Node 1:"):
            body = True
            continue
        if not body or line.startswith("====") or not line.strip():
            continue
        (s if line.startswith("\t") else c).append(line.strip())
    return bytes.fromhex("".join(c)), bytes.fromhex("".join(s))


def check_tcp(name):
    case = W.CASES[name]
    path = os.path.join(out_dir, "tcp_%s.pcap" % name)
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
    path = os.path.join(out_dir, "pg.pcap")
    _, linktype, pkts = read_pcap(path)
    conns = connections(pkts, linktype, pg_port)
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
    path = os.path.join(out_dir, "pg_snaplen.pcap")
    snaplen, linktype, pkts = read_pcap(path)
    trunc = sum(1 for cap, orig, _ in pkts if cap < orig)
    if snaplen != 96 or linktype != 1 or any(cap > 96 for cap, _, _ in pkts) or not trunc:
        fail("pg_snaplen: snaplen %d, %d truncated packets" % (snaplen, trunc))
    conns = connections(pkts, linktype, pg_port)
    if len(conns) != 1 or not conns[0].syns:
        fail("pg_snaplen: %d connections" % len(conns))
    if not any(pg_query("SELECT 1;") in f for _, _, f in pkts):
        fail("pg_snaplen: SELECT 1 not seen")
    print("ok   pg_snaplen.pcap: %d packets, %d truncated by snaplen 96" % (len(pkts), trunc))


def check_mariadb():
    path = os.path.join(out_dir, "mariadb.pcap")
    _, linktype, pkts = read_pcap(path)
    conns = connections(pkts, linktype, my_port)
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


check_pg()
check_pg_snaplen()
check_mariadb()
for name in W.CASES:
    check_tcp(name)
if failures:
    sys.exit("verification failed: %d problem(s)" % len(failures))
PY

# --------------------------------------------------------------- install
made=()
for f in "$OUT"/*.pcap; do
  install -m 0644 "$f" "$HERE/$(basename "$f")"
  made+=("$HERE/$(basename "$f")")
done
log "captures written to $HERE"
ls -l "${made[@]}"
