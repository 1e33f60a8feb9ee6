#!/usr/bin/env bash
# bench/read.sh: the read-mode benchmark.
#
# Builds (once, cached in bench/data/) a large capture of real pgbench traffic on loopback and a
# half-size prefix of it, then times, side by side in one run and for both sizes:
#   tcpdump -r X -w /dev/null          (the libpcap floor)
#   tcpdp read X -d hex  > /dev/null
#   tcpdp read X -d conn > /dev/null
# reporting best-of-N wall time, throughput, ratio to the floor and peak RSS as a markdown table.
#
# Run as root on Debian bookworm:  bash bench/read.sh
# Knobs (environment):
#   BENCH_MB=600          size target of the full capture in MB (10^6 bytes); the half file is a
#                         prefix with half its packets
#   BENCH_RUNS=3          timed runs per tool and file (best one reported)
#   BENCH_PORT=55433      TCP port of the throw-away PostgreSQL server (must be free)
#   BENCH_RUN_SECONDS=5   length of each pgbench run while capturing
#   BENCH_MAX_MINUTES=60  give up generating after this long
#   BENCH_DATA=bench/data where the captures are cached (delete a file to regenerate it)
#   TCPDP=/path/to/tcpdp  use this binary instead of building build-bench/tcpdp in Release
#   PG_BIN=/usr/lib/postgresql/15/bin  PostgreSQL server binaries
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_MB=${BENCH_MB:-600}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_PORT=${BENCH_PORT:-55433}
BENCH_RUN_SECONDS=${BENCH_RUN_SECONDS:-5}
BENCH_MAX_MINUTES=${BENCH_MAX_MINUTES:-60}
BENCH_DATA=${BENCH_DATA:-$ROOT/bench/data}

log() { printf '[read.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

for v in BENCH_MB BENCH_RUNS BENCH_PORT BENCH_RUN_SECONDS BENCH_MAX_MINUTES; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ $(id -u) -eq 0 ]] || die "run as root (it installs packages, captures on lo and runs PostgreSQL)"

