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
# Then the PostgreSQL dumper: it builds (once, cached) a second capture made only of
# `pgbench -M extended` traffic and times on it, in the same run:
#   tcpdump -r X -w /dev/null                                          (best of N)
#   tcpdp read X -d pg -t 55433 > /dev/null                            (best of N)
#   tcpdp read X -d pg -t 55433 --digest > /dev/null                   (best of N)
#   tshark -r X -d tcp.port==55433,pgsql -Y pgsql -T fields -e pgsql.query   (once: it is slow)
# against the targets: tcpdp <= 4x the floor, tshark >= 30x tcpdp's time, tcpdp peak RSS < 64 MiB,
# and for the query digest: --digest <= 1.20x the time of the plain -d pg run (issue 10). One more,
# untimed run of --digest keeps its report to check it: non-empty and starting with
# "# tcpdp query digest: " (the script exits with status 1 otherwise; the report is kept in
# bench/data/read-digest-pg.txt). Peak RSS is reported for --digest too.
#
# Then the MySQL dumper, the same way: it builds (once, cached) a capture of mariadb-slap traffic
# against a throw-away MariaDB server and times on it, in the same run and with the same targets:
#   tcpdump -r X -w /dev/null                                          (best of N)
#   tcpdp read X -d mysql -t 53307 > /dev/null                         (best of N)
#   tcpdp read X -d mysql -t 53307 --digest > /dev/null                (best of N, checked likewise)
#   tshark -r X -d tcp.port==53307,mysql -Y mysql -T fields -e mysql.query   (once)
#
# The report also gives the load average at the start, before measuring and at the end.
#
# Run as root on Debian bookworm:  bash bench/read.sh
# Knobs (environment):
#   BENCH_MB=600          size target of the full capture in MB (10^6 bytes); the half file is a
#                         prefix with half its packets
#   BENCH_PG_MB=300       size target in MB of the pgbench -M extended capture (the -d pg part)
#   BENCH_MYSQL_MB=200    size target in MB of the mariadb-slap capture (the -d mysql part)
#   BENCH_PG_PREFIX_MB=0  if set, time the -d pg part (all its commands) on a prefix with about this
#                         many MB worth of packets of that capture instead of the whole file (for
#                         when tshark on the whole file takes too long); 0 = the whole file
#   BENCH_TSHARK_MAX_MINUTES=30  kill tshark (and count it as failed) after this long
#   BENCH_RUNS=3          timed runs per tool and file (best one reported; tshark runs once)
#   BENCH_PORT=55433      TCP port of the throw-away PostgreSQL server (must be free)
#   BENCH_MYSQL_PORT=53307  TCP port of the throw-away MariaDB server (must be free)
#   BENCH_RUN_SECONDS=5   length of each pgbench run while capturing
#   BENCH_MAX_MINUTES=60  give up generating after this long
#   BENCH_DATA=bench/data where the captures are cached (delete a file to regenerate it)
#   TCPDP=/path/to/tcpdp  use this binary instead of building build-bench/tcpdp in Release
#   BENCH_REV=            build tcpdp from this git revision instead of the working tree (exported
#                         with git archive into build-bench/rev-src, built in build-bench/rev), e.g.
#                         HEAD while the working tree holds someone's unfinished changes
#   PG_BIN=/usr/lib/postgresql/15/bin  PostgreSQL server binaries
# MariaDB comes from the Debian packages (mariadb-server, mariadb-client: mariadbd,
# mariadb-install-db, mariadb-admin, mariadb, mariadb-slap).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_MB=${BENCH_MB:-600}
BENCH_PG_MB=${BENCH_PG_MB:-300}
BENCH_MYSQL_MB=${BENCH_MYSQL_MB:-200}
BENCH_MYSQL_PORT=${BENCH_MYSQL_PORT:-53307}
BENCH_PG_PREFIX_MB=${BENCH_PG_PREFIX_MB:-0}
BENCH_TSHARK_MAX_MINUTES=${BENCH_TSHARK_MAX_MINUTES:-30}
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_PORT=${BENCH_PORT:-55433}
BENCH_RUN_SECONDS=${BENCH_RUN_SECONDS:-5}
BENCH_MAX_MINUTES=${BENCH_MAX_MINUTES:-60}
BENCH_DATA=${BENCH_DATA:-$ROOT/bench/data}

