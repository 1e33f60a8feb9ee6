"""Throwaway real database servers for the integration tests (needs root, Debian's packages).

    with servers.postgres() as pg:       # PostgreSQL 15+ from /usr/lib/postgresql/*/bin
        subprocess.run([pg.bin("pgbench"), ...], env=pg.env)
        pg.psql_local("CREATE TABLE ...")   # over the unix socket: not on the wire
        entries = pg.statement_log()        # the server's own record of every statement

    with servers.mariadb() as my:        # mariadbd, mariadb-install-db, the mariadb clients
        subprocess.run(["mariadb-slap"] + my.client_args + [...], env=my.env)
        my.sql_local("CREATE TABLE ...")
        entries = my.general_log()

Each context manager makes a temporary directory, initialises a fresh data directory in it
(initdb as user postgres, mariadb-install-db as user mysql, as testdata/pcaps/generate.sh does),
starts the server on 127.0.0.1 on a free port below the kernel's ephemeral range (so no client
connection can take it while the server runs, and a capture filter on that port sees only this
server's traffic), with its unix socket in the temporary directory, waits until it answers, and
yields an object with the connection details. On exit, also when the body or the start failed, the
server is stopped (fast, then immediately, then killed) and the directory removed.

Authentication is trust-like: PostgreSQL trusts every local and TCP connection; MariaDB has a user
`tcpdp`@`127.0.0.1` with an empty password and every privilege (root stays unix-socket only).

Both servers log every statement they receive, as an independent count of what the clients sent:
PostgreSQL with log_statement = 'all' into a JSON log (jsonlog, PostgreSQL 15+), MariaDB with its
general query log in a file. statement_log() and general_log() parse them.

    with servers.haproxy("127.0.0.4", {"v1": ("127.0.0.1", port, "send-proxy")}) as ha:
        ... connect to ha.host:ha.frontends["v1"] ...
        logged = ha.one_session_each()      # HAProxy's own log of each session

HAProxy (Debian's haproxy) in TCP mode, a load balancer in front of a server, sending it a PROXY
protocol header; its log of every session says which client it accepted, on which frontend
address, and from where it connected to the server.
"""

import contextlib
import glob
import json
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

HOST = "127.0.0.1"
PORT_RANGE = (20000, 32000)  # below Linux's default ephemeral range (32768-60999)
START_ATTEMPTS = 3           # a port found free may be taken before the server binds it


class ServerError(RuntimeError):
    """A server did not initialise, start or answer; the message carries its log."""


# ------------------------------------------------------------------------------------- helpers

def ephemeral_range():
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low, high = f.read().split()
    return int(low), int(high)


def port_is_free(port, host=HOST):
    """Whether nothing listens on or is bound to host:port (TIME_WAIT leftovers do not count)."""
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(host=HOST):
    """A random free port in PORT_RANGE that is also below the kernel's ephemeral range: ports in
    that range are handed out to outgoing connections and could be taken at any time."""
    low, high = PORT_RANGE
    high = min(high, ephemeral_range()[0] - 1)
    if high <= low:
        raise ServerError("no room for a server port below the ephemeral range")
    for _ in range(200):
        port = random.randint(low, high)
        if port_is_free(port, host):
            return port
    raise ServerError("no free port found in %d-%d" % (low, high))


def _tail(path, n=4000):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:]
    except OSError as e:
        return "(%s)" % e


def _run(args, what, cwd="/", env=None, timeout=120, log=None):
    """Runs args; raises ServerError with their output (and the tail of log) if they fail."""
    proc = subprocess.run(args, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=timeout)
    if proc.returncode != 0:
        extra = ("\n--- %s:\n%s" % (log, _tail(log))) if log else ""
        raise ServerError("%s failed (exit %d): %s%s" % (what, proc.returncode,
                                                         proc.stdout.decode(errors="replace"), extra))
    return proc.stdout.decode(errors="replace")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def listening(pid):
    """The IPv4 addresses (ip, port) on which process pid has a TCP socket listening (from /proc:
    its descriptors' socket inodes in its network namespace's table); an empty set once it is gone."""
    try:
        inodes = set()
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:  # closed meanwhile
                continue
            if link.startswith("socket:["):
                inodes.add(link[len("socket:["):-1])
        with open("/proc/%d/net/tcp" % pid) as f:
            rows = [line.split() for line in f.read().splitlines()[1:]]
    except OSError:
        return set()
    out = set()
    for row in rows:
        if row[3] == "0A" and row[9] in inodes:  # TCP_LISTEN
            ip, port = row[1].split(":")
            out.add((socket.inet_ntoa(struct.pack("<I", int(ip, 16))), int(port, 16)))
    return out


