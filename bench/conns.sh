#!/usr/bin/env bash
# bench/conns.sh: many connections open at once through `tcpdp read`.
#
# Writes (once, cached in bench/data/) a synthetic capture in which BENCH_CONNS TCP connections
# are all open at the same time: first every connection does its handshake and sends one request,
# then every connection gets its answer and closes with FIN/FIN (bench/conns_pcap.py writes it;
# pg.sh reads the same file). Then it times, side by side in one run (best of BENCH_RUNS, file in
# page cache), with peak RSS:
#   tcpdump -r X -w /dev/null            (the libpcap floor)
#   tcpdp read X -d conn                 (state changes and summaries only)
#   tcpdp read X -d hex                  (payload, no lifecycle)
#   tcpdp read X -d hex --conn           (both)
# and checks every tcpdp run's output: -d conn must write 10 state changes and one summary per
# connection, -d hex 2 records per connection. Target: peak RSS below 512 MiB for 100000.
#
# Run on Debian bookworm (root only to install what is missing):  bash bench/conns.sh
# Knobs (environment):
#   BENCH_CONNS=100000   connections (at most 3840000: 64 client addresses x 60000 ports)
#   BENCH_RUNS=3         timed runs per command (the best is reported)
#   BENCH_DATA=bench/data  where the capture and the reports are kept
#   TCPDP=/path/to/tcpdp use this binary instead of building build-bench/tcpdp in Release
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_CONNS=${BENCH_CONNS:-100000}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_DATA=${BENCH_DATA:-$ROOT/bench/data}
log() { printf '[conns.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

[[ $BENCH_CONNS =~ ^[1-9][0-9]*$ ]] && ((BENCH_CONNS <= 3840000)) ||
  die "BENCH_CONNS must be a whole number from 1 to 3840000"
[[ $BENCH_RUNS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS must be a whole number from 1"

need=()
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v python3 >/dev/null || need+=(python3)
[[ -x /usr/bin/time ]] || need+=(time)
if [[ -z ${TCPDP:-} ]]; then
  command -v cmake >/dev/null || need+=(cmake)
  command -v g++ >/dev/null || need+=(g++ make)
  command -v pkg-config >/dev/null || need+=(pkg-config)
  [[ -e /usr/include/pcap/pcap.h ]] || need+=(libpcap-dev)
  [[ -d /usr/include/CLI ]] || need+=(libcli11-dev)
  [[ -e /usr/include/toml.hpp ]] || need+=(libtoml11-dev)
  [[ -e /usr/include/zlib.h ]] || need+=(zlib1g-dev)
  [[ -e /usr/include/postgresql/libpq-fe.h ]] || need+=(libpq-dev)
fi
if ((${#need[@]})); then
  log "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
    die "could not install ${need[*]}"
fi

if [[ -z ${TCPDP:-} ]]; then
  log "building tcpdp (Release) in build-bench/"
  cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DTCPDP_TESTS=OFF >/dev/null
  cmake --build "$ROOT/build-bench" -j"$(nproc)" >/dev/null
  TCPDP=$ROOT/build-bench/tcpdp
fi
[[ -x $TCPDP ]] || die "no tcpdp binary at $TCPDP"
REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$ROOT" diff --quiet 2>/dev/null || REV="$REV + uncommitted changes"

mkdir -p "$BENCH_DATA"
FILE=$BENCH_DATA/conns-$BENCH_CONNS.pcap
python3 "$ROOT/bench/conns_pcap.py" "$FILE" "$BENCH_CONNS"  # made once, then kept
SIZE_MB=$(python3 -c "import os,sys; print('%.1f' % (os.path.getsize(sys.argv[1]) / 1e6))" "$FILE")
PACKETS=$((BENCH_CONNS * 8))
cat "$FILE" >/dev/null  # into the page cache

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
NAMES=("tcpdump -r X -w /dev/null" "tcpdp read X -d conn" "tcpdp read X -d hex"
  "tcpdp read X -d hex --conn")
cmd() {
  case $1 in
    0) echo tcpdump -r "$FILE" -w /dev/null ;;
    1) echo "$TCPDP" read "$FILE" -d conn ;;
    2) echo "$TCPDP" read "$FILE" -d hex ;;
    3) echo "$TCPDP" read "$FILE" -d hex --conn ;;
  esac
}
# What each tcpdp command must write: state changes (10 a connection: 4 in the handshake, 6 in
# the close) and summaries for the lifecycle, 2 hex records (request, answer) for payload.
expected_lines() {
  case $1 in
    1) echo $((BENCH_CONNS * 11)) ;;
    2) echo $((BENCH_CONNS * 2)) ;;
    3) echo $((BENCH_CONNS * 13)) ;;
  esac
}

