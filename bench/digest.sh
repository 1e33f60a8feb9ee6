#!/usr/bin/env bash
# bench/digest.sh: the query digest against pt-query-digest, and its memory bound.
#
# 1. On the mariadb-slap capture bench/read.sh makes and caches (or a prefix of it, BENCH_PT_MB)
#    (bench/data/mysqlslap-200MB.pcap; run read.sh first, or name another capture of MySQL traffic
#    to port BENCH_MYSQL_PORT in BENCH_MYSQL_PCAP), side by side:
#      tcpdp read P -d mysql -t PORT --digest --digest-format json          (best of BENCH_RUNS)
#      tcpdump -r P -x -n -q -tttt port PORT > P.txt                         (once: pt's input)
#      pt-query-digest --type tcpdump --watch-server 127.0.0.1:PORT P.txt   (once: it is slow)
#    with wall time and peak RSS, and the two reports compared: the executions answered in each
#    class (pt-query-digest counts those; its fingerprints are written differently, so the sorted
#    lists of counts), pt's "administrator command" classes (commands without SQL) left out.
# 2. tcpdp digest on synthetic JSON dump logs of BENCH_EXECUTIONS executions over 1000 and over
#    BENCH_DISTINCT distinct statements, with the default --digest-max-classes (10000) and with
#    one above BENCH_DISTINCT: peak RSS and time, to show that the bound holds memory flat.
#
# Run as root on Debian bookworm:  bash bench/digest.sh
# Knobs (environment):
#   BENCH_MYSQL_PCAP=bench/data/mysqlslap-200MB.pcap   BENCH_MYSQL_PORT=53307
#   BENCH_PT_MB=0            read only a prefix of the capture of this many MB (10^6 bytes); 0: all
#   BENCH_RUNS=3             timed runs of tcpdp (best one reported)
#   BENCH_EXECUTIONS=2000000 BENCH_DISTINCT=500000   the synthetic logs
#   TCPDP=/path/to/tcpdp     use this binary instead of building build-bench/tcpdp in Release
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAME=digest.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

BENCH_DATA=${BENCH_DATA:-$ROOT/bench/data}
BENCH_MYSQL_PCAP=${BENCH_MYSQL_PCAP:-$BENCH_DATA/mysqlslap-200MB.pcap}
BENCH_MYSQL_PORT=${BENCH_MYSQL_PORT:-53307}
BENCH_PT_MB=${BENCH_PT_MB:-0}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_EXECUTIONS=${BENCH_EXECUTIONS:-2000000}
BENCH_DISTINCT=${BENCH_DISTINCT:-500000}
[[ $BENCH_PT_MB =~ ^(0|[1-9][0-9]*)$ ]] || die "BENCH_PT_MB must be 0 or a positive integer (got '$BENCH_PT_MB')"
positive_integers BENCH_MYSQL_PORT BENCH_RUNS BENCH_EXECUTIONS BENCH_DISTINCT
[[ $(id -u) -eq 0 ]] || die "run as root (it installs packages)"
[[ -s $BENCH_MYSQL_PCAP ]] ||
  die "no capture at $BENCH_MYSQL_PCAP: run bench/read.sh first (it makes and caches it) or set BENCH_MYSQL_PCAP"

need_packages tcpdump:tcpdump pt-query-digest:percona-toolkit
build_tcpdp

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
REPORT=$BENCH_DATA/digest-report-$(date -u +%Y%m%dT%H%M%SZ).md

# measure OUT CMD...: runs CMD with stdout to OUT; sets SECONDS_TAKEN and RSS_KIB.
measure() {
  local out=$1
  shift
  /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >"$out"
  read -r SECONDS_TAKEN RSS_KIB <"$WORK/time"
}

# best_of N OUT CMD...: the best wall time of N runs and the highest peak RSS.
best_of() {
  local n=$1 out=$2 best="" rss=0 i
  shift 2
  for ((i = 0; i < n; i++)); do
    measure "$out" "$@"
    if [[ -z $best ]] || awk -v a="$SECONDS_TAKEN" -v b="$best" 'BEGIN { exit !(a < b) }'; then
      best=$SECONDS_TAKEN
    fi
    ((RSS_KIB > rss)) && rss=$RSS_KIB
  done
  SECONDS_TAKEN=$best
  RSS_KIB=$rss
}

mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }

# ---------------------------------------------------------------------------------------------
# 1. tcpdp read --digest against pt-query-digest
# ---------------------------------------------------------------------------------------------
PREFIX=$BENCH_MYSQL_PCAP
if ((BENCH_PT_MB > 0)); then
  log "cutting the first $BENCH_PT_MB MB of $BENCH_MYSQL_PCAP"
  PREFIX=$WORK/prefix.pcap
  python3 - "$BENCH_MYSQL_PCAP" "$WORK/prefix.pcap" "$((BENCH_PT_MB * 1000000))" <<'EOF'
import struct, sys
src, dst, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(src, "rb") as f, open(dst, "wb") as out:
    header = f.read(24)
    endian = "<" if header[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    out.write(header)
    written = 24
    while written < limit:
        record = f.read(16)
        if len(record) < 16:
            break
        caplen = struct.unpack(endian + "I", record[8:12])[0]
        out.write(record + f.read(caplen))
        written += 16 + caplen
EOF
fi
PREFIX_BYTES=$(stat -c %s "$PREFIX")

log "tcpdp read --digest, best of $BENCH_RUNS"
best_of "$BENCH_RUNS" "$WORK/tcpdp.json" "$TCPDP" read "$PREFIX" -d mysql -t "$BENCH_MYSQL_PORT" \
  --digest --digest-format json --top 1000000 -q
TCPDP_S=$SECONDS_TAKEN TCPDP_RSS=$RSS_KIB

log "tcpdump -x: pt-query-digest's input"
measure "$WORK/prefix.txt" tcpdump -r "$PREFIX" -x -n -q -tttt "tcp port $BENCH_MYSQL_PORT"
TCPDUMP_S=$SECONDS_TAKEN TEXT_BYTES=$(stat -c %s "$WORK/prefix.txt")

log "pt-query-digest --type tcpdump (once)"
measure "$WORK/pt.json" pt-query-digest --type tcpdump --watch-server "127.0.0.1:$BENCH_MYSQL_PORT" \
  --output json --limit 100% --no-version-check "$WORK/prefix.txt"
PT_S=$SECONDS_TAKEN PT_RSS=$RSS_KIB

# The two reports: executions in all, classes, and their counts from the largest down.
read -r TCPDP_EXEC TCPDP_TIMED TCPDP_CLASSES TCPDP_COUNTS PT_EXEC PT_CLASSES PT_COUNTS < <(
  python3 - "$WORK/tcpdp.json" "$WORK/pt.json" <<'EOF'
import json, sys
tcpdp = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
pt = json.loads(text[text.index("{"):])
# pt-query-digest counts an execution once its answer came, as tcpdp's "timed"; its
# "administrator command" classes (COM_INIT_DB, COM_QUIT, ...) are no SQL, which tcpdp leaves out.
t_counts = sorted((c["timed"] for c in tcpdp["top"]), reverse=True)
p_counts = sorted((c["query_count"] for c in pt["classes"]
                   if not c["fingerprint"].startswith("administrator command")), reverse=True)
print(tcpdp["executions"], sum(t_counts), len(t_counts), ",".join(map(str, t_counts)),
      sum(p_counts), len(p_counts), ",".join(map(str, p_counts)))
EOF
)

# ---------------------------------------------------------------------------------------------
# 2. Memory: tcpdp digest on logs of many distinct statements
# ---------------------------------------------------------------------------------------------
make_log() {  # make_log FILE DISTINCT: BENCH_EXECUTIONS dump records over DISTINCT statements
  python3 - "$1" "$2" "$BENCH_EXECUTIONS" <<'EOF'
import sys
path, distinct, executions = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "w") as f:
    for i in range(executions):
        k = i % distinct
        f.write('{"ts":"2026-12-05T10:00:00.%06dZ","conn_id":"c%d","direction":"->",'
                '"message_type":"Q","query":"SELECT col_%d FROM table_%d WHERE id = %d",'
                '"username":"app","database":"db","src_addr":"10.0.%d.%d:40000",'
                '"duration":0.000%03d,"rows":1}\n' % (i % 1000000, i % 64, k, k % 97, i, i % 250, k % 250, i % 1000))
EOF
}
log "writing synthetic dump logs of $BENCH_EXECUTIONS executions"
make_log "$WORK/few.log" 1000
make_log "$WORK/many.log" "$BENCH_DISTINCT"
LOG_BYTES=$(stat -c %s "$WORK/many.log")
declare -a MEM_ROWS
mem_row() {  # mem_row LABEL LOG ARGS...
  local label=$1 file=$2
  shift 2
  log "tcpdp digest: $label"
  measure "$WORK/report.json" "$TCPDP" digest "$file" --digest-format json "$@"
  local classes
  classes=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["classes"])' "$WORK/report.json")
  MEM_ROWS+=("| $label | $classes | $SECONDS_TAKEN | $(mib "$RSS_KIB") |")
}
mem_row "1000 distinct statements, --digest-max-classes 10000 (default)" "$WORK/few.log"
mem_row "$BENCH_DISTINCT distinct statements, --digest-max-classes 10000 (default)" "$WORK/many.log"
mem_row "$BENCH_DISTINCT distinct statements, --digest-max-classes $((BENCH_DISTINCT + 1))" "$WORK/many.log" \
  --digest-max-classes "$((BENCH_DISTINCT + 1))"

