#!/usr/bin/env bash
# bench/fuzz.sh: long fuzz runs of every libFuzzer target, and a linear time check of the decoders.
#
# 1. Fuzzing: builds the libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer,
#    in build-fuzz/), seeds each as tests/run.sh does (the test captures' packets and connections,
#    MySQL 8's captures when ../shared has them, dump log lines, the shipped configuration), and
#    runs each for FUZZ_RUNS executions (or FUZZ_SECONDS, when set, whichever comes first),
#    FUZZ_JOBS targets at a time, with the linear time check of
#    tests/fuzz/linear_guard.h on: an input of n bytes may take at most FUZZ_NS_PER_BYTE * n ns +
#    FUZZ_BASE_MS ms of CPU, and an input over FUZZ_HANG_SECONDS s is a hang. A crash, a sanitizer
#    report, a hang or an input over the bound stops that target; libFuzzer keeps the input in
#    build-fuzz/findings/TARGET/. Prints each target's executions, rate and findings.
#    With FUZZ_CORPUS=DIR the corpus of each target is kept in DIR/TARGET (seeded when empty), so a
#    later run goes on from what an earlier one found; otherwise it is a temporary directory.
#    Inputs are at most FUZZ_MAX_LEN bytes: the targets bound messages and held bytes at 4 KiB, so
#    4 KiB inputs reach every bound, and longer ones only run slower.
# 2. Linear time: captures from bench/hostile_pcap.py (one connection whose bytes keep a decoder
#    searching for a message boundary, in 100-byte segments) of LINEAR_SIZES bytes, read by a
#    Release tcpdp with the decoder and with -d hex (whose work is plainly linear), CPU time best
#    of LINEAR_RUNS: the decoder's nanoseconds per byte must not grow with the size (largest over
#    smallest at most LINEAR_GROWTH) and must stay within LINEAR_HEX_RATIO times hex's.
#
# Run as root on Debian bookworm:  bash bench/fuzz.sh [TARGET... | linear]
#   (no argument: every target, then the linear check; TARGET: decode pg mysql digest config proxy)
# Knobs (environment):
#   FUZZ_RUNS=10000000  FUZZ_SECONDS=0 (no limit)  FUZZ_JOBS=nproc  FUZZ_MAX_LEN=4096
#   FUZZ_NS_PER_BYTE=20000  FUZZ_BASE_MS=1000  FUZZ_CORPUS= (temporary)
#   FUZZ_HANG_SECONDS=10  wall time, so raise it when the machine does other work at the same time
#                  (a starved fuzzer reports a hang that is none; the CPU bound above still holds)
#   FUZZ_FLAGS=""  more libFuzzer flags, e.g. -entropic=0 (the default schedule spends most of
#                  fuzz_config's time ranking the parser's ~20,000 features)
#   LINEAR_SIZES="1048576 4194304 16777216"  LINEAR_RUNS=3  LINEAR_GROWTH=1.5  LINEAR_HEX_RATIO=20
#   TCPDP=/path/to/tcpdp     use this Release binary instead of building build-bench/tcpdp
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAME=fuzz.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

FUZZ_RUNS=${FUZZ_RUNS:-10000000}
FUZZ_SECONDS=${FUZZ_SECONDS:-0}
FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}
FUZZ_NS_PER_BYTE=${FUZZ_NS_PER_BYTE:-20000}
FUZZ_BASE_MS=${FUZZ_BASE_MS:-1000}
FUZZ_MAX_LEN=${FUZZ_MAX_LEN:-4096}
FUZZ_HANG_SECONDS=${FUZZ_HANG_SECONDS:-10}
FUZZ_CORPUS=${FUZZ_CORPUS:-}
FUZZ_FLAGS=${FUZZ_FLAGS:-}
LINEAR_SIZES=${LINEAR_SIZES:-1048576 4194304 16777216}
LINEAR_RUNS=${LINEAR_RUNS:-3}
LINEAR_GROWTH=${LINEAR_GROWTH:-1.5}
LINEAR_HEX_RATIO=${LINEAR_HEX_RATIO:-20}
ALL_TARGETS=(decode pg mysql digest config proxy)
positive_integers FUZZ_RUNS FUZZ_JOBS FUZZ_NS_PER_BYTE FUZZ_BASE_MS FUZZ_MAX_LEN FUZZ_HANG_SECONDS \
  LINEAR_RUNS
