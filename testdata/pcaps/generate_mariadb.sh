# Sourced by generate.sh: the MariaDB server and the captures of its clients (the mariadb client,
# mariadb-slap, mysql_workload.py). It uses generate.sh's state, capture and cleanup functions.
# shellcheck shell=bash

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
# files mysql_stmt (mysql_stmt.c, mysql_stmt_values.c, mysql_stmt_exec.c)
# writes. 32 MB capture buffer, as for PostgreSQL.
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
  gcc -O2 -Wall -o "$WORK/mysql_stmt" "$HERE/mysql_stmt.c" "$HERE/mysql_stmt_values.c" \
    "$HERE/mysql_stmt_exec.c" $(mariadb_config --cflags --libs) ||
    die "cannot compile mysql_stmt.c"
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
