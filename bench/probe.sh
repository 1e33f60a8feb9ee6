#!/usr/bin/env bash
# bench/probe.sh: `tcpdp probe` next to a busy PostgreSQL.
#
# Starts a throw-away PostgreSQL on 127.0.0.1 (fsync off, so the server is CPU-bound), fills it
# with `pgbench -i -s 10`, then runs the same load, `pgbench -n -S -c 8 -j 2 -T BENCH_SECONDS`
# (select-only, the highest rate this machine makes), side by side in one run:
#   1. with nothing attached                                      (the baseline)
#   2. with `tcpdump -i lo -w /dev/null tcp port P` attached      (what capturing alone costs)
#   3. with `tcpdp probe -i lo -t P -d pg` attached, dump.log, conn.log and tcpdp.log written
#      to files
#   4. with nothing attached again                                (how much the baseline drifts)
# and reports, as a markdown table: TPS and average latency, packets received and dropped (as the
# capturing tool counts them), decoded queries against the SELECTs the server ran (counted by
# pg_stat_statements), CPU seconds of the capturing process (user + system) in total, per 100k queries
# and as a share of one core over the run, and its peak RSS.
# Targets (issue 7): 0 drops, every query decoded, TPS unchanged within noise, <= 50% of one core.
#
# Run as root on Debian bookworm:  bash bench/probe.sh
# Knobs (environment):
#   BENCH_SECONDS=20      length of each pgbench run
#   BENCH_PORT=25435      TCP port of the throw-away server (must be free; below the ephemeral
#                         range, which client connections may take ports from)
#   BENCH_MODE=simple     pgbench's -M: simple, extended or prepared
#   BENCH_DATA=bench/data where the reports are kept
#   TCPDP=/path/to/tcpdp  use this binary instead of building build-bench/tcpdp in Release
#   PG_BIN=/usr/lib/postgresql/15/bin  PostgreSQL server binaries
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_SECONDS=${BENCH_SECONDS:-20}
BENCH_PORT=${BENCH_PORT:-25435}
BENCH_MODE=${BENCH_MODE:-simple}
BENCH_DATA=${BENCH_DATA:-$ROOT/bench/data}

NAME=probe.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

