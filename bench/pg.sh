#!/usr/bin/env bash
# bench/pg.sh: how many events a second tcpdp's PostgreSQL sink (--pg) stores, batched.
#
# Starts a throw-away PostgreSQL on 127.0.0.1 (PostgreSQL's default durability, so each batch the
# sink sends is one durable commit) and reads, side by side in one run, the synthetic capture of
# conns.sh (BENCH_CONNS connections, cached in bench/data/; bench/conns_pcap.py writes it):
#   1. tcpdp read X -d conn > /dev/null                       (the floor: no database; best of 3)
#      and once more into a count of its JSON records (state changes and summaries)
#   2. tcpdp read X -d conn --pg CONNINFO > /dev/null         for each batch size in BENCH_BATCHES
#      ([pg] batchSize; 1000 is the default), tables truncated and a CHECKPOINT before each
# For each it reports the wall time until the process exits (with --pg: every row stored, since
# [pg] shutdownTimeout = 3600), the rows in tcp_events and tcp_connections, events a second
# (rows / wall time), tcpdp's CPU seconds (user + system) and peak RSS (/usr/bin/time), and the
# CPU seconds of every PostgreSQL process over the run. The row counts must equal 10 x
# BENCH_CONNS state changes and BENCH_CONNS summaries, and the records of run 1's JSON output;
# if they do not, the script stops with status 1.
# Then the queries table: testdata/pcaps/pg_pgbench.pcap (real pgbench traffic, 2772 pg records)
# repeated BENCH_DUMPS_COPIES times, each copy shifted 20 s past the last (cached in bench/data/),
# read with `-d pg > /dev/null` (floor) and with `-d pg --pg CONNINFO --pg-dumps`: queries a
# second, with the lifecycle rows that come with them, counts checked the same way.
#
# Run as root on Debian bookworm:  bash bench/pg.sh
# Knobs (environment):
#   BENCH_CONNS=100000        connections in the capture (11 events each; at most 3840000)
#   BENCH_BATCHES="1000 100 10000"  [pg] batchSize of each --pg run, in this order
#   BENCH_DUMPS_COPIES=200    copies of pg_pgbench.pcap for the queries part; 0 skips that part
#   BENCH_DURABLE=1           1: PostgreSQL's defaults (fsync, synchronous_commit, full_page_writes
#                             on); 0: all three off, so the server is CPU-bound
#   BENCH_PORT=25437          TCP port of the throw-away server (below the ephemeral range)
#   BENCH_DATA=bench/data     where the captures and the reports are kept
#   TCPDP=/path/to/tcpdp      use this binary instead of building build-bench/tcpdp in Release
#   PG_BIN=/usr/lib/postgresql/15/bin  PostgreSQL server binaries
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_CONNS=${BENCH_CONNS:-100000}
BENCH_BATCHES=${BENCH_BATCHES:-1000 100 10000}
BENCH_DUMPS_COPIES=${BENCH_DUMPS_COPIES:-200}
BENCH_DURABLE=${BENCH_DURABLE:-1}
BENCH_PORT=${BENCH_PORT:-25437}
BENCH_DATA=${BENCH_DATA:-$ROOT/bench/data}
NAME=pg.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

[[ $BENCH_CONNS =~ ^[1-9][0-9]*$ ]] && ((BENCH_CONNS <= 3840000)) ||
  die "BENCH_CONNS must be a whole number from 1 to 3840000"
[[ $BENCH_BATCHES =~ ^\ *[1-9][0-9]*(\ +[1-9][0-9]*)*\ *$ ]] ||
  die "BENCH_BATCHES must be batch sizes (whole numbers from 1) separated by spaces"
[[ $(tr -s ' ' '\n' <<<"$BENCH_BATCHES" | sed '/^$/d' | sort | uniq -d) == "" ]] ||
  die "BENCH_BATCHES names a batch size twice"
