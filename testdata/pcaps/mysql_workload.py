#!/usr/bin/env python3
"""MariaDB client workloads captured into testdata/pcaps/mysql_*.pcap.

generate.sh runs ``python3 mysql_workload.py CASE BINARY [ARGS]`` while
tcpdump captures the server port.  Integration tests can
``import mysql_workload`` and use the constants below to know exactly what
the clients sent and what the server answered.  Every expectation written
here is checked against the captured traffic by generate.sh (its own MySQL
protocol parser, plus tshark), so a capture that disagrees with this module
is never installed.

Common
------
MY_HOST, MY_PORT      127.0.0.1:23306, MariaDB 10.11 (Debian bookworm); every
                      client connects over TCP.  The server runs without TLS
                      for all captures but mysql_ssl.pcap, for which it is
                      restarted with a throw-away self-signed certificate.
USER, PASSWORD        tcpdp / tcpdp, a mysql_native_password account
AUTH_PLUGIN           "mysql_native_password" (no auth switch happens)
DATABASE              "d", the database the clients connect to
SETUP_SQL             what generate.sh runs over the unix socket (as root,
                      not captured) before the captures: databases d and
                      d2, the tables the prepared statements use.
COM                   command name -> command byte (COM_QUERY 3, ...)
CAP                   capability flag name -> bit (CLIENT_COMPRESS, ...)

Commands are described as dicts
    {"command": "COM_QUERY", "text": str}        (COM_QUERY, COM_INIT_DB:
                                                   the SQL / database name)
    {"command": "COM_QUIT", "text": None}
each with "results": what the server answered, in order (several items
for multi-statements and CALL, [] for COM_QUIT):
    {"type": "resultset", "columns": [names], "rows": [[str or None]],
     "warnings": n}
    {"type": "ok", "affected_rows": n, "last_insert_id": n, "warnings": n}
    {"type": "error", "code": n, "sql_state": "42S02", "message": str}
Row values are the text-protocol strings as the server sent them.

mysql_client.pcap -- the mariadb command-line client
----------------------------------------------------
CLIENT_ARGS
    mariadb is run as ``mariadb *CLIENT_ARGS`` with CLIENT_SCRIPT (bytes,
    UTF-8) on its standard input (so it runs in batch mode).
CLIENT_COMMANDS
    every command the client sent after the handshake, in order, with the
    server's answers (see above).  The client sends each statement as one
    COM_QUERY with the text unchanged except that the terminating ";" (or
    the DELIMITER "//") is not sent.  Besides the script's statements it
    sends exactly one extra query: ``SELECT DATABASE()`` right before the
    COM_INIT_DB of ``use d2`` (mariadb's "use" command asks the server for
    the current database first).  In batch mode it sends no
    ``select @@version_comment limit 1``.  Ends with COM_QUIT.
CLIENT_QUERIES
    the COM_QUERY texts of CLIENT_COMMANDS, in order.
CLIENT_HANDSHAKE
    {"collation_id": 45 (utf8mb4_general_ci, announced in the
    HandshakeResponse), "charset": "utf8mb4", "database": "d",
    "capabilities_set": [...], "capabilities_unset": [...]} -- the flag
    names in CAP that the HandshakeResponse does and does not carry.
LONG_LITERAL, LONG_QUERY
    the 120000-character literal (pseudo-random letters, digits and
    punctuation, no quote or backslash; deflates to ~86 KB so that it
    also spans TCP segments in mysql_compress.pcap) and the query
    ``SELECT LENGTH('...') AS n`` (120022 bytes; its COM_QUERY packet spans
    two TCP segments) that carries it; LONG_QUERY_INDEX is its index in
    CLIENT_QUERIES.
UNICODE_TEXT, UNICODE_QUERY
    "héllo wörld ✓ 日本語 😀" and ``SELECT '...' AS u``.

mysql_stmt.pcap, mysql_compress.pcap -- libmariadb prepared statements
----------------------------------------------------------------------
mysql_stmt.c (compiled by generate.sh) connects once, prepares and
executes statements with binary parameters of every type libmariadb can
bind, and writes one JSON entry per COM_STMT_EXECUTE:
STMT_EXPECTED_JSON (mysql_stmt.expected.json) and COMPRESS_EXPECTED_JSON
(mysql_compress.expected.json, same executions, other stmt_ids: MariaDB
10.11 went on counting across connections, 29.. in the second run).  load_stmt_expected(path) loads one; each
entry is a dict:
    "name"       label, e.g. "TINY UNSIGNED", "BLOB long data"
    "query"      the SQL of the COM_STMT_PREPARE (one prepare per distinct
                 stmt_id, right before its first execution)
    "stmt_id"    the statement id of the PREPARE_OK / COM_STMT_EXECUTE
    "new_params_bound"  the execute's new-params-bound flag (false: the
                 client sent no types, they are those of the statement's
                 previous execution; also false for a statement without
                 parameters, whose execute has no flag at all)
    "types"      MYSQL_TYPE_* number of each parameter
    "unsigned"   the unsigned flag (0x80 of the type's second byte)
    "values"     canonical text of each parameter value, None for NULL:
                 integers in decimal (signed unless unsigned), FLOAT and
                 DOUBLE as the shortest %g that reads back to the same
                 value ("3.14", "-1.5e+30", "1e+100"), DECIMAL and strings
                 and BLOBs as bytes_text() of their bytes (their UTF-8
                 text, or "\\x" and hex: "BLOB bytes 0x00-0xFF" has
                 "\\x000102...feff"), DATE "YYYY-MM-DD",
                 DATETIME/TIMESTAMP "YYYY-MM-DD HH:MM:SS[.ffffff]", TIME
                 "[-]HH:MM:SS[.ffffff]" with days folded into the hours
                 ("-26:00:00.123456" was sent as days=1 hours=2), YEAR as
                 a number; the fraction is 6 digits, left out when 0.  For
                 a parameter sent with COM_STMT_SEND_LONG_DATA the value is
                 the concatenation of its chunks, also when the execute's
                 NULL bitmap marks it NULL (entry "long data under NULL
                 bit": libmariadb sets the bit for a long-data parameter
                 bound with is_null = 1, and MariaDB takes the long data).
    "long_data"  (only then) [{"param": 0, "chunks": [str, ...]}], each chunk
                 as bytes_text(); also "reset_before": true and
                 "discarded_chunks": [str] when a chunk was sent and then
                 dropped by COM_STMT_RESET
    and the outcome, one of
    "error", "sql_state"              the execution failed
    "affected_rows", "last_insert_id" OK packet
    "result_types", "result_unsigned", "rows"
                 a binary result set: column types and unsigned flags, rows
                 of canonical text (as above; BIT as its unsigned integer)
bytes_text(b)
    the canonical text of a string or BLOB value: the bytes decoded as
    UTF-8 when they are valid UTF-8 and do not begin with the two
    characters backslash and "x", otherwise "\\x" followed by two
    lower-case hex digits per byte (PostgreSQL's bytea hex form).
stmt_command_sequence(entries)
    the order of the commands in these captures after the text queries,
    derived from the entries (prepare before first execute, long data,
    reset, closes, COM_QUIT).
STMT_HANDSHAKE, COMPRESS_HANDSHAKE
    as CLIENT_HANDSHAKE, for the two program runs (CLIENT_COMPRESS only in
    the second).
STMT_NOTES
    server behaviour worth knowing (JSON and YEAR parameters, ...).
COMPRESS_QUERIES
    the COM_QUERY texts that mysql_stmt --compress sends (text protocol,
    compressed) before the prepared statements, with their answers in
    COMPRESS_COMMANDS (same form as CLIENT_COMMANDS, without COM_QUIT).
    After the handshake both directions use the compressed protocol: small
    packets go in stored frames (uncompressed length 0), others deflated;
    in this capture libmariadb deflated the LONG_QUERY packet as two frames
    (8192 bytes, then the rest: a MySQL packet that spans compressed
    frames), the second of ~86 KB spanning TCP segments.

mysql_latin1.pcap, mysql_sjis.pcap -- legacy character sets
-----------------------------------------------------------
CHARSET_CASES
    {"latin1": {...}, "sjis": {...}}, each with "charset" (the client's
    --default-character-set), "collation_id" (announced in the
    HandshakeResponse: 8 latin1_swedish_ci, 13 sjis_japanese_ci),
    "collation", "text" (the query as str), "query_bytes" (the COM_QUERY
    payload in that encoding, fed on the client's stdin), "result_text",
    "result_bytes" (the value in the result row, same encoding), "args"
    and "commands" (as CLIENT_COMMANDS, texts as str; the column name of
    the result is the text too).  The client sends nothing but the query
    and COM_QUIT (no SET NAMES: the charset travels only as the collation
    byte of the HandshakeResponse).

mysql_slap.pcap -- mariadb-slap
-------------------------------
SLAP
    "args" (mariadb-slap options: --concurrency=20 --number-of-queries=100
    --auto-generate-sql --auto-generate-sql-load-type=mixed
    --auto-generate-sql-write-number=10), "collation_id" (8, latin1, in
    every HandshakeResponse), "concurrency",
    "number_of_queries", "connections" (21 TCP connections), "per_connection"
    (COM_QUERY count of each connection in order of its SYN: the setup
    connection first, then the load clients), "com_query" (total),
    "inserts", "selects", "setup_statements" (the fixed COM_QUERY texts of
    the setup connection in order), "setup_init_db" (its COM_INIT_DB),
    "setup_inserts", "load_pattern" (the COM_QUERY kinds each load client
    sends), "select_text", "insert_prefix", "insert_suffix" (INSERT values
    are random).  The auto-generated statements end with a NUL byte, see
    SLAP_SELECT.

mysql_ssl.pcap -- TLS
---------------------
SSL_CASE
    "args", "query" (sent inside TLS, not visible), "collation_id" (33, of
    the SSLRequest), "capabilities_set": the
    32-byte SSLRequest (a HandshakeResponse cut after the 4 bytes of MariaDB
    capabilities, with CLIENT_SSL; sequence id 1) is followed by the TLS
    handshake; the real HandshakeResponse travels inside TLS.
"""