[[ $BENCH_SECONDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_SECONDS must be a whole number from 1"
[[ $BENCH_PORT =~ ^[1-9][0-9]*$ ]] || die "BENCH_PORT must be a port number"
[[ $BENCH_MODE =~ ^(simple|extended|prepared)$ ]] || die "BENCH_MODE must be simple, extended or prepared"
[[ $(id -u) -eq 0 ]] || die "run as root (live capture and the server need it)"

need_packages tcpdump:tcpdump pgbench:postgresql-client psql:postgresql-client
build_tcpdp

WORK=$(mktemp -d /tmp/tcpdp-bench-probe.XXXXXX)
chmod 755 "$WORK"
CAPTURE_PID=""
cleanup() {
  local rc=$?
  set +e
  [[ -n $CAPTURE_PID ]] && pkill -INT -P "$CAPTURE_PID" && wait "$CAPTURE_PID" 2>/dev/null
  stop_postgres
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start_postgres "$WORK/pgdata"

# pgbench_run NAME: the load; its output kept as $WORK/NAME.pgbench, and the server's own count
# of the SELECTs it ran (pg_stat_statements) as $WORK/NAME.calls. pgbench's count leaves out the
# transactions cut short by -T's end, whose queries were sent all the same.
pgbench_run() {
  psql_do "SELECT pg_stat_statements_reset()" >/dev/null
  pgbench -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -n -S -M "$BENCH_MODE" -c 8 -j 2 \
    -T "$BENCH_SECONDS" postgres >"$WORK/$1.pgbench" 2>&1 || die "pgbench failed: $(tail -n 3 "$WORK/$1.pgbench")"
  select_calls >"$WORK/$1.calls"
}

# with_capture NAME COMMAND...: the load with COMMAND capturing meanwhile (under /usr/bin/time,
# which writes its CPU seconds and peak RSS to $WORK/NAME.time); COMMAND is stopped with SIGINT
# once the load is over and has drained.
with_capture() {
  local name=$1
  shift
  /usr/bin/time -f '%U %S %M' -o "$WORK/$name.time" "$@" 2>"$WORK/$name.stderr" &
  CAPTURE_PID=$!
  local i
  for i in $(seq 100); do
    grep -q 'listening on' "$WORK/$name.stderr" 2>/dev/null && break
    sleep 0.1
  done
  grep -q 'listening on' "$WORK/$name.stderr" || die "$name did not start: $(cat "$WORK/$name.stderr")"
  pgbench_run "$name"
  sleep 1.5
  # /usr/bin/time ignores SIGINT while its command runs: the command itself is signalled.
  kill -INT "$(pgrep -P "$CAPTURE_PID")"
  wait "$CAPTURE_PID" || die "$name exited with an error: $(tail -n 3 "$WORK/$name.stderr")"
  CAPTURE_PID=""
}

log "baseline: pgbench -S -M $BENCH_MODE -c 8 -j 2 -T $BENCH_SECONDS, nothing attached"
pgbench_run baseline
log "with tcpdump -i lo -w /dev/null"
with_capture tcpdump tcpdump -i lo -w /dev/null "tcp port $BENCH_PORT"
log "with tcpdp probe -d pg"
mkdir "$WORK/logs"
printf '[tcpdp]\npidfile = ""\n[log]\ndir = "%s"\n[dumpLog]\ndir = "%s"\n[connLog]\ndir = "%s"\n' \
  "$WORK/logs" "$WORK/logs" "$WORK/logs" >"$WORK/tcpdp.toml"
with_capture tcpdp "$TCPDP" probe -c "$WORK/tcpdp.toml" -i lo -t "$BENCH_PORT" -d pg
log "baseline again"
pgbench_run baseline2

python3 - "$WORK" "$BENCH_SECONDS" "$BENCH_MODE" "$TCPDP" "$REV" >"$WORK/report.md" <<'PY'
import json, os, re, subprocess, sys, time

work, seconds, mode, tcpdp, rev = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]

def pgbench(name):
    text = open(os.path.join(work, name + ".pgbench")).read()
    tx = int(open(os.path.join(work, name + ".calls")).read())
    tps = float(re.search(r"tps = ([\d.]+)", text).group(1))
    lat = float(re.search(r"latency average = ([\d.]+) ms", text).group(1))
    return tx, tps, lat

def cpu(name):
    user, system, kib = open(os.path.join(work, name + ".time")).read().split()[-3:]
    return float(user) + float(system), int(kib)

rows = []
base_tx, base_tps, base_lat = pgbench("baseline")
again_tx, again_tps, again_lat = pgbench("baseline2")

# tcpdump: "N packets received by filter", "N packets dropped by kernel".
err = open(os.path.join(work, "tcpdump.stderr")).read()
received = int(re.search(r"(\d+) packets? received by filter", err).group(1))
dropped = int(re.search(r"(\d+) packets? dropped by kernel", err).group(1))
tx, tps, lat = pgbench("tcpdump")
cpu_s, kib = cpu("tcpdump")
rows.append(("tcpdump -i lo -w /dev/null", tx, tps, lat, received, str(dropped), "-", cpu_s, kib))

# tcpdp: its stop record in tcpdp.log; the decoded queries in dump.log.
logs = os.path.join(work, "logs")
stop = [json.loads(l) for l in open(os.path.join(logs, "tcpdp.log")) if '"msg":"stop"' in l][-1]
# A query sent as -T ran out may never be answered (pgbench hangs up, the server gives it up and
# does not count it): decoded all the same, without an outcome.
queries = unanswered = 0
for line in open(os.path.join(logs, "dump.log")):
    r = json.loads(line)
    text = r.get("query") or r.get("execute_query") or ""
    if text.startswith("SELECT abalance FROM pgbench_accounts") and r.get("message_type") in ("Q", "E"):
        if "command_tag" in r:
            queries += 1
        else:
            unanswered += 1
tx, tps, lat = pgbench("tcpdp")
cpu_s, kib = cpu("tcpdp")
drops = "%d kernel, %d interface, %d queue" % (stop["dropped"], stop["if_dropped"], stop["queue_dropped"])
rows.append(("tcpdp probe -d pg (logs to files)", tx, tps, lat, stop["received"], drops,
             "%d of %d%s, and %d unanswered" % (queries, tx, "" if queries == tx else " (DIFFERENT)", unanswered),
             cpu_s, kib))

cpu_model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
print("## tcpdp probe next to pgbench -S, %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
print()
print("- CPU: %s, %d cores; PostgreSQL, pgbench and the capturing tool share them" % (cpu_model, os.cpu_count()))
print("- tcpdp: %s (commit %s)" % (tcpdp, rev))
print("- load: `pgbench -n -S -M %s -c 8 -j 2 -T %d` on 127.0.0.1, scale 10, fsync off; transactions = the SELECTs the server ran (pg_stat_statements calls; pgbench leaves out those cut by -T's end)" % (mode, seconds))
print("- packets received: as the tool counts them (libpcap's received-by-filter count, which on lo sees each packet going out and coming in)")
print()
print("- queries decoded: those with the server's answer against the SELECTs it counted, and those sent as -T ran out that got none (at most one per client)")
print()
print("| attached | transactions | TPS | vs baseline | latency avg ms | packets received | dropped | queries decoded | CPU s | CPU s / 100k queries | % of a core | peak RSS MiB |")
print("|---|---:|---:|---:|---:|---:|---|---|---:|---:|---:|---:|")
print("| nothing | %d | %.0f | 1.000 | %.3f | - | - | - | - | - | - | - |" % (base_tx, base_tps, base_lat))
for name, tx, tps, lat, rec, drops, dec, cpu_s, kib in rows:
    print("| %s | %d | %.0f | %.3f | %.3f | %d | %s | %s | %.2f | %.2f | %.1f | %.1f |" % (
        name, tx, tps, tps / base_tps, lat, rec, drops, dec, cpu_s, cpu_s * 100000 / tx,
        100 * cpu_s / seconds, kib / 1024))
print("| nothing, again | %d | %.0f | %.3f | %.3f | - | - | - | - | - | - | - |" % (again_tx, again_tps, again_tps / base_tps, again_lat))
print()
name, tx, tps, lat, rec, drops, dec, cpu_s, kib = rows[1]
lost = stop["dropped"] + stop["if_dropped"] + stop["queue_dropped"]
noise = abs(again_tps - base_tps) / base_tps
print("- targets: 0 drops: %s; every query decoded: %s; TPS %.1f%% of the baseline (the baseline itself moved %.1f%% between its two runs; tcpdump: %.1f%%); CPU %.1f%% of one core (<= 50%%: %s)" % (
    "met" if lost == 0 else "NOT met (%d)" % lost,
    "met" if queries == tx and unanswered <= 8 else "NOT met",
    100 * tps / base_tps, 100 * noise, 100 * rows[0][2] / base_tps,
    100 * cpu_s / seconds, "met" if cpu_s / seconds <= 0.5 else "NOT met"))
PY
mkdir -p "$BENCH_DATA"
REPORT=$BENCH_DATA/probe-report-$(date -u +%Y%m%dT%H%M%SZ).md
cp "$WORK/report.md" "$REPORT"
cat "$REPORT"
log "report saved as $REPORT"
