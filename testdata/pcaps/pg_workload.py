#!/usr/bin/env python3
"""PostgreSQL client workloads captured into testdata/pcaps/pg_*.pcap.

generate.sh runs ``python3 pg_workload.py CASE BINARY [ARGS]`` while tcpdump
captures the server port.  Integration tests can ``import pg_workload`` and
use the constants below to know exactly what the clients sent and what the
server answered.  Every expectation written here is checked against the
captured traffic by generate.sh (its own protocol parser, plus tshark), so
a capture that disagrees with this module is never installed.

Common
------
PG_HOST, PG_PORT      127.0.0.1:25432, the plaintext server (ssl=off)
PG_SSL_PORT           25434, the second server with ssl=on (pg_ssl_accepted)

pg_psql.pcap -- one psql connection, simple query protocol
------------------------------------------------------------
PSQL_CONNINFO, PSQL_OPTIONS
    psql is run as ``psql PSQL_CONNINFO *PSQL_OPTIONS -c S1 -c S2 ...`` with
    environment LC_ALL=C.UTF-8 (client_encoding UTF8) and
    PGGSSENCMODE=disable (so the first client message is the StartupMessage,
    protocol 3.0, with application_name=tcpdp-test).
PSQL_STATEMENTS
    list of str, in order.  Each one travels as exactly one Query ('Q')
    message whose text is the statement's UTF-8 bytes, unchanged (no
    trailing semicolon added, newlines/tabs/comments kept, "" for the
    empty query).  psql sends nothing else but the startup, the COPY data
    and the final Terminate ('X').
PSQL_RESULTS
    list of dict, same length and order as PSQL_STATEMENTS, what the server
    answered to the statement (everything up to its ReadyForQuery):
      "tags"   list of CommandComplete tags, in order ([] if none)
      "error"  SQLSTATE of the ErrorResponse, or None
      "empty"  True if the answer was EmptyQueryResponse ('I')
      "rows"   list of DataRows (lists of str, None for NULL) over all
               result sets of the statement, or None when not checked
               (the COPY statements carry their data separately)
PSQL_COPY_IN_INDEX, PSQL_COPY_OUT_INDEX
    indexes into PSQL_STATEMENTS of ``COPY items ... FROM STDIN`` and of
    ``COPY items TO STDOUT``.
COPY_IN_ROWS
    the 1000 rows (id int, name str or None, price str or None) loaded with
    COPY FROM STDIN, in order.
COPY_IN_DATA
    bytes psql read on its stdin and forwarded in CopyData messages (the
    concatenation of all client CopyData payloads; COPY text format, one
    row per line, "\\N" for NULL, backslash escapes for tab, newline and
    backslash); followed by one CopyDone.  psql chunks it into CopyData
    messages at its own discretion: only the concatenation is fixed.
COPY_OUT_ROWS, COPY_OUT_DATA
    rows of ``COPY items TO STDOUT`` and the concatenation of the server's
    CopyData payloads (the server sends exactly one row per CopyData).
    Order is the heap order of the table, which on the fresh cluster is
    ids 1, 2, then 1001..2000 (checked on every generation).

pg_pgbench.pcap -- pgbench, extended query protocol
----------------------------------------------------
PGBENCH
    {"prepared": {...}, "extended": {...}}, the two runs in capture order,
    each with "mode" (-M), "clients" (-c), "transactions" (-t, per
    client), "statements_per_transaction" (SQL commands of the built-in
    TPC-B-like script, each one Bind), "binds" (clients * transactions *
    statements), "statement_names" (Bind/Parse statement names used by
    the client connections) and "args" (pgbench options).
PGBENCH_SCRIPT
    the 7 SQL commands of the built-in script as Parse carries them
    ($1.. placeholders), in the order of one transaction.

pg_ssl_refused.pcap / pg_ssl_accepted.pcap
------------------------------------------
SSL_CASES
    {"ssl_refused": {...}, "ssl_accepted": {...}}, each with "port",
    "conninfo", "query", "server_reply" (b"N" or b"S", the one byte the
    server answers to the SSLRequest) and "plaintext" (whether the query
    is visible in the capture).

pg_params.pcap -- libpq binary parameters
-----------------------------------------
See PARAMS_EXPECTED_JSON (pg_params.expected.json, written by pg_params.c)
and load_params_expected().
"""

import json
import os
import subprocess
import sys

PG_HOST = "127.0.0.1"
PG_PORT = 25432
PG_SSL_PORT = 25434

HERE = os.path.dirname(os.path.abspath(__file__))
PARAMS_EXPECTED_JSON = os.path.join(HERE, "pg_params.expected.json")

# ------------------------------------------------------------------ psql

PSQL_CONNINFO = ("host=127.0.0.1 port=25432 dbname=postgres user=postgres "
                 "sslmode=disable application_name=tcpdp-test")
PSQL_OPTIONS = ["-X", "-v", "ON_ERROR_STOP=0"]

LONG_LITERAL_LEN = 120000   # a -c argument must stay below 128 KiB (Linux)

_WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
          "hotel", "india", "juliett", "kilo", "lima", "mike", "november",
          "oscar", "papa", "quebec", "romeo", "sierra", "tango"]


def _long_literal(n):
    parts, size, k = [], 0, 0
    while size < n:
        p = "%06d-%s-%s " % (k, _WORDS[k % len(_WORDS)],
                             _WORDS[(k * 7 + 3) % len(_WORDS)])
        parts.append(p)
        size += len(p)
        k += 1
    return "".join(parts)[:n]


LONG_LITERAL = _long_literal(LONG_LITERAL_LEN)

MULTILINE_QUERY = (
    "-- tcpdp: multi-line query with a comment and tabs\n"
    "SELECT\tid,\n"
    "\t\tname -- trailing comment\n"
    "FROM\t(VALUES (1, 'one'), (2, 'two')) AS v (id, name)\n"
    "WHERE id > 0\n"
    "ORDER BY id")
UNICODE_TEXT = "héllo wörld ✓ 日本語 😀"

COPY_FIRST_ID = 1001
COPY_ROW_COUNT = 1000


def _copy_row(i):
    rid = COPY_FIRST_ID + i
    if i % 50 == 49:
        name = None
    elif i % 13 == 0:
        name = "naïve ✓ 日本 %d" % rid
    elif i % 11 == 0:
        name = "back\\slash %d" % rid
    elif i % 7 == 0:
        name = "tab\there %d" % rid
    elif i % 17 == 0:
        name = "line\nbreak %d" % rid
    else:
        name = "item %d" % rid
    if i % 40 == 39:
        price = None
    elif i % 9 == 0:
        price = "-%d.%02d" % (i + 1, i % 100)
    else:
        price = "%d.%02d" % ((i * 37) % 100000, (i * 7) % 100)
    return (rid, name, price)


def copy_text(rows):
    """rows -> bytes in COPY text format (the server's own escaping)."""
    def field(v):
        if v is None:
            return "\\N"
        return (str(v).replace("\\", "\\\\").replace("\t", "\\t")
                .replace("\n", "\\n").replace("\r", "\\r"))
    return "".join("\t".join(field(v) for v in r) + "\n" for r in rows).encode()


COPY_IN_ROWS = [_copy_row(i) for i in range(COPY_ROW_COUNT)]
COPY_IN_DATA = copy_text(COPY_IN_ROWS)

# items after INSERT (1..3), UPDATE (ids 1, 2 doubled) and DELETE (id 3)
COPY_OUT_ROWS = [(1, "apple", "3.00"), (2, "banana", "0.50")] + COPY_IN_ROWS
COPY_OUT_DATA = copy_text(COPY_OUT_ROWS)

_PSQL = [
    # (statement, tags, error, empty, rows)
    (MULTILINE_QUERY, ["SELECT 2"], None, False, [["1", "one"], ["2", "two"]]),
    ("SELECT '%s' AS u" % UNICODE_TEXT, ["SELECT 1"], None, False,
     [[UNICODE_TEXT]]),
    ("SELECT 1; SELECT 2", ["SELECT 1", "SELECT 1"], None, False,
     [["1"], ["2"]]),
    ("CREATE TABLE items (id int primary key, name text, price numeric(10,2))",
     ["CREATE TABLE"], None, False, []),
    ("INSERT INTO items (id, name, price) VALUES "
     "(1, 'apple', 1.50), (2, 'banana', 0.25), (3, 'cherry', 12.00)",
     ["INSERT 0 3"], None, False, []),
    ("SELECT * FROM items ORDER BY id", ["SELECT 3"], None, False,
     [["1", "apple", "1.50"], ["2", "banana", "0.25"], ["3", "cherry", "12.00"]]),
    ("UPDATE items SET price = price * 2 WHERE id <= 2", ["UPDATE 2"], None,
     False, []),
    ("DELETE FROM items WHERE id = 3", ["DELETE 1"], None, False, []),
    ("SELECT * FROM no_such_table", [], "42P01", False, []),
    ("SELEC 1", [], "42601", False, []),
    ("SELECT length('%s')" % LONG_LITERAL, ["SELECT 1"], None, False,
     [[str(LONG_LITERAL_LEN)]]),
    ("", [], None, True, []),
    ("COPY items (id, name, price) FROM STDIN", ["COPY %d" % COPY_ROW_COUNT],
     None, False, None),
    ("COPY items TO STDOUT", ["COPY %d" % len(COPY_OUT_ROWS)], None, False,
     None),
]

PSQL_STATEMENTS = [s for s, _, _, _, _ in _PSQL]
PSQL_RESULTS = [{"tags": t, "error": e, "empty": m, "rows": r}
                for _, t, e, m, r in _PSQL]
PSQL_COPY_IN_INDEX = 12
PSQL_COPY_OUT_INDEX = 13
LONG_QUERY_INDEX = 10

# --------------------------------------------------------------- pgbench

