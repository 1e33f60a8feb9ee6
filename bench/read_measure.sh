# bench/read.sh, sourced: the timed runs (each tool on each file, best of BENCH_RUNS, peak RSS)
# and the dumpers' measurements. They use read.sh's settings, TOOLS and state.
# shellcheck shell=bash

# tool_cmd INDEX FILE: sets CMD to the command of tool INDEX on FILE.
tool_cmd() {
  case $1 in
    0) CMD=(tcpdump -r "$2" -w /dev/null) ;;
    1) CMD=("$TCPDP" read "$2" -d hex) ;;
    2) CMD=("$TCPDP" read "$2" -d conn) ;;
    3) CMD=("$TCPDP" read "$2" -d pg -t "$BENCH_PORT") ;;
    4) CMD=("$TCPDP" read "$2" -d mysql -t "$BENCH_MYSQL_PORT") ;;
    5) CMD=("$TCPDP" read "$2" -d pg -t "$BENCH_PORT" --digest) ;;
    6) CMD=("$TCPDP" read "$2" -d mysql -t "$BENCH_MYSQL_PORT" --digest) ;;
  esac
}

# run_tool INDEX FILE: runs the tool once; prints "WALL_SECONDS PEAK_RSS_KIB" or "FAIL RC".
run_tool() {
  local idx=$1 file=$2 rc=0 t0 t1 CMD
  tool_cmd "$idx" "$file"
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%M' -o "$WORK/time" "${CMD[@]}" >/dev/null 2>"$WORK/stderr.$idx" || rc=$?
  t1=$EPOCHREALTIME
  if ((rc != 0)); then
    echo "FAIL $rc"
    return
  fi
  echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $(tail -n 1 "$WORK/time")"
}