# The load average (1, 5, 15 min) now: the report gives it at the start, before measuring and at
# the end, since nothing here keeps the machine otherwise idle.
loadavg() { cut -d ' ' -f 1-3 /proc/loadavg; }
LOAD_START=$(loadavg)

log() { printf '[read.sh %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }

for v in BENCH_MB BENCH_PG_MB BENCH_MYSQL_MB BENCH_TSHARK_MAX_MINUTES BENCH_RUNS BENCH_PORT \
  BENCH_MYSQL_PORT BENCH_RUN_SECONDS BENCH_MAX_MINUTES; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
done
[[ $BENCH_PG_PREFIX_MB =~ ^(0|[1-9][0-9]*)$ ]] ||
  die "BENCH_PG_PREFIX_MB must be 0 or a positive integer (got '$BENCH_PG_PREFIX_MB')"
[[ $BENCH_MYSQL_PORT != "$BENCH_PORT" ]] || die "BENCH_MYSQL_PORT and BENCH_PORT must differ"
[[ $(id -u) -eq 0 ]] || die "run as root (it installs packages, captures on lo and runs PostgreSQL and MariaDB)"

# ---------------------------------------------------------------------------------------------
# 1. Dependencies and the tcpdp binary
# ---------------------------------------------------------------------------------------------
install_deps() {
  local need=()
  command -v tcpdump >/dev/null || need+=(tcpdump)
  command -v tshark >/dev/null || need+=(tshark)
  command -v timeout >/dev/null || need+=(coreutils)
  [[ -x /usr/bin/time ]] || need+=(time)
  command -v lscpu >/dev/null || need+=(util-linux)
  command -v runuser >/dev/null || need+=(util-linux)
  if [[ -z ${PG_BIN:-} ]] && ! compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null; then
    need+=(postgresql)
  fi
  command -v pgbench >/dev/null || need+=(postgresql)
  command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]] || need+=(mariadb-server)
  command -v mariadb-install-db >/dev/null || need+=(mariadb-server)
  command -v mariadb-slap >/dev/null || need+=(mariadb-client)
  command -v mariadb-admin >/dev/null || need+=(mariadb-client)
  if [[ -z ${TCPDP:-} ]]; then
    command -v cmake >/dev/null || need+=(cmake)
    command -v g++ >/dev/null || need+=(g++)
    command -v make >/dev/null || need+=(make)
    command -v pkg-config >/dev/null || need+=(pkg-config)
    [[ -e /usr/include/pcap.h ]] || need+=(libpcap-dev)
    [[ -e /usr/include/CLI/CLI.hpp ]] || need+=(libcli11-dev)
    [[ -e /usr/include/toml.hpp ]] || need+=(libtoml11-dev)
    [[ -e /usr/include/zlib.h ]] || need+=(zlib1g-dev)
    [[ -e /usr/include/postgresql/libpq-fe.h ]] || need+=(libpq-dev)
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
MARIADBD=$(command -v mariadbd || echo /usr/sbin/mariadbd)
[[ -x $MARIADBD ]] || die "no mariadbd (is the mariadb-server package installed?)"
id mysql >/dev/null 2>&1 || die "no 'mysql' user (is the mariadb-server package installed?)"

# git_state: ", commit ABC" (+ a note on uncommitted changes) for the checkout, or nothing.
git_state() {
  if command -v git >/dev/null && git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
    printf ', commit %s' "$(git -C "$ROOT" rev-parse --short HEAD)"
    [[ -z $(git -C "$ROOT" status --porcelain -- src CMakeLists.txt 2>/dev/null) ]] ||
      printf ' + uncommitted changes in src/ or CMakeLists.txt'
  fi
}

