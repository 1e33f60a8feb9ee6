#!/usr/bin/env bash
# Regenerates the real captures in this directory (see README.md).
#
# Run as root on Debian bookworm:  bash testdata/pcaps/generate.sh
# It installs what it needs, starts PostgreSQL and MariaDB on 127.0.0.1 in
# temporary directories, captures real client traffic (psql, pgbench, the
# libpq program pg_params.c, see pg_workload.py; the mariadb client,
# mariadb-slap and the libmariadb program mysql_stmt.c, see
# mysql_workload.py) and plain-TCP workloads (tcp_workload.py) with tcpdump,
# checks every capture, and only then copies the .pcap files and the
# *.expected.json files written by pg_params.c and mysql_stmt.c next to this
# script. Servers, tcpdump and the temporary directory are removed at exit,
# also on failure.
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
  gcc -O2 -Wall -o "$WORK/pg_params" "$HERE/pg_params.c" \
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

# --------------------------------------------------------------- MariaDB
MY_DIR=""

# my_launch EXTRA-MARIADBD-ARGS...: start mariadbd on $MY_DIR/data, wait for it
my_launch() {
  local i
  port_free "$MY_PORT"
  mariadbd --no-defaults --user=mysql --datadir="$MY_DIR/data" \
    --socket="$MY_DIR/mysqld.sock" --port="$MY_PORT" --bind-address=127.0.0.1 \
    --pid-file="$MY_DIR/mysqld.pid" --log-error="$MY_DIR/error.log" \
    --skip-name-resolve --innodb-buffer-pool-size=16M "$@" \
    </dev/null >/dev/null 2>&1 &
  MY_PID=$!
  for i in $(seq 300); do
    if mariadb-admin --no-defaults --socket="$MY_DIR/mysqld.sock" -u root \
        ping >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$MY_PID" 2>/dev/null ||
      { cat "$MY_DIR/error.log" >&2; die "mariadbd exited"; }
    sleep 0.1
  done
  cat "$MY_DIR/error.log" >&2
  die "mariadbd did not answer"
}

my_stop() {
  local i
  kill -TERM "$MY_PID" || die "mariadbd is gone"
  for i in $(seq 300); do
    kill -0 "$MY_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$MY_PID" 2>/dev/null || true
  wait "$MY_PID" || true
  MY_PID=""
}

my_start() {
  MY_DIR=$WORK/my
  mkdir "$MY_DIR"
  chown mysql:mysql "$MY_DIR"
  mariadb-install-db --no-defaults --user=mysql --datadir="$MY_DIR/data" \
    --auth-root-authentication-method=socket --skip-test-db \
    >"$MY_DIR/install.log" 2>&1 ||
    { cat "$MY_DIR/install.log" >&2; die "mariadb-install-db failed"; }
  my_launch
  my_sql "CREATE USER 'tcpdp'@'127.0.0.1'
            IDENTIFIED VIA mysql_native_password USING PASSWORD('tcpdp');
          GRANT ALL ON *.* TO 'tcpdp'@'127.0.0.1';"
}

# my_sql SQL: run SQL as root over the unix socket (not captured)
my_sql() {
  mariadb --no-defaults --socket="$MY_DIR/mysqld.sock" -u root -e "$1" ||
    { cat "$MY_DIR/error.log" >&2; die "MariaDB setup failed: $1"; }
}

capture_mariadb() {
  log "mariadb.pcap"
  cat >"$WORK/my.sql" <<'SQL'
SELECT 1;
CREATE DATABASE d;
USE d;
CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20));
INSERT INTO t VALUES (1,'alice'),(2,'bob');
SELECT * FROM t ORDER BY id;
SELECT * FROM no_such_table;
SQL
  capture_start "$OUT/mariadb.pcap" -i lo -s 0 tcp port "$MY_PORT"
  # --force: go on after the error; the exit status is then 1
  client_env mariadb --no-defaults -h 127.0.0.1 -P "$MY_PORT" --protocol=TCP \
    --skip-ssl -u tcpdp -ptcpdp --force <"$WORK/my.sql" \
    >"$WORK/my.out" 2>&1 || true
  capture_stop "$OUT/mariadb.pcap"
  grep -q "ERROR 1146" "$WORK/my.out" ||
    { cat "$WORK/my.out" >&2; die "mariadb workload did not behave"; }
  grep -q "bob" "$WORK/my.out" ||
    { cat "$WORK/my.out" >&2; die "mariadb workload did not behave"; }
}

# ------------------------------------------------- MariaDB: mysql_workload.py
# What the clients send and what the server answers is in mysql_workload.py;
# the verification below compares the captures with it and with the JSON
# files mysql_stmt.c writes. 32 MB capture buffer, as for PostgreSQL.
MY_CAPTURE=(-i lo -s 0 -B 32768)

my_run_workload() {   # my_run_workload OUTFILE ARGS...: mysql_workload.py ARGS
  local out=$1
  shift
  client_env python3 "$HERE/mysql_workload.py" "$@" >"$out" 2>&1 ||
    { cat "$out" >&2; die "mysql_workload.py $1 failed"; }
}

my_setup() {          # databases and tables the workloads need
  my_sql "$(cd "$HERE" && python3 -c 'import mysql_workload as w; print(w.SETUP_SQL)')"
}

capture_mysql_client() {
  log "mysql_client.pcap"
  capture_start "$OUT/mysql_client.pcap" "${MY_CAPTURE[@]}" tcp port "$MY_PORT"
  my_run_workload "$WORK/mysql_client.out" client mariadb
  capture_stop "$OUT/mysql_client.pcap"
  grep -q '^ERROR 1146 (42S02)' "$WORK/mysql_client.out" &&
    grep -qx '120000' "$WORK/mysql_client.out" &&
    grep -q 'héllo wörld ✓ 日本語 😀' "$WORK/mysql_client.out" ||
    { cat "$WORK/mysql_client.out" >&2; die "mariadb client workload did not behave"; }
}

capture_mysql_stmt() {
  log "mysql_stmt.pcap"
  gcc -O2 -Wall -o "$WORK/mysql_stmt" "$HERE/mysql_stmt.c" \
    $(mariadb_config --cflags --libs) || die "cannot compile mysql_stmt.c"
  capture_start "$OUT/mysql_stmt.pcap" "${MY_CAPTURE[@]}" tcp port "$MY_PORT"
  my_run_workload "$WORK/mysql_stmt.out" stmt "$WORK/mysql_stmt" \
    "$OUT/mysql_stmt.expected.json"
  capture_stop "$OUT/mysql_stmt.pcap"
  grep -q ' 0 mismatches$' "$WORK/mysql_stmt.out" ||
    { cat "$WORK/mysql_stmt.out" >&2; die "mysql_stmt did not behave"; }
}

capture_mysql_compress() {
  log "mysql_compress.pcap"
  my_sql "$(cd "$HERE" && python3 -c 'import mysql_workload as w; print(w.STMT_RESET_SQL)')"
  capture_start "$OUT/mysql_compress.pcap" "${MY_CAPTURE[@]}" tcp port "$MY_PORT"
  my_run_workload "$WORK/mysql_compress.out" compress "$WORK/mysql_stmt" \
    "$OUT/mysql_compress.expected.json" "$WORK/mysql_compress.queries"
  capture_stop "$OUT/mysql_compress.pcap"
  grep -q ' 0 mismatches$' "$WORK/mysql_compress.out" &&
    grep -q '^client .*, compress 1$' "$WORK/mysql_compress.out" ||
    { cat "$WORK/mysql_compress.out" >&2; die "mysql_stmt --compress did not behave"; }
}

capture_mysql_charset() {
  local cs=$1
  log "mysql_$cs.pcap"
  capture_start "$OUT/mysql_$cs.pcap" "${MY_CAPTURE[@]}" tcp port "$MY_PORT"
  my_run_workload "$WORK/mysql_$cs.out" "$cs" mariadb
  capture_stop "$OUT/mysql_$cs.pcap"
}

capture_mysql_slap() {
  log "mysql_slap.pcap"
  capture_start "$OUT/mysql_slap.pcap" "${MY_CAPTURE[@]}" tcp port "$MY_PORT"
  my_run_workload "$WORK/mysql_slap.out" slap mariadb-slap
  capture_stop "$OUT/mysql_slap.pcap"
  grep -q 'Number of clients running queries: 20' "$WORK/mysql_slap.out" ||
    { cat "$WORK/mysql_slap.out" >&2; die "mariadb-slap did not behave"; }
}

# mysql_ssl.pcap: the same server restarted with a self-signed certificate
my_ssl_restart() {
  local dir=$MY_DIR
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=127.0.0.1" \
    -keyout "$dir/server.key" -out "$dir/server.crt" >"$dir/openssl.log" 2>&1 ||
    { cat "$dir/openssl.log" >&2; die "openssl req failed"; }
  chown mysql:mysql "$dir/server.key" "$dir/server.crt"
  chmod 600 "$dir/server.key"
  my_stop
  my_launch --ssl-cert="$dir/server.crt" --ssl-key="$dir/server.key"
  [[ $(mariadb --no-defaults --socket="$dir/mysqld.sock" -u root -N -B \
      -e "SELECT @@have_ssl") == YES ]] || die "MariaDB did not enable TLS"
}

capture_mysql_ssl() {
  log "mysql_ssl.pcap"
  capture_start "$OUT/mysql_ssl.pcap" "${MY_CAPTURE[@]}" tcp port "$MY_PORT"
  my_run_workload "$WORK/mysql_ssl.out" ssl mariadb
  capture_stop "$OUT/mysql_ssl.pcap"
  grep -qx 'secret over tls' "$WORK/mysql_ssl.out" ||
    { cat "$WORK/mysql_ssl.out" >&2; die "TLS query failed"; }
}

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

python3 - "$OUT" "$HERE" "$PG_PORT" "$MY_PORT" "$PG_SSL_PORT" <<'PY'
"""Reads the captures with a small pcap/TCP reader of its own (and a
PostgreSQL and a MySQL protocol parser) and checks them against what the
workloads sent; cross-checks with tshark."""
import os
import shutil
import struct
import subprocess
import sys

out_dir, here, pg_port, my_port = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
pg_ssl_port = int(sys.argv[5])
sys.path.insert(0, here)
import tcp_workload as W
import json
import pg_workload as P
if (pg_port, pg_ssl_port) != (P.PG_PORT, P.PG_SSL_PORT):
    sys.exit("generate.sh and pg_workload.py disagree about the ports")