declare -A BEST=() RSS=() FAILS=()
# measure_file KEY FILE INDEX...: BENCH_RUNS rounds of the tools INDEX... on FILE.
measure_file() {
  local key=$1 file=$2 round idx out wall rss
  shift 2
  local idxs=("$@")
  log "warming the page cache with $file"
  cat "$file" >/dev/null
  tcpdump -r "$file" -w /dev/null 2>/dev/null
  for ((round = 1; round <= BENCH_RUNS; round++)); do
    # Tools interleaved per round, so a slow phase of the machine hits all of them alike.
    for idx in "${idxs[@]}"; do
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

LOAD_MEASURE=$(loadavg)
MEASURE_START=$SECONDS
measure_file half "$HALF" 0 1 2
measure_file full "$FULL" 0 1 2
MEASURE_SECONDS=$((SECONDS - MEASURE_START))

declare -A RECORDS=() TSHARK_WALL=() TSHARK_RSS=() TSHARK_LINES=() TSHARK_FAIL=()
declare -A DIGEST_LINES=() DIGEST_HEAD=() DIGEST_BAD=()
# measure_dumper KEY INDEX FILE PROTO FIELD: a dumper's part. The floor, tcpdp (tool INDEX) and
# tcpdp with --digest (tool DIGEST_OF[INDEX]), taking turns, best of BENCH_RUNS; then one untimed
# run of tcpdp into wc -l to count its records; then one untimed run of tcpdp --digest into a file
# to check its report (non-empty, starting with "# tcpdp query digest: "); then tshark once (it is
# slow) with -d tcp.port==PORT,PROTO -Y PROTO -T fields -e FIELD, its output counted by wc -l.
measure_dumper() {
  local key=$1 idx=$2 file=$3 proto=$4 field=$5 rc rss t0 t1 CMD port didx
  didx=${DIGEST_OF[$idx]}
  port=$([[ $key == pg ]] && echo "$BENCH_PORT" || echo "$BENCH_MYSQL_PORT")
  measure_file "$key" "$file" 0 "$idx" "$didx"

  log "counting the records of ${TOOLS[idx]% > /dev/null} (one more run, into wc -l, not timed)"
  tool_cmd "$idx" "$file"
  {
    rc=0
    /usr/bin/time -f '%M' -o "$WORK/time.count" "${CMD[@]}" 2>"$WORK/stderr.count" || rc=$?
    echo "$rc" >"$WORK/rc.count"
  } | wc -l >"$WORK/count"
  if [[ $(cat "$WORK/rc.count") != 0 ]]; then
    FAILS[$key,$idx]="${FAILS[$key,$idx]:-}exit $(cat "$WORK/rc.count") (counting run); "
    log "  counting run: FAILED (exit $(cat "$WORK/rc.count")): $(head -c 300 "$WORK/stderr.count")"
  else
    RECORDS[$key]=$(tr -d ' ' <"$WORK/count")
    rss=$(tail -n 1 "$WORK/time.count")
    log "  counting run: ${RECORDS[$key]} records, ${rss} KiB"
    if [[ -z ${RSS[$key,$idx]:-} ]] || ((rss > ${RSS[$key,$idx]})); then RSS[$key,$idx]=$rss; fi
  fi

  # The digest's report: the timed runs wrote it to /dev/null; this run keeps it to check it.
  log "checking the report of ${TOOLS[didx]% > /dev/null} (one more run, into a file, not timed)"
  tool_cmd "$didx" "$file"
  rc=0
  /usr/bin/time -f '%M' -o "$WORK/time.digest" "${CMD[@]}" >"$WORK/digest.$key" \
    2>"$WORK/stderr.digest" || rc=$?
  cp "$WORK/digest.$key" "$BENCH_DATA/read-digest-$key.txt"
  if ((rc != 0)); then
    FAILS[$key,$didx]="${FAILS[$key,$didx]:-}exit $rc (check run); "
    DIGEST_BAD[$key]="the check run failed with exit status $rc"
  elif [[ ! -s $WORK/digest.$key ]]; then
    DIGEST_BAD[$key]="the report is empty"
  elif [[ $(head -c 22 "$WORK/digest.$key") != "# tcpdp query digest: " ]]; then
    DIGEST_BAD[$key]="the report does not start with \"# tcpdp query digest: \" but with \"$(head -n 1 "$WORK/digest.$key" | head -c 100)\""
  fi
  if [[ -n ${DIGEST_BAD[$key]:-} ]]; then
    log "  ERROR: ${TOOLS[didx]% > /dev/null}: ${DIGEST_BAD[$key]}; stderr: $(head -c 300 "$WORK/stderr.digest" | tr '\n' ' ')"
    log "  ERROR: the digest's output is kept in $BENCH_DATA/read-digest-$key.txt; the script will exit with status 1"
  else
    [[ ! -s $WORK/stderr.digest ]] ||
      log "  note: ${TOOLS[didx]} wrote to stderr: $(head -c 300 "$WORK/stderr.digest" | tr '\n' ' ')"
    DIGEST_LINES[$key]=$(wc -l <"$WORK/digest.$key")
    DIGEST_HEAD[$key]=$(head -n 1 "$WORK/digest.$key")
    rss=$(tail -n 1 "$WORK/time.digest")
    log "  check run: ${DIGEST_LINES[$key]} lines, ${rss} KiB: ${DIGEST_HEAD[$key]}"
    if [[ -z ${RSS[$key,$didx]:-} ]] || ((rss > ${RSS[$key,$didx]})); then RSS[$key,$didx]=$rss; fi
  fi

  log "running ${TSHARK_LABEL[$key]} on $file once (this takes a while; limit $BENCH_TSHARK_MAX_MINUTES min)"
  t0=$EPOCHREALTIME
  {
    rc=0
    /usr/bin/time -f '%M' -o "$WORK/time.tshark" timeout "${BENCH_TSHARK_MAX_MINUTES}m" \
      tshark -r "$file" -d "tcp.port==$port,$proto" -Y "$proto" -T fields -e "$field" \
      2>"$WORK/stderr.tshark" || rc=$?
    echo "$rc" >"$WORK/rc.tshark"
  } | wc -l >"$WORK/count.tshark"
  t1=$EPOCHREALTIME
  rc=$(cat "$WORK/rc.tshark")
  # tshark warns on stderr when run as root; anything else there is worth seeing.
  grep -v 'Running as user "root"' "$WORK/stderr.tshark" | head -c 300 | sed 's/^/[tshark] /' >&2 || true
  if [[ $rc != 0 ]]; then
    TSHARK_FAIL[$key]="exit $rc"
    [[ $rc != 124 ]] || TSHARK_FAIL[$key]+=": killed after $BENCH_TSHARK_MAX_MINUTES min"
    log "  tshark: FAILED (${TSHARK_FAIL[$key]})"
  else
    TSHARK_WALL[$key]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    TSHARK_RSS[$key]=$(tail -n 1 "$WORK/time.tshark")
    TSHARK_LINES[$key]=$(tr -d ' ' <"$WORK/count.tshark")
    log "  tshark: ${TSHARK_WALL[$key]}s, ${TSHARK_RSS[$key]} KiB, ${TSHARK_LINES[$key]} lines"
  fi
}
