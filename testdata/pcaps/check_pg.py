"""The PostgreSQL captures of pg_workload.py, read message by message, against what the workload
sent and got, and against tshark's pgsql dissector."""

import json
import struct
import subprocess

import pg_workload as P
from capture_reader import (FIN, RST, as_tshark_string, ethernet_connections, fail, failure_count,
                            out_path, report, tshark_bytes, tshark_values)


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
    pkts, conns = ethernet_connections(name, port, want)
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


def tshark_pg(name, port, yfilter, fields):
    """tshark -T json on a capture, the port decoded as pgsql -> list of
    per-packet dicts field -> list of str"""
    out = subprocess.run(
        ["tshark", "-r", out_path(name), "-d",
         "tcp.port==%d,pgsql" % port, "-Y", yfilter, "-T", "json"] +
        [a for f in fields for a in ("-e", f)],
        check=True, capture_output=True).stdout
    return [p["_source"]["layers"] for p in json.loads(out.decode() or "[]")]


def check_pg_psql():
    nfail = failure_count()
    name = "pg_psql.pcap"
    pkts, conns = pg_conns(name, P.PG_PORT, 1)
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
    fe = tshark_pg(name, P.PG_PORT, "pgsql && tcp.dstport==%d" % P.PG_PORT,
                   ["pgsql.query", "pgsql.copydata"])
    be = tshark_pg(name, P.PG_PORT, "pgsql && tcp.srcport==%d" % P.PG_PORT,
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
    nfail = failure_count()
    name = "pg_params.pcap"
    expected = P.load_params_expected(out_path("pg_params.expected.json"))
    pkts, conns = pg_conns(name, P.PG_PORT, 1)
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
    tb = tshark_pg(name, P.PG_PORT, 'pgsql.type == "Bind"', ["pgsql.statement", "pgsql.format"])
    got = [[int(x) for x in r.get("pgsql.format", [])] for r in tb]
    if got != [e["bind_format_codes"] + [0] for e in expected]:
        fail("%s: tshark sees other Bind format codes: %r" % (name, got))
    n_bin = sum(1 for e in expected if 1 in e["bind_format_codes"])
    report(nfail, "%s: %d packets, %d Bind (%d with binary parameters), %d Parse; "
          "tshark agrees" % (name, len(pkts), len(binds), n_bin, n_parse))


def check_pg_pgbench():
    nfail = failure_count()
    name = "pg_pgbench.pcap"
    runs = [P.PGBENCH["prepared"], P.PGBENCH["extended"]]
    want_conns = sum(r["clients"] + 1 for r in runs)
    pkts, conns = pg_conns(name, P.PG_PORT, want_conns)
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
    tb = tshark_pg(name, P.PG_PORT, "pgsql", ["pgsql.type"])
    tcount = tshark_values(tb, "pgsql.type").count("Bind")
    if tcount != want_binds:
        fail("%s: tshark counts %d Bind, want %d" % (name, tcount, want_binds))
    report(nfail, "%s: %d packets, %d connections, %d Bind (prepared %d, extended %d); "
          "tshark agrees" % (name, len(pkts), len(conns), binds_total,
                             P.PGBENCH["prepared"]["binds"], P.PGBENCH["extended"]["binds"]))


def check_pg_ssl(case):
    nfail = failure_count()
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
    with open(out_path(name), "rb") as f:
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