import json
import os
import subprocess
import sys

MY_HOST = "127.0.0.1"
MY_PORT = 23306
USER = "tcpdp"
PASSWORD = "tcpdp"
AUTH_PLUGIN = "mysql_native_password"
DATABASE = "d"
OTHER_DATABASE = "d2"

HERE = os.path.dirname(os.path.abspath(__file__))
STMT_EXPECTED_JSON = os.path.join(HERE, "mysql_stmt.expected.json")
COMPRESS_EXPECTED_JSON = os.path.join(HERE, "mysql_compress.expected.json")

COM = {"COM_QUIT": 1, "COM_INIT_DB": 2, "COM_QUERY": 3, "COM_STMT_PREPARE": 22,
       "COM_STMT_EXECUTE": 23, "COM_STMT_SEND_LONG_DATA": 24,
       "COM_STMT_CLOSE": 25, "COM_STMT_RESET": 26}

CAP = {"CLIENT_LONG_PASSWORD": 1 << 0,   # CLIENT_MYSQL; MariaDB clients clear it
       "CLIENT_FOUND_ROWS": 1 << 1, "CLIENT_LONG_FLAG": 1 << 2,
       "CLIENT_CONNECT_WITH_DB": 1 << 3, "CLIENT_COMPRESS": 1 << 5,
       "CLIENT_LOCAL_FILES": 1 << 7, "CLIENT_PROTOCOL_41": 1 << 9,
       "CLIENT_INTERACTIVE": 1 << 10, "CLIENT_SSL": 1 << 11,
       "CLIENT_TRANSACTIONS": 1 << 13, "CLIENT_SECURE_CONNECTION": 1 << 15,
       "CLIENT_MULTI_STATEMENTS": 1 << 16, "CLIENT_MULTI_RESULTS": 1 << 17,
       "CLIENT_PS_MULTI_RESULTS": 1 << 18, "CLIENT_PLUGIN_AUTH": 1 << 19,
       "CLIENT_CONNECT_ATTRS": 1 << 20, "CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA": 1 << 21,
       "CLIENT_SESSION_TRACK": 1 << 23, "CLIENT_DEPRECATE_EOF": 1 << 24,
       # MariaDB's extended capabilities (the 4 bytes in the filler), as
       # bits 32.. of the 64-bit value
       "MARIADB_CLIENT_PROGRESS": 1 << 32, "MARIADB_CLIENT_COM_MULTI": 1 << 33,
       "MARIADB_CLIENT_STMT_BULK_OPERATIONS": 1 << 34,
       "MARIADB_CLIENT_EXTENDED_METADATA": 1 << 35,
       "MARIADB_CLIENT_CACHE_METADATA": 1 << 36}