[[ $BENCH_DUMPS_COPIES =~ ^(0|[1-9][0-9]*)$ ]] || die "BENCH_DUMPS_COPIES must be a whole number"
[[ $BENCH_DURABLE =~ ^[01]$ ]] || die "BENCH_DURABLE must be 0 or 1"
[[ $BENCH_PORT =~ ^[1-9][0-9]*$ ]] || die "BENCH_PORT must be a port number"
[[ $(id -u) -eq 0 ]] || die "run as root (the server runs as postgres)"
PGBENCH_PCAP=$ROOT/testdata/pcaps/pg_pgbench.pcap
((BENCH_DUMPS_COPIES == 0)) || [[ -s $PGBENCH_PCAP ]] || die "no $PGBENCH_PCAP"

need_packages psql:postgresql-client
build_tcpdp

WORK=$(mktemp -d /tmp/tcpdp-bench-pg.XXXXXX)
chmod 755 "$WORK"
PG_STARTED=0
cleanup() {
  local rc=$?
  set +e
  ((PG_STARTED)) && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pgdata" -m immediate -w stop >/dev/null 2>&1
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# The captures
# ---------------------------------------------------------------------------------------------
mkdir -p "$BENCH_DATA"
CONNS_PCAP=$BENCH_DATA/conns-$BENCH_CONNS.pcap
python3 "$ROOT/bench/conns_pcap.py" "$CONNS_PCAP" "$BENCH_CONNS"  # made once, then kept
DUMPS_PCAP=""
if ((BENCH_DUMPS_COPIES > 0)); then
  DUMPS_PCAP=$BENCH_DATA/pg_pgbench-x$BENCH_DUMPS_COPIES.pcap
  if [[ ! -s $DUMPS_PCAP ]]; then
    log "writing $DUMPS_PCAP"
    # The classic pcap's records, again and again; each copy starts 20 s (more than the 10 s
    # tcpdp keeps a closed connection) after the last one's last packet, so its connections, on
    # the same ports, are new ones.
    python3 - "$PGBENCH_PCAP" "$DUMPS_PCAP.tmp" "$BENCH_DUMPS_COPIES" <<'PY'
import struct
import sys

src, dst, copies = sys.argv[1], sys.argv[2], int(sys.argv[3])
data = open(src, "rb").read()
if struct.unpack("<I", data[:4])[0] != 0xA1B2C3D4:
    sys.exit("%s: not a little-endian microsecond pcap" % src)
records, at = [], 24
while at < len(data):
    sec, usec, incl, orig = struct.unpack("<IIII", data[at:at + 16])
    records.append((sec, usec, orig, data[at + 16:at + 16 + incl]))
    at += 16 + incl
span = records[-1][0] - records[0][0] + 1 + 20
with open(dst, "wb") as out:
    out.write(data[:24])
    for copy in range(copies):
        for sec, usec, orig, packet in records:
            out.write(struct.pack("<IIII", sec + copy * span, usec, len(packet), orig) + packet)
PY
    mv "$DUMPS_PCAP.tmp" "$DUMPS_PCAP"
  fi
fi
cat "$CONNS_PCAP" ${DUMPS_PCAP:+"$DUMPS_PCAP"} >/dev/null  # into the page cache

# ---------------------------------------------------------------------------------------------
# The server: initdb + pg_ctl as postgres, on 127.0.0.1 only, its socket in the temp dir
# ---------------------------------------------------------------------------------------------
(exec 3<>"/dev/tcp/127.0.0.1/$BENCH_PORT") 2>/dev/null && die "port $BENCH_PORT is in use: set BENCH_PORT"
DURABILITY=""
((BENCH_DURABLE)) || DURABILITY="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
log "starting PostgreSQL ($PG_BIN) on 127.0.0.1:$BENCH_PORT"
mkdir "$WORK/pgdata" && chown postgres: "$WORK/pgdata"
runuser -u postgres -- "$PG_BIN/initdb" -D "$WORK/pgdata" -U postgres --auth=trust -E UTF8 \
  --no-sync >/dev/null
runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$WORK/pgdata" -l "$WORK/pgdata/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -p $BENCH_PORT -k $WORK/pgdata -c max_connections=20 $DURABILITY" \
  start >/dev/null || die "PostgreSQL did not start: $(tail -n 5 "$WORK/pgdata/server.log")"
PG_STARTED=1
POSTMASTER=$(head -n 1 "$WORK/pgdata/postmaster.pid")
CONNINFO="host=127.0.0.1 port=$BENCH_PORT user=postgres dbname=postgres"
# The tables, so that every run finds them there (and creates nothing but what it checks).
"$TCPDP" pg-schema | psql -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -q -v ON_ERROR_STOP=1 postgres >/dev/null

# pg_cpu: CPU seconds (user + system) of every PostgreSQL process so far: the postmaster's own and
# its ended children's (backends it has waited for), and its live children's.
pg_cpu() {
  python3 - "$POSTMASTER" <<'PY'
import os
import sys

root, total = sys.argv[1], 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        f = open("/proc/%s/stat" % pid).read().rsplit(")", 1)[1].split()
    except OSError:
        continue
    if pid == root or f[1] == root:  # f[1] ppid; f[11:15] utime, stime, cutime, cstime
        total += sum(int(x) for x in f[11:15])
print(total / os.sysconf("SC_CLK_TCK"))
PY
}

# rows: "tcp_events tcp_connections queries" as stored now.
rows() {
  psql_do "SELECT (SELECT count(*) FROM tcp_events) || ' ' || (SELECT count(*) FROM tcp_connections) || ' ' || (SELECT count(*) FROM queries)"
}

# timed NAME COMMAND...: runs COMMAND in $WORK/run (where the spool file goes), output to
# /dev/null, stderr to $WORK/NAME.stderr; appends "NAME wall user sys KiB pg_cpu" to
# $WORK/results. Dies if the command fails.
mkdir "$WORK/run"
minus() { python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$1" "$2"; }
timed() {
  local name=$1 start end before after wall
  shift
  before=$(pg_cpu)
  start=$(date +%s.%N)
  (cd "$WORK/run" &&
    /usr/bin/time -f '%U %S %M' -o "$WORK/$name.time" "$@" >/dev/null 2>"$WORK/$name.stderr") ||
    die "$name failed: $(tail -n 5 "$WORK/$name.stderr")"
  end=$(date +%s.%N)
  after=$(pg_cpu)
  wall=$(minus "$start" "$end")
  echo "$name $wall $(tail -n 1 "$WORK/$name.time") $(minus "$before" "$after")" >>"$WORK/results"
  log "$name: ${wall}s"
}

# count_records FILE DUMPER...: "state summary other" records in the JSON output of
# `tcpdp read FILE -d DUMPER...` (other: the dumper's own records).
count_records() {
  local file=$1
  shift
  "$TCPDP" read "$file" "$@" |
    awk '/"event":"state"/ { s++; next } /"event":"summary"/ { m++; next } { o++ } END { print s + 0, m + 0, o + 0 }'
}

# pg_config NAME BATCH: a config file for a --pg run (the spool file in $WORK/run).
pg_config() {
  cat >"$WORK/$1.toml" <<TOML
[tcpdp]
pidfile = ""
[log]
dir = "$WORK/run"
[pg]
batchSize = $2
# Wait for every record to be stored, however long it takes (the default gives up after 10 s).
shutdownTimeout = 3600
# tcpdp read does not wait for the database: what does not fit in the queue goes to the spool
# file (about 290 bytes an event); room for every record of a large BENCH_CONNS.
spoolMaxSize = "64GiB"
TOML
}

# check_run NAME WANT_EVENTS WANT_CONNS WANT_QUERIES: the rows a --pg run stored, against what it
# had to store; the spool file must be empty. Appends the counts to $WORK/NAME.rows.
check_run() {
  local name=$1 got
  got=$(rows)
  echo "$got" >"$WORK/$name.rows"
  [[ $got == "$2 $3 $4" ]] ||
    die "$name stored tcp_events, tcp_connections, queries = $got; want $2 $3 $4 (stderr: $(head -c 2000 "$WORK/$name.stderr"))"
  [[ ! -s $WORK/run/pg.spool ]] || die "$name left $(stat -c %s "$WORK/run/pg.spool") bytes in the spool file"
}

reset_tables() {
  psql_do "TRUNCATE tcp_events, tcp_connections, queries" >/dev/null
  psql_do "CHECKPOINT" >/dev/null
}

# ---------------------------------------------------------------------------------------------
# 1-2. Lifecycle records of BENCH_CONNS connections
# ---------------------------------------------------------------------------------------------
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
for run in 1 2 3; do
  timed "floor$run" "$TCPDP" read "$CONNS_PCAP" -d conn
done
read -r STATES SUMMARIES OTHERS <<<"$(count_records "$CONNS_PCAP" -d conn)"
((STATES == BENCH_CONNS * 10 && SUMMARIES == BENCH_CONNS && OTHERS == 0)) ||
  die "tcpdp read -d conn wrote $STATES state changes, $SUMMARIES summaries and $OTHERS other records; want $((BENCH_CONNS * 10)), $BENCH_CONNS, 0"
for batch in $BENCH_BATCHES; do
  reset_tables
  pg_config "pg$batch" "$batch"
  timed "pg$batch" "$TCPDP" read "$CONNS_PCAP" -d conn -c "$WORK/pg$batch.toml" --pg "$CONNINFO"
  check_run "pg$batch" "$STATES" "$SUMMARIES" 0
done

# ---------------------------------------------------------------------------------------------
# 3. The queries table: -d pg --pg-dumps on the repeated pgbench capture
# ---------------------------------------------------------------------------------------------
D_STATES=0 D_SUMMARIES=0 D_QUERIES=0 ONE_COPY=0
if [[ -n $DUMPS_PCAP ]]; then
  read -r _ _ ONE_COPY <<<"$(count_records "$PGBENCH_PCAP" -d pg)"
  for run in 1 2 3; do
    timed "dfloor$run" "$TCPDP" read "$DUMPS_PCAP" -d pg
  done
  read -r D_STATES D_SUMMARIES D_QUERIES <<<"$(count_records "$DUMPS_PCAP" -d pg --conn)"
  ((D_QUERIES == ONE_COPY * BENCH_DUMPS_COPIES)) ||
    die "tcpdp read -d pg wrote $D_QUERIES records of $(basename "$DUMPS_PCAP"); want $BENCH_DUMPS_COPIES x $ONE_COPY"
  reset_tables
  pg_config dumps 1000
  timed dumps "$TCPDP" read "$DUMPS_PCAP" -d pg -c "$WORK/dumps.toml" --pg "$CONNINFO" --pg-dumps
  check_run dumps "$D_STATES" "$D_SUMMARIES" "$D_QUERIES"
fi

# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------
PG_VERSION=$(psql_do "SHOW server_version")
python3 - "$WORK" "$TCPDP" "$REV" "$CONNS_PCAP" "$BENCH_CONNS" "$BENCH_BATCHES" "$BENCH_DURABLE" \
  "$PG_VERSION" "$STATES" "$SUMMARIES" "${DUMPS_PCAP:-}" "$BENCH_DUMPS_COPIES" "$ONE_COPY" \
  "$D_STATES" "$D_SUMMARIES" "$D_QUERIES" "$LOAD_START" "$(cut -d' ' -f1-3 /proc/loadavg)" \
  >"$WORK/report.md" <<'PY'
import os
import sys
import time

(work, tcpdp, rev, conns_pcap, conns, batches, durable, pg_version, states, summaries,
 dumps_pcap, copies, one_copy, d_states, d_summaries, d_queries, load_start, load_end) = sys.argv[1:]
conns, states, summaries = int(conns), int(states), int(summaries)
copies, one_copy = int(copies), int(one_copy)
d_states, d_summaries, d_queries = int(d_states), int(d_summaries), int(d_queries)
results = {}
for line in open(os.path.join(work, "results")):
    name, wall, user, system, kib, pg = line.split()
    results[name] = (float(wall), float(user) + float(system), int(kib), float(pg))


def best(prefix):
    return min((results[n] for n in results if n.startswith(prefix) and n[len(prefix):].isdigit()),
               key=lambda r: r[0])


def stderr(name):
    lines = open(os.path.join(work, name + ".stderr")).read().splitlines()
    return "; ".join("`%s`" % l for l in lines) if lines else "(nothing)"


cpu_model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
mb = os.path.getsize(conns_pcap) / 1e6
print("## tcpdp's PostgreSQL sink: events stored per second, %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
print()
print("- CPU: %s, %d cores; tcpdp and PostgreSQL share them; load average (1, 5, 15 min) %s before the first run, %s after the last" % (
    cpu_model, os.cpu_count(), load_start, load_end))
print("- tcpdp: %s (commit %s)" % (tcpdp, rev))
print("- PostgreSQL %s on 127.0.0.1 (TCP), %s; tables truncated and a CHECKPOINT before each --pg run" % (
    pg_version, "fsync, synchronous_commit and full_page_writes on (its defaults)" if durable == "1"
    else "fsync, synchronous_commit and full_page_writes off"))
print("- capture: %s, %.1f MB, %d packets, %d connections; `-d conn` writes %d state changes and %d summaries (counted in its JSON output)" % (
    os.path.basename(conns_pcap), mb, conns * 8, conns, states, summaries))
print("- config: `[pg] shutdownTimeout = 3600`, `spoolMaxSize = \"64GiB\"`, `batchSize` as below, the rest default; wall s = until tcpdp exits (with --pg: every row stored); events/s = (tcp_events + tcp_connections rows) / wall s; file in page cache; floor best of 3, each --pg run once")
print("- CPU s: tcpdp's user + system (/usr/bin/time, all threads); PostgreSQL's: all its processes over the run")
print()
print("| command | batchSize | wall s | × floor | tcp_events | tcp_connections | events/s | tcpdp CPU s | PostgreSQL CPU s | peak RSS MiB |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
floor = best("floor")
print("| `tcpdp read X -d conn > /dev/null` | - | %.3f | 1.00 | - | - | %.0f (written) | %.2f | - | %.1f |" % (
    floor[0], (states + summaries) / floor[0], floor[1], floor[2] / 1024))
for batch in batches.split():
    wall, cpu, kib, pg = results["pg" + batch]
    events, conns_rows, _ = (int(x) for x in open(os.path.join(work, "pg%s.rows" % batch)).read().split())
    print("| `tcpdp read X -d conn --pg CONNINFO > /dev/null` | %s | %.3f | %.1f | %d | %d | %.0f | %.2f | %.2f | %.1f |" % (
        batch, wall, wall / floor[0], events, conns_rows, (events + conns_rows) / wall, cpu, pg, kib / 1024))
print()
print("- rows: every --pg run stored %d + %d rows, as many as the JSON output has state changes and summaries; the spool file was empty at the end" % (states, summaries))
for batch in batches.split():
    print("- tcpdp's stderr, batchSize %s: %s" % (batch, stderr("pg" + batch)))
if dumps_pcap:
    print()
    print("### queries (`--pg-dumps`)")
    print()
    print("- capture: %s, %.1f MB: testdata/pcaps/pg_pgbench.pcap (real `pgbench -M prepared` and `-M extended` traffic, %d pg records, 5 connections) %d times, each copy 20 s after the last" % (
        os.path.basename(dumps_pcap), os.path.getsize(dumps_pcap) / 1e6, one_copy, copies))
    print("- `-d pg` writes %d pg records; with `--pg` it also stores the lifecycle (%d state changes, %d summaries); batchSize 1000" % (d_queries, d_states, d_summaries))
    print()
    print("| command | wall s | × floor | queries | tcp_events | tcp_connections | queries/s | all rows/s | tcpdp CPU s | PostgreSQL CPU s | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    floor = best("dfloor")
    print("| `tcpdp read X -d pg > /dev/null` | %.3f | 1.00 | - | - | - | %.0f (written) | - | %.2f | - | %.1f |" % (
        floor[0], d_queries / floor[0], floor[1], floor[2] / 1024))
    wall, cpu, kib, pg = results["dumps"]
    events, conns_rows, queries = (int(x) for x in open(os.path.join(work, "dumps.rows")).read().split())
    print("| `tcpdp read X -d pg --pg CONNINFO --pg-dumps > /dev/null` | %.3f | %.1f | %d | %d | %d | %.0f | %.0f | %.2f | %.2f | %.1f |" % (
        wall, wall / floor[0], queries, events, conns_rows, queries / wall,
        (queries + events + conns_rows) / wall, cpu, pg, kib / 1024))
    print()
    print("- rows: as many as the JSON output of `-d pg --conn` has records; the spool file was empty at the end")
    print("- tcpdp's stderr: %s" % stderr("dumps"))
PY
REPORT=$BENCH_DATA/pg-report-$(date -u +%Y%m%dT%H%M%SZ).md
cp "$WORK/report.md" "$REPORT"
cat "$REPORT"
log "report saved as $REPORT"