# What the measured binary was built from, taken when it is built: the checkout may move on while
# the script runs (the report says so if it did).
TCPDP_FROM="" LAST_STATE=""
if [[ -z ${TCPDP:-} && -n ${BENCH_REV:-} ]]; then
  rev=$(git -C "$ROOT" rev-parse --short "$BENCH_REV^{commit}") || die "BENCH_REV=$BENCH_REV is not a commit"
  log "building tcpdp (Release) from commit $rev (git archive) in $ROOT/build-bench/rev"
  rm -rf "$ROOT/build-bench/rev-src"
  mkdir -p "$ROOT/build-bench/rev-src"
  git -C "$ROOT" archive "$rev" | tar -x -C "$ROOT/build-bench/rev-src"
  cmake -S "$ROOT/build-bench/rev-src" -B "$ROOT/build-bench/rev" -DCMAKE_BUILD_TYPE=Release \
    -DTCPDP_TESTS=OFF >&2
  cmake --build "$ROOT/build-bench/rev" -j"$(nproc)" >&2
  TCPDP=$ROOT/build-bench/rev/tcpdp
  LAST_STATE=$(git_state)
  TCPDP_FROM="; built $(date -u '+%H:%M UTC') from commit $rev (BENCH_REV=$BENCH_REV, git archive: uncommitted changes left out); checkout at the start:${LAST_STATE#,}"
elif [[ -z ${TCPDP:-} ]]; then
  log "building tcpdp (Release) in $ROOT/build-bench"
  state=$(git_state)
  cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DTCPDP_TESTS=OFF >&2
  cmake --build "$ROOT/build-bench" -j"$(nproc)" >&2
  TCPDP=$ROOT/build-bench/tcpdp
  LAST_STATE=$(git_state)
  TCPDP_FROM="; built $(date -u '+%H:%M UTC')"
  [[ -z $state ]] || TCPDP_FROM+=" from the checkout at${state#,}"
  [[ $LAST_STATE == "$state" ]] ||
    TCPDP_FROM+=" (it changed during the build, to${LAST_STATE#,})"
else
  LAST_STATE=$(git_state)
  [[ -z $LAST_STATE ]] || TCPDP_FROM="; checkout at the start:${LAST_STATE#,}"
fi
[[ -x $TCPDP ]] || die "tcpdp binary '$TCPDP' is not executable"

# ---------------------------------------------------------------------------------------------
# 2. The captures: real pgbench and mariadb-slap traffic on loopback
# ---------------------------------------------------------------------------------------------
mkdir -p "$BENCH_DATA"
FULL=$BENCH_DATA/pgbench-${BENCH_MB}MB.pcap
HALF=$BENCH_DATA/pgbench-${BENCH_MB}MB-half.pcap
PGX=$BENCH_DATA/pgbench-extended-${BENCH_PG_MB}MB.pcap
if ((BENCH_PG_PREFIX_MB > 0)); then
  PGX_PREFIX=$BENCH_DATA/pgbench-extended-${BENCH_PG_MB}MB-first${BENCH_PG_PREFIX_MB}MB.pcap
else
  PGX_PREFIX=""
fi
MYX=$BENCH_DATA/mysqlslap-${BENCH_MYSQL_MB}MB.pcap
OUT=""  # the capture being generated
CAP_PORT=""  # the port of the server being captured

TMP=""
WORK=""
PG_STARTED=0
MY_PID=""
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
  if [[ -n $MY_PID ]]; then
    kill -KILL "$MY_PID" 2>/dev/null
    wait "$MY_PID" 2>/dev/null
  fi
  [[ -n $TMP && -d $TMP ]] && rm -rf "$TMP"
  [[ -n $OUT ]] && rm -f "$OUT.tmp" "$OUT.tmp.log"
  [[ -n ${FULL:-} ]] && rm -f "$HALF.tmp"
  [[ -n ${PGX_PREFIX:-} ]] && rm -f "$PGX_PREFIX.tmp"
  [[ -n $WORK && -d $WORK ]] && rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# shellcheck source=bench/read_captures.sh
source "$ROOT/bench/read_captures.sh"

GEN_SECONDS=""
GEN_START=$SECONDS
if [[ -s $FULL ]]; then
  log "using cached capture $FULL (delete it to regenerate)"
  rm -f "$HALF.tmp"
else
  rm -f "$HALF" "$FULL.log"
  # A mix of query protocols, of the read-write (TPC-B like) and the select-only script, and of
  # long-lived connections and a new connection per transaction (-C). Short runs, the -C ones
  # first in the cycle: the mix repeats several times, so the half-size prefix holds the same kinds
  # of traffic as the full file (closed connections are what the tracker keeps for a while).
  generate_capture "$FULL" "$BENCH_MB" pg \
    "-M extended -C" \
    "-M simple -C -S" \
    "-M simple" \
    "-M extended" \
    "-M prepared" \
    "-M simple -S" \
    "-M prepared -S"
  GEN_SECONDS=$LAST_GEN_SECONDS
