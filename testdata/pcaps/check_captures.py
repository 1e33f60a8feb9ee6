"""Reads the captures generate.sh made with a small pcap/TCP reader of its own (and PostgreSQL and
MySQL protocol parsers) and checks them against what the workloads sent; cross-checks with
tshark. Run by generate.sh:

    python3 check_captures.py OUT_DIR PG_PORT MY_PORT PG_SSL_PORT
"""

import sys

import capture_reader
import mysql_workload as M
import pg_workload as P
import tcp_workload as W
from check_mysql import (check_mysql_charset, check_mysql_client, check_mysql_compress,
                         check_mysql_slap, check_mysql_ssl, check_mysql_stmt)
from check_pg import check_pg_params, check_pg_pgbench, check_pg_psql, check_pg_ssl
from check_simple import check_lifecycle, check_mariadb, check_pg, check_pg_snaplen, check_tcp


def main(out_dir, pg_port, my_port, pg_ssl_port):
    if (pg_port, pg_ssl_port) != (P.PG_PORT, P.PG_SSL_PORT):
        sys.exit("generate.sh and pg_workload.py disagree about the ports")
    if my_port != M.MY_PORT:
        sys.exit("generate.sh and mysql_workload.py disagree about the port")
    capture_reader.set_out_dir(out_dir)
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
    if capture_reader.failures:
        sys.exit("verification failed: %d problem(s)" % len(capture_reader.failures))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
