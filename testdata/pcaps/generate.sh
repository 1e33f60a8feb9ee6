#!/usr/bin/env bash
# Regenerates the real captures in this directory (see README.md).
#
# Run as root on Debian bookworm:  bash testdata/pcaps/generate.sh
# It installs what it needs, starts PostgreSQL and MariaDB on 127.0.0.1 in
# temporary directories, captures real client traffic (psql, pgbench, the
# libpq program pg_params.c with pg_params_values.c, see pg_workload.py; the
# mariadb client, mariadb-slap and the libmariadb program mysql_stmt.c with
# mysql_stmt_values.c and mysql_stmt_exec.c, see mysql_workload.py;
# generate_mariadb.sh) and plain-TCP workloads (tcp_workload.py) with
# tcpdump, checks every capture (check_captures.py), and only then copies
# the .pcap files and the *.expected.json files written by pg_params and
# mysql_stmt next to this script. Servers, tcpdump and the temporary
# directory are removed at exit, also on failure.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PG_PORT=25432
PG_SSL_PORT=25434          # second PostgreSQL cluster, ssl=on
MY_PORT=23306
MAX_BYTES=$((1024 * 1024))
TCP_CASES=(close reset refused open ipv6 sll2)

log() { printf '== %s\n' "$*" >&2; }
die() { printf 'generate.sh: error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "run as root (servers and tcpdump need it)"

# ---------------------------------------------------------------- packages
install_deps() {
  local p missing=()
  for p in postgresql mariadb-server mariadb-client tcpdump python3 tshark \
      libpq-dev libmariadb-dev gcc libc6-dev openssl; do
    if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null |
        grep -qx 'install ok installed'; then
      missing+=("$p")
    fi
  done
  ((${#missing[@]} == 0)) && return 0
  log "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
install_deps

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -x $PGBIN/initdb && -x $PGBIN/pgbench ]] || die "PostgreSQL binaries not found"
for c in mariadbd mariadb-install-db mariadb mariadb-admin mariadb-slap mariadb_config \
    tcpdump python3 runuser tshark gcc openssl pg_config; do
  command -v "$c" >/dev/null || die "missing command: $c"
done

# ------------------------------------------------------ state and cleanup
WORK=$(mktemp -d /tmp/tcpdp-pcaps.XXXXXX)
chmod 755 "$WORK"          # postgres and mysql must be able to enter it
OUT=$WORK/out
mkdir "$OUT"
TCPDUMP_PID=""
WORKLOAD_PID=""
RELEASE_FILE=$WORK/release-open-connection
PG_DATA=""
PG_SSL_DATA=""
MY_PID=""

cleanup() {
  local rc=$?
  set +e
  if [[ -n $TCPDUMP_PID ]]; then
    kill -INT "$TCPDUMP_PID" 2>/dev/null
    wait "$TCPDUMP_PID" 2>/dev/null
  fi
  if [[ -n $WORKLOAD_PID ]]; then
    touch "$RELEASE_FILE"
    kill "$WORKLOAD_PID" 2>/dev/null
    wait "$WORKLOAD_PID" 2>/dev/null
  fi
  local d
  for d in "$PG_DATA" "$PG_SSL_DATA"; do
    [[ -n $d ]] || continue
    (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$d" -m fast \
      -w -t 30 stop >/dev/null 2>&1) ||
      (cd / && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$d" \
        -m immediate -w -t 30 stop >/dev/null 2>&1)
  done
  if [[ -n $MY_PID ]]; then
    kill -TERM "$MY_PID" 2>/dev/null
    local i
    for i in $(seq 300); do
      kill -0 "$MY_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$MY_PID" 2>/dev/null
    wait "$MY_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
  if ((rc != 0)); then
    printf 'generate.sh: FAILED (exit %d); existing captures left as they were\n' \
      "$rc" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A clean environment for the clients: no PG*/MYSQL* variables, no rc files.
client_env() { env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME="$WORK" LC_ALL=C "$@"; }

# ------------------------------------------------------------- capturing
# capture_start FILE TCPDUMP-ARGS...: start tcpdump and wait until it listens.
# --immediate-mode: without it libpcap's TPACKET_V3 ring hands packets over
# only when a block fills or its ~1 s timeout expires, and packets still in
# the ring when SIGINT arrives are lost. -Z root: keep root so the file can
# be written in the root-only temp dir.
capture_start() {
  local file=$1 i
  shift
  tcpdump -Z root -U --immediate-mode -w "$file" "$@" 2>"$file.log" &
  TCPDUMP_PID=$!
  for i in $(seq 200); do
    grep -qs 'listening on' "$file.log" && return 0
    kill -0 "$TCPDUMP_PID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$file.log" >&2
  die "tcpdump did not start for $file"
}

# capture_stop: let the last packets arrive, then SIGINT so all is flushed.
capture_stop() {
  local file=$1
  sleep 1.5
  kill -INT "$TCPDUMP_PID"
  wait "$TCPDUMP_PID" || die "tcpdump failed for $file: $(cat "$file.log")"
  TCPDUMP_PID=""
  if ! grep -q '^0 packets dropped by kernel' "$file.log"; then
    cat "$file.log" >&2
    die "tcpdump dropped packets for $file"
  fi
}

# ------------------------------------------------------------ PostgreSQL
as_postgres() { (cd "$WORK" && runuser -u postgres -- "$@"); }

pg_start() {
  local dir=$WORK/pg
  mkdir "$dir"
  chown postgres:postgres "$dir"
  as_postgres "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
    --locale=C --no-sync --no-instructions >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb failed"; }
  PG_DATA=$dir/data
  as_postgres "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories=$dir -c ssl=off -c fsync=off" \
    start >/dev/null ||
    { cat "$dir/server.log" >&2; die "PostgreSQL did not start"; }
}

# psql over TCP; the SQL file comes as $1
pg_psql_tcp() {
  client_env "$PGBIN/psql" \
    "host=127.0.0.1 port=$PG_PORT user=postgres dbname=postgres sslmode=disable gssencmode=disable" \
    -X -v ON_ERROR_STOP=0 -f "$1"
}

# psql over the unix socket (not captured), for setup only
pg_psql_local() {
  as_postgres "$PGBIN/psql" -h "$WORK/pg" -p "$PG_PORT" -U postgres -X -q \
    -v ON_ERROR_STOP=1 -c "$1" postgres
}

# pg_workload FILE LONG_LEN: the simple-query psql workload
pg_workload() {
  local file=$1 long_len=$2
  python3 - "$file" "$long_len" <<'PY'
import sys
path, n = sys.argv[1], int(sys.argv[2])
literal = ("abcdefghijklmnopqrstuvwxyz" * (n // 26 + 1))[:n]
with open(path, "w") as f:
    f.write("SELECT 1;\n"
            "CREATE TABLE t (id int primary key, name text);\n"
            "INSERT INTO t VALUES (1, 'alice'), (2, 'bob');\n"
            "SELECT * FROM t ORDER BY id;\n"
            "SELECT * FROM no_such_table;\n"
            "SELECT length('" + literal + "');\n")
PY
}

capture_pg() {
  log "pg.pcap"
  pg_workload "$WORK/pg.sql" 200000
  printf '%s\n' '\set id random(1, 2)' 'SELECT name FROM t WHERE id = :id;' \
    >"$WORK/pgbench.sql"
  capture_start "$OUT/pg.pcap" -i lo -s 0 tcp port "$PG_PORT"
  pg_psql_tcp "$WORK/pg.sql" >"$WORK/pg.out" 2>&1 ||
    { cat "$WORK/pg.out" >&2; die "psql failed"; }
  client_env PGSSLMODE=disable PGGSSENCMODE=disable "$PGBIN/pgbench" \
    -h 127.0.0.1 -p "$PG_PORT" -U postgres -n -c 1 -t 20 -M prepared \
    -f "$WORK/pgbench.sql" postgres >"$WORK/pgbench.out" 2>&1 ||
    { cat "$WORK/pgbench.out" >&2; die "pgbench failed"; }
  capture_stop "$OUT/pg.pcap"
  grep -q 'no_such_table' "$WORK/pg.out" || die "psql did not report the error"
  grep -q '200000' "$WORK/pg.out" || die "long query gave no result"
  grep -q 'number of transactions actually processed: 20/20' "$WORK/pgbench.out" ||
    { cat "$WORK/pgbench.out" >&2; die "pgbench did not run 20 transactions"; }
}

capture_pg_snaplen() {
  log "pg_snaplen.pcap"
  pg_psql_local 'DROP TABLE t;'
  pg_workload "$WORK/pg_snaplen.sql" 5000
  capture_start "$OUT/pg_snaplen.pcap" -i lo -s 96 tcp port "$PG_PORT"
  pg_psql_tcp "$WORK/pg_snaplen.sql" >"$WORK/pg_snaplen.out" 2>&1 ||
    { cat "$WORK/pg_snaplen.out" >&2; die "psql failed"; }
  capture_stop "$OUT/pg_snaplen.pcap"
  grep -q '5000' "$WORK/pg_snaplen.out" || die "5 KB query gave no result"
}

# ----------------------------------------------- PostgreSQL: pg_workload.py
# The statements, the COPY data and the clients' options are in
# pg_workload.py; the verification below compares the captures with it.
# These captures use a 32 MB capture buffer (-B) so that a busy machine does
# not make tcpdump drop packets of the many small pgbench messages.
PG_CAPTURE=(-i lo -s 0 -B 32768)

pg_run_workload() {   # pg_run_workload OUTFILE ARGS...: pg_workload.py ARGS
  local out=$1
  shift
  client_env python3 "$HERE/pg_workload.py" "$@" >"$out" 2>&1 ||
    { cat "$out" >&2; die "pg_workload.py $1 failed"; }
}

port_free() {         # fail early when another process holds a port
  python3 - "$1" <<'PY' || die "127.0.0.1:$1 is in use by another process"
import socket, sys, time
for attempt in range(50):     # a client may hold it briefly as its local port
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is fine
    try:
        s.bind(("127.0.0.1", int(sys.argv[1])))
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
    finally:
        s.close()
sys.exit(1)
PY
}

capture_pg_psql() {
  log "pg_psql.pcap"
  capture_start "$OUT/pg_psql.pcap" "${PG_CAPTURE[@]}" tcp port "$PG_PORT"
  pg_run_workload "$WORK/pg_psql.out" psql "$PGBIN/psql"
  capture_stop "$OUT/pg_psql.pcap"
  grep -q '^COPY 1000$' "$WORK/pg_psql.out" &&
    grep -qxF "$(printf '2000\t\\N\t\\N')" "$WORK/pg_psql.out" &&
    grep -q 'no_such_table' "$WORK/pg_psql.out" ||
    { cat "$WORK/pg_psql.out" >&2; die "psql workload did not behave"; }
}

capture_pg_params() {
  log "pg_params.pcap"
  gcc -O2 -Wall -o "$WORK/pg_params" "$HERE/pg_params.c" "$HERE/pg_params_values.c" \
    -I"$(pg_config --includedir)" -lpq || die "cannot compile pg_params.c"
  capture_start "$OUT/pg_params.pcap" "${PG_CAPTURE[@]}" tcp port "$PG_PORT"
  client_env PGTZ=UTC "$WORK/pg_params" \
    "host=127.0.0.1 port=$PG_PORT dbname=postgres user=postgres sslmode=disable gssencmode=disable application_name=tcpdp-params" \
    "$OUT/pg_params.expected.json" >"$WORK/pg_params.out" 2>&1 ||
    { cat "$WORK/pg_params.out" >&2; die "pg_params failed"; }
  capture_stop "$OUT/pg_params.pcap"
  cat "$WORK/pg_params.out" >&2
}

capture_pg_pgbench() {
  log "pg_pgbench.pcap"
  as_postgres "$PGBIN/pgbench" -i -s 1 -q -h "$WORK/pg" -p "$PG_PORT" \
    -U postgres postgres >"$WORK/pgbench_init.out" 2>&1 ||
    { cat "$WORK/pgbench_init.out" >&2; die "pgbench -i failed"; }
  capture_start "$OUT/pg_pgbench.pcap" "${PG_CAPTURE[@]}" tcp port "$PG_PORT"
  local mode want
  for mode in prepared extended; do
    pg_run_workload "$WORK/pgbench_$mode.out" pgbench "$PGBIN/pgbench" "$mode"
  done
  capture_stop "$OUT/pg_pgbench.pcap"
  for mode in prepared extended; do
    want=$(cd "$HERE" && python3 -c 'import sys, pg_workload as w
b = w.PGBENCH[sys.argv[1]]; n = b["clients"] * b["transactions"]
print("number of transactions actually processed: %d/%d" % (n, n))' "$mode")
    grep -qF "$want" "$WORK/pgbench_$mode.out" ||
      { cat "$WORK/pgbench_$mode.out" >&2; die "pgbench $mode: want '$want'"; }
  done
}

capture_pg_ssl_refused() {
  log "pg_ssl_refused.pcap"
  capture_start "$OUT/pg_ssl_refused.pcap" "${PG_CAPTURE[@]}" tcp port "$PG_PORT"
  pg_run_workload "$WORK/pg_ssl_refused.out" ssl_refused "$PGBIN/psql"
  capture_stop "$OUT/pg_ssl_refused.pcap"
  grep -q 'after ssl refused' "$WORK/pg_ssl_refused.out" ||
    { cat "$WORK/pg_ssl_refused.out" >&2; die "ssl_refused query failed"; }
}

# A second cluster with ssl=on and a throw-away self-signed certificate.
pg_ssl_start() {
  local dir=$WORK/pgssl
  mkdir "$dir"
  chown postgres:postgres "$dir"
  port_free "$PG_SSL_PORT"
  as_postgres "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
    --locale=C --no-sync --no-instructions >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; die "initdb (ssl) failed"; }
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=127.0.0.1" \
    -keyout "$dir/data/server.key" -out "$dir/data/server.crt" \
    >"$dir/openssl.log" 2>&1 ||
    { cat "$dir/openssl.log" >&2; die "openssl req failed"; }
  chown postgres:postgres "$dir/data/server.key" "$dir/data/server.crt"
  chmod 600 "$dir/data/server.key"
  PG_SSL_DATA=$dir/data
  as_postgres "$PGBIN/pg_ctl" -D "$PG_SSL_DATA" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $PG_SSL_PORT -c unix_socket_directories=$dir -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key -c fsync=off" \
    start >/dev/null ||
    { cat "$dir/server.log" >&2; die "PostgreSQL (ssl) did not start"; }
}

capture_pg_ssl_accepted() {
  log "pg_ssl_accepted.pcap"
  capture_start "$OUT/pg_ssl_accepted.pcap" "${PG_CAPTURE[@]}" tcp port "$PG_SSL_PORT"
  pg_run_workload "$WORK/pg_ssl_accepted.out" ssl_accepted "$PGBIN/psql"
  capture_stop "$OUT/pg_ssl_accepted.pcap"
  grep -q 'secret over tls' "$WORK/pg_ssl_accepted.out" ||
    { cat "$WORK/pg_ssl_accepted.out" >&2; die "ssl_accepted query failed"; }
}

# MariaDB: its server, its captures and mysql_workload.py's (generate_mariadb.sh, sourced)
# shellcheck source=testdata/pcaps/generate_mariadb.sh
source "$HERE/generate_mariadb.sh"

# -------------------------------------------------------------- plain TCP
case_port() {
  python3 -c 'import sys, tcp_workload as w; print(w.CASES[sys.argv[1]]["port"])' "$1"
}

capture_tcp() {
  local name=$1 port file
  port=$(cd "$HERE" && case_port "$name")
  file=$OUT/tcp_$name.pcap
  log "tcp_$name.pcap (port $port)"
  if [[ $name == sll2 ]]; then
    capture_start "$file" -i any -y LINUX_SLL2 -s 0 tcp port "$port"
  else
    capture_start "$file" -i lo -s 0 tcp port "$port"
  fi
  if [[ $name == open ]]; then
    rm -f "$RELEASE_FILE"
    python3 "$HERE/tcp_workload.py" open "$RELEASE_FILE" >"$WORK/open.out" 2>&1 &
    WORKLOAD_PID=$!
    local i
    for i in $(seq 200); do
      grep -q 'holding connection open' "$WORK/open.out" && break
      kill -0 "$WORKLOAD_PID" 2>/dev/null || break
      sleep 0.05
    done
    grep -q 'holding connection open' "$WORK/open.out" ||
      { cat "$WORK/open.out" >&2; die "tcp workload open failed"; }
    capture_stop "$file"          # stopped while the connection is open
    touch "$RELEASE_FILE"
    wait "$WORKLOAD_PID" || { cat "$WORK/open.out" >&2; die "tcp workload open failed"; }
    WORKLOAD_PID=""
  else
    python3 "$HERE/tcp_workload.py" "$name" >/dev/null ||
      die "tcp workload $name failed"
    capture_stop "$file"
  fi
}

# ----------------------------------------------------- connection lifecycle
# wait_workload_file FILE: until the lifecycle workload writes FILE (or dies).
wait_workload_file() {
  local i
  for i in $(seq 1200); do
    [[ -e $1 ]] && return 0
    kill -0 "$WORKLOAD_PID" 2>/dev/null || break
    sleep 0.05
  done
  cat "$WORK/lifecycle/out" >&2
  die "lifecycle workload: no $(basename "$1")"
}

capture_lifecycle() {
  local file=$OUT/tcp_lifecycle.pcap dir=$WORK/lifecycle port refused
  read -r port refused < <(cd "$HERE" &&
    python3 -c 'import lifecycle_workload as w; print(w.PORT, w.REFUSED_PORT)')
  log "tcp_lifecycle.pcap (ports $port, $refused)"
  mkdir -p "$dir"
  python3 "$HERE/lifecycle_workload.py" "$dir" "$OUT/tcp_lifecycle.expected.json" \
    >"$dir/out" 2>&1 &
  WORKLOAD_PID=$!
  wait_workload_file "$dir/ready"  # the mid_stream connection is open: capture from here
  capture_start "$file" -i lo -s 0 tcp port "$port" or tcp port "$refused"
  touch "$dir/go"
  wait_workload_file "$dir/done"
  capture_stop "$file"  # the open connection is still open
  touch "$dir/stopped"
  wait "$WORKLOAD_PID" || { cat "$dir/out" >&2; die "lifecycle workload failed"; }
  WORKLOAD_PID=""
}

# ------------------------------------------------------------------- run
port_free "$PG_PORT"
port_free "$PG_SSL_PORT"
port_free "$MY_PORT"
pg_start
capture_pg
capture_pg_snaplen
capture_pg_psql
capture_pg_params
capture_pg_pgbench
capture_pg_ssl_refused
pg_ssl_start
capture_pg_ssl_accepted
my_start
capture_mariadb
my_setup
capture_mysql_client
capture_mysql_stmt
capture_mysql_compress
capture_mysql_charset latin1
capture_mysql_charset sjis
capture_mysql_slap
my_ssl_restart
capture_mysql_ssl
for c in "${TCP_CASES[@]}"; do
  capture_tcp "$c"
done
capture_lifecycle

# ---------------------------------------------------------- verification
log "verifying captures"
for f in "$OUT"/*.pcap; do
  size=$(stat -c %s "$f")
  ((size < MAX_BYTES)) || die "$(basename "$f") is $size bytes (limit 1 MB)"
done

python3 "$HERE/check_captures.py" "$OUT" "$PG_PORT" "$MY_PORT" "$PG_SSL_PORT"

# --------------------------------------------------------------- install
made=()
for f in "$OUT"/*.pcap "$OUT"/*.expected.json; do
  install -m 0644 "$f" "$HERE/$(basename "$f")"
  made+=("$HERE/$(basename "$f")")
done
log "captures written to $HERE"
ls -l "${made[@]}"