fi
FULL_PACKETS=$(count_packets "$FULL")
if [[ ! -s $HALF ]]; then
  log "writing $HALF: the first $((FULL_PACKETS / 2)) of $FULL_PACKETS packets"
  tcpdump -r "$FULL" -c "$((FULL_PACKETS / 2))" -Z root -w "$HALF.tmp" 2>/dev/null
  mv "$HALF.tmp" "$HALF"
fi
HALF_PACKETS=$(count_packets "$HALF")
PREP_SECONDS=$((SECONDS - GEN_START))

# The -d pg capture: the default (TPC-B like) script over the extended query protocol only, one
# run in three with a new connection per transaction (-C) so that connections come and go.
PG_GEN_SECONDS=""
PG_START=$SECONDS
if [[ -s $PGX ]]; then
  log "using cached capture $PGX (delete it to regenerate)"
else
  rm -f "$PGX.log" "${PGX%.pcap}"-first*MB.pcap
  generate_capture "$PGX" "$BENCH_PG_MB" pg "-M extended -C" "-M extended" "-M extended"
  PG_GEN_SECONDS=$LAST_GEN_SECONDS
fi
PGX_PACKETS=$(count_packets "$PGX")
PG_FILE=$PGX
PG_PACKETS=$PGX_PACKETS
if [[ -n $PGX_PREFIX ]]; then
  # About BENCH_PG_PREFIX_MB MB worth of packets: the packet count in proportion to the bytes.
  PREFIX_N=$(awk -v n="$PGX_PACKETS" -v m="$BENCH_PG_PREFIX_MB" -v s="$(file_size "$PGX")" \
    'BEGIN { k = int(n * m * 1e6 / s); if (k > n) k = n; if (k < 1) k = 1; print k }')
  if [[ ! -s $PGX_PREFIX ]] || [[ $(count_packets "$PGX_PREFIX") != "$PREFIX_N" ]]; then
    log "writing $PGX_PREFIX: the first $PREFIX_N of $PGX_PACKETS packets"
    tcpdump -r "$PGX" -c "$PREFIX_N" -Z root -w "$PGX_PREFIX.tmp" 2>/dev/null
    mv "$PGX_PREFIX.tmp" "$PGX_PREFIX"
  fi
  PG_FILE=$PGX_PREFIX
  PG_PACKETS=$(count_packets "$PG_FILE")
fi
PG_PREP_SECONDS=$((SECONDS - PG_START))

# The -d mysql capture: mariadb-slap with auto-generated SQL from 20 clients, each iteration on
# new connections, 10 setup rows per iteration. In turn: the mixed load (INSERTs and SELECTs of the
# whole, growing table) in short iterations, the read load (SELECTs of the 10 rows) and the key load
# (SELECTs of one row by its primary key), so that many small queries and results make up the file
# rather than a few large result sets (with the default 100 setup rows and long mixed iterations,
# 200 MB held only about 11000 queries in 35000 packets).
MY_GEN_SECONDS=""
MY_START=$SECONDS
if [[ -s $MYX ]]; then
  log "using cached capture $MYX (delete it to regenerate)"
else
  rm -f "$MYX.log"
  generate_capture "$MYX" "$BENCH_MYSQL_MB" mysql \
    "--auto-generate-sql-load-type=mixed --auto-generate-sql-write-number=10 --iterations=10 --number-of-queries=200" \
    "--auto-generate-sql-load-type=read --auto-generate-sql-write-number=10 --iterations=2 --number-of-queries=2000" \
    "--auto-generate-sql-load-type=key --auto-generate-sql-add-autoincrement --auto-generate-sql-write-number=10 --iterations=2 --number-of-queries=4000"
  MY_GEN_SECONDS=$LAST_GEN_SECONDS
fi
MYX_PACKETS=$(count_packets "$MYX")
MY_PREP_SECONDS=$((SECONDS - MY_START))

# ---------------------------------------------------------------------------------------------
# 3. Measurements
# ---------------------------------------------------------------------------------------------
WORK=$(mktemp -d /tmp/tcpdp-bench-run.XXXXXX)