declare -A BEST RSS
for idx in 0 1 2 3; do
  BEST[$idx]=""
  RSS[$idx]=0
done
for run in $(seq "$BENCH_RUNS"); do
  for idx in 0 1 2 3; do
    read -r -a CMD <<<"$(cmd "$idx")"
    start=$(date +%s.%N)
    if ((idx == 0)); then
      /usr/bin/time -f '%M' -o "$WORK/time" "${CMD[@]}" >/dev/null 2>"$WORK/stderr" ||
        die "${NAMES[$idx]} failed: $(cat "$WORK/stderr")"
    else
      /usr/bin/time -f '%M' -o "$WORK/time" "${CMD[@]}" >"$WORK/out" 2>"$WORK/stderr" ||
        die "${NAMES[$idx]} failed: $(cat "$WORK/stderr")"
    fi
    end=$(date +%s.%N)
    wall=$(python3 -c "import sys; print('%.3f' % (float(sys.argv[2]) - float(sys.argv[1])))" "$start" "$end")
    kib=$(tail -n 1 "$WORK/time")
    if ((idx > 0)); then
      lines=$(wc -l <"$WORK/out")
      [[ $lines == "$(expected_lines "$idx")" ]] ||
        die "${NAMES[$idx]} wrote $lines lines, want $(expected_lines "$idx")"
    fi
    log "run $run: ${NAMES[$idx]}: ${wall}s, $kib KiB"
    if [[ -z ${BEST[$idx]} ]] || python3 -c "import sys; sys.exit(not float(sys.argv[1]) < float(sys.argv[2]))" "$wall" "${BEST[$idx]}"; then
      BEST[$idx]=$wall
    fi
    ((kib > RSS[$idx])) && RSS[$idx]=$kib
  done
done

report() {
  echo "## tcpdp read with $BENCH_CONNS connections open at once, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
  echo "- tcpdp: $TCPDP (commit $REV)"
  echo "- capture: $(basename "$FILE"), $SIZE_MB MB, $PACKETS packets; every connection opens and sends a request before any is answered and closed"
  echo "- best of $BENCH_RUNS runs, file in page cache; peak RSS = highest of the runs (/usr/bin/time %M); output to a file, its lines checked"
  echo
  echo "| command | best wall s | × floor | peak RSS MiB | RSS per connection KiB |"
  echo "|---|---:|---:|---:|---:|"
  for idx in 0 1 2 3; do
    python3 - "${NAMES[$idx]}" "${BEST[$idx]}" "${BEST[0]}" "${RSS[$idx]}" "$BENCH_CONNS" "$idx" <<'PY'
import sys
name, wall, floor, kib, n, idx = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
per = "" if idx == "0" else "%.2f" % (kib / n)
print("| `%s` | %.3f | %.2f | %.1f | %s |" % (name, wall, wall / floor, kib / 1024, per))
PY
  done
  echo
  local worst=0 idx
  for idx in 1 2 3; do ((RSS[$idx] > worst)) && worst=${RSS[$idx]}; done
  if ((worst < 512 * 1024)); then
    echo "- memory: the highest tcpdp peak is $((worst / 1024)) MiB for $BENCH_CONNS open connections; target < 512 MiB: met"
  else
    echo "- memory: the highest tcpdp peak is $((worst / 1024)) MiB for $BENCH_CONNS open connections; target < 512 MiB: NOT met"
  fi
}
REPORT=$BENCH_DATA/conns-report-$(date -u +%Y%m%dT%H%M%SZ).md
report | tee "$REPORT"
log "report saved as $REPORT"
