# bench/read.sh, sourced: the tools that make its captures (servers, load, tcpdump) and count
# them. They use read.sh's settings and state (BENCH_*, OUT, CAP_PORT, WORK, ...).
# shellcheck shell=bash

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
  echo "pgbench -c 8 -j 2 -T $BENCH_RUN_SECONDS $*: $tps" >>"$OUT.tmp.log"
}

# The PostgreSQL side of generate_capture: pg_start (server and pgbench -i), pg_load MODE...,
# pg_stop.
pg_start() {
  CAP_PORT=$BENCH_PORT
  start_postgres
  log "pgbench -i -s 10"
  "$PGBENCH" -h 127.0.0.1 -p "$BENCH_PORT" -U postgres -i -s 10 -q postgres >"$TMP/init.log" 2>&1 ||
    { cat "$TMP/init.log" >&2; die "pgbench -i failed"; }
}
pg_load() { pgbench_run "$@"; }
pg_stop() { stop_postgres; }

# The MariaDB side: a throw-away mariadbd (as user mysql) in a temp dir on 127.0.0.1 with no
# durability (the disk is not what is measured), a user tcpdp@127.0.0.1 with a password made over
# the unix socket (not captured), and mariadb-slap over TCP without TLS.
mysql_start() {
  CAP_PORT=$BENCH_MYSQL_PORT
  TMP=$(mktemp -d /tmp/tcpdp-bench.XXXXXX)
  chown mysql: "$TMP"
  chmod 700 "$TMP"
  port_in_use "$BENCH_MYSQL_PORT" &&
    die "port $BENCH_MYSQL_PORT on 127.0.0.1 is in use: set BENCH_MYSQL_PORT"
  log "starting MariaDB ($MARIADBD) in $TMP on 127.0.0.1:$BENCH_MYSQL_PORT"
  mariadb-install-db --no-defaults --user=mysql --datadir="$TMP/data" \
    --auth-root-authentication-method=socket --skip-test-db >"$TMP/install.log" 2>&1 ||
    { cat "$TMP/install.log" >&2; die "mariadb-install-db failed"; }
  "$MARIADBD" --no-defaults --user=mysql --datadir="$TMP/data" --socket="$TMP/mysqld.sock" \
    --port="$BENCH_MYSQL_PORT" --bind-address=127.0.0.1 --pid-file="$TMP/mysqld.pid" \
    --log-error="$TMP/error.log" --skip-name-resolve --skip-log-bin --max-connections=100 \
    --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=0 --innodb-doublewrite=0 \
    </dev/null >/dev/null 2>&1 &
  MY_PID=$!
  local i
  for ((i = 0; ; i++)); do
    mariadb-admin --no-defaults --socket="$TMP/mysqld.sock" -u root ping >/dev/null 2>&1 && break
    kill -0 "$MY_PID" 2>/dev/null || { cat "$TMP/error.log" >&2; die "mariadbd exited"; }
    ((i < 600)) || { cat "$TMP/error.log" >&2; die "mariadbd did not answer within 60 s"; }
    sleep 0.1
  done
  mariadb --no-defaults --socket="$TMP/mysqld.sock" -u root -e \
    "CREATE USER 'tcpdp'@'127.0.0.1' IDENTIFIED BY 'tcpdp'; GRANT ALL ON *.* TO 'tcpdp'@'127.0.0.1';" ||
    { cat "$TMP/error.log" >&2; die "MariaDB setup failed"; }
}

