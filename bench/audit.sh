#!/usr/bin/env bash
# bench/audit.sh: what `tcpdp audit` costs on a host making short connections as fast as it can.
#
# bench/conn_storm.c (built here with gcc) makes loopback connections for AUDIT_SECONDS from two
# client threads, each connection ten state changes. In AUDIT_ROUNDS interleaved rounds, each
# round runs the storm once under each of:
#   none    nothing watching (the host's own rate)
#   audit   tcpdp audit -t PORT (conn.log in a temporary directory)
#   probe   tcpdp probe -i lo -t PORT -d conn
#   text    the tracepoint enabled in a trace instance of its own and its trace_pipe read by cat:
#           the kernel formatting every event as text, the least a reader of text (tcp-audit's
#           tracefs eventer) pays before it parses a line
# and reports connections a second, the watcher's CPU time as a share of one core (user +
# system, from /proc/PID/stat over the storm), and for audit the state changes it read against
# the ten a connection makes, and those the kernel dropped (from tcpdp.log's stop record); for
# probe the packets it dropped. Each figure is given as min, median and max over the rounds.
# Targets (issue 18): 0 changes lost at 20,000 connections a second or more, audit at most 25%
# of one core.
#
# Run as root on Debian bookworm:  bash bench/audit.sh
# Knobs (environment): AUDIT_SECONDS=10  AUDIT_ROUNDS=3  AUDIT_PORT=47100
#   TCPDP=/path/to/tcpdp  use this Release binary instead of building build-bench/tcpdp
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NAME=audit.sh
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
AUDIT_SECONDS=${AUDIT_SECONDS:-10}
AUDIT_ROUNDS=${AUDIT_ROUNDS:-3}
AUDIT_PORT=${AUDIT_PORT:-47100}
positive_integers AUDIT_SECONDS AUDIT_ROUNDS AUDIT_PORT
((EUID == 0)) || die "run as root (audit reads tracefs, probe captures)"

need_packages gcc:gcc
build_tcpdp
work=$(mktemp -d)
trap 'rm -rf "$work"; [[ -d ${TEXT_INSTANCE:-} ]] && rmdir "$TEXT_INSTANCE"' EXIT
gcc -O2 -Wall -pthread -o "$work/conn_storm" "$ROOT/bench/conn_storm.c" || die "conn_storm did not build"
TRACEFS=$(awk '$3 == "tracefs" {print $2; exit}' /proc/mounts)
[[ -n $TRACEFS ]] || die "tracefs is not mounted"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# storm MODE ROUND: one storm under MODE; appends "MODE conns_per_s cpu_percent extra" to results.
storm() {
  local mode=$1 round=$2 dir=$work/$1.$2 pid="" before=0 after=0 out extra="-"
  mkdir -p "$dir"
  case $mode in
    audit)
      (cd "$dir" && exec "$TCPDP" audit -t "$AUDIT_PORT" 2>"$dir/stderr") &
      pid=$!
      ;;
    probe)
      (cd "$dir" && exec "$TCPDP" probe -i lo -t "$AUDIT_PORT" -d conn 2>"$dir/stderr") &
      pid=$!
      ;;
    text)
      TEXT_INSTANCE=$TRACEFS/instances/bench-text-$$
      mkdir "$TEXT_INSTANCE"
      echo 'protocol == 6' >"$TEXT_INSTANCE/events/sock/inet_sock_set_state/filter"
      echo 1 >"$TEXT_INSTANCE/events/sock/inet_sock_set_state/enable"
      cat "$TEXT_INSTANCE/trace_pipe" >"$dir/text" &
      pid=$!
      ;;
  esac
  sleep 1
  [[ -z $pid ]] || before=$(cpu_ticks "$pid")
  out=$("$work/conn_storm" "$AUDIT_SECONDS" 2 "$AUDIT_PORT")
  sleep 0.5  # the watcher catches up with the storm's last changes
  [[ -z $pid ]] || after=$(cpu_ticks "$pid")
  local conns secs
  conns=$(sed -E 's/.*"connections": ([0-9]+).*/\1/' <<<"$out")
  secs=$(sed -E 's/.*"seconds": ([0-9.]+).*/\1/' <<<"$out")
  case $mode in
    audit | probe)
      kill -INT "$pid"
      wait "$pid" || die "$mode exited with an error: $(cat "$dir/stderr")"
      ;;
    text)
      kill "$pid"
      wait "$pid" 2>/dev/null || true
      echo 0 >"$TEXT_INSTANCE/events/sock/inet_sock_set_state/enable"
      rmdir "$TEXT_INSTANCE"
      TEXT_INSTANCE=""
      ;;
  esac
  if [[ $mode == audit ]]; then
    local changes lost
    local stop
    stop=$(grep -h '"msg":"stop"' "$dir/tcpdp.log" | head -1)
    changes=$(sed -E 's/.*"state_changes":([0-9]+).*/\1/' <<<"$stop")
    lost=$(sed -E 's/.*"lost":([0-9]+).*/\1/' <<<"$stop")
    # ten changes a connection, and the listener's two
    extra="changes=$changes/$((conns * 10 + 2)),lost=$lost"
  elif [[ $mode == probe ]]; then
    extra="dropped=$(grep -o 'received, [0-9]* dropped by kernel' "$dir/stderr" | grep -o '[0-9]* dropped' | grep -o '[0-9]*')"
  fi
  local clk
  clk=$(getconf CLK_TCK)
  echo "$mode $(awk -v c="$conns" -v s="$secs" 'BEGIN {printf "%.0f", c / s}') $(awk -v t=$((after - before)) -v k="$clk" -v s="$secs" 'BEGIN {printf "%.1f", 100 * t / k / s}') $extra" >>"$work/results"
  log "round $round $mode: $out cpu=$(tail -1 "$work/results" | cut -d' ' -f3)% $extra"
}

log "tcpdp $REV ($TCPDP); $AUDIT_ROUNDS rounds of $AUDIT_SECONDS s storms"
for ((round = 1; round <= AUDIT_ROUNDS; round++)); do
  for mode in none audit probe text; do storm "$mode" "$round"; done
done

spread() {  # min, median, max of the numbers on stdin
  sort -g | awk '{v[NR] = $1} END {printf "%s, %s, %s", v[1], v[int((NR + 1) / 2)], v[NR]}'
}
echo "| watcher | connections/s (min, median, max) | CPU % of one core (min, median, max) | per round |"
echo "| --- | --- | --- | --- |"
for mode in none audit probe text; do
  rows=$(grep "^$mode " "$work/results")
  echo "| $mode | $(cut -d' ' -f2 <<<"$rows" | spread) | $(cut -d' ' -f3 <<<"$rows" | spread) | $(cut -d' ' -f4 <<<"$rows" | paste -sd' ') |"
done