SETUP_SQL = (
    "CREATE DATABASE IF NOT EXISTS d; CREATE DATABASE d2; "
    "CREATE TABLE d.stmt_types (id INT AUTO_INCREMENT PRIMARY KEY, m MEDIUMINT, "
    "mu MEDIUMINT UNSIGNED, b BIT(17), y YEAR); "
    "CREATE TABLE d.stmt_t (id INT PRIMARY KEY, v VARCHAR(20));")
# before mysql_compress.pcap the two tables are emptied again
STMT_RESET_SQL = "TRUNCATE d.stmt_types; TRUNCATE d.stmt_t;"

_COMMON_ARGS = ["--no-defaults", "-h", MY_HOST, "-P", str(MY_PORT), "--protocol=TCP",
                "-u", USER, "-p" + PASSWORD]

# ------------------------------------------------------------- helpers


def rs(columns, rows, warnings=0):
    return {"type": "resultset", "columns": columns, "rows": rows, "warnings": warnings}


def ok(affected_rows=0, last_insert_id=0, warnings=0):
    return {"type": "ok", "affected_rows": affected_rows,
            "last_insert_id": last_insert_id, "warnings": warnings}


def err(code, sql_state, message):
    return {"type": "error", "code": code, "sql_state": sql_state, "message": message}