# One mariadb-slap run in the background (so Ctrl-C and the trap can stop it). Each iteration
# creates the schema mysqlslap, fills t1 with 100 rows, runs the load from 20 new connections and
# drops the schema again.
mysql_load() {
  mariadb-slap --no-defaults --host=127.0.0.1 --port="$BENCH_MYSQL_PORT" --protocol=tcp \
    --user=tcpdp --password=tcpdp --skip-ssl --concurrency=20 --auto-generate-sql \
    "$@" >"$TMP/slap.log" 2>&1 &
  PGBENCH_PID=$!
  local rc=0
  wait "$PGBENCH_PID" || rc=$?
  PGBENCH_PID=""
  if ((rc != 0)); then
    cat "$TMP/slap.log" >&2
    die "mariadb-slap $* failed (exit $rc)"
  fi
  local avg
  avg=$(grep -m1 "Average number of seconds" "$TMP/slap.log" | sed 's/^[[:space:]]*//' || true)
  log "  mariadb-slap $*: ${avg:-?}"
  echo "mariadb-slap --concurrency=20 $*: ${avg:-?}" >>"$OUT.tmp.log"
}

mysql_stop() {
  local i
  kill -TERM "$MY_PID" 2>/dev/null || die "mariadbd is gone"
  for ((i = 0; i < 600; i++)); do
    kill -0 "$MY_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$MY_PID" 2>/dev/null || true
  wait "$MY_PID" 2>/dev/null || true
  MY_PID=""
  rm -rf "$TMP"
  TMP=""
}

# generate_capture FILE TARGET_MB SERVER MODE...: starts the throw-away SERVER (pg or mysql),
# captures its traffic into FILE (and FILE.log) until it reaches TARGET_MB MB, running the load
# (pgbench or mariadb-slap) with the option lists MODE... in turn; sets LAST_GEN_SECONDS.
generate_capture() {
  local gen_start=$SECONDS
  OUT=$1
  local target_mb=$2 server=$3
  shift 3
  local modes=("$@") target_bytes=$((target_mb * 1000000))
  "${server}_start"

  log "capturing tcp port $CAP_PORT on lo into $OUT until it reaches $target_mb MB"
  rm -f "$OUT.tmp" "$OUT.tmp.log"
  tcpdump -i lo -s 0 -B 262144 --immediate-mode -Z root -w "$OUT.tmp" "tcp port $CAP_PORT" \
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

  local start=$SECONDS i=0 before now
  while :; do
    now=$(file_size "$OUT.tmp")
    ((now < target_bytes)) || break
    ((SECONDS - start < BENCH_MAX_MINUTES * 60)) ||
      die "capture still at $now bytes after $BENCH_MAX_MINUTES minutes (BENCH_MAX_MINUTES)"
    before=$now
    # shellcheck disable=SC2086  # the mode is a list of options
    "${server}_load" ${modes[i % ${#modes[@]}]}
    ((++i))
    now=$(file_size "$OUT.tmp")
    log "  capture: $((now / 1000000)) MB"
    ((now > before)) || die "the capture did not grow during a load run"
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
  echo "tcpdump: $(grep -E "captured|dropped" "$TMP/tcpdump.log" | paste -sd ";" | sed "s/;/, /g")" >>"$OUT.tmp.log"
  "${server}_stop"
  mv "$OUT.tmp.log" "$OUT.log"
  mv "$OUT.tmp" "$OUT"
  LAST_GEN_SECONDS=$((SECONDS - gen_start))
  log "capture done: $(file_size "$OUT") bytes; generation (server, setup, $i load runs) took ${LAST_GEN_SECONDS}s"
  OUT=""
}

count_packets() {
  if command -v capinfos >/dev/null; then
    capinfos -M -c -r -T "$1" | awk -F'\t' 'NF >= 2 { print $2; exit }'
  else
    tcpdump -r "$1" -nn -q -t 2>/dev/null | wc -l
  fi
}

# gen_summary FILE [TOOL]: "N TOOL runs (modes); tcpdump: captured, dropped" from FILE.log; TOOL is
# pgbench (the default) or mariadb-slap.
gen_summary() {
  local tool=${2:-pgbench}
  echo "$(grep -c "^$tool " "$1.log") $tool runs ($(grep "^$tool " "$1.log" | sed -E "s/^$tool (-c 8 -j 2 -T [0-9]+|--concurrency=20) ([^:]*):.*/\2/" | sort -u | paste -sd ";" | sed "s/;/; /g")); $(grep "^tcpdump:" "$1.log" | tail -n 1)"
}
