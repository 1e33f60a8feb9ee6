#!/usr/bin/env bash
# The whole test suite, on a fresh Debian bookworm machine as root: installs what the tests need,
# then builds with warnings as errors and runs the unit and integration tests (ctest), the same
# under AddressSanitizer + UndefinedBehaviorSanitizer, a short libFuzzer run, and the integration
# tests again on captures regenerated from real PostgreSQL, MariaDB and TCP workloads.
set -euo pipefail
cd "$(dirname "$0")/.."

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  g++ cmake make pkg-config libpcap-dev libpq-dev libcli11-dev libtoml11-dev libsimdjson-dev zlib1g-dev doctest-dev python3 \
  tcpdump tshark clang libclang-rt-14-dev dpkg-dev man-db \
  postgresql postgresql-contrib mariadb-server mariadb-client haproxy libserver-starter-perl percona-toolkit >/dev/null

echo "== build and test (warnings are errors)"
cmake -S . -B build/release -DTCPDP_WERROR=ON >/dev/null
cmake --build build/release -j"$(nproc)"
ctest --test-dir build/release --output-on-failure

echo "== package: build the .deb, install it with dpkg, run what it installed, remove it"
(cd build/release && cpack -G DEB >/dev/null)
dpkg -i build/release/tcpdp_*.deb >/dev/null
/usr/bin/tcpdp version
man -l /usr/share/man/man1/tcpdp.1 | grep -q 'tcpdp config'
test -s /usr/share/doc/tcpdp/examples/tcpdp.toml
test -s /usr/share/doc/tcpdp/examples/schema.sql
bash -n /usr/share/bash-completion/completions/tcpdp
grep -q '^ExecStart=/usr/bin/tcpdp probe' /lib/systemd/system/tcpdp-probe@.service
grep -q '^ExecStart=/usr/bin/tcpdp proxy' /lib/systemd/system/tcpdp-proxy@.service
grep -q '^ExecStart=/usr/bin/tcpdp audit' /lib/systemd/system/tcpdp-audit.service
dpkg -r tcpdp >/dev/null

echo "== build and test under ASan + UBSan"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DTCPDP_SANITIZE=ON -DTCPDP_WERROR=ON >/dev/null
cmake --build build/asan -j"$(nproc)"
# integration_probe_load asserts that the probe keeps up with real database load (0 packets
# dropped), and integration_proxy_load pushes real database load and a gigabyte through the proxy
# within its time limits; an unoptimised sanitizer build cannot keep up on 2 cores, so those
# modules run in the release stages only. The probe's threads still run under the sanitizers in
# integration_probe, the proxy's in integration_proxy.
ctest --test-dir build/asan --output-on-failure -E 'integration_(probe_load|proxy_load)$'

echo "== fuzz packet decode + reassembly, the pg and the mysql decoders, the digest's log parsing and fingerprints, the configuration, the PROXY header, ${FUZZ_SECONDS}s each"
CC=clang CXX=clang++ cmake -S . -B build/fuzz -DTCPDP_FUZZ=ON -DTCPDP_TESTS=OFF >/dev/null
cmake --build build/fuzz -j"$(nproc)" --target fuzz_decode fuzz_pg fuzz_mysql fuzz_digest fuzz_config fuzz_proxy
corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
mkdir "$corpus/decode" "$corpus/pg" "$corpus/mysql" "$corpus/digest" "$corpus/config"
cp config/tcpdp.toml "$corpus/config/"
python3 tests/fuzz/seeds.py --proxy "$corpus/proxy"
python3 tests/fuzz/seeds.py "$corpus/decode" testdata/pcaps/*.pcap
# The decoders' seeds: each connection of the real captures, MySQL 8's too when shared/ has them.
python3 tests/fuzz/seeds.py --streams 25432 "$corpus/pg" testdata/pcaps/pg_*.pcap
python3 tests/fuzz/seeds.py --streams 23306 "$corpus/mysql" testdata/pcaps/mysql_*.pcap
mysql8=../shared/captures/mysql8
if [[ -d $mysql8 ]]; then
  python3 tests/fuzz/seeds.py --streams 3306 "$corpus/mysql" "$mysql8"/*.pcap
else
  echo "no MySQL 8 captures at $mysql8: their fuzz seeds and tests are skipped"
fi
# The digest's seeds: dump log lines in both formats, one a file.
build/release/tcpdp read testdata/pcaps/pg_pgbench.pcap -d pg >"$corpus/pg.log"
build/release/tcpdp read testdata/pcaps/mysql_slap.pcap -d mysql -f ltsv >"$corpus/mysql.log"
head -n 30 "$corpus/pg.log" | split -l 1 - "$corpus/digest/json-"
head -n 30 "$corpus/mysql.log" | split -l 1 - "$corpus/digest/ltsv-"
# -timeout: an input that takes more than 10 s is a hang, and fails the run at once.
for target in decode pg mysql digest config proxy; do
  build/fuzz/fuzz_$target -max_total_time="$FUZZ_SECONDS" -timeout=10 -max_len=16384 -print_final_stats=1 \
    "$corpus/$target" 2>&1 | tail -n 3
done

echo "== integration tests on captures regenerated from real servers"
fresh=$(mktemp -d)
trap 'rm -rf "$corpus" "$fresh"' EXIT
cp -r testdata/pcaps/. "$fresh"
bash "$fresh/generate.sh" >/dev/null
cmake -S . -B build/release -DTCPDP_TEST_PCAPS="$fresh" >/dev/null
ctest --test-dir build/release --output-on-failure -R integration
cmake -S . -B build/release -UTCPDP_TEST_PCAPS >/dev/null

echo "== all tests, final run"
ctest --test-dir build/release --output-on-failure
