"""The database workloads of the load tests, and the arithmetic of what each must produce.

test_probe_load.py puts them past `tcpdp probe` (captured on lo), test_proxy_load.py through
`tcpdp proxy` (the clients given the proxy's port instead of the server's). Both count what tcpdp
wrote against the same sources that do not depend on it (what the load generator reports or its
options imply, the server's own log of every statement), so the workloads, how they are run and
how a dump record is matched with a server's log entry are defined once, here. Each test module
keeps its own sizes (clients, transactions, iterations) and its own assertions.

PostgreSQL: pgbench runs PG_SCRIPT (one transaction of STATEMENTS_PER_TRANSACTION statements) on
the tables of PG_SETUP, over the simple protocol or, with -M extended, the extended one.

MariaDB: mariadb-slap sends MY_QUERIES in turn (see Slap) on the table of MY_CREATE. A short
session of the `mariadb` client (mariadb_session) asks the server who the client is, as the
PROXY protocol tests (test_probe_proxy.py, test_proxy_load.py) do behind a load balancer.
"""

import collections
import os
import re
import shutil
import subprocess
import tempfile

import servers

# ---------------------------------------------------------------------------------- PostgreSQL

PGBENCH_THREADS = 2  # pgbench -j: the threads that drive the clients

# The pgbench script: STATEMENTS_PER_TRANSACTION SQL commands a transaction (the \set lines are
# pgbench's own and send nothing).
PG_SETUP = ("CREATE TABLE load_accounts (aid int PRIMARY KEY, abalance int NOT NULL DEFAULT 0);"
            "INSERT INTO load_accounts SELECT g, 0 FROM generate_series(1, 10000) g;"
            "CREATE TABLE load_history (aid int, delta int, mtime timestamptz);")
PG_SCRIPT_STATEMENTS = [
    "BEGIN;",
    "UPDATE load_accounts SET abalance = abalance + :delta WHERE aid = :aid;",
    "SELECT abalance FROM load_accounts WHERE aid = :aid;",
    "INSERT INTO load_history (aid, delta, mtime) VALUES (:aid, :delta, CURRENT_TIMESTAMP);",
    "END;",
]
PG_SCRIPT = "\\set aid random(1, 10000)\n\\set delta random(-5000, 5000)\n" + "\n".join(PG_SCRIPT_STATEMENTS) + "\n"
STATEMENTS_PER_TRANSACTION = len(PG_SCRIPT_STATEMENTS)
# with -M extended the statements travel with $n placeholders, numbered in order of first use
PG_EXTENDED_TEXTS = {
    "BEGIN;",
    "UPDATE load_accounts SET abalance = abalance + $1 WHERE aid = $2;",
    "SELECT abalance FROM load_accounts WHERE aid = $1;",
    "INSERT INTO load_history (aid, delta, mtime) VALUES ($1, $2, CURRENT_TIMESTAMP);",
    "END;",
}


def setup_pgbench(cls, prefix, options=()):
    """For a test class's setUpClass: cls.pg, a fresh PostgreSQL server (servers.postgres with
    options) holding PG_SETUP's tables, made over the unix socket (not on the wire); cls.work, a
    temporary directory named from prefix; cls.script, PG_SCRIPT in it. All go with the class."""
    cls.work = tempfile.mkdtemp(prefix=prefix)
    cls.addClassCleanup(shutil.rmtree, cls.work, True)
    cls.pg = cls.enterClassContext(servers.postgres(options=options))
    cls.pg.psql_local(PG_SETUP)
    cls.script = os.path.join(cls.work, "load.sql")
    with open(cls.script, "w") as f:
        f.write(PG_SCRIPT)


def pgbench_command(pg, script, clients, *args):
    """pgbench running script (setup_pgbench's) on `clients` connections, then args."""
    return [pg.bin("pgbench"), "-n", "-c", str(clients), "-j", str(PGBENCH_THREADS), "-f", script] + list(args)


def template(sql):
    """A statement with its pgbench variables, $n placeholders or the values put in for them made
    alike: a text of the script and every text pgbench made of it have the same template."""
    return re.sub(r":\w+|\$\d+|-?\d+", "?", sql)


def bind_parameters(values):
    """A Bind record's bind_values as the server logs the parameters of the Execute that runs them
    (the DETAIL "parameters: $1 = '5', $2 = NULL", quotes doubled), None without values."""
    if not values:
        return None
    return "parameters: " + ", ".join("$%d = %s" % (i + 1, "NULL" if v is None else "'%s'" % v.replace("'", "''"))
                                      for i, v in enumerate(values))


def bound_executes(recs, connection, key):
    """The extended protocol's dump records as the server logs them: every Execute record with the
    values of the Bind before it on its connection (records with the same connection(record)),
    counted as key(record) + (execute_query, bind_parameters(values)), to compare with the server's
    "execute <unnamed>: TEXT" entries and their parameters. -> (that Counter, Counter of the Parse
    records' texts)."""
    mine, bound, parses = collections.Counter(), {}, collections.Counter()
    for r in recs:
        kind = r.get("message_type")
        if kind == "P":
            parses[r["parse_query"]] += 1
        elif kind == "B":
            bound[connection(r)] = r["bind_values"]
        elif kind == "E":
            mine[key(r) + (r["execute_query"], bind_parameters(bound.pop(connection(r), None)))] += 1
    return mine, parses