def query(text, *results):
    return {"command": "COM_QUERY", "text": text, "results": list(results)}


QUIT = {"command": "COM_QUIT", "text": None, "results": []}

# ------------------------------------------------------- mysql_client


def _long_literal(n, seed=20240229):
    """n pseudo-random characters (a 64-bit LCG), the same on every run"""
    alphabet = ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789 .,:-_")
    x, out = seed, []
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) & (2 ** 64 - 1)
        out.append(alphabet[(x >> 33) % len(alphabet)])
    return "".join(out)


LONG_LITERAL_LEN = 120000
LONG_LITERAL = _long_literal(LONG_LITERAL_LEN)
LONG_QUERY = "SELECT LENGTH('%s') AS n" % LONG_LITERAL
UNICODE_TEXT = "héllo wörld ✓ 日本語 😀"
UNICODE_QUERY = "SELECT '%s' AS u" % UNICODE_TEXT

CREATE_ITEMS = ("CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, "
                "name VARCHAR(50), price DECIMAL(10,2)) AUTO_INCREMENT=100")
INSERT_ITEMS = ("INSERT INTO items (name, price) VALUES "
                "('apple', 1.50), ('banana', 0.25), ('cherry', 12.00)")
CREATE_PROC = ("CREATE PROCEDURE two_results() BEGIN "
               "SELECT id, name FROM items ORDER BY id; "
               "SELECT COUNT(*) AS n FROM items; END")

