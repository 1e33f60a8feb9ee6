# bench/lib.sh: what the live benchmarks (probe.sh, proxy.sh) share; sourced, not run.
# The caller sets ROOT (the checkout) and NAME (its own name, for messages) first.

log() { printf '[%s %(%H:%M:%S)T] %s\n' "$NAME" -1 "$*" >&2; }
die() { log "error: $*"; exit 1; }
# positive_integers VAR...: dies naming the first variable that is not a positive integer.
positive_integers() {
  local v
  for v in "$@"; do
    [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer (got '${!v}')"
  done
}

# need_packages COMMAND:PACKAGE...: installs the packages whose command is missing, and what
# building tcpdp needs unless TCPDP names a binary.
need_packages() {
  local item need=()
  for item in "$@" time:time runuser:util-linux python3:python3; do
    if [[ ${item%%:*} == time ]]; then
      [[ -x /usr/bin/time ]] || need+=("${item#*:}")
    else
      command -v "${item%%:*}" >/dev/null || need+=("${item#*:}")
    fi
  done
  compgen -G '/usr/lib/postgresql/*/bin/pg_ctl' >/dev/null || need+=(postgresql)
  if [[ -z ${TCPDP:-} ]]; then
    command -v cmake >/dev/null || need+=(cmake)
    command -v g++ >/dev/null || need+=(g++ make)
    command -v pkg-config >/dev/null || need+=(pkg-config)
    [[ -e /usr/include/pcap/pcap.h ]] || need+=(libpcap-dev)
    [[ -d /usr/include/CLI ]] || need+=(libcli11-dev)
    [[ -e /usr/include/toml.hpp ]] || need+=(libtoml11-dev)
    [[ -e /usr/include/simdjson.h ]] || need+=(libsimdjson-dev)
    [[ -e /usr/include/zlib.h ]] || need+=(zlib1g-dev)
    [[ -e /usr/include/postgresql/libpq-fe.h ]] || need+=(libpq-dev)
  fi
  if ((${#need[@]})); then
    log "installing ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null ||
      die "could not install ${need[*]}"
  fi
  PG_BIN=${PG_BIN:-$(dirname "$(ls -d /usr/lib/postgresql/*/bin/pg_ctl | sort -V | tail -n 1)")}
}

# build_tcpdp: TCPDP is the binary to measure (built in Release into build-bench/ unless given);
# REV says what it was built from.
build_tcpdp() {
  REV=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
  [[ -z $(git -C "$ROOT" status --porcelain -- src CMakeLists.txt 2>/dev/null) ]] ||
    REV+=" + uncommitted changes"
  if [[ -z ${TCPDP:-} ]]; then
    log "building tcpdp (Release) in build-bench/"
    cmake -S "$ROOT" -B "$ROOT/build-bench" -DCMAKE_BUILD_TYPE=Release -DTCPDP_TESTS=OFF >/dev/null
    cmake --build "$ROOT/build-bench" -j"$(nproc)" >/dev/null
    TCPDP=$ROOT/build-bench/tcpdp
  fi
  [[ -x $TCPDP ]] || die "no tcpdp binary at $TCPDP"
}

psql_do() { psql -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -At -c "$1" postgres; }

# start_postgres DIR: a throw-away server on 127.0.0.1:BENCH_PORT with its data in DIR (fsync
# off, so it is CPU-bound; pg_stat_statements loaded), filled by pgbench -i -s 10. The caller's
# exit trap must run stop_postgres.
PG_STARTED=0
start_postgres() {
  local dir=$1
  (exec 3<>"/dev/tcp/127.0.0.1/$BENCH_PORT") 2>/dev/null && die "port $BENCH_PORT is in use: set BENCH_PORT"
  log "starting PostgreSQL ($PG_BIN) on 127.0.0.1:$BENCH_PORT"
  mkdir -p "$dir" && chown postgres: "$dir"
  runuser -u postgres -- "$PG_BIN/initdb" -D "$dir" -U postgres --auth=trust --no-sync >/dev/null
  runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $BENCH_PORT -k $dir -c max_connections=50 \
        -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
        -c shared_preload_libraries=pg_stat_statements" start >/dev/null
  PG_STARTED=1
  PG_DIR=$dir
  psql_do "CREATE EXTENSION pg_stat_statements" >/dev/null
  pgbench -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -i -s 10 -q postgres >/dev/null 2>&1 ||
    die "pgbench -i failed"
}

stop_postgres() {
  ((PG_STARTED)) && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR" -m immediate -w stop >/dev/null 2>&1
  PG_STARTED=0
}

# select_calls: how many pgbench -S SELECTs the server ran since pg_stat_statements_reset().
select_calls() {
  psql_do "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query LIKE 'SELECT abalance FROM pgbench_accounts%'"
}

# cpu_seconds PID: user + system CPU seconds the process has used so far.
cpu_seconds() {
  python3 -c "import os,sys; f=open('/proc/%s/stat' % sys.argv[1]).read().rsplit(')',1)[1].split(); print((int(f[11])+int(f[12]))/os.sysconf('SC_CLK_TCK'))" "$1"
}