def stop_process(proc, timeout):
    """SIGTERM to a child process still running, SIGKILL if it has not exited within timeout s."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _start_server(make, busy, retry=True):
    """Starts the server make() returns (each call on other free ports). A port found free may be
    taken before the server binds it: while start() fails and busy(server) says that is why, again
    with a new one, START_ATTEMPTS times in all (once with retry=False: a port the caller chose).
    -> the started server; when it cannot start, that one is stopped and ServerError raised."""
    for attempt in range(START_ATTEMPTS):
        server = make()
        try:
            server.start()
            return server
        except ServerError:
            server.stop()
            if not retry or not busy(server) or attempt == START_ATTEMPTS - 1:
                raise


def _clean_env(home, **extra):
    """An environment without the caller's PG*/MYSQL* variables or rc files."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": home, "LC_ALL": "C"}
    env.update(extra)
    return env


def _make_workdir(prefix, owner):
    """A temporary directory the server's user can enter, with a subdirectory it owns."""
    work = tempfile.mkdtemp(prefix=prefix)
    os.chmod(work, 0o755)
    own = os.path.join(work, "server")
    os.mkdir(own)
    shutil.chown(own, owner, owner)
    return work, own


# ---------------------------------------------------------------------------------- PostgreSQL

def pg_bindir():
    """The newest /usr/lib/postgresql/N/bin that has initdb and pgbench."""
    dirs = [d for d in glob.glob("/usr/lib/postgresql/*/bin")
            if os.path.exists(os.path.join(d, "initdb")) and os.path.exists(os.path.join(d, "pgbench"))]
    if not dirs:
        raise ServerError("PostgreSQL binaries not found in /usr/lib/postgresql/*/bin")
    return max(dirs, key=lambda d: int(d.split("/")[-2]) if d.split("/")[-2].isdigit() else 0)