CLIENT_ARGS = _COMMON_ARGS + ["--skip-ssl", "--default-character-set=utf8mb4", "--force",
                              "-D", DATABASE]

# (script text, commands it makes the client send)
_CLIENT = [
    (UNICODE_QUERY + ";\n", [query(UNICODE_QUERY, rs(["u"], [[UNICODE_TEXT]]))]),
    (LONG_QUERY + ";\n", [query(LONG_QUERY, rs(["n"], [[str(LONG_LITERAL_LEN)]]))]),
    ("use d2\n", [query("SELECT DATABASE()", rs(["DATABASE()"], [["d"]])),
                  {"command": "COM_INIT_DB", "text": "d2", "results": [ok()]}]),
    (CREATE_ITEMS + ";\n", [query(CREATE_ITEMS, ok())]),
    (INSERT_ITEMS + ";\n", [query(INSERT_ITEMS, ok(3, 100))]),
    ("SELECT * FROM items ORDER BY id;\n",
     [query("SELECT * FROM items ORDER BY id",
            rs(["id", "name", "price"], [["100", "apple", "1.50"], ["101", "banana", "0.25"],
                                         ["102", "cherry", "12.00"]]))]),
    ("UPDATE items SET price = price * 2 WHERE id <= 101;\n",
     [query("UPDATE items SET price = price * 2 WHERE id <= 101", ok(2))]),
    ("DELETE FROM items WHERE id = 102;\n",
     [query("DELETE FROM items WHERE id = 102", ok(1))]),
    ("SELECT CAST('12abc' AS SIGNED) AS w;\n",
     [query("SELECT CAST('12abc' AS SIGNED) AS w", rs(["w"], [["12"]], warnings=1))]),
    ("SELECT * FROM no_such_table;\n",
     [query("SELECT * FROM no_such_table",
            err(1146, "42S02", "Table 'd2.no_such_table' doesn't exist"))]),
    ("DELIMITER //\n", []),
    ("SELECT 1; SELECT 2//\n",
     [query("SELECT 1; SELECT 2", rs(["1"], [["1"]]), rs(["2"], [["2"]]))]),
    (CREATE_PROC + "//\n", [query(CREATE_PROC, ok())]),
    ("DELIMITER ;\n", []),
    ("CALL two_results();\n",
     [query("CALL two_results()", rs(["id", "name"], [["100", "apple"], ["101", "banana"]]),
            rs(["n"], [["2"]]), ok())]),
]

CLIENT_SCRIPT = "".join(s for s, _ in _CLIENT).encode()
CLIENT_COMMANDS = [c for _, cs in _CLIENT for c in cs] + [QUIT]
CLIENT_QUERIES = [c["text"] for c in CLIENT_COMMANDS if c["command"] == "COM_QUERY"]
LONG_QUERY_INDEX = CLIENT_QUERIES.index(LONG_QUERY)

# the capability flags of libmariadb 3.3 as used by the mariadb client
_LIBMARIADB_SET = ["CLIENT_LONG_FLAG", "CLIENT_LOCAL_FILES", "CLIENT_PROTOCOL_41",
                   "CLIENT_TRANSACTIONS", "CLIENT_SECURE_CONNECTION",
                   "CLIENT_MULTI_RESULTS", "CLIENT_PS_MULTI_RESULTS", "CLIENT_PLUGIN_AUTH",
                   "CLIENT_CONNECT_ATTRS", "CLIENT_SESSION_TRACK",
                   "MARIADB_CLIENT_PROGRESS", "MARIADB_CLIENT_STMT_BULK_OPERATIONS",
                   "MARIADB_CLIENT_EXTENDED_METADATA", "MARIADB_CLIENT_CACHE_METADATA"]
_LIBMARIADB_UNSET = ["CLIENT_LONG_PASSWORD", "CLIENT_INTERACTIVE", "CLIENT_DEPRECATE_EOF"]