# ------------------------------------------------------------------------------------- MariaDB

MY_CREATE = ["CREATE TABLE slap_t (id INT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(20))",
             "INSERT INTO slap_t (v) VALUES ('a'),('b'),('c')"]
MY_QUERIES = ["SELECT COUNT(*) FROM slap_t WHERE id < 50",
              "INSERT INTO slap_t (v) VALUES ('x')",
              "UPDATE slap_t SET v = 'y' WHERE id = 1",
              "SELECT v FROM slap_t WHERE id = 2",
              "DELETE FROM slap_t WHERE id > 1000000"]


class Slap:
    """A mariadb-slap run: each of `clients` connections sends MY_QUERIES in turn, number_of_queries
    / clients of them (per_client) in each of `iterations`; a setup connection creates the schema
    and MY_CREATE's table before each iteration."""

    def __init__(self, schema, clients, iterations, number_of_queries):
        self.schema, self.clients, self.iterations = schema, clients, iterations
        self.number_of_queries = number_of_queries
        self.per_client = number_of_queries // clients

    def options(self):
        """mariadb-slap's options for this run (after those saying where to connect)."""
        return ["--concurrency=%d" % self.clients, "--iterations=%d" % self.iterations,
                "--number-of-queries=%d" % self.number_of_queries, "--create-schema=" + self.schema,
                "--create=" + ";".join(MY_CREATE), "--query=" + ";".join(MY_QUERIES), "--delimiter=;"]

    def run(self, test, client_args, env):
        """Runs mariadb-slap with client_args (servers.MariaDB.client_args, or a copy pointed
        elsewhere) in env: it must exit 0 and say each client sent its share."""
        slap = subprocess.run(["mariadb-slap"] + list(client_args) + self.options(),
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        test.assertEqual(slap.returncode, 0, slap.stdout.decode() + slap.stderr.decode())
        test.assertIn("Average number of queries per client: %d" % self.per_client, slap.stdout.decode())

    def implied(self):
        """What the options imply: each client of each iteration sends its share, the queries in
        turn. -> Counter of the load queries' texts."""
        implied = collections.Counter(MY_QUERIES[i % len(MY_QUERIES)] for i in range(self.per_client))
        return collections.Counter({q: n * self.clients * self.iterations for q, n in implied.items()})


def session_queries(tag):
    """What mariadb_session sends: a text of its own, one asking the server who the client is
    (information_schema.PROCESSLIST.HOST: host:port of the client as the server took it, from the
    socket or from a PROXY protocol header), and one the server computes; tag (no quotes) in each."""
    return ["SELECT 'session %s'" % tag,
            "SELECT HOST, CONNECTION_ID(), USER(), '%s' FROM information_schema.PROCESSLIST "
            "WHERE ID = CONNECTION_ID()" % tag,
            "SELECT CONCAT('%s', '-', 6 * 7)" % tag]


def mariadb_client(client_args, env, sql):
    """One `mariadb` client session running sql in batch mode (-B -N), with client_args
    (servers.MariaDB.client_args or client_args_to(...)) in env; -> its CompletedProcess (stdout
    and stderr as text), whatever its exit status."""
    return subprocess.run(["mariadb"] + list(client_args) + ["-B", "-N", "-e", sql], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=env, timeout=30, text=True)


def mariadb_session(client_args, env, tag):
    """session_queries(tag) in one mariadb_client session, which must succeed (else
    AssertionError with its output); -> {"queries": what it sent, "host", "connection_id", "user":
    the server's answer to the PROCESSLIST query, "values": the other two queries' answers}."""
    queries = session_queries(tag)
    proc = mariadb_client(client_args, env, "; ".join(queries))
    assert proc.returncode == 0, "mariadb client %s failed (%d): %s%s" % (tag, proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stdout.rstrip("\n").split("\n")
    assert len(lines) == 3, proc.stdout
    host_port, connection_id, user, echoed = lines[1].split("\t")
    assert echoed == tag, proc.stdout
    assert lines[2] == "%s-42" % tag, proc.stdout
    return {"queries": queries, "host": host_port, "connection_id": int(connection_id), "user": user,
            "values": [lines[0], lines[2]]}


# ---------------------------------------------------------------------------------- comparisons

def counter_diff(want, got):
    """A readable account of how two Counters differ (at most a few items each way, long texts cut,
    also in tuple keys)."""
    missing, extra = want - got, got - want
    show = lambda c: [(tuple(x[:120] if isinstance(x, str) else x for x in k) if isinstance(k, tuple)
                       else k[:120] if isinstance(k, str) else k, n) for k, n in c.most_common(5)]
    return "missing %d %s, extra %d %s" % (sum(missing.values()), show(missing), sum(extra.values()), show(extra))