TOOLS=("tcpdump -r X -w /dev/null" "tcpdp read X -d hex > /dev/null" "tcpdp read X -d conn > /dev/null"
  "tcpdp read X -d pg -t $BENCH_PORT > /dev/null" "tcpdp read X -d mysql -t $BENCH_MYSQL_PORT > /dev/null"
  "tcpdp read X -d pg -t $BENCH_PORT --digest > /dev/null"
  "tcpdp read X -d mysql -t $BENCH_MYSQL_PORT --digest > /dev/null")
# The query digest's tool index of a dumper's tool index (-d pg → -d pg --digest, and for mysql).
declare -A DIGEST_OF=([3]=5 [4]=6)
# The tshark command of a dumper's part, by key (pg, mysql).
declare -A TSHARK_LABEL=(
  [pg]="tshark -r X -d tcp.port==$BENCH_PORT,pgsql -Y pgsql -T fields -e pgsql.query"
  [mysql]="tshark -r X -d tcp.port==$BENCH_MYSQL_PORT,mysql -Y mysql -T fields -e mysql.query")

# shellcheck source=bench/read_measure.sh
source "$ROOT/bench/read_measure.sh"

PG_MEASURE_START=$SECONDS
measure_dumper pg 3 "$PG_FILE" pgsql pgsql.query
PG_MEASURE_SECONDS=$((SECONDS - PG_MEASURE_START))

MY_MEASURE_START=$SECONDS
measure_dumper mysql 4 "$MYX" mysql mysql.query
MY_MEASURE_SECONDS=$((SECONDS - MY_MEASURE_START))
LOAD_END=$(loadavg)