CLIENT_HANDSHAKE = {
    "collation_id": 45, "charset": "utf8mb4", "database": DATABASE, "user": USER,
    "auth_plugin": AUTH_PLUGIN,
    "capabilities_set": _LIBMARIADB_SET + ["CLIENT_CONNECT_WITH_DB", "CLIENT_MULTI_STATEMENTS"],
    "capabilities_unset": _LIBMARIADB_UNSET + ["CLIENT_SSL", "CLIENT_COMPRESS"],
}

# --------------------------------------------- mysql_stmt / mysql_compress

STMT_PROGRAM_ARGS = [MY_HOST, str(MY_PORT), USER, PASSWORD, DATABASE]
STMT_HANDSHAKE = {
    "collation_id": 45, "charset": "utf8mb4", "database": DATABASE, "user": USER,
    "auth_plugin": AUTH_PLUGIN,
    "capabilities_set": _LIBMARIADB_SET + ["CLIENT_CONNECT_WITH_DB", "CLIENT_MULTI_STATEMENTS"],
    "capabilities_unset": _LIBMARIADB_UNSET + ["CLIENT_SSL", "CLIENT_COMPRESS"],
}
COMPRESS_HANDSHAKE = dict(STMT_HANDSHAKE,
                          capabilities_set=STMT_HANDSHAKE["capabilities_set"] + ["CLIENT_COMPRESS"],
                          capabilities_unset=_LIBMARIADB_UNSET + ["CLIENT_SSL"])

COMPRESS_COMMANDS = [
    query(UNICODE_QUERY, rs(["u"], [[UNICODE_TEXT]])),
    query(LONG_QUERY, rs(["n"], [[str(LONG_LITERAL_LEN)]])),
    query("SELECT 1; SELECT 2", rs(["1"], [["1"]]), rs(["2"], [["2"]])),
    query("SELECT * FROM no_such_table",
          err(1146, "42S02", "Table 'd.no_such_table' doesn't exist")),
]
COMPRESS_QUERIES = [c["text"] for c in COMPRESS_COMMANDS]

STMT_NOTES = {
    "json_type": "a parameter sent as MYSQL_TYPE_JSON (245) makes MariaDB 10.11 answer "
                 "error 1210 'Incorrect arguments to mysqld_stmt_execute' (entry 'JSON')",
    "year_type": "MariaDB takes a MYSQL_TYPE_YEAR (13) parameter as NULL: the values are "
                 "on the wire, the result row is three NULLs (entry 'YEAR')",
    "int24_bit": "libmariadb cannot bind INT24 or BIT parameters; they appear as result "
                 "columns of 'SELECT stmt_types' (MEDIUMINT -> INT24 (9), BIT(17) -> BIT (16))",
    "metadata": "the client asks for MARIADB_CLIENT_CACHE_METADATA: binary result sets "
                "carry a metadata-follows byte after the column count",
    "stmt_ids": "statement ids went on counting across connections (mysql_compress.pcap's "
                "start where mysql_stmt.pcap's end)",
    "long_data_null": "a parameter bound with is_null = 1 that got COM_STMT_SEND_LONG_DATA: "
                      "libmariadb 3.3 sets its NULL bit in COM_STMT_EXECUTE and sends no "
                      "value; MariaDB uses the long data all the same (entry 'long data "
                      "under NULL bit')",
}


def bytes_text(b):
    """The canonical text of a string or BLOB value's bytes (see the module
    docstring): different byte strings get different texts."""
    try:
        text = b.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or text.startswith("\\x"):
        return "\\x" + b.hex()
    return text