class Postgres:
    """A running PostgreSQL cluster.

    port, host            where it listens (TCP); user "postgres", database "postgres"
    bindir                its bin directory (pg_ctl, psql, pgbench, ...); bin(name) joins it
    socket_dir            its unix socket directory (for setup that must not be on the wire)
    env                   environment for clients over TCP: PGHOST/PGPORT/PGUSER/PGDATABASE set,
                          SSL and GSS encryption off (so the traffic is plaintext), nothing else
    dsn                   the same as a libpq connection string
    log_path              the JSON log (one object a line) with every statement
    workdir               the temporary directory (removed on exit)
    """

    def __init__(self, workdir, own, bindir, port, options=()):
        self.workdir, self.own, self.bindir, self.port, self.host = workdir, own, bindir, port, HOST
        self.options = list(options)
        self.datadir = os.path.join(own, "data")
        self.socket_dir = own
        self.log_dir = os.path.join(own, "log")
        self.log_path = os.path.join(self.log_dir, "postgresql.json")
        self.startup_log = os.path.join(own, "server.log")
        self.user = self.database = "postgres"
        self.env = _clean_env(workdir, PGHOST=HOST, PGPORT=str(port), PGUSER="postgres",
                              PGDATABASE="postgres", PGSSLMODE="disable", PGGSSENCMODE="disable")
        self.dsn = ("host=%s port=%d user=postgres dbname=postgres sslmode=disable gssencmode=disable"
                    % (HOST, port))
        self._syncs = 0

    def bin(self, name):
        return os.path.join(self.bindir, name)

    def as_postgres(self, args, what, **kw):
        return _run(["runuser", "-u", "postgres", "--"] + list(args), what, cwd=self.workdir, **kw)

    def require_password(self, user, password):
        """Creates the role user, which must give its password (scram) over TCP; everyone else
        stays trusted."""
        hba = os.path.join(self.datadir, "pg_hba.conf")
        with open(hba) as f:
            rules = f.read()
        with open(hba, "w") as f:
            f.write("host all %s 127.0.0.1/32 scram-sha-256\n" % user + rules)
        self.psql_local("CREATE ROLE %s LOGIN PASSWORD '%s'; SELECT pg_reload_conf()" % (user, password))

    def psql_local(self, sql):
        """Runs sql with psql over the unix socket (not captured on lo); returns psql's output."""
        return self.as_postgres([self.bin("psql"), "-h", self.socket_dir, "-p", str(self.port), "-U", "postgres",
                                 "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql, "postgres"],
                                "psql " + sql[:60], env=_clean_env(self.workdir))

    def _entries(self):
        if not os.path.exists(self.log_path):
            return []
        with open(self.log_path, encoding="utf-8", errors="surrogateescape") as f:
            data = f.read()
        # only whole lines: the logger may be writing the last one
        return [json.loads(line) for line in data.split("\n")[:-1] if line]

    def sync_log(self, timeout=30):
        """Waits until every statement logged before this call is in the log file: logs a marker
        statement over the unix socket and waits for it (the server's log collector writes what
        the backends sent it in order). Returns every log entry, the marker's included."""
        self._syncs += 1
        marker = "tcpdp-log-sync-%d-%d" % (os.getpid(), self._syncs)
        self.psql_local("SELECT '%s'" % marker)
        deadline = time.monotonic() + timeout
        while True:
            entries = self._entries()
            if any(marker in e.get("message", "") for e in entries):
                return entries
            if time.monotonic() > deadline:
                raise ServerError("the statement log never showed %s" % marker)
            time.sleep(0.05)

    def log_position(self):
        """A position in the statement log: pass it to statement_log(since=...) to see only what
        came after."""
        return len(self.sync_log())

    def statement_log(self, since=0, tcp_only=True):
        """The statements the server logged (log_statement = 'all'), in order, as dicts:
        kind         "statement" (simple query protocol, one per Query message; a multi-statement
                     string is one entry) or "execute" (extended protocol, one per Execute message)
        name         the prepared statement name of an execute ("<unnamed>" for the unnamed one)
        text         the SQL text as the server received it
        parameters   an execute's DETAIL line ("parameters: $1 = '5', ...") or None
        pid, remote_host, remote_port, application_name, user, dbname, timestamp: from the log
        tcp_only: only statements of TCP connections (not the unix-socket setup and syncs)."""
        out = []
        for e in self.sync_log()[since:]:
            msg = e.get("message", "")
            if e.get("error_severity") != "LOG":
                continue
            m = re.match(r"(statement|execute (\S+)): (.*)\Z", msg, re.S)
            if not m:
                continue
            if tcp_only and e.get("remote_host") in (None, "[local]"):
                continue
            kind = m.group(1).split(" ")[0]
            detail = e.get("detail")
            out.append({"kind": kind, "name": m.group(2), "text": m.group(3),
                        "parameters": detail if detail and detail.startswith("parameters: ") else None,
                        "pid": e.get("pid"), "remote_host": e.get("remote_host"),
                        "remote_port": int(e["remote_port"]) if e.get("remote_port") else None,
                        "application_name": e.get("application_name"), "user": e.get("user"),
                        "dbname": e.get("dbname"), "timestamp": e.get("timestamp")})
        return out

    def _pid(self):
        try:
            with open(os.path.join(self.datadir, "postmaster.pid")) as f:
                return int(f.readline())
        except (OSError, ValueError):
            return None

    def start(self):
        opts = " ".join([
            "-c listen_addresses=%s" % HOST, "-p %d" % self.port,
            "-c unix_socket_directories=%s" % self.socket_dir,
            "-c ssl=off", "-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off",
            "-c max_connections=100",
            "-c logging_collector=on", "-c log_destination=jsonlog",
            "-c log_directory=%s" % self.log_dir, "-c log_filename=postgresql.log",
            "-c log_rotation_age=0", "-c log_rotation_size=0",
            "-c log_statement=all", "-c log_parameter_max_length=-1",
        ] + ["-c %s" % option for option in self.options])
        self.as_postgres([self.bin("pg_ctl"), "-D", self.datadir, "-l", self.startup_log, "-w", "-t", "60",
                          "-o", opts, "start"], "pg_ctl start", log=self.startup_log)

    def stop(self):
        for mode in ("fast", "immediate"):
            if self._pid() is None:
                return
            try:
                self.as_postgres([self.bin("pg_ctl"), "-D", self.datadir, "-m", mode, "-w", "-t", "30", "stop"],
                                 "pg_ctl stop", timeout=60)
                return
            except (ServerError, subprocess.TimeoutExpired):
                continue
        pid = self._pid()
        if pid and _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def postgres(port=None, options=()):
    """A fresh PostgreSQL cluster on 127.0.0.1:port (a free one if None); yields a Postgres.
    options: more settings as "name=value" (no spaces), each passed as -c after the defaults above
    (a later one wins), e.g. "log_connections=on" (a "connection received: host=... port=..." log
    entry for every connection, read with sync_log())."""
    bindir = pg_bindir()
    workdir, own = _make_workdir("tcpdp-pg-", "postgres")
    server = None
    try:
        datadir = os.path.join(own, "data")
        _run(["runuser", "-u", "postgres", "--", os.path.join(bindir, "initdb"), "-D", datadir, "-U", "postgres",
              "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions"], "initdb", cwd=workdir)
        server = _start_server(lambda: Postgres(workdir, own, bindir, port or free_port(), options),
                               lambda s: "could not bind" in _tail(s.startup_log) + _tail(s.log_path), retry=not port)
        yield server
    finally:
        if server:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------------------------------- MariaDB

GENERAL_LOG_LINE = re.compile(r"^(?:\d{6} [ \d]\d:\d\d:\d\d)?\t+ *(\d+) ([A-Z][A-Za-z_ ]*?)\t(.*)$")


def parse_general_log(text):
    """MariaDB's general query log file -> [{"id": connection id, "command": "Connect", "Query",
    "Init DB", "Quit", ..., "argument": text}] in order. An argument with newlines continues on
    the following lines, which do not start like an entry."""
    entries = []
    for line in text.split("\n"):
        m = GENERAL_LOG_LINE.match(line)
        if m:
            entries.append({"id": int(m.group(1)), "command": m.group(2), "argument": m.group(3)})
        elif entries and not line.startswith(("Time\t", "Tcp port:")) and "started with:" not in line:
            entries[-1]["argument"] += "\n" + line
    if entries and entries[-1]["argument"].endswith("\n"):
        entries[-1]["argument"] = entries[-1]["argument"][:-1]
    return entries


class MariaDB:
    """A running mariadbd.

    port, host           where it listens (TCP); user "tcpdp", no password, all privileges
    socket               its unix socket (root, for setup that must not be on the wire)
    client_args          arguments for the mariadb clients (mariadb, mariadb-slap, mariadb-admin)
                         to reach it over TCP as tcpdp, without option files or TLS
    env                  environment for those clients (HOME in the temporary directory)
    general_log_path     the general query log file: every command of every connection
    workdir              the temporary directory (removed on exit)
    """

    def __init__(self, workdir, own, port, options=()):
        self.workdir, self.own, self.port, self.host = workdir, own, port, HOST
        self.options = list(options)
        self.datadir = os.path.join(own, "data")
        self.socket = os.path.join(own, "mysqld.sock")
        self.error_log = os.path.join(own, "error.log")
        self.general_log_path = os.path.join(own, "general.log")
        self.user = "tcpdp"
        self.env = _clean_env(workdir)
        self.client_args = ["--no-defaults", "-h", HOST, "-P", str(port), "--protocol=TCP", "-u", self.user,
                            "--skip-ssl"]
        self.proc = None

    def client_args_to(self, host, port):
        """client_args pointed at host:port (a proxy or load balancer in front of this server)."""
        args = list(self.client_args)
        args[args.index("-h") + 1] = host
        args[args.index("-P") + 1] = str(port)
        return args

    def sql_local(self, sql):
        """Runs sql as root over the unix socket (not captured on lo); returns the output (batch mode)."""
        return _run(["mariadb", "--no-defaults", "--socket=" + self.socket, "-u", "root", "-B", "-N", "-e", sql],
                    "mariadb " + sql[:60], env=self.env, log=self.error_log)

    def general_log(self, since=0, tcp_only=True):
        """The general log's entries (see parse_general_log) from position since on (a position is
        len() of an earlier answer). tcp_only: only connections whose Connect says TCP/IP (not the
        root setup over the socket). The log is written before a command runs and flushed at once,
        so what a client saw answered is in it."""
        with open(self.general_log_path, encoding="utf-8", errors="surrogateescape") as f:
            entries = parse_general_log(f.read())
        if tcp_only:
            tcp = {e["id"] for e in entries if e["command"] == "Connect" and "TCP/IP" in e["argument"]}
            entries = [dict(e, position=i) for i, e in enumerate(entries)]
            return [e for e in entries[since:] if e["id"] in tcp]
        return entries[since:]

    def log_position(self):
        with open(self.general_log_path, encoding="utf-8", errors="surrogateescape") as f:
            return len(parse_general_log(f.read()))

    def start(self):
        log = open(os.path.join(self.own, "mariadbd.out"), "wb")
        try:
            self.proc = subprocess.Popen(
                ["mariadbd", "--no-defaults", "--user=mysql", "--datadir=" + self.datadir, "--socket=" + self.socket,
                 "--port=%d" % self.port, "--bind-address=" + HOST, "--pid-file=" + os.path.join(self.own, "mysqld.pid"),
                 "--log-error=" + self.error_log, "--skip-name-resolve", "--innodb-buffer-pool-size=32M",
                 "--innodb-flush-log-at-trx-commit=0", "--max-connections=200",
                 "--general-log=1", "--general-log-file=" + self.general_log_path, "--log-output=FILE"]
                + self.options,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd="/")
        finally:
            log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ping = subprocess.run(["mariadb-admin", "--no-defaults", "--socket=" + self.socket, "-u", "root", "ping"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=self.env)
            if ping.returncode == 0:
                return
            if self.proc.poll() is not None:
                raise ServerError("mariadbd exited with %d:\n%s" % (self.proc.returncode, _tail(self.error_log)))
            time.sleep(0.1)
        raise ServerError("mariadbd did not answer within 60 s:\n" + _tail(self.error_log))

    def stop(self):
        stop_process(self.proc, 30)


@contextlib.contextmanager
def mariadb(port=None, options=()):
    """A fresh MariaDB server on 127.0.0.1:port (a free one if None); yields a MariaDB. options:
    more mariadbd command-line options (e.g. "--proxy-protocol-networks=127.0.0.3"), after the
    defaults above (a later option wins)."""
    workdir, own = _make_workdir("tcpdp-my-", "mysql")
    server = None
    try:
        _run(["mariadb-install-db", "--no-defaults", "--user=mysql", "--datadir=" + os.path.join(own, "data"),
              "--auth-root-authentication-method=socket", "--skip-test-db"], "mariadb-install-db", cwd=workdir)
        server = _start_server(lambda: MariaDB(workdir, own, port or free_port(), options),
                               lambda s: "Address already in use" in _tail(s.error_log), retry=not port)
        server.sql_local("CREATE USER 'tcpdp'@'127.0.0.1'; GRANT ALL ON *.* TO 'tcpdp'@'127.0.0.1';")
        yield server
    finally:
        if server:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# ------------------------------------------------------------------------------------- HAProxy

# One line per session on HAProxy's standard output, written when the session ends: the frontend's
# name, %ci:%cp the client it accepted, %fi:%fp the frontend address the client connected to
# (what send-proxy puts in the PROXY header as the destination: "the layer 3/4 addresses of the
# incoming connection", configuration.txt), %bi:%bp where HAProxy connected to the server from,
# %si:%sp the server.
HAPROXY_LOG_FORMAT = "tcpdp-session %ft %ci:%cp %fi:%fp %bi:%bp %si:%sp"
HAPROXY_LOG = re.compile(r"^tcpdp-session (\S+) (\S+:\d+) (\S+:\d+) (\S+:\d+) (\S+:\d+)$")
HAPROXY_FIELDS = ("client", "frontend", "backend_source", "server")


class HAProxy:
    """A running haproxy (TCP mode, in the foreground, logging to its standard output).

    host                  where its frontends listen
    routes, source        as given to haproxy()
    frontends             {name: port}, one frontend (a `listen` section) per route, on a free port
    out_path              its standard output and error: the session log, and what it complains of
    """

    def __init__(self, workdir, host, routes, source):
        self.workdir, self.host, self.routes, self.source = workdir, host, routes, source
        self.frontends = {}
        for name in routes:
            port = free_port(host)
            while port in self.frontends.values():
                port = free_port(host)
            self.frontends[name] = port
        self.out_path = os.path.join(workdir, "haproxy.out")
        self.proc = None

    def text(self):
        return _tail(self.out_path, n=1 << 20)

    def sessions(self):
        """The sessions HAProxy logged so far, in order: [{"name": its frontend, "client",
        "frontend", "backend_source", "server": "ip:port"}] (see HAPROXY_LOG_FORMAT)."""
        return [dict(zip(("name",) + HAPROXY_FIELDS, m.groups()))
                for m in map(HAPROXY_LOG.match, self.text().splitlines()) if m]

    def one_session_each(self, timeout=10):
        """Waits until every frontend has logged its session (HAProxy logs a TCP session when it
        ends); -> {name: that session}. Raises ServerError if one logged more than one, or not
        every one has logged within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            sessions = self.sessions()
            names = [s["name"] for s in sessions]
            if len(names) != len(set(names)):
                raise ServerError("more than one session on a frontend:\n" + self.text())
            if set(names) == set(self.frontends):
                return {s["name"]: s for s in sessions}
            if time.monotonic() > deadline:
                raise ServerError("haproxy logged sessions on %s, not on all of %s within %d s:\n%s"
                                  % (sorted(names), sorted(self.frontends), timeout, self.text()))
            time.sleep(0.02)

    def start(self):
        cfg = os.path.join(self.workdir, "haproxy.cfg")
        with open(cfg, "w") as f:
            f.write("global\n"
                    "    log stdout format raw local0\n"
                    "defaults\n"
                    "    mode tcp\n"
                    "    log global\n"
                    '    log-format "%s"\n'
                    "    timeout connect 5s\n"
                    "    timeout client 30s\n"
                    "    timeout server 30s\n" % HAPROXY_LOG_FORMAT)
            for name, (server_host, server_port, keyword) in self.routes.items():
                f.write("listen %s\n"
                        "    bind %s:%d\n"
                        "    server backend %s:%d %s%s\n"
                        % (name, self.host, self.frontends[name], server_host, server_port, keyword,
                           " source " + self.source if self.source else ""))
        with open(self.out_path, "wb") as out:
            self.proc = subprocess.Popen(["haproxy", "-f", cfg, "-db"], stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=subprocess.STDOUT, cwd="/")
        # its own listening sockets (a port merely taken may be another process's)
        deadline = time.monotonic() + 10
        want = {(self.host, port) for port in self.frontends.values()}
        while not want <= listening(self.proc.pid):
            if self.proc.poll() is not None:
                raise ServerError("haproxy exited with %d:\n%s" % (self.proc.returncode, self.text()))
            if time.monotonic() > deadline:
                raise ServerError("haproxy did not listen within 10 s:\n" + self.text())
            time.sleep(0.02)

    def stop(self):
        stop_process(self.proc, 10)


@contextlib.contextmanager
def haproxy(host, routes, source=None):
    """HAProxy with one frontend per route, each on its own free port of host (a loopback address
    other than 127.0.0.1 keeps them apart from every other address of a test); yields an HAProxy.
    routes: {name: (server host, server port, server keywords)}, e.g. ("127.0.0.1", 3306,
    "send-proxy-v2"): a frontend's every connection goes to that server. source: the address
    HAProxy connects to the servers from (the kernel's choice if None)."""
    workdir = tempfile.mkdtemp(prefix="tcpdp-haproxy-")
    server = None
    try:
        server = _start_server(lambda: HAProxy(workdir, host, routes, source), lambda s: "cannot bind" in s.text())
        yield server
    finally:
        if server:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