LINKTYPES = {"EN10MB": 1, "LINUX_SLL": 113, "LINUX_SLL2": 276}
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit("%s: not a pcap file" % path)
    _, _, _, _, _, snaplen, linktype = struct.unpack(e + "IHHiIII", data[:24])
    pkts, pos = [], 24
    while pos < len(data):
        _, _, caplen, origlen = struct.unpack(e + "IIII", data[pos:pos + 16])
        pkts.append((caplen, origlen, data[pos + 16:pos + 16 + caplen]))
        pos += 16 + caplen
    return snaplen, linktype & 0x0FFFFFFF, pkts


def parse(linktype, frame):
    """-> dict for a TCP packet, or None"""
    if linktype == 1:
        etype, off = struct.unpack("!H", frame[12:14])[0], 14
    elif linktype == 276:
        etype, off = struct.unpack("!H", frame[0:2])[0], 20
    elif linktype == 113:
        etype, off = struct.unpack("!H", frame[14:16])[0], 16
    else:
        raise SystemExit("unexpected link type %d" % linktype)
    if etype == 0x0800:
        ihl = (frame[off] & 0x0F) * 4
        total = struct.unpack("!H", frame[off + 2:off + 4])[0]
        if frame[off + 9] != 6:
            return None
        src, dst = frame[off + 12:off + 16], frame[off + 16:off + 20]
        tcp, end = off + ihl, off + total
    elif etype == 0x86DD:
        if frame[off + 6] != 6:
            return None
        plen = struct.unpack("!H", frame[off + 4:off + 6])[0]
        src, dst = frame[off + 8:off + 24], frame[off + 24:off + 40]
        tcp, end = off + 40, off + 40 + plen
    else:
        return None
    sport, dport, seq, ack = struct.unpack("!HHII", frame[tcp:tcp + 12])
    doff = (frame[tcp + 12] >> 4) * 4
    flags = frame[tcp + 13]
    return {"src": (src, sport), "dst": (dst, dport), "seq": seq,
            "flags": flags, "payload": frame[tcp + doff:end],
            "truncated": len(frame) < end, "v6": etype == 0x86DD}


class Conn:
    def __init__(self, client, server):
        self.client, self.server = client, server
        self.syns = 0
        self.flags = {"c": 0, "s": 0}          # OR of flags per direction
        self.isn = {}
        self.segs = {"c": [], "s": []}          # (seq, payload)
        self.v6 = False
        self.max_seg = 0

    def stream(self, d):
        """-> (bytes, segment start offsets, gap?)"""
        isn = self.isn.get(d)
        segs = self.segs[d]
        if isn is None:
            if not segs:
                return b"", [], False
            isn = min(s for s, _ in segs) - 1
        buf, starts, gap = bytearray(), set(), False
        for off, data in sorted(((s - isn - 1) & 0xFFFFFFFF, p) for s, p in segs):
            if off > len(buf):
                gap = True
                break
            starts.add(off)
            overlap = buf[off:off + len(data)]
            if overlap != data[:len(overlap)]:
                gap = True                      # inconsistent retransmission
            buf += data[len(buf) - off:]
        return bytes(buf), sorted(starts), gap


def connections(pkts, linktype, server_port):
    conns = {}
    order = []
    for _, _, frame in pkts:
        p = parse(linktype, frame)
        if p is None:
            continue
        if p["dst"][1] == server_port:
            key, d = (p["src"], p["dst"]), "c"
        elif p["src"][1] == server_port:
            key, d = (p["dst"], p["src"]), "s"
        else:
            continue
        c = conns.get(key)
        if c is None:
            c = conns[key] = Conn(*key)
            order.append(c)
        c.v6 = p["v6"]
        c.flags[d] |= p["flags"]
        if p["flags"] & SYN:
            if d == "c":
                c.syns += 1
            c.isn[d] = p["seq"]
        if p["payload"]:
            c.segs[d].append((p["seq"], p["payload"]))
            c.max_seg = max(c.max_seg, len(p["payload"]))
    return order


def tshark_follow(path):
    """-> (client bytes, server bytes) of tcp.stream 0, or None without tshark"""
    if not shutil.which("tshark"):
        return None
    out = subprocess.run(["tshark", "-r", path, "-q", "-z", "follow,tcp,raw,0"],
                         check=True, capture_output=True, text=True).stdout
    c, s, body = [], [], False
    for line in out.splitlines():
        if line.startswith("Node 1:"):
            body = True
            continue
        if not body or line.startswith("====") or not line.strip():
            continue
        (s if line.startswith("\t") else c).append(line.strip())
    return bytes.fromhex("".join(c)), bytes.fromhex("".join(s))


def check_tcp(name):
    case = W.CASES[name]
    path = os.path.join(out_dir, "tcp_%s.pcap" % name)
    _, linktype, pkts = read_pcap(path)
    if linktype != LINKTYPES[case["link"]]:
        fail("%s: link type %d, want %s" % (name, linktype, case["link"]))
    conns = connections(pkts, linktype, case["port"])
    if case["end"] == "refused":
        syns = sum(c.syns for c in conns)
        rsts = sum(1 for c in conns if c.flags["s"] & RST)
        data = sum(len(p) for c in conns for d in "cs" for _, p in c.segs[d])
        if syns != case["attempts"] or rsts != case["attempts"] or data:
            fail("%s: %d SYNs, %d RSTs, %d data bytes" % (name, syns, rsts, data))
        print("ok   tcp_%s.pcap: %d packets, %d refused attempts" % (name, len(pkts), syns))
        return
    if len(conns) != 1:
        fail("%s: %d connections, want 1" % (name, len(conns)))
        return
    c = conns[0]
    for d, key in (("c", "client_sends"), ("s", "server_sends")):
        got, starts, gap = c.stream(d)
        want = b"".join(case[key])
        if gap or got != want:
            fail("%s: %s stream differs (%d bytes, want %d, gap=%s)"
                 % (name, key, len(got), len(want), gap))
        off = 0
        for msg in case[key]:
            if off not in starts:
                fail("%s: a %s message does not start a segment" % (name, key))
            off += len(msg)
    fc, fs = c.flags["c"], c.flags["s"]
    if not (fs & SYN and fs & ACK):
        fail("%s: no SYN-ACK" % name)
    end = case["end"]
    if end == "close" and not (fc & FIN and fs & FIN and not (fc | fs) & RST):
        fail("%s: not a FIN/FIN close" % name)
    if end == "reset" and not (fc & RST and not (fc | fs) & FIN):
        fail("%s: no client RST (or a FIN was seen)" % name)
    if end == "open" and (fc | fs) & (FIN | RST):
        fail("%s: connection was not left open" % name)
    if c.v6 != (":" in case["host"]):
        fail("%s: wrong IP version" % name)
    tf = tshark_follow(path)
    if tf is not None and tf != (b"".join(case["client_sends"]),
                                 b"".join(case["server_sends"])):
        fail("%s: tshark follow differs from tcp_workload.CASES" % name)
    print("ok   tcp_%s.pcap: %d packets, client %d bytes, server %d bytes%s"
          % (name, len(pkts), len(b"".join(case["client_sends"])),
             len(b"".join(case["server_sends"])),
             ", tshark agrees" if tf is not None else ""))


def pg_query(q):
    q = q.encode() + b"\0"
    return b"Q" + struct.pack("!I", len(q) + 4) + q