def load_stmt_expected(path=STMT_EXPECTED_JSON):
    """The COM_STMT_EXECUTEs of mysql_stmt.pcap (or, with
    COMPRESS_EXPECTED_JSON, of mysql_compress.pcap), in order; see the
    module docstring for the keys."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def stmt_command_sequence(entries):
    """-> [(command name, stmt_id or None)]: the commands the program sends
    for these executions (after its text queries): COM_STMT_PREPARE before
    the first execution of each stmt_id; for long data the discarded chunk
    and COM_STMT_RESET, then one COM_STMT_SEND_LONG_DATA per chunk; the
    COM_STMT_EXECUTE; at the end one COM_STMT_CLOSE per statement in order
    of preparation, then COM_QUIT."""
    seq, seen = [], []
    for e in entries:
        sid = e["stmt_id"]
        if sid not in seen:
            seen.append(sid)
            seq.append(("COM_STMT_PREPARE", sid))
        for _ in e.get("discarded_chunks", []):
            seq.append(("COM_STMT_SEND_LONG_DATA", sid))
        if e.get("reset_before"):
            seq.append(("COM_STMT_RESET", sid))
        for ld in e.get("long_data", []):
            seq += [("COM_STMT_SEND_LONG_DATA", sid)] * len(ld["chunks"])
        seq.append(("COM_STMT_EXECUTE", sid))
    seq += [("COM_STMT_CLOSE", sid) for sid in seen]
    seq.append(("COM_QUIT", None))
    return seq


# ------------------------------------------------ latin1 / sjis

def _charset_case(charset, collation_id, collation, text, encoding):
    q = "SELECT '%s'" % text
    return {"charset": charset, "collation_id": collation_id, "collation": collation,
            "encoding": encoding, "text": q, "query_bytes": q.encode(encoding),
            "result_text": text, "result_bytes": text.encode(encoding),
            "args": _COMMON_ARGS + ["--skip-ssl", "--default-character-set=" + charset,
                                    "-D", DATABASE],
            "commands": [query(q, rs([text], [[text]])), QUIT]}


CHARSET_CASES = {
    "latin1": _charset_case("latin1", 8, "latin1_swedish_ci", "café naïve", "latin-1"),
    "sjis": _charset_case("sjis", 13, "sjis_japanese_ci", "日本語テスト", "shift_jis"),
}

# ---------------------------------------------------------- mariadb-slap

SLAP_CONCURRENCY = 20
SLAP_QUERIES = 100          # 200 with the default 100 setup rows made 2.3 MB
SLAP_WRITE_NUMBER = 10      # --auto-generate-sql-write-number
# mariadb-slap sends its auto-generated statements (CREATE TABLE, INSERT,
# SELECT) with their terminating NUL byte: the COM_QUERY text ends in "\0"
SLAP_SELECT = "SELECT intcol1,charcol1 FROM t1\0"
SLAP_INSERT_PREFIX = "INSERT INTO t1 VALUES ("
SLAP_INSERT_SUFFIX = "')\0"
SLAP_SETUP_INSERTS = SLAP_WRITE_NUMBER - 1     # what mariadb-slap 10.11 really sends
# each load client sends its share of the queries, alternating
SLAP_LOAD_PATTERN = ["INSERT", "SELECT", "INSERT", "SELECT", "INSERT"]
SLAP = {
    "args": _COMMON_ARGS + ["--skip-ssl", "--concurrency=%d" % SLAP_CONCURRENCY,
                            "--number-of-queries=%d" % SLAP_QUERIES, "--iterations=1",
                            "--auto-generate-sql", "--auto-generate-sql-load-type=mixed",
                            "--auto-generate-sql-write-number=%d" % SLAP_WRITE_NUMBER],
    "concurrency": SLAP_CONCURRENCY,
    "number_of_queries": SLAP_QUERIES,
    "collation_id": 8,      # mariadb-slap's default character set is latin1
    "connections": 1 + SLAP_CONCURRENCY,
    # the setup connection (first SYN, no database in its HandshakeResponse)
    # creates the schema, COM_INIT_DB mysqlslap, creates and fills t1, stays
    # open while the load runs, then drops the schema; the load connections
    # (database mysqlslap) each send SLAP_LOAD_PATTERN, then COM_QUIT
    "setup_statements": ["DROP SCHEMA IF EXISTS `mysqlslap`", "CREATE SCHEMA `mysqlslap`",
                         "CREATE TABLE `t1` (intcol1 INT(32) ,charcol1 VARCHAR(128))\0",
                         "DROP SCHEMA IF EXISTS `mysqlslap`"],
    "setup_init_db": "mysqlslap",
    "setup_inserts": SLAP_SETUP_INSERTS,
    "load_pattern": SLAP_LOAD_PATTERN,
    "per_connection": [4 + SLAP_SETUP_INSERTS] + [len(SLAP_LOAD_PATTERN)] * SLAP_CONCURRENCY,
    "com_query": 4 + SLAP_SETUP_INSERTS + len(SLAP_LOAD_PATTERN) * SLAP_CONCURRENCY,
    "inserts": SLAP_SETUP_INSERTS + SLAP_LOAD_PATTERN.count("INSERT") * SLAP_CONCURRENCY,
    "selects": SLAP_LOAD_PATTERN.count("SELECT") * SLAP_CONCURRENCY,
    "select_text": SLAP_SELECT,
    "insert_prefix": SLAP_INSERT_PREFIX,
    "insert_suffix": SLAP_INSERT_SUFFIX,
}

# ---------------------------------------------------------------- TLS

SSL_CASE = {
    "args": _COMMON_ARGS + ["--ssl", "--skip-ssl-verify-server-cert", "-D", DATABASE],
    "query": "SELECT 'secret over tls'",
    "capabilities_set": ["CLIENT_SSL", "CLIENT_PROTOCOL_41"],
    # no --default-character-set: from LC_ALL=C.UTF-8, utf8mb3_general_ci
    "collation_id": 33,
    "plaintext": False,
}

# ---------------------------------------------------------------- running


def client_env():
    return {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": os.environ.get("HOME", "/nonexistent"), "LC_ALL": "C.UTF-8"}


def _run(argv, stdin=b""):
    p = subprocess.run(argv, input=stdin, env=client_env(), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
    sys.stdout.buffer.write(p.stdout)
    sys.stdout.flush()
    return p.returncode


def write_queries(path, queries):
    """the --queries file of mysql_stmt: NUL-terminated UTF-8 texts"""
    with open(path, "wb") as f:
        for q in queries:
            f.write(q.encode() + b"\0")


def main(argv):
    usage = ("usage: %s client MARIADB | latin1 MARIADB | sjis MARIADB | ssl MARIADB |"
             " slap MARIADB-SLAP | stmt MYSQL_STMT OUT.json |"
             " compress MYSQL_STMT OUT.json QUERIES-FILE\n" % argv[0])
    if len(argv) == 3 and argv[1] == "client":
        # --force: go on after the error; mariadb then exits with 1
        rc = _run([argv[2]] + CLIENT_ARGS, CLIENT_SCRIPT)
        return 0 if rc in (0, 1) else rc
    if len(argv) == 3 and argv[1] in CHARSET_CASES:
        c = CHARSET_CASES[argv[1]]
        return _run([argv[2]] + c["args"], c["query_bytes"] + b";\n")
    if len(argv) == 3 and argv[1] == "ssl":
        return _run([argv[2]] + SSL_CASE["args"], SSL_CASE["query"].encode() + b";\n")
    if len(argv) == 3 and argv[1] == "slap":
        return _run([argv[2]] + SLAP["args"])
    if len(argv) == 4 and argv[1] == "stmt":
        return _run([argv[2]] + STMT_PROGRAM_ARGS + [argv[3]])
    if len(argv) == 5 and argv[1] == "compress":
        write_queries(argv[4], COMPRESS_QUERIES)
        return _run([argv[2], "--compress", "--queries", argv[4]] + STMT_PROGRAM_ARGS +
                    [argv[3]])
    sys.stderr.write(usage)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
