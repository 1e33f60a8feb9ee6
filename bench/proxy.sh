#!/usr/bin/env bash
# bench/proxy.sh: `tcpdp proxy -d pg` against a plain TCP proxy, in front of a busy PostgreSQL.
#
# Starts a throw-away PostgreSQL on 127.0.0.1 (fsync off, so the server is CPU-bound), fills it
# with `pgbench -i -s 10`, then runs the same load, `pgbench -n -S -M extended -c CLIENTS -j 2
# -T BENCH_SECONDS` (select-only), side by side in one run:
#   1. straight to the server                                             (the baseline)
#   2. through HAProxy in TCP mode (no decoding; its defaults, one thread a core)
#   3. through `tcpdp proxy -d pg`, dump.log, conn.log and tcpdp.log written to files
#   4. straight to the server again                                       (how much it drifts)
# (with BENCH_CLIENTS clients, 8 by default; 1 measures what a proxy adds to a request when the
# cores are not all busy) and reports, as a markdown table: TPS and its ratio to the baseline, the latency pgbench saw
# for each transaction (average, p50, p99, from its per-transaction log), what the proxy adds to
# p99, the CPU seconds the proxy process used (user + system) and as a share of one core, and for
# tcpdp the decoded Executes against the SELECTs the server ran (pg_stat_statements).
# Targets (issue 8): tcpdp's TPS >= HAProxy's, p99 added latency < 100 µs.
#
# Run as root on Debian bookworm:  bash bench/proxy.sh
# Knobs (environment):
#   BENCH_SECONDS=20      length of each pgbench run
#   BENCH_CLIENTS=8       pgbench clients (-c; -j is 2, or 1 for one client)
#   BENCH_PORT=25436      TCP port of the throw-away server; the proxies listen on the next two
#                         (all below the ephemeral range, which client connections take ports from)
#   BENCH_DATA=bench/data where the reports are kept
#   TCPDP=/path/to/tcpdp  use this binary instead of building build-bench/tcpdp in Release
#   PG_BIN=/usr/lib/postgresql/15/bin  PostgreSQL server binaries
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_SECONDS=${BENCH_SECONDS:-20}
BENCH_CLIENTS=${BENCH_CLIENTS:-8}
BENCH_PORT=${BENCH_PORT:-25436}
BENCH_DATA=${BENCH_DATA:-$ROOT/bench/data}
NAME=proxy.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