# ---------------------------------------------------------------------------------------------
# 4. Report
# ---------------------------------------------------------------------------------------------
# report_dumper KEY INDEX FILE PACKETS PROTO: a dumper's table, the verdicts on its three targets
# and on the query digest's target.
report_dumper() {
  local key=$1 idx=$2 file=$3 packets=$4 proto=$5 size floor wall lines i c d name didx
  didx=${DIGEST_OF[$idx]}
  name=${TOOLS[idx]#tcpdp read X }
  name=${name% -t *}
  echo "- $(tshark --version 2>/dev/null | head -n 1)"
  echo "- tcpdump and tcpdp: best of $BENCH_RUNS runs; tshark: one run; file in page cache;" \
    "peak RSS = highest of the runs (/usr/bin/time %M), for tcpdp including the counting run" \
    "(for $name --digest, the check run)"
  echo "- output lines: tcpdp's records, counted in one more run \`| wc -l\` (not timed);" \
    "for $name --digest, the lines of its report, written to a file in one more run (not timed);" \
    "tshark's lines, counted by \`| wc -l\` on its one timed run (instead of > /dev/null)"
  echo
  echo "| tool | file size MB | packets | runs | best wall s | MB/s | × floor | peak RSS MiB | output lines |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  size=$(file_size "$file")
  floor=${BEST[$key,0]:-}
  for i in 0 "$idx" "$didx"; do
    wall=${BEST[$key,$i]:-}
    lines=""
    ((i == idx)) && lines=${RECORDS[$key]:-}
    ((i == didx)) && lines=${DIGEST_LINES[$key]:-}
    if [[ -z $wall ]]; then
      echo "| \`${TOOLS[i]}\` | $(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }') | $packets | $BENCH_RUNS | FAILED (${FAILS[$key,$i]%; }) | | | | |"
      continue
    fi
    awk -v tool="${TOOLS[i]}" -v s="$size" -v p="$packets" -v n="$BENCH_RUNS" -v w="$wall" \
      -v f="$floor" -v r="${RSS[$key,$i]}" -v failed="${FAILS[$key,$i]:-}" -v l="$lines" 'BEGIN {
        ratio = (f == "" || f == 0) ? "n/a" : sprintf("%.2f", w / f)
        note = failed == "" ? "" : " (some runs failed)"
        printf "| `%s` | %.1f | %d | %d | %.3f%s | %.1f | %s | %.1f | %s |\n",
               tool, s / 1e6, p, n, w, note, s / 1e6 / w, ratio, r / 1024, l
      }'
  done
  if [[ -n ${TSHARK_WALL[$key]:-} ]]; then
    awk -v tool="${TSHARK_LABEL[$key]}" -v s="$size" -v p="$packets" -v w="${TSHARK_WALL[$key]}" \
      -v f="$floor" -v r="${TSHARK_RSS[$key]}" -v l="${TSHARK_LINES[$key]}" 'BEGIN {
        ratio = (f == "" || f == 0) ? "n/a" : sprintf("%.2f", w / f)
        printf "| `%s`, output into `wc -l` | %.1f | %d | 1 | %.3f | %.1f | %s | %.1f | %s |\n",
               tool, s / 1e6, p, w, s / 1e6 / w, ratio, r / 1024, l
      }'
  else
    echo "| \`${TSHARK_LABEL[$key]}\`, output into \`wc -l\` | $(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }') | $packets | 1 | FAILED (${TSHARK_FAIL[$key]:-}) | | | | |"
  fi
  echo
  # The three targets of a dumper.
  c=${BEST[$key,$idx]:-}
  if [[ -n $c && -n $floor ]]; then
    awk -v n="$name" -v c="$c" -v f="$floor" 'BEGIN {
      printf "- speed vs the floor: %s takes %.2f× the tcpdump floor; target ≤ 4×: %s\n", n, c / f,
             (c <= 4 * f) ? "met" : "NOT met" }'
  else
    echo "- speed vs the floor: not measured (a run failed); target ≤ 4×: NOT met"
  fi
  if [[ -n $c && -n ${TSHARK_WALL[$key]:-} ]]; then
    awk -v n="$name" -v c="$c" -v t="${TSHARK_WALL[$key]}" 'BEGIN {
      printf "- speed vs tshark: tshark takes %.2f× as long as %s (%.3f s vs %.3f s); target ≥ 30×: %s\n",
             t / c, n, t, c, (t >= 30 * c) ? "met" : "NOT met" }'
  else
    echo "- speed vs tshark: not measured (a run failed); target ≥ 30×: NOT met"
  fi
  if [[ -n ${RSS[$key,$idx]:-} ]]; then
    awk -v n="$name" -v r="${RSS[$key,$idx]}" 'BEGIN {
      printf "- memory: peak RSS of %s is %.1f MiB (%d KiB); target < 64 MiB: %s\n", n, r / 1024, r,
             (r < 64 * 1024) ? "met" : "NOT met" }'
  else
    echo "- memory: not measured (a run failed); target < 64 MiB: NOT met"
  fi
  echo "- scale: tcpdp $name wrote ${RECORDS[$key]:-?} records; tshark wrote ${TSHARK_LINES[$key]:-?} lines (one per packet with $proto messages)"
  # The query digest's target: at most 20% more time than the plain dumper.
  d=${BEST[$key,$didx]:-}
  if [[ -n $c && -n $d ]]; then
    # A wrong report meets no target, however fast.
    awk -v n="$name" -v c="$c" -v d="$d" -v bad="${DIGEST_BAD[$key]:-}" 'BEGIN {
      printf "- query digest: %s --digest takes %.2f× the time of %s (%.3f s vs %.3f s); target ≤ 1.20×: %s\n",
             n, d / c, n, d, c, bad != "" ? "NOT met (its report is wrong)" : (d <= 1.2 * c) ? "met" : "NOT met" }'
  else
    echo "- query digest: not measured (a run failed); target ≤ 1.20×: NOT met"
  fi
  if [[ -n ${RSS[$key,$didx]:-} && -n ${RSS[$key,$idx]:-} ]]; then
    awk -v n="$name" -v d="${RSS[$key,$didx]}" -v c="${RSS[$key,$idx]}" 'BEGIN {
      printf "- query digest memory: peak RSS of %s --digest is %.1f MiB (%d KiB), %.2f× that of %s (%.1f MiB)\n",
             n, d / 1024, d, d / c, n, c / 1024 }'
  fi
  if [[ -n ${DIGEST_BAD[$key]:-} ]]; then
    echo "- query digest report: **WRONG**: ${DIGEST_BAD[$key]}"
  else
    echo "- query digest report: ${DIGEST_LINES[$key]:-?} lines; its first: \`${DIGEST_HEAD[$key]:-?}\`"
  fi
}