# ---------------------------------------------------------------------------------------------
# 1. Dependencies and the tcpdp binary
# ---------------------------------------------------------------------------------------------
install_deps() {
  local need=()
  command -v tcpdump >/dev/null || need+=(tcpdump)
  [[ -x /usr/bin/time ]] || need+=(time)
  command -v lscpu >/dev/null || need+=(util-linux)
  command -v runuser >/dev/null || need+=(util-linux)
  if [[ -z ${PG_BIN:-} ]] && ! compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; then
    need+=(postgresql)
  fi
  command -v pgbench >/dev/null || need+=(postgresql)
  if [[ -z ${TCPDP:-} ]]; then
    command -v cmake >/dev/null || need+=(cmake)
    command -v g++ >/dev/null || need+=(g++)
    command -v make >/dev/null || need+=(make)
    command -v pkg-config >/dev/null || need+=(pkg-config)
    [[ -e /usr/include/pcap.h ]] || need+=(libpcap-dev)
    [[ -e /usr/include/CLI/CLI.hpp ]] || need+=(libcli11-dev)
  fi
  if ((${#need[@]})); then
    log "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
  fi
}
install_deps

if [[ -z ${PG_BIN:-} ]]; then
  PG_BIN=$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")
fi
[[ -x $PG_BIN/pg_ctl && -x $PG_BIN/initdb ]] || die "no PostgreSQL server binaries in $PG_BIN"
PGBENCH=$(command -v pgbench || true)
[[ -n $PGBENCH ]] || PGBENCH=$PG_BIN/pgbench
id postgres >/dev/null 2>&1 || die "no 'postgres' user (is the postgresql package installed?)"

if [[ -z ${TCPDP:-} ]]; then
  log "building tcpdp (Release) in $ROOT/build-bench"
  cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DTCPDP_TESTS=OFF >&2
  cmake --build "$ROOT/build-bench" -j"$(nproc)" >&2
  TCPDP=$ROOT/build-bench/tcpdp
fi
[[ -x $TCPDP ]] || die "tcpdp binary '$TCPDP' is not executable"

# ---------------------------------------------------------------------------------------------
# 2. The capture: real pgbench traffic on loopback
# ---------------------------------------------------------------------------------------------
mkdir -p "$BENCH_DATA"
FULL=$BENCH_DATA/pgbench-${BENCH_MB}MB.pcap
HALF=$BENCH_DATA/pgbench-${BENCH_MB}MB-half.pcap
TARGET_BYTES=$((BENCH_MB * 1000000))

TMP=""
WORK=""
PG_STARTED=0
TCPDUMP_PID=""
PGBENCH_PID=""
cleanup() {
  local rc=$?
  set +e
  [[ -n $PGBENCH_PID ]] && kill "$PGBENCH_PID" 2>/dev/null && wait "$PGBENCH_PID" 2>/dev/null
  if [[ -n $TCPDUMP_PID ]]; then
    kill -INT "$TCPDUMP_PID" 2>/dev/null
    wait "$TCPDUMP_PID" 2>/dev/null
  fi
  if ((PG_STARTED)); then
    runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$TMP/pgdata" -m immediate -w stop >/dev/null 2>&1
  fi
  [[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
  [[ -n ${FULL:-} ]] && rm -f "$FULL.tmp" "$FULL.tmp.log" "$HALF.tmp"
  [[ -n $WORK && -d $WORK ]] && rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

file_size() { stat -c %s "$1"; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

start_postgres() {
  TMP=$(mktemp -d /tmp/tcpdp-bench.XXXXXX)
  chown postgres: "$TMP"
  chmod 700 "$TMP"
  port_in_use "$BENCH_PORT" && die "port $BENCH_PORT on 127.0.0.1 is in use: set BENCH_PORT"
  log "starting PostgreSQL ($PG_BIN) in $TMP on 127.0.0.1:$BENCH_PORT"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$TMP/pgdata" -U postgres --auth=trust -E UTF8 \
    --no-sync >"$TMP/initdb.log" 2>&1 || { cat "$TMP/initdb.log" >&2; die "initdb failed"; }
  # The disk is not what is being measured: no fsync, so the server is CPU-bound and talks fast.
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$TMP/pgdata" -l "$TMP/postgres.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $BENCH_PORT -k $TMP -c max_connections=50 \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null ||
    { cat "$TMP/postgres.log" >&2; die "PostgreSQL did not start"; }
  PG_STARTED=1
}

stop_postgres() {
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$TMP/pgdata" -m fast -w stop >/dev/null
  PG_STARTED=0
  rm -rf "$TMP"
  TMP=""
}

# One pgbench run in the background (so Ctrl-C and the trap can stop it).
pgbench_run() {
  "$PGBENCH" -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -n -c 8 -j 2 -T "$BENCH_RUN_SECONDS" \
    "$@" postgres >"$TMP/pgbench.log" 2>&1 &
  PGBENCH_PID=$!
  local rc=0
  wait "$PGBENCH_PID" || rc=$?
  PGBENCH_PID=""
  if ((rc != 0)); then
    cat "$TMP/pgbench.log" >&2
    die "pgbench $* failed (exit $rc)"
  fi
  local tps
  tps=$(grep -m1 -E "^tps" "$TMP/pgbench.log" || echo "tps = ?")
  log "  pgbench $*: $tps"
  echo "pgbench -c 8 -j 2 -T $BENCH_RUN_SECONDS $*: $tps" >>"$FULL.tmp.log"
}

generate_capture() {
  local gen_start=$SECONDS
  start_postgres
  log "pgbench -i -s 10"
  "$PGBENCH" -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -i -s 10 -q postgres >"$TMP/init.log" 2>&1 ||
    { cat "$TMP/init.log" >&2; die "pgbench -i failed"; }

  log "capturing tcp port $BENCH_PORT on lo into $FULL until it reaches $BENCH_MB MB"
  rm -f "$FULL.tmp" "$FULL.tmp.log"
  tcpdump -i lo -s 0 -B 262144 --immediate-mode -Z root -w "$FULL.tmp" "tcp port $BENCH_PORT" \
    2>"$TMP/tcpdump.log" &
  TCPDUMP_PID=$!
  local waited=0
  # tcpdump says "listening on lo" once the capture is active (the file stays empty until then).
  until grep -q "listening on" "$TMP/tcpdump.log" || ! kill -0 "$TCPDUMP_PID" 2>/dev/null; do
    sleep 0.1
    ((++waited < 100)) || die "tcpdump did not start listening within 10 s"
  done
  kill -0 "$TCPDUMP_PID" 2>/dev/null || { cat "$TMP/tcpdump.log" >&2; die "tcpdump did not start"; }
  sleep 0.5

  # A mix of query protocols, of the read-write (TPC-B like) and the select-only script, and of
  # long-lived connections and a new connection per transaction (-C). Short runs, the -C ones
  # first in the cycle: the mix repeats several times, so the half-size prefix holds the same kinds
  # of traffic as the full file (closed connections are what the tracker keeps for a while).
  local modes=(
    "-M extended -C"
    "-M simple -C -S"
    "-M simple"
    "-M extended"
    "-M prepared"
    "-M simple -S"
    "-M prepared -S"
  )
  local start=$SECONDS i=0 before now
  while :; do
    now=$(file_size "$FULL.tmp")
    ((now < TARGET_BYTES)) || break
    ((SECONDS - start < BENCH_MAX_MINUTES * 60)) ||
      die "capture still at $now bytes after $BENCH_MAX_MINUTES minutes (BENCH_MAX_MINUTES)"
    before=$now
    # shellcheck disable=SC2086  # the mode is a list of options
    pgbench_run ${modes[i % ${#modes[@]}]}
    ((++i))
    now=$(file_size "$FULL.tmp")
    log "  capture: $((now / 1000000)) MB"
    ((now > before)) || die "the capture did not grow during a pgbench run"
  done

  # Let tcpdump drain what is still in the kernel ring, then SIGINT so it flushes and closes.
  sleep 1.5
  kill -INT "$TCPDUMP_PID"
  wait "$TCPDUMP_PID" || true
  TCPDUMP_PID=""
  log "tcpdump: $(tr '\n' ';' <"$TMP/tcpdump.log")"
  local dropped
  dropped=$(sed -n 's/^\([0-9]*\) packets dropped by kernel.*/\1/p' "$TMP/tcpdump.log")
  if [[ -n $dropped && $dropped != 0 ]]; then
    log "warning: tcpdump dropped $dropped packets: some streams of the capture have gaps"
  fi
  echo "tcpdump: $(grep -E "captured|dropped" "$TMP/tcpdump.log" | paste -sd ";" | sed "s/;/, /g")" >>"$FULL.tmp.log"
  stop_postgres
  mv "$FULL.tmp.log" "$FULL.log"
  mv "$FULL.tmp" "$FULL"
  GEN_SECONDS=$((SECONDS - gen_start))
  log "capture done: $(file_size "$FULL") bytes; generation (server, pgbench -i, $i pgbench runs) took ${GEN_SECONDS}s"
}

count_packets() {
  if command -v capinfos >/dev/null; then
    capinfos -M -c -r -T "$1" | awk -F'\t' 'NF >= 2 { print $2; exit }'
  else
    tcpdump -r "$1" -nn -q -t 2>/dev/null | wc -l
  fi
}

GEN_SECONDS=""
GEN_START=$SECONDS
if [[ -s $FULL ]]; then
  log "using cached capture $FULL (delete it to regenerate)"
  rm -f "$HALF.tmp"
else
  rm -f "$HALF" "$FULL.log"
  generate_capture
fi
FULL_PACKETS=$(count_packets "$FULL")
if [[ ! -s $HALF ]]; then
  log "writing $HALF: the first $((FULL_PACKETS / 2)) of $FULL_PACKETS packets"
  tcpdump -r "$FULL" -c "$((FULL_PACKETS / 2))" -Z root -w "$HALF.tmp" 2>/dev/null
  mv "$HALF.tmp" "$HALF"
fi
HALF_PACKETS=$(count_packets "$HALF")
PREP_SECONDS=$((SECONDS - GEN_START))

# ---------------------------------------------------------------------------------------------
# 3. Measurements
# ---------------------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/tcpdp-bench-run.XXXXXX)

TOOLS=("tcpdump -r X -w /dev/null" "tcpdp read X -d hex > /dev/null" "tcpdp read X -d conn > /dev/null")

# run_tool INDEX FILE: runs the tool once; prints "WALL_SECONDS PEAK_RSS_KIB" or "FAIL RC".
run_tool() {
  local idx=$1 file=$2 rc=0 t0 t1
  local cmd
  case $idx in
    0) cmd=(tcpdump -r "$file" -w /dev/null) ;;
    1) cmd=("$TCPDP" read "$file" -d hex) ;;
    2) cmd=("$TCPDP" read "$file" -d conn) ;;
  esac
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%M' -o "$WORK/time" "${cmd[@]}" >/dev/null 2>"$WORK/stderr.$idx" || rc=$?
  t1=$EPOCHREALTIME
  if ((rc != 0)); then
    echo "FAIL $rc"
    return
  fi
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $(tail -n 1 "$WORK/time")"
}

declare -A BEST=() RSS=() FAILS=()
measure_file() {
  local key=$1 file=$2 round idx out wall rss
  log "warming the page cache with $file"
  cat "$file" >/dev/null
  tcpdump -r "$file" -w /dev/null 2>/dev/null
  for ((round = 1; round <= BENCH_RUNS; round++)); do
    # Tools interleaved per round, so a slow phase of the machine hits all of them alike.
    for idx in 0 1 2; do
      out=$(run_tool "$idx" "$file")
      read -r wall rss <<<"$out"
      if [[ $wall == FAIL ]]; then
        FAILS[$key,$idx]="${FAILS[$key,$idx]:-}exit $rss; "
        log "  $key run $round: ${TOOLS[idx]}: FAILED (exit $rss): $(head -c 300 "$WORK/stderr.$idx")"
        continue
      fi
      if ((idx > 0)) && [[ -s $WORK/stderr.$idx ]]; then
        log "  note: ${TOOLS[idx]} wrote to stderr: $(head -c 300 "$WORK/stderr.$idx" | tr '\n' ' ')"
      fi
      log "  $key run $round: ${TOOLS[idx]}: ${wall}s, ${rss} KiB"
      if [[ -z ${BEST[$key,$idx]:-} ]] || awk -v a="$wall" -v b="${BEST[$key,$idx]}" 'BEGIN { exit !(a < b) }'; then
        BEST[$key,$idx]=$wall
      fi
      if [[ -z ${RSS[$key,$idx]:-} ]] || ((rss > ${RSS[$key,$idx]})); then
        RSS[$key,$idx]=$rss
      fi
    done
  done
}

MEASURE_START=$SECONDS
measure_file half "$HALF"
measure_file full "$FULL"
MEASURE_SECONDS=$((SECONDS - MEASURE_START))

# ---------------------------------------------------------------------------------------------
# 4. Report
# ---------------------------------------------------------------------------------------------
REPORT=$WORK/report.md
{
  echo "## tcpdp read benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- CPU: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1), $(nproc) cores; RAM $(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo) GiB; kernel $(uname -r)"
  echo "- $(tcpdump --version 2>&1 | head -n 2 | paste -sd ';' | sed 's/;/, /')"
  echo "- $("$TCPDP" version) ($TCPDP$(
    if command -v git >/dev/null && git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
      printf ', commit %s' "$(git -C "$ROOT" rev-parse --short HEAD)"
      [[ -z $(git -C "$ROOT" status --porcelain -- src CMakeLists.txt 2>/dev/null) ]] ||
        printf ' + uncommitted changes in src/ or CMakeLists.txt'
    fi))"
  echo "- capture: $(basename "$FULL") (pgbench on 127.0.0.1:$BENCH_PORT, tcpdump -i lo -s 0);" \
    "half = its first $HALF_PACKETS packets"
  if [[ -s $FULL.log ]]; then
    echo "- generated with $(grep -c "^pgbench" "$FULL.log") pgbench runs ($(grep "^pgbench" "$FULL.log" | sed -E "s/^pgbench -c 8 -j 2 -T [0-9]+ ([^:]*):.*/\1/" | sort -u | paste -sd ";" | sed "s/;/; /g")); $(grep "^tcpdump:" "$FULL.log" | tail -n 1)"
  fi
  echo "- best of $BENCH_RUNS runs, file in page cache; peak RSS = highest of the runs (/usr/bin/time %M)"
  echo
  echo "| tool | file size MB | packets | best wall s | MB/s | × floor | peak RSS MiB |"
  echo "|---|---:|---:|---:|---:|---:|---:|"
  for key in half full; do
    if [[ $key == half ]]; then file=$HALF packets=$HALF_PACKETS; else file=$FULL packets=$FULL_PACKETS; fi
    size=$(file_size "$file")
    for idx in 0 1 2; do
      wall=${BEST[$key,$idx]:-}
      if [[ -z $wall ]]; then
        echo "| \`${TOOLS[idx]}\` | $(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }') | $packets | FAILED (${FAILS[$key,$idx]%; }) | | | |"
        continue
      fi
      floor=${BEST[$key,0]:-}
      awk -v tool="${TOOLS[idx]}" -v s="$size" -v p="$packets" -v w="$wall" -v f="$floor" \
        -v r="${RSS[$key,$idx]}" -v failed="${FAILS[$key,$idx]:-}" 'BEGIN {
          ratio = (f == "" || f == 0) ? "n/a" : sprintf("%.2f", w / f)
          note = failed == "" ? "" : " (some runs failed)"
          printf "| `%s` | %.1f | %d | %.3f%s | %.1f | %s | %.1f |\n",
                 tool, s / 1e6, p, w, note, s / 1e6 / w, ratio, r / 1024
        }'
    done
  done
  echo
  # The two targets: -d conn within 2x of the floor; RSS flat from the half to the full file.
  for key in half full; do
    if [[ -n ${BEST[$key,2]:-} && -n ${BEST[$key,0]:-} ]]; then
      awk -v k="$key" -v c="${BEST[$key,2]}" -v f="${BEST[$key,0]}" 'BEGIN {
        printf "- %s file: -d conn takes %.2f× the tcpdump floor: %s\n", k, c / f,
               (c <= 2 * f) ? "within the 2× target" : "NOT within the 2× target" }'
    fi
  done
  for idx in 0 1 2; do
    if [[ -n ${RSS[half,$idx]:-} && -n ${RSS[full,$idx]:-} ]]; then
      awk -v t="${TOOLS[idx]}" -v h="${RSS[half,$idx]}" -v f="${RSS[full,$idx]}" 'BEGIN {
        printf "- peak RSS of `%s`: %.1f MiB (half) → %.1f MiB (full), ×%.2f\n", t, h / 1024, f / 1024, f / h }'
    fi
  done
  echo
  if [[ -n $GEN_SECONDS ]]; then
    echo "Generating the capture took ${GEN_SECONDS} s; generation, the half-size prefix and the packet counts together ${PREP_SECONDS} s; measuring ${MEASURE_SECONDS} s."
  else
    echo "Capture taken from the cache; the half-size prefix and the packet counts took ${PREP_SECONDS} s; measuring ${MEASURE_SECONDS} s."
  fi
} >"$REPORT"
cp "$REPORT" "$BENCH_DATA/read-report-$(date -u +%Y%m%dT%H%M%SZ).md"
cat "$REPORT"
if ((${#FAILS[@]})); then
  log "some tcpdp or tcpdump runs failed (see the table and the log above)"
  exit 1
fi