[[ $FUZZ_SECONDS =~ ^[0-9]+$ ]] || die "FUZZ_SECONDS must be 0 or a positive integer (got '$FUZZ_SECONDS')"
for size in $LINEAR_SIZES; do
  [[ $size =~ ^[1-9][0-9]*$ ]] || die "LINEAR_SIZES must be positive integers (got '$size')"
done

targets=() linear=0
if (($# == 0)); then
  targets=("${ALL_TARGETS[@]}") linear=1
fi
for arg in "$@"; do
  case " ${ALL_TARGETS[*]} linear " in
    *" $arg "*) [[ $arg == linear ]] && linear=1 || targets+=("$arg") ;;
    *) die "unknown target '$arg' (one of: ${ALL_TARGETS[*]} linear)" ;;
  esac
done

need_packages clang:clang
compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a' >/dev/null ||
  apt-get install -y -qq --no-install-recommends libclang-rt-14-dev >/dev/null ||
  die "could not install libclang-rt-14-dev (libFuzzer)"
build_tcpdp
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# seed TARGET DIR: the starting corpus of one target.
seed() {
  local target=$1 dir=$2 mysql8=$ROOT/../shared/captures/mysql8
  mkdir -p "$dir"
  case $target in
    decode) python3 "$ROOT/tests/fuzz/seeds.py" "$dir" "$ROOT"/testdata/pcaps/*.pcap ;;
    pg) python3 "$ROOT/tests/fuzz/seeds.py" --streams 25432 "$dir" "$ROOT"/testdata/pcaps/pg_*.pcap ;;
    mysql)
      python3 "$ROOT/tests/fuzz/seeds.py" --streams 23306 "$dir" "$ROOT"/testdata/pcaps/mysql_*.pcap
      if [[ -d $mysql8 ]]; then
        python3 "$ROOT/tests/fuzz/seeds.py" --streams 3306 "$dir" "$mysql8"/*.pcap
      fi
      ;;
    digest)
      "$TCPDP" read "$ROOT/testdata/pcaps/pg_pgbench.pcap" -d pg >"$dir.json"
      "$TCPDP" read "$ROOT/testdata/pcaps/mysql_slap.pcap" -d mysql -f ltsv >"$dir.ltsv"
      head -n 30 "$dir.json" | split -l 1 - "$dir/json-"
      head -n 30 "$dir.ltsv" | split -l 1 - "$dir/ltsv-"
      ;;
    config) cp "$ROOT/config/tcpdp.toml" "$dir/" ;;
    proxy) python3 "$ROOT/tests/fuzz/seeds.py" --proxy "$dir" ;;
  esac
}

# fuzz TARGET: one long run; its summary line goes to $work/TARGET.result.
fuzz() {
  local target=$1 findings=$ROOT/build-fuzz/findings/$1 log=$work/$1.log status=ok
  local corpus=$work/corpus-$target
  [[ -z $FUZZ_CORPUS ]] || corpus=$FUZZ_CORPUS/$target
  mkdir -p "$findings"
  [[ -n $(ls -A "$corpus" 2>/dev/null) ]] || seed "$target" "$corpus"
  local started=$SECONDS
  touch "$work/$target.start"
  # shellcheck disable=SC2086 # FUZZ_FLAGS is a list of flags
  TCPDP_FUZZ_LINEAR="$FUZZ_NS_PER_BYTE,$FUZZ_BASE_MS" "$ROOT/build-fuzz/fuzz_$target" \
    -runs="$FUZZ_RUNS" -max_total_time="$FUZZ_SECONDS" -timeout="$FUZZ_HANG_SECONDS" -max_len="$FUZZ_MAX_LEN" -print_final_stats=1 \
    -artifact_prefix="$findings/" $FUZZ_FLAGS "$corpus" >"$log" 2>&1 || status=failed
  local runs rate found
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  # only what this run wrote: libFuzzer's crash-, leak-, timeout-, oom- and slow-unit- files
  found=$(find "$findings" -type f -name '*-*' ! -name run.log -newer "$work/$target.start" | wc -l)
  if [[ $status == failed ]]; then
    cp "$log" "$findings/run.log"
    log "fuzz_$target failed: see $findings/"
  fi
  printf '| fuzz_%s | %s | %s | %s | %d | %s |\n' "$target" "${runs:-?}" "${rate:-?}" \
    "$((SECONDS - started))" "$found" "$status" >"$work/$target.result"
}

failed=0
if ((${#targets[@]})); then
  log "building the fuzz targets in build-fuzz/"
  CC=clang CXX=clang++ cmake -S "$ROOT" -B "$ROOT/build-fuzz" -DTCPDP_FUZZ=ON -DTCPDP_TESTS=OFF >/dev/null
  cmake --build "$ROOT/build-fuzz" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >/dev/null
  log "fuzzing ${targets[*]}: $FUZZ_RUNS executions each, $FUZZ_JOBS at a time"
  running=0
  for target in "${targets[@]}"; do
    fuzz "$target" &
    if ((++running >= FUZZ_JOBS)); then
      wait -n || true
      ((running--))
    fi
  done
  wait
  echo "## Fuzzing, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $REV"
  echo
  limit="$FUZZ_RUNS executions"
  ((FUZZ_SECONDS == 0)) || limit+=" or $FUZZ_SECONDS s"
  echo "Linear time bound: $FUZZ_NS_PER_BYTE ns a byte + $FUZZ_BASE_MS ms of CPU an input (sanitizers on); hang: $FUZZ_HANG_SECONDS s of wall time; inputs up to $FUZZ_MAX_LEN bytes; at most $limit a target${FUZZ_FLAGS:+; flags: $FUZZ_FLAGS}${FUZZ_CORPUS:+; corpus kept in $FUZZ_CORPUS}."
  echo
  echo "| target | executions | exec/s | seconds | findings | result |"
  echo "|---|---|---|---|---|---|"
  for target in "${targets[@]}"; do
    if [[ -f $work/$target.result ]]; then
      cat "$work/$target.result"
      grep -q '| ok |$' "$work/$target.result" || failed=1
    else
      echo "| fuzz_$target | | | | | did not run (seeding failed) |"
      failed=1
    fi
  done
  echo
fi

# cpu_seconds ARGS...: the least user+system CPU of LINEAR_RUNS runs of tcpdp read ARGS.
cpu_seconds() {
  local best="" t
  for ((i = 0; i < LINEAR_RUNS; i++)); do
    /usr/bin/time -o "$work/time" -f '%U %S' "$TCPDP" read "$@" >/dev/null 2>&1 ||
      die "tcpdp read $* failed"
    t=$(awk '{print $1 + $2}' "$work/time")
    if [[ -z $best ]] || awk -v a="$t" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$t; fi
  done
  echo "$best"
}

if ((linear)); then
  log "linear time check: sizes $LINEAR_SIZES"
  echo "## Linear time of the decoders' boundary search, $(date -u '+%Y-%m-%d %H:%M UTC'), commit $REV"
  echo
  echo "| capture | decoder | bytes | CPU s | ns/byte | -d hex ns/byte | decoder / hex |"
  echo "|---|---|---|---|---|---|---|"
  for kind in pg mysql pgrows; do
    dumper=$kind
    [[ $kind == pgrows ]] && dumper=pg
    first=""
    for size in $LINEAR_SIZES; do
      pcap=$work/$kind-$size.pcap
      python3 "$ROOT/bench/hostile_pcap.py" "$pcap" "$kind" "$size"
      cpu=$(cpu_seconds "$pcap" -d "$dumper")
      hex=$(cpu_seconds "$pcap" -d hex)
      read -r ns hex_ns ratio < <(awk -v c="$cpu" -v h="$hex" -v n="$size" \
        'BEGIN { h = h > 0.001 ? h : 0.001; printf "%.1f %.1f %.2f\n", c * 1e9 / n, h * 1e9 / n, c / h }')
      echo "| $kind | $dumper | $size | $cpu | $ns | $hex_ns | $ratio |"
      [[ -n $first ]] || first=$ns
      if awk -v r="$ratio" -v m="$LINEAR_HEX_RATIO" 'BEGIN { exit !(r > m) }'; then
        log "$kind at $size bytes: $ratio times -d hex, over $LINEAR_HEX_RATIO"
        failed=1
      fi
    done
    if awk -v a="$ns" -v b="$first" -v g="$LINEAR_GROWTH" 'BEGIN { exit !(a > b * g) }'; then
      log "$kind: $ns ns a byte at the largest size against $first at the smallest: not linear"
      failed=1
    fi
  done
  echo
fi
((failed == 0)) || die "a fuzz target found something or a decoder is not linear (see above)"
log "done"