[[ $BENCH_SECONDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a whole number from 1"
[[ $BENCH_PORT =~ ^[1-9][0-9]*$ ]] || die "BENCH_PORT must be a port number"
[[ $BENCH_CLIENTS =~ ^[1-9][0-9]*$ ]] || die "BENCH_CLIENTS must be a whole number from 1"
BENCH_THREADS=$((BENCH_CLIENTS > 1 ? 2 : 1))
[[ $(id -u) -eq 0 ]] || die "run as root (the server runs as postgres)"

need_packages haproxy:haproxy pgbench:postgresql-client psql:postgresql-client
build_tcpdp
HAPROXY_PORT=$((BENCH_PORT + 1))
TCPDP_PORT=$((BENCH_PORT + 2))

WORK=$(mktemp -d /tmp/tcpdp-bench-proxy.XXXXXX)
chmod 755 "$WORK"
PROXY_PID=""
cleanup() {
  local rc=$?
  set +e
  [[ -n $PROXY_PID ]] && kill -INT "$PROXY_PID" 2>/dev/null && wait "$PROXY_PID" 2>/dev/null
  stop_postgres
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_postgres "$WORK/pgdata"

# pgbench_run NAME PORT: the load through PORT; its output in $WORK/NAME.pgbench, its
# per-transaction log in $WORK/NAME.log.*, the server's count of SELECTs in $WORK/NAME.calls.
pgbench_run() {
  psql_do "SELECT pg_stat_statements_reset()" >/dev/null
  (cd "$WORK" && pgbench -h 127.0.0.1 -p "$2" -U postgres -n -S -M extended -c "$BENCH_CLIENTS" \
    -j "$BENCH_THREADS" -T "$BENCH_SECONDS" --log --log-prefix="$1.log" postgres >"$1.pgbench" 2>&1) ||
    die "pgbench through $2 failed: $(tail -n 3 "$WORK/$1.pgbench")"
  select_calls >"$WORK/$1.calls"
}

# with_proxy NAME PORT COMMAND...: the load through a proxy started by COMMAND (listening on
# PORT), its CPU seconds over the run in $WORK/NAME.cpu.
with_proxy() {
  local name=$1 port=$2 i before after
  shift 2
  "$@" 2>"$WORK/$name.stderr" &
  PROXY_PID=$!
  for i in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
  done
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || die "$name did not start: $(cat "$WORK/$name.stderr")"
  before=$(cpu_seconds "$PROXY_PID")
  pgbench_run "$name" "$port"
  after=$(cpu_seconds "$PROXY_PID")
  python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$before" "$after" >"$WORK/$name.cpu"
  kill -TERM "$PROXY_PID"
  local rc=0
  wait "$PROXY_PID" || rc=$?
  PROXY_PID=""
  # HAProxy ends a SIGTERM with 143 by design; tcpdp must end it with 0.
  [[ $name != tcpdp || $rc == 0 ]] || die "$name exited with $rc: $(tail -n 3 "$WORK/$name.stderr")"
}

cat >"$WORK/haproxy.cfg" <<CFG
global
  maxconn 1000
defaults
  mode tcp
  timeout connect 5s
  timeout client 1m
  timeout server 1m
listen pg
  bind 127.0.0.1:$HAPROXY_PORT
  server pg 127.0.0.1:$BENCH_PORT
CFG
mkdir "$WORK/logs"
printf '[tcpdp]\npidfile = ""\n[log]\ndir = "%s"\n[dumpLog]\ndir = "%s"\n[connLog]\ndir = "%s"\n' \
  "$WORK/logs" "$WORK/logs" "$WORK/logs" >"$WORK/tcpdp.toml"

log "direct: pgbench -S -M extended -c $BENCH_CLIENTS -j $BENCH_THREADS -T $BENCH_SECONDS"
pgbench_run direct "$BENCH_PORT"
log "through haproxy (tcp mode)"
with_proxy haproxy "$HAPROXY_PORT" haproxy -f "$WORK/haproxy.cfg" -db
log "through tcpdp proxy -d pg"
with_proxy tcpdp "$TCPDP_PORT" "$TCPDP" proxy -c "$WORK/tcpdp.toml" -l "127.0.0.1:$TCPDP_PORT" \
  -r "127.0.0.1:$BENCH_PORT" -d pg
log "direct again"
pgbench_run direct2 "$BENCH_PORT"

python3 - "$WORK" "$BENCH_SECONDS" "$TCPDP" "$REV" "$(haproxy -v | head -n 1)" "$BENCH_CLIENTS" "$BENCH_THREADS" \
  >"$WORK/report.md" <<'PY'
import glob, json, os, re, sys, time

work, seconds, tcpdp, rev, haproxy_version, clients, threads = sys.argv[1:8]
seconds = int(seconds)

def run(name):
    text = open(os.path.join(work, name + ".pgbench")).read()
    tps = float(re.search(r"tps = ([\d.]+)", text).group(1))
    lat = []
    for path in glob.glob(os.path.join(work, name + ".log.*")):
        for line in open(path):
            lat.append(int(line.split()[2]))  # microseconds, pgbench's per-transaction log
    lat.sort()
    pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
    calls = int(open(os.path.join(work, name + ".calls")).read())
    return {"tps": tps, "avg": sum(lat) / len(lat), "p50": pct(0.50), "p99": pct(0.99), "n": len(lat), "calls": calls}

def cpu(name):
    return float(open(os.path.join(work, name + ".cpu")).read())

direct, again = run("direct"), run("direct2")
rows = [("straight to the server", direct, None),
        ("HAProxy, TCP mode (%s)" % haproxy_version.split(" - ")[0], run("haproxy"), cpu("haproxy")),
        ("tcpdp proxy -d pg, logs to files", run("tcpdp"), cpu("tcpdp")),
        ("straight to the server, again", again, None)]

executes = 0
for line in open(os.path.join(work, "logs", "dump.log")):
    r = json.loads(line)
    if r.get("message_type") == "E" and r.get("execute_query", "").startswith("SELECT abalance FROM pgbench_accounts"):
        executes += 1
stop = [json.loads(l) for l in open(os.path.join(work, "logs", "tcpdp.log")) if '"msg":"stop"' in l][-1]

cpu_model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
print("## tcpdp proxy against HAProxy, pgbench -S -M extended, %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
print()
print("- CPU: %s, %d cores; PostgreSQL, pgbench and the proxy share them" % (cpu_model, os.cpu_count()))
print("- tcpdp: %s (commit %s), default settings (event loops: half the cores)" % (tcpdp, rev))
print("- load: `pgbench -n -S -M extended -c %s -j %s -T %d` on 127.0.0.1, scale 10, fsync off; latency from pgbench's per-transaction log (`--log`)" % (clients, threads, seconds))
print()
print("| path | TPS | vs direct | latency avg µs | p50 µs | p99 µs | p99 added µs | proxy CPU s | % of a core |")
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for name, r, c in rows:
    added = "-" if c is None else "%d" % (r["p99"] - direct["p99"])
    cpu_s = "-" if c is None else "%.2f" % c
    core = "-" if c is None else "%.1f" % (100 * c / seconds)
    print("| %s | %.0f | %.3f | %.0f | %d | %d | %s | %s | %s |" % (
        name, r["tps"], r["tps"] / direct["tps"], r["avg"], r["p50"], r["p99"], added, cpu_s, core))
print()
hap, tcp = rows[1][1], rows[2][1]
print("- decoded: %d Executes of `SELECT abalance ...` in dump.log; the server ran %d (pg_stat_statements); tcpdp's stop record: %d connections, %d records dropped" % (
    executes, tcp["calls"], stop["accepted"], stop.get("dropped_records", 0)))
print("- targets: TPS >= HAProxy's: %s (%.0f vs %.0f, %.1f%%); p99 added < 100 µs: %s (%d µs; HAProxy adds %d µs); the baseline moved %.1f%% between its two runs" % (
    "met" if tcp["tps"] >= hap["tps"] else "NOT met", tcp["tps"], hap["tps"], 100 * tcp["tps"] / hap["tps"],
    "met" if tcp["p99"] - direct["p99"] < 100 else "NOT met", tcp["p99"] - direct["p99"], hap["p99"] - direct["p99"],
    100 * abs(again["tps"] - direct["tps"]) / direct["tps"]))
PY
mkdir -p "$BENCH_DATA"
REPORT=$BENCH_DATA/proxy-report-$(date -u +%Y%m%dT%H%M%SZ).md
cp "$WORK/report.md" "$REPORT"
cat "$REPORT"
log "report saved as $REPORT"