# ---------------------------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------------------------
{
  echo "# bench/digest.sh, $(date -u '+%Y-%m-%d %H:%M UTC'), tcpdp $REV"
  echo
  echo "Machine: $(nproc) CPUs ($(lscpu | sed -n 's/^Model name: *//p' | head -n 1)), load average $(cut -d ' ' -f 1-3 /proc/loadavg) at the end."
  echo
  echo "## The same capture through tcpdp and pt-query-digest"
  echo
  echo "Capture: $PREFIX_BYTES bytes of $(basename "$BENCH_MYSQL_PCAP") (mariadb-slap on port $BENCH_MYSQL_PORT); as tcpdump -x text for pt-query-digest: $TEXT_BYTES bytes."
  echo
  echo "| tool | wall s | peak RSS MiB | executions answered | SQL classes |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  echo "| \`tcpdp read P -d mysql -t $BENCH_MYSQL_PORT --digest\` (best of $BENCH_RUNS) | $TCPDP_S | $(mib "$TCPDP_RSS") | $TCPDP_TIMED | $TCPDP_CLASSES |"
  echo "| \`tcpdump -r P -x -n -q -tttt\` (pt-query-digest's input) | $TCPDUMP_S | | | |"
  echo "| \`pt-query-digest --type tcpdump\` (once) | $PT_S | $(mib "$PT_RSS") | $PT_EXEC | $PT_CLASSES |"
  echo
  echo "- pt-query-digest (with tcpdump's text) takes $(awk -v a="$PT_S" -v b="$TCPDUMP_S" -v t="$TCPDP_S" 'BEGIN { printf "%.1f", (a + b) / t }')× tcpdp's time"
  echo "- answered executions per class, largest first: tcpdp $TCPDP_COUNTS"
  echo "- answered executions per class, largest first: pt-query-digest $PT_COUNTS"
  echo "- the same: $([[ $TCPDP_COUNTS == "$PT_COUNTS" ]] && echo yes || echo **NO**); tcpdp also counts $((TCPDP_EXEC - TCPDP_TIMED)) executions whose answer the capture cut off"
  echo
  echo "## tcpdp digest: memory with many distinct statements"
  echo
  echo "Synthetic JSON dump logs of $BENCH_EXECUTIONS executions each (the one of $BENCH_DISTINCT statements: $LOG_BYTES bytes)."
  echo
  echo "| log | classes reported | wall s | peak RSS MiB |"
  echo "| --- | ---: | ---: | ---: |"
  printf '%s\n' "${MEM_ROWS[@]}"
} | tee "$REPORT"
log "report kept in $REPORT"