REPORT=$WORK/report.md
{
  echo "## tcpdp read benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  echo "- CPU: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1), $(nproc) cores; RAM $(awk '/^MemTotal:/ { printf "%.1f", $2 / 1048576 }' /proc/meminfo) GiB; kernel $(uname -r)"
  echo "- $(tcpdump --version 2>&1 | head -n 2 | paste -sd ';' | sed 's/;/, /')"
  now_state=$(git_state)
  echo "- $("$TCPDP" version) ($TCPDP$TCPDP_FROM$(
    [[ $now_state == "$LAST_STATE" ]] ||
      printf '; the checkout changed during the run, to%s' "${now_state#,}"))"
  echo "- capture: $(basename "$FULL") (pgbench on 127.0.0.1:$BENCH_PORT, tcpdump -i lo -s 0);" \
    "half = its first $HALF_PACKETS packets"
  if [[ -s $FULL.log ]]; then
    echo "- generated with $(gen_summary "$FULL")"
  fi
  echo "- load average (1, 5, 15 min): $LOAD_START at the start, $LOAD_MEASURE before measuring, $LOAD_END at the end"
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
  echo
  echo "## tcpdp read -d pg: pgbench -M extended against the tcpdump floor and tshark"
  echo
  echo "- capture: $(basename "$PGX") (pgbench on 127.0.0.1:$BENCH_PORT, tcpdump -i lo -s 0), $(awk -v s="$(file_size "$PGX")" 'BEGIN { printf "%.1f", s / 1e6 }') MB, $PGX_PACKETS packets"
  if [[ -s $PGX.log ]]; then
    echo "- generated with $(gen_summary "$PGX")"
  fi
  if [[ -n $PGX_PREFIX ]]; then
    echo "- measured on a prefix, $(basename "$PG_FILE"): its first $PG_PACKETS packets (about $BENCH_PG_PREFIX_MB MB worth; BENCH_PG_PREFIX_MB)"
  else
    echo "- measured on the whole file"
  fi
  report_dumper pg 3 "$PG_FILE" "$PG_PACKETS" pgsql
  echo
  if [[ -n $PG_GEN_SECONDS ]]; then
    echo "Generating the -M extended capture took ${PG_GEN_SECONDS} s; with its packet counts$([[ -n $PGX_PREFIX ]] && echo " and the prefix") ${PG_PREP_SECONDS} s; measuring the -d pg part ${PG_MEASURE_SECONDS} s."
  else
    echo "The -M extended capture taken from the cache; its packet counts$([[ -n $PGX_PREFIX ]] && echo " and the prefix") took ${PG_PREP_SECONDS} s; measuring the -d pg part ${PG_MEASURE_SECONDS} s."
  fi
  echo
  echo "## tcpdp read -d mysql: mariadb-slap against the tcpdump floor and tshark"
  echo
  echo "- capture: $(basename "$MYX") (mariadb-slap on 127.0.0.1:$BENCH_MYSQL_PORT, MariaDB $("$MARIADBD" --version | sed -n 's/.*Ver \([^ ]*\).*/\1/p'), tcpdump -i lo -s 0), $(awk -v s="$(file_size "$MYX")" 'BEGIN { printf "%.1f", s / 1e6 }') MB, $MYX_PACKETS packets"
  if [[ -s $MYX.log ]]; then
    echo "- generated with $(gen_summary "$MYX" mariadb-slap)"
  fi
  echo "- measured on the whole file"
  report_dumper mysql 4 "$MYX" "$MYX_PACKETS" mysql
  echo
  if [[ -n $MY_GEN_SECONDS ]]; then
    echo "Generating the mariadb-slap capture took ${MY_GEN_SECONDS} s; with its packet count ${MY_PREP_SECONDS} s; measuring the -d mysql part ${MY_MEASURE_SECONDS} s."
  else
    echo "The mariadb-slap capture taken from the cache; its packet count took ${MY_PREP_SECONDS} s; measuring the -d mysql part ${MY_MEASURE_SECONDS} s."
  fi
} >"$REPORT"
cp "$REPORT" "$BENCH_DATA/read-report-$(date -u +%Y%m%dT%H%M%SZ).md"
cat "$REPORT"
status=0
for key in "${!DIGEST_BAD[@]}"; do
  log "error: the $key query digest (--digest) is wrong: ${DIGEST_BAD[$key]} (its output: $BENCH_DATA/read-digest-$key.txt)"
  status=1
done
if ((${#FAILS[@]})) || ((${#TSHARK_FAIL[@]})); then
  log "some tcpdp, tcpdump or tshark runs failed (see the tables and the log above)"
  status=1
fi
exit "$status"