_PGBENCH_COMMON = ["-h", PG_HOST, "-p", str(PG_PORT), "-U", "postgres", "-n"]
PGBENCH_SCRIPT = [
    "BEGIN;",
    "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2;",
    "SELECT abalance FROM pgbench_accounts WHERE aid = $1;",
    "UPDATE pgbench_tellers SET tbalance = tbalance + $1 WHERE tid = $2;",
    "UPDATE pgbench_branches SET bbalance = bbalance + $1 WHERE bid = $2;",
    "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
    "VALUES ($1, $2, $3, $4, CURRENT_TIMESTAMP);",
    "END;",
]


def _pgbench(mode, clients, transactions, names):
    n = len(PGBENCH_SCRIPT)
    return {"mode": mode, "clients": clients, "transactions": transactions,
            "statements_per_transaction": n,
            "binds": clients * transactions * n,
            "statement_names": names,
            "args": _PGBENCH_COMMON + ["-c", str(clients), "-t",
                                       str(transactions), "-M", mode,
                                       "postgres"]}


PGBENCH = {
    "prepared": _pgbench("prepared", 2, 30,
                         ["P_%d" % i for i in range(len(PGBENCH_SCRIPT))]),
    "extended": _pgbench("extended", 1, 30, [""]),
}
PGBENCH_SETUP = "pgbench -i -s 1 (over the unix socket, not captured)"

# ------------------------------------------------------------------- SSL

SSL_CASES = {
    "ssl_refused": {
        "port": PG_PORT,
        "conninfo": ("host=127.0.0.1 port=%d dbname=postgres user=postgres "
                     "sslmode=prefer gssencmode=disable "
                     "application_name=tcpdp-ssl-refused" % PG_PORT),
        "query": "SELECT 'after ssl refused'",
        "server_reply": b"N",
        "plaintext": True,
    },
    "ssl_accepted": {
        "port": PG_SSL_PORT,
        "conninfo": ("host=127.0.0.1 port=%d dbname=postgres user=postgres "
                     "sslmode=require gssencmode=disable "
                     "application_name=tcpdp-ssl-accepted" % PG_SSL_PORT),
        "query": "SELECT 'secret over tls'",
        "server_reply": b"S",
        "plaintext": False,
    },
}

# ------------------------------------------------------------ pg_params


def load_params_expected(path=PARAMS_EXPECTED_JSON):
    """The executions of pg_params.pcap, in order (see pg_params.c):
    a list of dicts with
      "stmt_name"  statement name in Parse/Bind ("" = unnamed)
      "query"      SQL text of the Parse the Bind refers to
      "types"      parameter type OIDs given in Parse (0 = unspecified)
      "formats"    format of each parameter (0 text, 1 binary)
      "bind_format_codes"  the format codes as the Bind message carries
                   them ([] when libpq got no paramFormats: all text)
      "params_hex" each parameter's bytes in the Bind, hex, null for NULL
      "api"        "PQexecPrepared" or "PQexecParams"
      "values"     the server's text rendering of each parameter (what
                   tcpdp should print for it), null for NULL; absent when
      "error"      the SQLSTATE of the execution's ErrorResponse is set.
    """
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def expected_bind_values(want):
    """What tcpdp must print for the Bind of one execution of load_params_expected(): None for
    NULL, a text-format value exactly as the client sent its bytes, a binary one as the server
    itself prints it."""
    codes = want["bind_format_codes"]
    out = []
    for i, raw in enumerate(want["params_hex"]):
        fmt = codes[0] if len(codes) == 1 else (codes[i] if codes else 0)
        if raw is None:
            out.append(None)
        elif fmt == 0:
            out.append(bytes.fromhex(raw).decode())
        else:
            out.append(want["values"][i])
    return out


# ---------------------------------------------------------------- running


def client_env():
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": os.environ.get("HOME", "/nonexistent"),
            "LC_ALL": "C.UTF-8", "PGGSSENCMODE": "disable"}


def psql_argv(psql):
    argv = [psql, PSQL_CONNINFO] + PSQL_OPTIONS
    for s in PSQL_STATEMENTS:
        argv += ["-c", s]
    return argv


def _run(argv, stdin=b"", extra_env=None):
    env = client_env()
    env.update(extra_env or {})
    p = subprocess.run(argv, input=stdin, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    sys.stdout.buffer.write(p.stdout)
    sys.stdout.flush()
    return p.returncode


def main(argv):
    usage = ("usage: %s psql PSQL | ssl_refused PSQL | ssl_accepted PSQL |"
             " pgbench PGBENCH prepared|extended\n" % argv[0])
    if len(argv) == 3 and argv[1] == "psql":
        return _run(psql_argv(argv[2]), COPY_IN_DATA)
    if len(argv) == 3 and argv[1] in SSL_CASES:
        c = SSL_CASES[argv[1]]
        return _run([argv[2], c["conninfo"], "-X", "-c", c["query"]])
    if len(argv) == 4 and argv[1] == "pgbench" and argv[3] in PGBENCH:
        return _run([argv[2]] + PGBENCH[argv[3]]["args"],
                    extra_env={"PGSSLMODE": "disable"})
    sys.stderr.write(usage)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