def pg_queries(long_len):
    lit = ("abcdefghijklmnopqrstuvwxyz" * (long_len // 26 + 1))[:long_len]
    return ["SELECT 1;",
            "CREATE TABLE t (id int primary key, name text);",
            "INSERT INTO t VALUES (1, 'alice'), (2, 'bob');",
            "SELECT * FROM t ORDER BY id;",
            "SELECT * FROM no_such_table;",
            "SELECT length('%s');" % lit]


SSL_REQUEST = struct.pack("!II", 8, 80877103)
GSS_REQUEST = struct.pack("!II", 8, 80877104)


def check_pg():
    path = os.path.join(out_dir, "pg.pcap")
    _, linktype, pkts = read_pcap(path)
    conns = connections(pkts, linktype, pg_port)
    if linktype != 1 or len(conns) < 2:
        fail("pg: link type %d, %d connections" % (linktype, len(conns)))
        return
    notes = []
    for i, c in enumerate(conns):
        cs, _, gc = c.stream("c")
        ss, _, gs = c.stream("s")
        if gc or gs:
            fail("pg: connection %d has a gap" % i)
        if not (c.flags["c"] & FIN or c.flags["c"] & RST):
            fail("pg: connection %d not closed" % i)
        if cs.startswith(SSL_REQUEST) or cs.startswith(GSS_REQUEST):
            notes.append("conn %d starts with SSL/GSS request" % i)
        if not cs.endswith(b"X\0\0\0\x04"):
            fail("pg: connection %d does not end with Terminate" % i)
    cs, _, _ = conns[0].stream("c")
    ss, _, _ = conns[0].stream("s")
    pos = 0
    for q in pg_queries(200000):
        j = cs.find(pg_query(q), pos)
        if j < 0:
            fail("pg: query %r... not found in order" % q[:40])
        else:
            pos = j
    if b"no_such_table" not in ss or b"200000" not in ss:
        fail("pg: server replies incomplete")
    bench, _, _ = conns[-1].stream("c")
    if b"SELECT name FROM t WHERE id = $1" not in bench or bench.count(b"E\0\0\0\x09") < 20:
        fail("pg: pgbench extended-protocol traffic missing")
    print("ok   pg.pcap: %d packets, %d connections, largest TCP payload %d bytes%s"
          % (len(pkts), len(conns), max(c.max_seg for c in conns),
             "; " + "; ".join(notes) if notes else ""))


def check_pg_snaplen():
    path = os.path.join(out_dir, "pg_snaplen.pcap")
    snaplen, linktype, pkts = read_pcap(path)
    trunc = sum(1 for cap, orig, _ in pkts if cap < orig)
    if snaplen != 96 or linktype != 1 or any(cap > 96 for cap, _, _ in pkts) or not trunc:
        fail("pg_snaplen: snaplen %d, %d truncated packets" % (snaplen, trunc))
    conns = connections(pkts, linktype, pg_port)
    if len(conns) != 1 or not conns[0].syns:
        fail("pg_snaplen: %d connections" % len(conns))
    if not any(pg_query("SELECT 1;") in f for _, _, f in pkts):
        fail("pg_snaplen: SELECT 1 not seen")
    print("ok   pg_snaplen.pcap: %d packets, %d truncated by snaplen 96" % (len(pkts), trunc))


def check_mariadb():
    path = os.path.join(out_dir, "mariadb.pcap")
    _, linktype, pkts = read_pcap(path)
    conns = connections(pkts, linktype, my_port)
    if linktype != 1 or len(conns) != 1:
        fail("mariadb: link type %d, %d connections" % (linktype, len(conns)))
        return
    c = conns[0]
    cs, _, gc = c.stream("c")
    ss, _, gs = c.stream("s")
    if gc or gs:
        fail("mariadb: gap in stream")
    for q in [b"\x03SELECT 1", b"\x03CREATE DATABASE d", b"\x02d",
              b"\x03CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))",
              b"\x03INSERT INTO t VALUES (1,'alice'),(2,'bob')",
              b"\x03SELECT * FROM t ORDER BY id", b"\x03SELECT * FROM no_such_table"]:
        if q not in cs:
            fail("mariadb: command %r not found" % q)
    if b"\xff\x7a\x04" not in ss or b"mysql_native_password" not in ss:
        fail("mariadb: error 1146 or auth plugin name not in server stream")
    print("ok   mariadb.pcap: %d packets, client %d bytes, server %d bytes"
          % (len(pkts), len(cs), len(ss)))


# ------------------------------------------- PostgreSQL (pg_workload.py)

def report(nfail, msg):
    """print an ok line only when the check added no failure"""
    print(("ok   " if len(failures) == nfail else "BAD  ") + msg)


SSL_CODE, GSS_CODE, CANCEL_CODE = 80877103, 80877104, 80877102


def pg_client_msgs(cs, tls_after_ssl=False):
    """client byte stream -> [(type, body)]; the untyped startup-phase
    messages get the types "startup", "ssl_request", "gss_request" and
    "cancel"; with tls_after_ssl everything after the SSLRequest is one
    ("tls", bytes) item."""
    msgs, pos, startup = [], 0, True
    while pos < len(cs):
        if startup:
            if len(cs) - pos < 8:
                raise ValueError("short startup message")
            n, code = struct.unpack("!II", cs[pos:pos + 8])
            kind = {SSL_CODE: "ssl_request", GSS_CODE: "gss_request",
                    CANCEL_CODE: "cancel"}.get(code, "startup")
            msgs.append((kind, cs[pos + 4:pos + n]))
            pos += n
            if kind == "startup":
                startup = False
            elif kind == "ssl_request" and tls_after_ssl:
                msgs.append(("tls", cs[pos:]))
                return msgs
            continue
        if len(cs) - pos < 5:
            raise ValueError("short message header")
        t = chr(cs[pos])
        n = struct.unpack("!I", cs[pos + 1:pos + 5])[0]
        if pos + 1 + n > len(cs):
            raise ValueError("message %r cut off" % t)
        msgs.append((t, cs[pos + 5:pos + 1 + n]))
        pos += 1 + n
    return msgs


def pg_server_msgs(ss, ssl_answer=False):
    """server byte stream -> [(type, body)]; with ssl_answer the first byte
    is the answer to an SSLRequest ("ssl_answer"); after b"S" the rest is
    one ("tls", bytes) item."""
    msgs, pos = [], 0
    if ssl_answer:
        msgs.append(("ssl_answer", ss[:1]))
        if ss[:1] == b"S":
            msgs.append(("tls", ss[1:]))
            return msgs
        pos = 1
    while pos < len(ss):
        if len(ss) - pos < 5:
            raise ValueError("short message header")
        t = chr(ss[pos])
        n = struct.unpack("!I", ss[pos + 1:pos + 5])[0]
        if pos + 1 + n > len(ss):
            raise ValueError("message %r cut off" % t)
        msgs.append((t, ss[pos + 5:pos + 1 + n]))
        pos += 1 + n
    return msgs


def cstr(body, pos):
    end = body.index(b"\0", pos)
    return body[pos:end].decode(), end + 1


def startup_params(body):
    version = struct.unpack("!I", body[:4])[0]
    params, pos = {}, 4
    while body[pos:pos + 1] != b"\0":
        k, pos = cstr(body, pos)
        v, pos = cstr(body, pos)
        params[k] = v
    return version, params


def error_code(body):
    pos = 0
    while body[pos:pos + 1] != b"\0":
        field = body[pos:pos + 1]
        v, pos = cstr(body, pos + 1)
        if field == b"C":
            return v
    return None


def data_row(body):
    n = struct.unpack("!H", body[:2])[0]
    vals, pos = [], 2
    for _ in range(n):
        ln = struct.unpack("!i", body[pos:pos + 4])[0]
        pos += 4
        if ln < 0:
            vals.append(None)
        else:
            vals.append(body[pos:pos + ln].decode())
            pos += ln
    return vals


def parse_msg(body):
    name, pos = cstr(body, 0)
    query, pos = cstr(body, pos)
    n = struct.unpack("!H", body[pos:pos + 2])[0]
    types = list(struct.unpack("!%dI" % n, body[pos + 2:pos + 2 + 4 * n]))
    return name, query, types


def bind_msg(body):
    portal, pos = cstr(body, 0)
    stmt, pos = cstr(body, pos)
    nf = struct.unpack("!H", body[pos:pos + 2])[0]
    fmts = list(struct.unpack("!%dH" % nf, body[pos + 2:pos + 2 + 2 * nf]))
    pos += 2 + 2 * nf
    np_ = struct.unpack("!H", body[pos:pos + 2])[0]
    pos += 2
    params = []
    for _ in range(np_):
        ln = struct.unpack("!i", body[pos:pos + 4])[0]
        pos += 4
        if ln < 0:
            params.append(None)
        else:
            params.append(body[pos:pos + ln].hex())
            pos += ln
    nr = struct.unpack("!H", body[pos:pos + 2])[0]
    rfmts = list(struct.unpack("!%dH" % nr, body[pos + 2:pos + 2 + 2 * nr]))
    return portal, stmt, fmts, params, rfmts


def split_by_ready(msgs):
    """server messages -> list of lists, each ending with ReadyForQuery"""
    out, cur = [], []
    for m in msgs:
        cur.append(m)
        if m[0] == "Z":
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def pg_conns(name, port, want=None):
    """-> (packets, [(conn, client bytes, server bytes)]) with gap checks"""
    path = os.path.join(out_dir, name)
    _, linktype, pkts = read_pcap(path)
    conns = connections(pkts, linktype, port)
    if linktype != 1:
        fail("%s: link type %d" % (name, linktype))
    if want is not None and len(conns) != want:
        fail("%s: %d connections, want %d" % (name, len(conns), want))
    res = []
    for i, c in enumerate(conns):
        cs, _, gc = c.stream("c")
        ss, _, gs = c.stream("s")
        if gc or gs:
            fail("%s: connection %d has a gap" % (name, i))
        # psql may leave TLS session tickets unread: then it closes with RST;
        # over TLS the server may also close first, right after Terminate,
        # and reset psql's late close_notify (about one run in 25)
        if not (c.flags["c"] & (FIN | RST) or (c.flags["s"] & (FIN | RST)) == (FIN | RST)):
            fail("%s: connection %d not closed by the client" % (name, i))
        res.append((c, cs, ss))
    return pkts, res


def check_lifecycle():
    import lifecycle_workload as L
    path = os.path.join(out_dir, "tcp_lifecycle.pcap")
    with open(os.path.join(out_dir, "tcp_lifecycle.expected.json")) as f:
        entries = json.load(f)
    _, linktype, pkts = read_pcap(path)
    conns = {c.client[1]: c for port in (L.PORT, L.REFUSED_PORT)
             for c in connections(pkts, linktype, port)}
    if sorted(set(e["case"] for e in entries)) != sorted(L.CASES):
        fail("tcp_lifecycle: cases %s" % sorted(set(e["case"] for e in entries)))
    if sorted(conns) != sorted(e["client_port"] for e in entries):
        fail("tcp_lifecycle: connections in the capture %s, in the workload's record %s"
             % (sorted(conns), sorted(e["client_port"] for e in entries)))
        return
    for e in entries:
        c = conns[e["client_port"]]
        sent = (sum(len(p) for _, p in c.segs["c"]), sum(len(p) for _, p in c.segs["s"]))
        if sent != (e["client_sent"], e["server_sent"]):
            fail("tcp_lifecycle %s: payload %s, the workload sent %s"
                 % (e["case"], sent, (e["client_sent"], e["server_sent"])))
        if (c.syns == 0) != (e["case"] == "mid_stream"):
            fail("tcp_lifecycle %s: %d SYNs" % (e["case"], c.syns))
        if not e["kernel"]["client"]:
            fail("tcp_lifecycle %s: no kernel state changes recorded" % e["case"])
    crossed = [e for e in entries if e["case"] == "simultaneous" and
               all(["TCP_FIN_WAIT1", "TCP_CLOSING"] in e["kernel"][side]
                   for side in ("client", "server"))]
    if not crossed:
        fail("tcp_lifecycle: no simultaneous close went through CLOSING")


def tshark_pg(name, port, yfilter, fields):
    """tshark -T json on a capture, the port decoded as pgsql -> list of
    per-packet dicts field -> list of str"""
    out = subprocess.run(
        ["tshark", "-r", os.path.join(out_dir, name), "-d",
         "tcp.port==%d,pgsql" % port, "-Y", yfilter, "-T", "json"] +
        [a for f in fields for a in ("-e", f)],
        check=True, capture_output=True).stdout
    return [p["_source"]["layers"] for p in json.loads(out.decode() or "[]")]


def tshark_values(rows, field):
    return [v for r in rows for v in r.get(field, [])]


def tshark_bytes(v):
    return bytes.fromhex(v.replace(":", ""))


def as_tshark_string(s):
    """tshark shows pgsql strings as ASCII: each non-ASCII byte is U+FFFD"""
    return "".join(chr(b) if b < 0x80 else "\ufffd" for b in s.encode())


def check_pg_psql():
    nfail = len(failures)
    name = "pg_psql.pcap"
    pkts, conns = pg_conns(name, pg_port, 1)
    if not conns:
        return
    _, cs, ss = conns[0]
    try:
        cm = pg_client_msgs(cs)
        sm = pg_server_msgs(ss)
    except (ValueError, struct.error) as e:
        fail("%s: cannot parse: %s" % (name, e))
        return
    ver, params = startup_params(cm[0][1]) if cm[0][0] == "startup" else (0, {})
    if ver != 196608 or params.get("application_name") != "tcpdp-test" or \
            params.get("user") != "postgres":
        fail("%s: startup message %r %r" % (name, cm[0][0], params))
    queries = [b[:-1].decode() for t, b in cm if t == "Q"]
    if queries != P.PSQL_STATEMENTS:
        fail("%s: Query messages differ from PSQL_STATEMENTS" % name)
    kinds = [t for t, _ in cm[1:]]
    if set(kinds) - set("QdcX") or kinds[-1] != "X" or kinds.count("c") != 1:
        fail("%s: unexpected client message types %s" % (name, sorted(set(kinds))))
    copy_in = b"".join(b for t, b in cm if t == "d")
    n_copy_msgs = kinds.count("d")
    if copy_in != P.COPY_IN_DATA or copy_in.count(b"\n") != P.COPY_ROW_COUNT:
        fail("%s: COPY FROM STDIN data differs (%d rows)" % (name, copy_in.count(b"\n")))
    # CopyData/CopyDone must come right after the COPY ... FROM STDIN query
    qi = [i for i, (t, _) in enumerate(cm) if t == "Q"]
    after = qi[P.PSQL_COPY_IN_INDEX] + 1
    if [t for t, _ in cm[after:after + n_copy_msgs + 1]] != ["d"] * n_copy_msgs + ["c"]:
        fail("%s: COPY data not right after its query" % name)
    segs = split_by_ready(sm)
    if len(segs) != len(P.PSQL_STATEMENTS) + 1 or segs[0][0] != ("R", b"\0\0\0\0"):
        fail("%s: %d ReadyForQuery, want %d" % (name, len(segs), len(P.PSQL_STATEMENTS) + 1))
        return
    for i, (seg, want) in enumerate(zip(segs[1:], P.PSQL_RESULTS)):
        tags = [b[:-1].decode() for t, b in seg if t == "C"]
        errs = [error_code(b) for t, b in seg if t == "E"]
        rows = [data_row(b) for t, b in seg if t == "D"]
        empty = any(t == "I" for t, _ in seg)
        if tags != want["tags"] or errs != ([want["error"]] if want["error"] else []) \
                or empty != want["empty"] or \
                (want["rows"] is not None and rows != want["rows"]):
            fail("%s: statement %d answered tags=%r errors=%r empty=%r rows=%d"
                 % (name, i, tags, errs, empty, len(rows)))
    out_seg = segs[1 + P.PSQL_COPY_OUT_INDEX]
    out_rows = [b for t, b in out_seg if t == "d"]
    if b"".join(out_rows) != P.COPY_OUT_DATA or len(out_rows) != len(P.COPY_OUT_ROWS):
        fail("%s: COPY TO STDOUT data differs (%d CopyData)" % (name, len(out_rows)))
    # tshark: same queries, tags, SQLSTATEs and COPY data
    fe = tshark_pg(name, pg_port, "pgsql && tcp.dstport==%d" % pg_port,
                   ["pgsql.query", "pgsql.copydata"])
    be = tshark_pg(name, pg_port, "pgsql && tcp.srcport==%d" % pg_port,
                   ["pgsql.tag", "pgsql.code", "pgsql.copydata"])
    if tshark_values(fe, "pgsql.query") != [as_tshark_string(s) for s in P.PSQL_STATEMENTS]:
        fail("%s: tshark sees other queries" % name)
    if tshark_values(be, "pgsql.tag") != [t for r in P.PSQL_RESULTS for t in r["tags"]]:
        fail("%s: tshark sees other command tags" % name)
    if tshark_values(be, "pgsql.code") != [r["error"] for r in P.PSQL_RESULTS if r["error"]]:
        fail("%s: tshark sees other SQLSTATEs" % name)
    tin = b"".join(tshark_bytes(v) for v in tshark_values(fe, "pgsql.copydata"))
    tout = [tshark_bytes(v) for v in tshark_values(be, "pgsql.copydata")]
    if tin != P.COPY_IN_DATA or tin.count(b"\n") != 1000 or b"".join(tout) != P.COPY_OUT_DATA:
        fail("%s: tshark sees other COPY data" % name)
    report(nfail, "%s: %d packets, %d queries (largest %d bytes), COPY in %d rows in %d "
          "CopyData, COPY out %d rows; tshark agrees"
          % (name, len(pkts), len(queries), max(len(q) for q in queries),
             P.COPY_ROW_COUNT, n_copy_msgs, len(out_rows)))


def check_pg_params():
    nfail = len(failures)
    name = "pg_params.pcap"
    expected = P.load_params_expected(os.path.join(out_dir, "pg_params.expected.json"))
    pkts, conns = pg_conns(name, pg_port, 1)
    if not conns:
        return
    _, cs, ss = conns[0]
    try:
        cm = pg_client_msgs(cs)
        sm = pg_server_msgs(ss)
    except (ValueError, struct.error) as e:
        fail("%s: cannot parse: %s" % (name, e))
        return
    _, params = startup_params(cm[0][1])
    if params.get("application_name") != "tcpdp-params" or params.get("timezone") != "UTC":
        fail("%s: startup parameters %r" % (name, params))
    stmts, binds, n_parse = {}, [], 0
    for t, b in cm[1:]:
        if t == "P":
            sname, q, types = parse_msg(b)
            stmts[sname] = (q, types)
            n_parse += 1
        elif t == "B":
            portal, sname, fmts, vals, rfmts = bind_msg(b)
            q, types = stmts.get(sname, (None, None))
            binds.append((portal, sname, q, types, fmts, vals, rfmts))
        elif t not in "DESX":
            fail("%s: unexpected client message %r" % (name, t))
    want_parse = len([e for i, e in enumerate(expected) if e["stmt_name"] == "" or
                      e["stmt_name"] not in [x["stmt_name"] for x in expected[:i]]])
    if len(binds) != len(expected) or n_parse != want_parse:
        fail("%s: %d Bind / %d Parse, want %d / %d"
             % (name, len(binds), n_parse, len(expected), want_parse))
    for b, e in zip(binds, expected):
        if b != ("", e["stmt_name"], e["query"], e["types"], e["bind_format_codes"],
                 e["params_hex"], [0]):
            fail("%s: Bind for %r differs: %r" % (name, e["stmt_name"], b))
    segs = [s for s in split_by_ready(sm[1:]) if any(t in "2E" for t, _ in s)]
    if len(segs) != len(expected):
        fail("%s: %d execution answers, want %d" % (name, len(segs), len(expected)))
    for seg, e in zip(segs, expected):
        rows = [data_row(b) for t, b in seg if t == "D"]
        errs = [error_code(b) for t, b in seg if t == "E"]
        if "error" in e:
            ok = errs == [e["error"]] and not rows
        else:
            ok = not errs and rows == [e["values"]] and \
                [b for t, b in seg if t == "C"] == [b"SELECT 1\0"]
        if not ok:
            fail("%s: answer to %r differs: %r %r" % (name, e["stmt_name"], rows, errs))
    # tshark: one Bind per execution, format codes as expected (+ result format 0)
    tb = tshark_pg(name, pg_port, 'pgsql.type == "Bind"', ["pgsql.statement", "pgsql.format"])
    got = [[int(x) for x in r.get("pgsql.format", [])] for r in tb]
    if got != [e["bind_format_codes"] + [0] for e in expected]:
        fail("%s: tshark sees other Bind format codes: %r" % (name, got))
    n_bin = sum(1 for e in expected if 1 in e["bind_format_codes"])
    report(nfail, "%s: %d packets, %d Bind (%d with binary parameters), %d Parse; "
          "tshark agrees" % (name, len(pkts), len(binds), n_bin, n_parse))


def check_pg_pgbench():
    nfail = len(failures)
    name = "pg_pgbench.pcap"
    runs = [P.PGBENCH["prepared"], P.PGBENCH["extended"]]
    want_conns = sum(r["clients"] + 1 for r in runs)
    pkts, conns = pg_conns(name, pg_port, want_conns)
    script = P.PGBENCH_SCRIPT
    per_tx = ["BEGIN", "UPDATE 1", "SELECT 1", "UPDATE 1", "UPDATE 1",
              "INSERT 0 1", "COMMIT"]
    found = {"prepared": 0, "extended": 0, "info": 0}
    binds_total = 0
    for i, (_, cs, ss) in enumerate(conns):
        try:
            cm = pg_client_msgs(cs)
            sm = pg_server_msgs(ss)
        except (ValueError, struct.error) as e:
            fail("%s: connection %d: cannot parse: %s" % (name, i, e))
            continue
        parses = [parse_msg(b) for t, b in cm if t == "P"]
        binds = [bind_msg(b) for t, b in cm if t == "B"]
        binds_total += len(binds)
        tags = [b[:-1].decode() for t, b in sm if t == "C"]
        if any(t == "E" for t, _ in sm):
            fail("%s: connection %d got an error" % (name, i))
        if not binds:                      # pgbench's table-info connection
            found["info"] += 1
            if not any(t == "Q" for t, _ in cm):
                fail("%s: connection %d sends nothing" % (name, i))
            continue
        mode = "extended" if parses and parses[0][0] == "" else "prepared"
        run = P.PGBENCH[mode]
        found[mode] += 1
        n = run["transactions"] * run["statements_per_transaction"]
        if mode == "prepared":
            pok = [(p[0], p[1]) for p in parses] == list(zip(run["statement_names"], script))
        else:
            pok = [(p[0], p[1]) for p in parses] == [("", s) for s in script] * run["transactions"]
        if not pok or len(binds) != n or tags != per_tx * run["transactions"] or \
                {b[1] for b in binds} != set(run["statement_names"]):
            fail("%s: connection %d (%s): %d Parse, %d Bind, %d tags"
                 % (name, i, mode, len(parses), len(binds), len(tags)))
    if found != {"prepared": P.PGBENCH["prepared"]["clients"],
                 "extended": P.PGBENCH["extended"]["clients"], "info": len(runs)}:
        fail("%s: connections by kind %r" % (name, found))
    want_binds = sum(r["binds"] for r in runs)
    if binds_total != want_binds:
        fail("%s: %d Bind, want %d" % (name, binds_total, want_binds))
    tb = tshark_pg(name, pg_port, "pgsql", ["pgsql.type"])
    tcount = tshark_values(tb, "pgsql.type").count("Bind")
    if tcount != want_binds:
        fail("%s: tshark counts %d Bind, want %d" % (name, tcount, want_binds))
    report(nfail, "%s: %d packets, %d connections, %d Bind (prepared %d, extended %d); "
          "tshark agrees" % (name, len(pkts), len(conns), binds_total,
                             P.PGBENCH["prepared"]["binds"], P.PGBENCH["extended"]["binds"]))


def check_pg_ssl(case):
    nfail = len(failures)
    c = P.SSL_CASES[case]
    name = "pg_%s.pcap" % case
    port = c["port"]
    pkts, conns = pg_conns(name, port, 1)
    if not conns:
        return
    _, cs, ss = conns[0]
    tls = c["server_reply"] == b"S"
    try:
        cm = pg_client_msgs(cs, tls_after_ssl=tls)
        sm = pg_server_msgs(ss, ssl_answer=True)
    except (ValueError, struct.error) as e:
        fail("%s: cannot parse: %s" % (name, e))
        return
    if cm[0][0] != "ssl_request" or sm[0] != ("ssl_answer", c["server_reply"]):
        fail("%s: no SSLRequest answered %r" % (name, c["server_reply"]))
        return
    with open(os.path.join(out_dir, name), "rb") as f:
        raw = f.read()
    secret = c["query"].split("'")[1].encode()
    if tls:
        if not (cm[1][1][:2] == b"\x16\x03" and sm[1][1][:2] == b"\x16\x03"):
            fail("%s: no TLS records after 'S'" % name)
        if secret in raw or b"SELECT" in raw:
            fail("%s: plaintext visible in the capture" % name)
        hs = tshark_values(tshark_pg(name, port, "tls.handshake", ["tls.handshake.type"]),
                           "tls.handshake.type")
        if "1" not in hs or "2" not in hs:
            fail("%s: tshark sees no TLS ClientHello/ServerHello" % name)
        report(nfail, "%s: %d packets, SSLRequest answered 'S', then TLS (client %d bytes);"
              " no plaintext; tshark sees the TLS handshake" % (name, len(pkts), len(cs) - 8))
        return
    _, params = startup_params(cm[1][1]) if cm[1][0] == "startup" else (0, {})
    if [t for t, _ in cm[2:]] != ["Q", "X"] or cm[2][1] != c["query"].encode() + b"\0" \
            or params.get("application_name") != "tcpdp-ssl-refused":
        fail("%s: client messages after 'N' differ" % name)
    if [data_row(b) for t, b in sm if t == "D"] != [[secret.decode()]]:
        fail("%s: no result row" % name)
    tq = tshark_values(tshark_pg(name, port, "pgsql", ["pgsql.query"]), "pgsql.query")
    if tq != [c["query"]]:
        fail("%s: tshark sees queries %r" % (name, tq))
    report(nfail, "%s: %d packets, SSLRequest answered 'N', then plaintext startup and "
          "query; tshark agrees" % (name, len(pkts)))



# --------------------------------------- MariaDB (mysql_workload.py)
import zlib
import mysql_workload as M
if my_port != M.MY_PORT:
    sys.exit("generate.sh and mysql_workload.py disagree about the port")

COM_NAME = {v: k for k, v in M.COM.items()}
CAP = M.CAP
SERVER_MORE_RESULTS_EXISTS = 0x0008
UNSIGNED_FLAG = 0x0020
(MT_DECIMAL, MT_TINY, MT_SHORT, MT_LONG, MT_FLOAT, MT_DOUBLE, MT_NULL, MT_TIMESTAMP,
 MT_LONGLONG, MT_INT24, MT_DATE, MT_TIME, MT_DATETIME, MT_YEAR) = range(14)
MT_BIT = 16
MT_STRINGS = {15, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255}


class MyReader:
    def __init__(self, data, pos=0):
        self.b, self.p = data, pos

    def left(self):
        return len(self.b) - self.p

    def take(self, n):
        if n < 0 or self.p + n > len(self.b):
            raise ValueError("packet too short")
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def int(self, n):
        return int.from_bytes(self.take(n), "little")

    def lenenc(self):
        c = self.int(1)
        if c < 0xFB:
            return c
        if c == 0xFB:
            return None
        if c == 0xFF:
            raise ValueError("length-encoded integer 0xff")
        return self.int({0xFC: 2, 0xFD: 3, 0xFE: 8}[c])

    def lenenc_bytes(self):
        n = self.lenenc()
        return None if n is None else self.take(n)

    def cstr(self):
        end = self.b.find(b"\0", self.p)
        if end < 0:                    # last field, not terminated
            end = len(self.b)
        v = self.b[self.p:end]
        self.p = min(end + 1, len(self.b))
        return v


def my_take_packet(data, pos):
    """one plain packet at pos -> (seq, payload, next pos)"""
    if len(data) - pos < 4:
        raise ValueError("packet header cut off")
    n = int.from_bytes(data[pos:pos + 3], "little")
    if pos + 4 + n > len(data):
        raise ValueError("packet cut off")
    return data[pos + 3], data[pos + 4:pos + 4 + n], pos + 4 + n


def my_packets(data):
    """plain protocol bytes -> [(seq, payload)]; a 0xffffff-byte packet is
    joined with the packets that continue it"""
    out, pos, cur = [], 0, None
    while pos < len(data):
        seq, body, pos = my_take_packet(data, pos)
        if cur is None:
            cur = [seq, bytearray()]
        cur[1] += body
        if len(body) < 0xFFFFFF:
            out.append((cur[0], bytes(cur[1])))
            cur = None
    if cur is not None:
        raise ValueError("multi-packet payload cut off")
    return out


def my_uncompress(data):
    """compressed protocol bytes -> (plain bytes, frames); a frame is
    (compressed length, uncompressed length, 0 when sent as is)"""
    out, frames, pos = bytearray(), [], 0
    while pos < len(data):
        if len(data) - pos < 7:
            raise ValueError("compressed header cut off")
        clen = int.from_bytes(data[pos:pos + 3], "little")
        ulen = int.from_bytes(data[pos + 4:pos + 7], "little")
        body = data[pos + 7:pos + 7 + clen]
        if len(body) != clen:
            raise ValueError("compressed packet cut off")
        pos += 7 + clen
        plain = zlib.decompress(body) if ulen else body
        if ulen and len(plain) != ulen:
            raise ValueError("uncompressed length differs")
        out += plain
        frames.append((clen, ulen))
    return bytes(out), frames




def my_greeting(p):
    r = MyReader(p)
    g = {"protocol": r.int(1), "version": r.cstr().decode()}
    g["thread_id"] = r.int(4)
    r.take(9)
    caps = r.int(2)
    g["charset"] = r.int(1)
    g["status"] = r.int(2)
    caps |= r.int(2) << 16
    salt_len = r.int(1)
    r.take(6)
    ext = r.int(4)
    if not caps & CAP["CLIENT_LONG_PASSWORD"]:   # a MariaDB server
        caps |= ext << 32
    g["caps"] = caps
    r.take(max(13, salt_len - 8))
    g["auth_plugin"] = r.cstr().decode()
    return g


def my_login(p):
    """HandshakeResponse41 (or the 32-byte SSLRequest) -> dict"""
    r = MyReader(p)
    caps = r.int(4)
    d = {"max_packet": r.int(4), "collation_id": r.int(1)}
    r.take(19)
    ext = r.int(4)
    if not caps & CAP["CLIENT_LONG_PASSWORD"]:
        caps |= ext << 32
    d["caps"] = caps
    d["ssl_request"] = r.left() == 0
    if d["ssl_request"]:
        return d
    d["user"] = r.cstr().decode()
    if caps & CAP["CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA"]:
        d["auth"] = r.lenenc_bytes()
    else:
        d["auth"] = r.take(r.int(1))
    d["database"] = r.cstr().decode() if caps & CAP["CLIENT_CONNECT_WITH_DB"] else None
    d["auth_plugin"] = r.cstr().decode() if caps & CAP["CLIENT_PLUGIN_AUTH"] else None
    d["attrs"] = {}
    if caps & CAP["CLIENT_CONNECT_ATTRS"]:
        a = MyReader(r.lenenc_bytes())
        while a.left():
            k = a.lenenc_bytes().decode()
            d["attrs"][k] = a.lenenc_bytes().decode()
    if r.left():
        raise ValueError("%d bytes after the HandshakeResponse" % r.left())
    return d


def my_session(cs, ss):
    """one connection's two byte streams -> dict with the handshake, and the
    command / answer packets (decompressed if compression was negotiated)"""
    _, gp, spos = my_take_packet(ss, 0)
    s = {"greeting": my_greeting(gp)}
    _, lp, cpos = my_take_packet(cs, 0)
    s["login"] = login = my_login(lp)
    s["caps"] = caps = login["caps"] & s["greeting"]["caps"]
    s["tls"] = login["ssl_request"]
    if s["tls"]:
        s["client_tls"], s["server_tls"] = cs[cpos:], ss[spos:]
        return s
    s["auth_packets"] = 0
    while True:
        _, p, spos = my_take_packet(ss, spos)
        if p[:1] in (b"\x00", b"\xff"):
            s["auth_ok"] = p[:1] == b"\x00"
            break
        _, _, cpos = my_take_packet(cs, cpos)     # auth switch / more data
        s["auth_packets"] += 1
    crest, srest = cs[cpos:], ss[spos:]
    s["compressed"] = bool(caps & CAP["CLIENT_COMPRESS"])
    if s["compressed"]:
        crest, s["client_frames"] = my_uncompress(crest)
        srest, s["server_frames"] = my_uncompress(srest)
    s["client_packets"] = my_packets(crest)
    s["server_packets"] = my_packets(srest)
    return s


def my_float_text(raw, fmt, digits):
    """the shortest %g that reads back to the same float / double"""
    v = struct.unpack(fmt, raw)[0]
    for p in range(1, digits + 1):
        t = "%.*g" % (p, v)
        if struct.pack(fmt, float(t)) == raw:
            return t
    return "%.*g" % (digits, v)


def my_value(r, t, uns, encoding="utf-8"):
    """one binary-protocol value -> canonical text (mysql_workload.py)"""
    if t == MT_NULL:
        return None
    if t in (MT_TINY, MT_SHORT, MT_YEAR, MT_LONG, MT_INT24, MT_LONGLONG):
        n = {MT_TINY: 1, MT_SHORT: 2, MT_YEAR: 2, MT_LONG: 4, MT_INT24: 4, MT_LONGLONG: 8}[t]
        return str(int.from_bytes(r.take(n), "little", signed=not uns and t != MT_YEAR))
    if t == MT_FLOAT:
        return my_float_text(r.take(4), "<f", 9)
    if t == MT_DOUBLE:
        return my_float_text(r.take(8), "<d", 17)
    if t in (MT_DATE, MT_DATETIME, MT_TIMESTAMP):
        n = r.int(1)
        if n not in (0, 4, 7, 11):
            raise ValueError("date length %d" % n)
        y = mo = d = h = mi = s = us = 0
        if n >= 4:
            y, mo, d = r.int(2), r.int(1), r.int(1)
        if n >= 7:
            h, mi, s = r.int(1), r.int(1), r.int(1)
        if n == 11:
            us = r.int(4)
        if t == MT_DATE:
            return "%04d-%02d-%02d" % (y, mo, d)
        return "%04d-%02d-%02d %02d:%02d:%02d%s" % (y, mo, d, h, mi, s,
                                                   ".%06d" % us if us else "")
    if t == MT_TIME:
        n = r.int(1)
        if n not in (0, 8, 12):
            raise ValueError("time length %d" % n)
        neg = days = h = mi = s = us = 0
        if n >= 8:
            neg, days, h, mi, s = r.int(1), r.int(4), r.int(1), r.int(1), r.int(1)
        if n == 12:
            us = r.int(4)
        return "%s%02d:%02d:%02d%s" % ("-" if neg else "", days * 24 + h, mi, s,
                                       ".%06d" % us if us else "")
    if t == MT_BIT:
        return str(int.from_bytes(r.lenenc_bytes(), "big"))
    if t in MT_STRINGS or t == MT_DECIMAL:
        b = r.lenenc_bytes()
        return M.bytes_text(b) if encoding == "utf-8" else b.decode(encoding)
    raise ValueError("unknown type %d" % t)


class MyAnswers:
    """the server's packets, read one command's answer at a time"""

    def __init__(self, packets, caps):
        self.pk, self.i, self.caps = packets, 0, caps
        self.deprecate_eof = bool(caps & CAP["CLIENT_DEPRECATE_EOF"])

    def next(self):
        if self.i >= len(self.pk):
            raise ValueError("server answer missing")
        self.i += 1
        return self.pk[self.i - 1][1]

    def ok(self, p):
        r = MyReader(p, 1)
        res = {"type": "ok", "affected_rows": r.lenenc(), "last_insert_id": r.lenenc()}
        status = r.int(2)
        res["warnings"] = r.int(2)
        return res, status

    @staticmethod
    def error(p):
        r = MyReader(p, 1)
        code, state = r.int(2), None
        if p[3:4] == b"#":
            r.take(1)
            state = r.take(5).decode()
        return {"type": "error", "code": code, "sql_state": state,
                "message": r.take(r.left()).decode("utf-8", "replace")}

    def is_end(self, p):
        """EOF, or with CLIENT_DEPRECATE_EOF the OK that ends the rows"""
        if self.deprecate_eof:
            return p[:1] == b"\xfe" and len(p) < 0xFFFFFF
        return p[:1] == b"\xfe" and len(p) < 9

    def end_status(self, p):
        if self.deprecate_eof:
            res, status = self.ok(p)
            return res["warnings"], status
        return int.from_bytes(p[1:3], "little"), int.from_bytes(p[3:5], "little")

    def eof(self):
        if not self.deprecate_eof:
            p = self.next()
            if not (p[:1] == b"\xfe" and len(p) < 9):
                raise ValueError("EOF expected after column definitions")

    def coldef(self, p):
        r = MyReader(p)
        for _ in range(4):                 # catalog, schema, table, org_table
            r.lenenc_bytes()
        c = {"name": r.lenenc_bytes()}
        r.lenenc_bytes()                   # org_name
        if self.caps & CAP["MARIADB_CLIENT_EXTENDED_METADATA"]:
            r.lenenc_bytes()
        if r.lenenc() != 12:
            raise ValueError("column definition: fixed part is not 12 bytes")
        c["charset"], c["length"], c["type"] = r.int(2), r.int(4), r.int(1)
        c["unsigned"] = bool(r.int(2) & UNSIGNED_FLAG)
        return c

    def results(self, binary=False, cached=None, encoding="utf-8"):
        """-> list of result dicts (mysql_workload.py's form, plus column
        types and "metadata_sent" for result sets)"""
        out = []
        while True:
            p = self.next()
            if p[:1] == b"\x00":
                res, status = self.ok(p)
                out.append(res)
            elif p[:1] == b"\xff":
                out.append(self.error(p))
                return out
            elif p[:1] == b"\xfb":
                raise ValueError("LOCAL INFILE request")
            else:
                r = MyReader(p)
                ncol, meta = r.lenenc(), True
                if binary and self.caps & CAP["MARIADB_CLIENT_CACHE_METADATA"]:
                    meta = bool(r.int(1))
                if meta:
                    cols = [self.coldef(self.next()) for _ in range(ncol)]
                else:                      # the metadata of the PREPARE_OK
                    cols = cached
                    if cols is None or len(cols) != ncol:
                        raise ValueError("no cached metadata for %d columns" % ncol)
                self.eof()                 # (sent even when the metadata is not)
                rows = []
                while True:
                    p = self.next()
                    if p[:1] == b"\xff":
                        out.append(self.error(p))
                        return out
                    if self.is_end(p):
                        warnings, status = self.end_status(p)
                        break
                    rr = MyReader(p)
                    if binary:
                        if rr.int(1) != 0:
                            raise ValueError("binary row header")
                        bitmap = rr.take((ncol + 9) // 8)
                        row = [None if bitmap[(i + 2) // 8] >> ((i + 2) % 8) & 1
                               else my_value(rr, c["type"], c["unsigned"], encoding)
                               for i, c in enumerate(cols)]
                    else:
                        row = [rr.lenenc_bytes() for _ in range(ncol)]
                        row = [None if v is None else v.decode(encoding) for v in row]
                    if rr.left():
                        raise ValueError("%d bytes left in a row" % rr.left())
                    rows.append(row)
                out.append({"type": "resultset",
                            "columns": [c["name"].decode(encoding) for c in cols],
                            "rows": rows, "warnings": warnings, "metadata_sent": meta,
                            "column_types": [c["type"] for c in cols],
                            "column_unsigned": [c["unsigned"] for c in cols]})
            if not status & SERVER_MORE_RESULTS_EXISTS:
                return out


def my_commands(sess, encoding="utf-8"):
    """-> list of command dicts: "command" (name), "text" (bytes, COM_QUERY,
    COM_INIT_DB, COM_STMT_PREPARE), "stmt_id", the decoded execute, and
    "results" (the server's answer)"""
    ans = MyAnswers(sess["server_packets"], sess["caps"])
    stmts, cmds = {}, []
    for seq, p in sess["client_packets"]:
        if seq != 0 or not p:
            raise ValueError("command packet with sequence id %d" % seq)
        c = {"command": COM_NAME.get(p[0], p[0]), "results": []}
        body = p[1:]
        name = c["command"]
        if name in ("COM_QUERY", "COM_INIT_DB"):
            c["text"] = body
            c["results"] = ans.results(encoding=encoding)
        elif name == "COM_QUIT":
            pass
        elif name == "COM_STMT_PREPARE":
            c["text"] = body
            a = ans.next()
            if a[:1] == b"\xff":
                c["results"] = [ans.error(a)]
            else:
                r = MyReader(a, 1)
                sid, ncol, npar = r.int(4), r.int(2), r.int(2)
                r.take(1)
                c.update(stmt_id=sid, num_columns=ncol, num_params=npar, warnings=r.int(2))
                params = [ans.coldef(ans.next()) for _ in range(npar)]
                if npar:
                    ans.eof()
                cols = [ans.coldef(ans.next()) for _ in range(ncol)]
                if ncol:
                    ans.eof()
                c["param_types"] = [x["type"] for x in params]
                c["column_types"] = [x["type"] for x in cols]
                stmts[sid] = {"nparams": npar, "columns": cols, "types": None, "long": {}}
        elif name == "COM_STMT_SEND_LONG_DATA":
            r = MyReader(body)
            c["stmt_id"], c["param"] = r.int(4), r.int(2)
            c["data"] = body[6:]
            stmts[c["stmt_id"]]["long"].setdefault(c["param"], []).append(c["data"])
        elif name in ("COM_STMT_RESET", "COM_STMT_CLOSE"):
            c["stmt_id"] = int.from_bytes(body[:4], "little")
            if len(body) != 4:
                raise ValueError("%s of %d bytes" % (name, len(body)))
            if name == "COM_STMT_RESET":
                stmts[c["stmt_id"]]["long"] = {}
                c["results"] = ans.results()
        elif name == "COM_STMT_EXECUTE":
            r = MyReader(body)
            sid = c["stmt_id"] = r.int(4)
            c["flags"], c["iterations"] = r.int(1), r.int(4)
            st = stmts[sid]
            n = st["nparams"]
            c["new_params_bound"], c["values"] = False, []
            if n:
                bitmap = r.take((n + 7) // 8)
                c["new_params_bound"] = bool(r.int(1))
                if c["new_params_bound"]:
                    st["types"] = [(r.int(1), r.int(1)) for _ in range(n)]
                if st["types"] is None:
                    raise ValueError("execute without types")
                for i, (t, f) in enumerate(st["types"]):
                    # a parameter sent by COM_STMT_SEND_LONG_DATA has that
                    # value, NULL bit or not (MariaDB reads it so)
                    if i in st["long"]:
                        c["values"].append(M.bytes_text(b"".join(st["long"][i])))
                    elif bitmap[i // 8] >> (i % 8) & 1:
                        c["values"].append(None)
                    else:
                        c["values"].append(my_value(r, t, bool(f & 0x80), encoding))
            if r.left():
                raise ValueError("%d bytes left in COM_STMT_EXECUTE" % r.left())
            c["types"] = [t for t, _ in st["types"]] if n else []
            c["unsigned"] = [bool(f & 0x80) for _, f in st["types"]] if n else []
            c["long_data"] = st["long"]
            st["long"] = {}
            c["results"] = ans.results(binary=True, cached=st["columns"], encoding=encoding)
        else:
            raise ValueError("unexpected command %r" % name)
        cmds.append(c)
    if ans.i != len(ans.pk):
        raise ValueError("%d server packets after the last answer" % (len(ans.pk) - ans.i))
    return cmds


def my_sessions(name, want=None):
    """-> (packets, [(conn, session, client bytes, server bytes)]); fails on
    gaps, connections not closed by the client, parse errors"""
    path = os.path.join(out_dir, name)
    _, linktype, pkts = read_pcap(path)
    if linktype != 1:
        fail("%s: link type %d" % (name, linktype))
    conns = connections(pkts, linktype, my_port)
    if want is not None and len(conns) != want:
        fail("%s: %d connections, want %d" % (name, len(conns), want))
    res = []
    for i, c in enumerate(conns):
        cs, _, gc = c.stream("c")
        ss, _, gs = c.stream("s")
        if gc or gs:
            fail("%s: connection %d has a gap" % (name, i))
            continue
        if not c.flags["c"] & (FIN | RST) or not c.syns:
            fail("%s: connection %d not complete (SYN .. client FIN)" % (name, i))
        try:
            res.append((c, my_session(cs, ss), cs, ss))
        except (ValueError, KeyError, struct.error, zlib.error) as e:
            fail("%s: connection %d: cannot parse: %s" % (name, i, e))
    return pkts, res


def my_check_handshake(name, sess, want):
    g, l = sess["greeting"], sess["login"]
    # MariaDB 10.x announces itself as "5.5.5-10.11.N-MariaDB-..."
    if not g["version"].startswith("5.5.5-10.11.") or "MariaDB" not in g["version"]:
        fail("%s: server version %r" % (name, g["version"]))
    if g["auth_plugin"] != M.AUTH_PLUGIN or \
            (not sess["tls"] and l.get("auth_plugin") != M.AUTH_PLUGIN):
        fail("%s: auth plugins %r / %r" % (name, g["auth_plugin"], l.get("auth_plugin")))
    for k in ("collation_id", "user", "database"):
        if k in want and l.get(k) != want[k]:
            fail("%s: HandshakeResponse %s %r, want %r" % (name, k, l.get(k), want[k]))
    for f in want.get("capabilities_set", []):
        if not l["caps"] & CAP[f]:
            fail("%s: client capability %s not set" % (name, f))
    for f in want.get("capabilities_unset", []):
        if l["caps"] & CAP[f]:
            fail("%s: client capability %s set" % (name, f))
    if not sess["tls"] and (sess["auth_packets"] or not sess["auth_ok"]):
        fail("%s: authentication took %d extra packets, ok=%s"
             % (name, sess["auth_packets"], sess["auth_ok"]))


def my_public_results(results):
    """drop the keys mysql_workload.py does not state"""
    keep = {"resultset": ("type", "columns", "rows", "warnings"),
            "ok": ("type", "affected_rows", "last_insert_id", "warnings"),
            "error": ("type", "code", "sql_state", "message")}
    return [{k: r[k] for k in keep[r["type"]]} for r in results]


def my_check_text_commands(name, cmds, want, encoding="utf-8"):
    """cmds (my_commands) against mysql_workload.py command dicts"""
    if len(cmds) != len(want):
        fail("%s: %d commands, want %d: %r" % (name, len(cmds), len(want),
                                              [c["command"] for c in cmds]))
    for i, (c, w) in enumerate(zip(cmds, want)):
        text = None if w["text"] is None else w["text"].encode(encoding)
        if c["command"] != w["command"] or c.get("text") != text:
            fail("%s: command %d is %s %r, want %s %r"
                 % (name, i, c["command"], (c.get("text") or b"")[:60], w["command"],
                    (text or b"")[:60]))
            continue
        got = my_public_results(c["results"])
        if got != w["results"]:
            fail("%s: answer to command %d (%r) differs:\n  got  %r\n  want %r"
                 % (name, i, (text or b"")[:40], got, w["results"]))


def tshark_my(name, yfilter, fields, port=None):
    """tshark -T json on a capture, the MySQL port decoded as mysql"""
    out = subprocess.run(
        ["tshark", "-r", os.path.join(out_dir, name), "-d",
         "tcp.port==%d,mysql" % (port or my_port), "-Y", yfilter, "-T", "json"] +
        [a for f in fields for a in ("-e", f)],
        check=True, capture_output=True).stdout
    return [p["_source"]["layers"] for p in json.loads(out.decode() or "[]")]


def tshark_my_text(b):
    """tshark shows MySQL strings as ASCII: each non-ASCII byte is U+FFFD"""
    return "".join(chr(x) if x < 0x80 else "\ufffd" for x in b)


def my_tshark_commands(name, cmds):
    """tshark must see the same commands, query texts and error codes"""
    rows = tshark_my(name, "mysql.command", ["mysql.command", "mysql.query", "mysql.stmt_id"])
    got = [int(v) for v in tshark_values(rows, "mysql.command")]
    want = [M.COM[c["command"]] for c in cmds]
    if got != want:
        fail("%s: tshark sees commands %r, want %r" % (name, got[:40], want[:40]))
    tq = tshark_values(rows, "mysql.query")
    wq = [tshark_my_text(c["text"]) for c in cmds
          if c["command"] in ("COM_QUERY", "COM_STMT_PREPARE")]
    if tq != wq:
        fail("%s: tshark sees other query texts" % name)
    te = [int(v) for v in tshark_values(tshark_my(name, "mysql.error_code", ["mysql.error_code"]),
                                        "mysql.error_code")]
    we = [r["code"] for c in cmds for r in c["results"] if r["type"] == "error"]
    if te != we:
        fail("%s: tshark sees error codes %r, want %r" % (name, te, we))


def check_mysql_client():
    nfail = len(failures)
    name = "mysql_client.pcap"
    pkts, sessions = my_sessions(name, 1)
    if not sessions:
        return
    c, sess, cs, ss = sessions[0]
    my_check_handshake(name, sess, M.CLIENT_HANDSHAKE)
    try:
        cmds = my_commands(sess)
    except (ValueError, KeyError, UnicodeDecodeError) as e:
        fail("%s: cannot parse the commands: %s" % (name, e))
        return
    my_check_text_commands(name, cmds, M.CLIENT_COMMANDS)
    if [c["text"].decode() for c in cmds if c["command"] == "COM_QUERY"] != M.CLIENT_QUERIES:
        fail("%s: COM_QUERY texts differ from CLIENT_QUERIES" % name)
    # the long query must span TCP segments
    q = b"\x03" + M.LONG_QUERY.encode()
    start = cs.find(q)
    _, starts, _ = c.stream("c")
    if start < 0 or not any(start < s < start + len(q) for s in starts):
        fail("%s: the long query does not span segments" % name)
    my_tshark_commands(name, cmds)
    ta = [int(v) for v in tshark_values(tshark_my(name, "mysql.affected_rows",
                                                  ["mysql.affected_rows"]),
                                        "mysql.affected_rows")]
    wa = [0] + [r["affected_rows"] for w in M.CLIENT_COMMANDS for r in w["results"]
                if r["type"] == "ok"]                  # 0: the OK after authentication
    if ta != wa:
        fail("%s: tshark sees affected rows %r, want %r" % (name, ta, wa))
    report(nfail, "%s: %d packets, %d commands (%d COM_QUERY, largest %d bytes), caps 0x%x, "
           "collation %d; tshark agrees"
           % (name, len(pkts), len(cmds), len(M.CLIENT_QUERIES),
              max(len(x) for x in M.CLIENT_QUERIES), sess["login"]["caps"],
              sess["login"]["collation_id"]))


def my_check_stmt(name, json_name, handshake, text_commands, tshark_commands=True):
    nfail = len(failures)
    path = os.path.join(out_dir, json_name)
    entries = M.load_stmt_expected(path)
    pkts, sessions = my_sessions(name, 1)
    if not sessions:
        return None
    _, sess, _, _ = sessions[0]
    my_check_handshake(name, sess, handshake)
    try:
        cmds = my_commands(sess)
    except (ValueError, KeyError, UnicodeDecodeError) as e:
        fail("%s: cannot parse the commands: %s" % (name, e))
        return None
    nt = len(text_commands)
    my_check_text_commands(name, cmds[:nt], text_commands)
    rest = cmds[nt:]
    seq = [(c["command"], c.get("stmt_id")) for c in rest]
    if seq != M.stmt_command_sequence(entries):
        fail("%s: command sequence differs from stmt_command_sequence()" % name)
        return None
    queries = {c["stmt_id"]: c["text"].decode() for c in rest
               if c["command"] == "COM_STMT_PREPARE"}
    execs = [c for c in rest if c["command"] == "COM_STMT_EXECUTE"]
    for c, e in zip(execs, entries):
        label = "%s: %s" % (name, e["name"])
        if queries[c["stmt_id"]] != e["query"]:
            fail("%s: prepared %r" % (label, queries[c["stmt_id"]]))
        for k in ("new_params_bound", "types", "unsigned", "values"):
            if c[k] != e[k]:
                fail("%s: %s on the wire %r, JSON %r" % (label, k, c[k], e[k]))
        if c["flags"] != 0 or c["iterations"] != 1:
            fail("%s: flags %d iterations %d" % (label, c["flags"], c["iterations"]))
        want_long = {ld["param"]: ld["chunks"] for ld in e.get("long_data", [])}
        got_long = {k: [M.bytes_text(x) for x in v] for k, v in c["long_data"].items()}
        if got_long != want_long:
            fail("%s: long data %r" % (label, got_long))
        res = c["results"]
        if "error" in e:
            ok = [(r["type"], r.get("code"), r.get("sql_state")) for r in res] == \
                [("error", e["error"], e["sql_state"])]
        elif "affected_rows" in e:
            ok = [(r["type"], r.get("affected_rows"), r.get("last_insert_id")) for r in res] == \
                [("ok", e["affected_rows"], e["last_insert_id"])]
        else:
            ok = len(res) == 1 and res[0]["type"] == "resultset" and \
                res[0]["column_types"] == e["result_types"] and \
                res[0]["column_unsigned"] == e["result_unsigned"] and res[0]["rows"] == e["rows"]
        if not ok:
            fail("%s: answer %r differs" % (label, res))
    # the chunk COM_STMT_RESET discarded
    disc = [e for e in entries if e.get("discarded_chunks")]
    for e in disc:
        i = seq.index(("COM_STMT_RESET", e["stmt_id"]))
        if M.bytes_text(rest[i - 1]["data"]) != e["discarded_chunks"][0] or \
                my_public_results(rest[i]["results"]) != [{"type": "ok", "affected_rows": 0,
                                                           "last_insert_id": 0, "warnings": 0}]:
            fail("%s: discarded chunk / COM_STMT_RESET answer differ" % name)
    if not tshark_commands:
        report(nfail, "%s: %d packets, %d COM_STMT_PREPARE, %d COM_STMT_EXECUTE (%d with "
               "new-params-bound 0), %d COM_STMT_SEND_LONG_DATA; matches %s"
               % (name, len(pkts), len(queries), len(execs),
                  sum(1 for e in entries if e["types"] and not e["new_params_bound"]),
                  sum(1 for c in rest if c["command"] == "COM_STMT_SEND_LONG_DATA"),
                  json_name))
        return sess
    # tshark: commands, statement ids, new-params-bound flags, parameter counts
    my_tshark_commands(name, cmds)
    rows = tshark_my(name, "mysql.command == 23", ["mysql.stmt_id", "mysql.new_parameter_bound_flag"])
    tid = [int(r["mysql.stmt_id"][0]) for r in rows]
    if tid != [e["stmt_id"] for e in entries]:
        fail("%s: tshark sees executes of statements %r" % (name, tid))
    tnb = [int(r["mysql.new_parameter_bound_flag"][0]) for r in rows
           if "mysql.new_parameter_bound_flag" in r]
    if tnb != [int(e["new_params_bound"]) for e in entries if e["types"]]:
        fail("%s: tshark sees new-params-bound flags %r" % (name, tnb))
    tnp = [int(v) for v in tshark_values(tshark_my(name, "mysql.num_params", ["mysql.num_params"]),
                                         "mysql.num_params")]
    wnp = [c["num_params"] for c in rest if c["command"] == "COM_STMT_PREPARE"]
    if tnp != wnp:
        fail("%s: tshark sees parameter counts %r, want %r" % (name, tnp, wnp))
    report(nfail, "%s: %d packets, %d COM_STMT_PREPARE, %d COM_STMT_EXECUTE (%d with "
           "new-params-bound 0), %d COM_STMT_SEND_LONG_DATA; matches %s; tshark agrees"
           % (name, len(pkts), len(queries), len(execs),
              sum(1 for e in entries if e["types"] and not e["new_params_bound"]),
              sum(1 for c in rest if c["command"] == "COM_STMT_SEND_LONG_DATA"), json_name))
    return sess


def check_mysql_stmt():
    my_check_stmt("mysql_stmt.pcap", "mysql_stmt.expected.json", M.STMT_HANDSHAKE, [])


def check_mysql_compress():
    nfail = len(failures)
    name = "mysql_compress.pcap"
    # tshark 4.0 decodes the compressed frames, not always the packets in
    # them: it takes every frame as the start of a packet (the long query's
    # packet spans two frames) and does not follow prepared statements
    sess = my_check_stmt(name, "mysql_compress.expected.json", M.COMPRESS_HANDSHAKE,
                         M.COMPRESS_COMMANDS, tshark_commands=False)
    if sess is None:
        return
    stmt = M.load_stmt_expected(os.path.join(out_dir, "mysql_stmt.expected.json"))
    comp = M.load_stmt_expected(os.path.join(out_dir, "mysql_compress.expected.json"))
    strip = lambda es: [{k: v for k, v in e.items() if k != "stmt_id"} for e in es]
    if strip(stmt) != strip(comp):
        fail("%s: executions differ from mysql_stmt.expected.json (beyond stmt_id)" % name)
    if not sess["compressed"]:
        fail("%s: compression not negotiated" % name)
        return
    cf, sf = sess["client_frames"], sess["server_frames"]
    zipped = sum(1 for _, u in cf + sf if u)
    stored = sum(1 for _, u in cf + sf if not u)
    # the long query is deflated into frames, one larger than a loopback segment
    big = max(clen for clen, _ in cf)
    if not zipped or not stored or big <= 65483:
        fail("%s: %d deflated / %d stored frames, largest client frame %d bytes"
             % (name, zipped, stored, big))
    for d, want in (("dst", cf), ("src", sf)):
        rows = tshark_my(name, "mysql.compressed_packet_length && tcp.%sport == %d"
                         % (d, my_port), ["mysql.compressed_packet_length",
                                          "mysql.compressed_packet_length_uncompressed"])
        got = list(zip([int(v) for v in tshark_values(rows, "mysql.compressed_packet_length")],
                       [int(v) for v in tshark_values(
                           rows, "mysql.compressed_packet_length_uncompressed")]))
        if got != want:
            fail("%s: tshark sees other compressed frames (%s port)" % (name, d))
    report(nfail, "%s: %d deflated and %d stored compressed frames (largest %d bytes); "
           "tshark sees the same frames" % (name, zipped, stored, big))


def check_mysql_charset(case):
    nfail = len(failures)
    w = M.CHARSET_CASES[case]
    name = "mysql_%s.pcap" % case
    pkts, sessions = my_sessions(name, 1)
    if not sessions:
        return
    _, sess, cs, ss = sessions[0]
    my_check_handshake(name, sess, {"collation_id": w["collation_id"], "user": M.USER,
                                    "database": M.DATABASE})
    try:
        cmds = my_commands(sess, w["encoding"])
    except (ValueError, KeyError, UnicodeDecodeError) as e:
        fail("%s: cannot parse the commands: %s" % (name, e))
        return
    my_check_text_commands(name, cmds, w["commands"], w["encoding"])
    q = w["query_bytes"]
    if b"\x03" + q not in cs or w["text"].encode() in cs or \
            w["result_bytes"] not in ss or w["result_text"].encode() in ss:
        fail("%s: the wire does not carry %s bytes" % (name, case))
    tq = tshark_values(tshark_my(name, "mysql.query", ["mysql.query"]), "mysql.query")
    if tq != [tshark_my_text(q)]:
        fail("%s: tshark sees queries %r" % (name, tq))
    report(nfail, "%s: %d packets, collation %d, query bytes %s; tshark agrees"
           % (name, len(pkts), sess["login"]["collation_id"], q.hex()))


def check_mysql_slap():
    nfail = len(failures)
    name = "mysql_slap.pcap"
    s = M.SLAP
    pkts, sessions = my_sessions(name, s["connections"])
    per, inserts, selects = [], 0, 0
    for i, (_, sess, _, _) in enumerate(sessions):
        setup = i == 0
        my_check_handshake(name, sess, {"user": M.USER, "collation_id": s["collation_id"],
                                        "database": None if setup else s["setup_init_db"]})
        try:
            cmds = my_commands(sess)
        except (ValueError, KeyError, UnicodeDecodeError) as e:
            fail("%s: connection %d: cannot parse: %s" % (name, i, e))
            continue
        if any(r["type"] == "error" for c in cmds for r in c["results"]):
            fail("%s: connection %d got an error" % (name, i))
        texts = [c["text"].decode() for c in cmds if c["command"] == "COM_QUERY"]
        kinds = ["INSERT" if t.startswith(s["insert_prefix"]) and
                 t.endswith(s["insert_suffix"]) else
                 "SELECT" if t == s["select_text"] else t for t in texts]
        per.append(len(texts))
        inserts += kinds.count("INSERT")
        selects += kinds.count("SELECT")
        names = [c["command"] for c in cmds]
        if setup:
            want = (["COM_QUERY"] * 2 + ["COM_INIT_DB"] +
                    ["COM_QUERY"] * (2 + s["setup_inserts"]) + ["COM_QUIT"])
            ok = names == want and \
                [k for k in kinds if k != "INSERT"] == s["setup_statements"] and \
                kinds[3:3 + s["setup_inserts"]] == ["INSERT"] * s["setup_inserts"] and \
                cmds[2]["text"].decode() == s["setup_init_db"]
        else:
            ok = names == ["COM_QUERY"] * len(s["load_pattern"]) + ["COM_QUIT"] and \
                kinds == s["load_pattern"]
        if not ok:
            fail("%s: connection %d sends %r %r" % (name, i, names, kinds))
    if per != s["per_connection"] or (inserts, selects) != (s["inserts"], s["selects"]):
        fail("%s: COM_QUERY per connection %r, %d INSERT, %d SELECT"
             % (name, per, inserts, selects))
    tc = tshark_values(tshark_my(name, "mysql.command == 3", ["mysql.command"]), "mysql.command")
    if len(tc) != s["com_query"]:
        fail("%s: tshark counts %d COM_QUERY, want %d" % (name, len(tc), s["com_query"]))
    report(nfail, "%s: %d packets, %d connections, %d COM_QUERY (%d INSERT, %d SELECT); "
           "tshark agrees" % (name, len(pkts), len(sessions), sum(per), inserts, selects))


def check_mysql_ssl():
    nfail = len(failures)
    name = "mysql_ssl.pcap"
    pkts, sessions = my_sessions(name, 1)
    if not sessions:
        return
    _, sess, cs, ss = sessions[0]
    my_check_handshake(name, sess, {"capabilities_set": M.SSL_CASE["capabilities_set"],
                                    "collation_id": M.SSL_CASE["collation_id"]})
    if not sess["tls"] or len(cs) < 36 or cs[:4] != b"\x20\x00\x00\x01":
        fail("%s: no 32-byte SSLRequest" % name)
        return
    if sess["client_tls"][:2] != b"\x16\x03" or sess["server_tls"][:2] != b"\x16\x03":
        fail("%s: no TLS records after the SSLRequest" % name)
    with open(os.path.join(out_dir, name), "rb") as f:
        raw = f.read()
    if M.SSL_CASE["query"].split("'")[1].encode() in raw or b"SELECT" in raw:
        fail("%s: plaintext visible in the capture" % name)
    hs = tshark_values(tshark_my(name, "tls.handshake", ["tls.handshake.type"]),
                       "tls.handshake.type")
    if "1" not in hs or "2" not in hs:
        fail("%s: tshark sees no TLS ClientHello/ServerHello" % name)
    report(nfail, "%s: %d packets, SSLRequest (caps 0x%x) then TLS; no plaintext; tshark sees "
           "the TLS handshake" % (name, len(pkts), sess["login"]["caps"]))

check_pg()
check_pg_snaplen()
check_mariadb()
check_pg_psql()
check_pg_params()
check_pg_pgbench()
check_pg_ssl("ssl_refused")
check_pg_ssl("ssl_accepted")
check_mysql_client()
check_mysql_stmt()
check_mysql_compress()
check_mysql_charset("latin1")
check_mysql_charset("sjis")
check_mysql_slap()
check_mysql_ssl()
for name in W.CASES:
    check_tcp(name)
check_lifecycle()
if failures:
    sys.exit("verification failed: %d problem(s)" % len(failures))
PY

# --------------------------------------------------------------- install
made=()
for f in "$OUT"/*.pcap "$OUT"/*.expected.json; do
  install -m 0644 "$f" "$HERE/$(basename "$f")"
  made+=("$HERE/$(basename "$f")")
done
log "captures written to $HERE"
ls -l "${made[@]}"
