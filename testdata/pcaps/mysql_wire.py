"""The MySQL protocol as check_mysql.py reads it: packets (compressed or not), the handshake, text
and binary values, the server's answers and the commands of a session."""

import json
import struct
import subprocess
import zlib

import mysql_workload as M
from capture_reader import FIN, RST, ethernet_connections, fail, out_path, tshark_values


COM_NAME = {v: k for k, v in M.COM.items()}
CAP = M.CAP
SERVER_MORE_RESULTS_EXISTS = 0x0008
UNSIGNED_FLAG = 0x0020
(MT_DECIMAL, MT_TINY, MT_SHORT, MT_LONG, MT_FLOAT, MT_DOUBLE, MT_NULL, MT_TIMESTAMP,
 MT_LONGLONG, MT_INT24, MT_DATE, MT_TIME, MT_DATETIME, MT_YEAR) = range(14)
MT_BIT = 16
MT_STRINGS = {15, 245, 246, 247, 248, 249, 250, 251, 252, 253, 254, 255}


class MyReader:
    def __init__(self, data, pos=0):
        self.b, self.p = data, pos

    def left(self):
        return len(self.b) - self.p

    def take(self, n):
        if n < 0 or self.p + n > len(self.b):
            raise ValueError("packet too short")
        v = self.b[self.p:self.p + n]
        self.p += n
        return v

    def int(self, n):
        return int.from_bytes(self.take(n), "little")

    def lenenc(self):
        c = self.int(1)
        if c < 0xFB:
            return c
        if c == 0xFB:
            return None
        if c == 0xFF:
            raise ValueError("length-encoded integer 0xff")
        return self.int({0xFC: 2, 0xFD: 3, 0xFE: 8}[c])

    def lenenc_bytes(self):
        n = self.lenenc()
        return None if n is None else self.take(n)

    def cstr(self):
        end = self.b.find(b"\0", self.p)
        if end < 0:                    # last field, not terminated
            end = len(self.b)
        v = self.b[self.p:end]
        self.p = min(end + 1, len(self.b))
        return v


def my_take_packet(data, pos):
    """one plain packet at pos -> (seq, payload, next pos)"""
    if len(data) - pos < 4:
        raise ValueError("packet header cut off")
    n = int.from_bytes(data[pos:pos + 3], "little")
    if pos + 4 + n > len(data):
        raise ValueError("packet cut off")
    return data[pos + 3], data[pos + 4:pos + 4 + n], pos + 4 + n


def my_packets(data):
    """plain protocol bytes -> [(seq, payload)]; a 0xffffff-byte packet is
    joined with the packets that continue it"""
    out, pos, cur = [], 0, None
    while pos < len(data):
        seq, body, pos = my_take_packet(data, pos)
        if cur is None:
            cur = [seq, bytearray()]
        cur[1] += body
        if len(body) < 0xFFFFFF:
            out.append((cur[0], bytes(cur[1])))
            cur = None
    if cur is not None:
        raise ValueError("multi-packet payload cut off")
    return out


def my_uncompress(data):
    """compressed protocol bytes -> (plain bytes, frames); a frame is
    (compressed length, uncompressed length, 0 when sent as is)"""
    out, frames, pos = bytearray(), [], 0
    while pos < len(data):
        if len(data) - pos < 7:
            raise ValueError("compressed header cut off")
        clen = int.from_bytes(data[pos:pos + 3], "little")
        ulen = int.from_bytes(data[pos + 4:pos + 7], "little")
        body = data[pos + 7:pos + 7 + clen]
        if len(body) != clen:
            raise ValueError("compressed packet cut off")
        pos += 7 + clen
        plain = zlib.decompress(body) if ulen else body
        if ulen and len(plain) != ulen:
            raise ValueError("uncompressed length differs")
        out += plain
        frames.append((clen, ulen))
    return bytes(out), frames


def my_greeting(p):
    r = MyReader(p)
    g = {"protocol": r.int(1), "version": r.cstr().decode()}
    g["thread_id"] = r.int(4)
    r.take(9)
    caps = r.int(2)
    g["charset"] = r.int(1)
    g["status"] = r.int(2)
    caps |= r.int(2) << 16
    salt_len = r.int(1)
    r.take(6)
    ext = r.int(4)
    if not caps & CAP["CLIENT_LONG_PASSWORD"]:   # a MariaDB server
        caps |= ext << 32
    g["caps"] = caps
    r.take(max(13, salt_len - 8))
    g["auth_plugin"] = r.cstr().decode()
    return g


def my_login(p):
    """HandshakeResponse41 (or the 32-byte SSLRequest) -> dict"""
    r = MyReader(p)
    caps = r.int(4)
    d = {"max_packet": r.int(4), "collation_id": r.int(1)}
    r.take(19)
    ext = r.int(4)
    if not caps & CAP["CLIENT_LONG_PASSWORD"]:
        caps |= ext << 32
    d["caps"] = caps
    d["ssl_request"] = r.left() == 0
    if d["ssl_request"]:
        return d
    d["user"] = r.cstr().decode()
    if caps & CAP["CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA"]:
        d["auth"] = r.lenenc_bytes()
    else:
        d["auth"] = r.take(r.int(1))
    d["database"] = r.cstr().decode() if caps & CAP["CLIENT_CONNECT_WITH_DB"] else None
    d["auth_plugin"] = r.cstr().decode() if caps & CAP["CLIENT_PLUGIN_AUTH"] else None
    d["attrs"] = {}
    if caps & CAP["CLIENT_CONNECT_ATTRS"]:
        a = MyReader(r.lenenc_bytes())
        while a.left():
            k = a.lenenc_bytes().decode()
            d["attrs"][k] = a.lenenc_bytes().decode()
    if r.left():
        raise ValueError("%d bytes after the HandshakeResponse" % r.left())
    return d


def my_session(cs, ss):
    """one connection's two byte streams -> dict with the handshake, and the
    command / answer packets (decompressed if compression was negotiated)"""
    _, gp, spos = my_take_packet(ss, 0)
    s = {"greeting": my_greeting(gp)}
    _, lp, cpos = my_take_packet(cs, 0)
    s["login"] = login = my_login(lp)
    s["caps"] = caps = login["caps"] & s["greeting"]["caps"]
    s["tls"] = login["ssl_request"]
    if s["tls"]:
        s["client_tls"], s["server_tls"] = cs[cpos:], ss[spos:]
        return s
    s["auth_packets"] = 0
    while True:
        _, p, spos = my_take_packet(ss, spos)
        if p[:1] in (b"\x00", b"\xff"):
            s["auth_ok"] = p[:1] == b"\x00"
            break
        _, _, cpos = my_take_packet(cs, cpos)     # auth switch / more data
        s["auth_packets"] += 1
    crest, srest = cs[cpos:], ss[spos:]
    s["compressed"] = bool(caps & CAP["CLIENT_COMPRESS"])
    if s["compressed"]:
        crest, s["client_frames"] = my_uncompress(crest)
        srest, s["server_frames"] = my_uncompress(srest)
    s["client_packets"] = my_packets(crest)
    s["server_packets"] = my_packets(srest)
    return s


def my_float_text(raw, fmt, digits):
    """the shortest %g that reads back to the same float / double"""
    v = struct.unpack(fmt, raw)[0]
    for p in range(1, digits + 1):
        t = "%.*g" % (p, v)
        if struct.pack(fmt, float(t)) == raw:
            return t
    return "%.*g" % (digits, v)


def my_value(r, t, uns, encoding="utf-8"):
    """one binary-protocol value -> canonical text (mysql_workload.py)"""
    if t == MT_NULL:
        return None
    if t in (MT_TINY, MT_SHORT, MT_YEAR, MT_LONG, MT_INT24, MT_LONGLONG):
        n = {MT_TINY: 1, MT_SHORT: 2, MT_YEAR: 2, MT_LONG: 4, MT_INT24: 4, MT_LONGLONG: 8}[t]
        return str(int.from_bytes(r.take(n), "little", signed=not uns and t != MT_YEAR))
    if t == MT_FLOAT:
        return my_float_text(r.take(4), "<f", 9)
    if t == MT_DOUBLE:
        return my_float_text(r.take(8), "<d", 17)
    if t in (MT_DATE, MT_DATETIME, MT_TIMESTAMP):
        n = r.int(1)
        if n not in (0, 4, 7, 11):
            raise ValueError("date length %d" % n)
        y = mo = d = h = mi = s = us = 0
        if n >= 4:
            y, mo, d = r.int(2), r.int(1), r.int(1)
        if n >= 7:
            h, mi, s = r.int(1), r.int(1), r.int(1)
        if n == 11:
            us = r.int(4)
        if t == MT_DATE:
            return "%04d-%02d-%02d" % (y, mo, d)
        return "%04d-%02d-%02d %02d:%02d:%02d%s" % (y, mo, d, h, mi, s,
                                                   ".%06d" % us if us else "")
    if t == MT_TIME:
        n = r.int(1)
        if n not in (0, 8, 12):
            raise ValueError("time length %d" % n)
        neg = days = h = mi = s = us = 0
        if n >= 8:
            neg, days, h, mi, s = r.int(1), r.int(4), r.int(1), r.int(1), r.int(1)
        if n == 12:
            us = r.int(4)
        return "%s%02d:%02d:%02d%s" % ("-" if neg else "", days * 24 + h, mi, s,
                                       ".%06d" % us if us else "")
    if t == MT_BIT:
        return str(int.from_bytes(r.lenenc_bytes(), "big"))
    if t in MT_STRINGS or t == MT_DECIMAL:
        b = r.lenenc_bytes()
        return M.bytes_text(b) if encoding == "utf-8" else b.decode(encoding)
    raise ValueError("unknown type %d" % t)


class MyAnswers:
    """the server's packets, read one command's answer at a time"""

    def __init__(self, packets, caps):
        self.pk, self.i, self.caps = packets, 0, caps
        self.deprecate_eof = bool(caps & CAP["CLIENT_DEPRECATE_EOF"])

    def next(self):
        if self.i >= len(self.pk):
            raise ValueError("server answer missing")
        self.i += 1
        return self.pk[self.i - 1][1]

    def ok(self, p):
        r = MyReader(p, 1)
        res = {"type": "ok", "affected_rows": r.lenenc(), "last_insert_id": r.lenenc()}
        status = r.int(2)
        res["warnings"] = r.int(2)
        return res, status

    @staticmethod
    def error(p):
        r = MyReader(p, 1)
        code, state = r.int(2), None
        if p[3:4] == b"#":
            r.take(1)
            state = r.take(5).decode()
        return {"type": "error", "code": code, "sql_state": state,
                "message": r.take(r.left()).decode("utf-8", "replace")}

    def is_end(self, p):
        """EOF, or with CLIENT_DEPRECATE_EOF the OK that ends the rows"""
        if self.deprecate_eof:
            return p[:1] == b"\xfe" and len(p) < 0xFFFFFF
        return p[:1] == b"\xfe" and len(p) < 9

    def end_status(self, p):
        if self.deprecate_eof:
            res, status = self.ok(p)
            return res["warnings"], status
        return int.from_bytes(p[1:3], "little"), int.from_bytes(p[3:5], "little")

    def eof(self):
        if not self.deprecate_eof:
            p = self.next()
            if not (p[:1] == b"\xfe" and len(p) < 9):
                raise ValueError("EOF expected after column definitions")

    def coldef(self, p):
        r = MyReader(p)
        for _ in range(4):                 # catalog, schema, table, org_table
            r.lenenc_bytes()
        c = {"name": r.lenenc_bytes()}
        r.lenenc_bytes()                   # org_name
        if self.caps & CAP["MARIADB_CLIENT_EXTENDED_METADATA"]:
            r.lenenc_bytes()
        if r.lenenc() != 12:
            raise ValueError("column definition: fixed part is not 12 bytes")
        c["charset"], c["length"], c["type"] = r.int(2), r.int(4), r.int(1)
        c["unsigned"] = bool(r.int(2) & UNSIGNED_FLAG)
        return c

    def results(self, binary=False, cached=None, encoding="utf-8"):
        """-> list of result dicts (mysql_workload.py's form, plus column
        types and "metadata_sent" for result sets)"""
        out = []
        while True:
            p = self.next()
            if p[:1] == b"\x00":
                res, status = self.ok(p)
                out.append(res)
            elif p[:1] == b"\xff":
                out.append(self.error(p))
                return out
            elif p[:1] == b"\xfb":
                raise ValueError("LOCAL INFILE request")
            else:
                r = MyReader(p)
                ncol, meta = r.lenenc(), True
                if binary and self.caps & CAP["MARIADB_CLIENT_CACHE_METADATA"]:
                    meta = bool(r.int(1))
                if meta:
                    cols = [self.coldef(self.next()) for _ in range(ncol)]
                else:                      # the metadata of the PREPARE_OK
                    cols = cached
                    if cols is None or len(cols) != ncol:
                        raise ValueError("no cached metadata for %d columns" % ncol)
                self.eof()                 # (sent even when the metadata is not)
                rows = []
                while True:
                    p = self.next()
                    if p[:1] == b"\xff":
                        out.append(self.error(p))
                        return out
                    if self.is_end(p):
                        warnings, status = self.end_status(p)
                        break
                    rr = MyReader(p)
                    if binary:
                        if rr.int(1) != 0:
                            raise ValueError("binary row header")
                        bitmap = rr.take((ncol + 9) // 8)
                        row = [None if bitmap[(i + 2) // 8] >> ((i + 2) % 8) & 1
                               else my_value(rr, c["type"], c["unsigned"], encoding)
                               for i, c in enumerate(cols)]
                    else:
                        row = [rr.lenenc_bytes() for _ in range(ncol)]
                        row = [None if v is None else v.decode(encoding) for v in row]
                    if rr.left():
                        raise ValueError("%d bytes left in a row" % rr.left())
                    rows.append(row)
                out.append({"type": "resultset",
                            "columns": [c["name"].decode(encoding) for c in cols],
                            "rows": rows, "warnings": warnings, "metadata_sent": meta,
                            "column_types": [c["type"] for c in cols],
                            "column_unsigned": [c["unsigned"] for c in cols]})
            if not status & SERVER_MORE_RESULTS_EXISTS:
                return out


def my_commands(sess, encoding="utf-8"):
    """-> list of command dicts: "command" (name), "text" (bytes, COM_QUERY,
    COM_INIT_DB, COM_STMT_PREPARE), "stmt_id", the decoded execute, and
    "results" (the server's answer)"""
    ans = MyAnswers(sess["server_packets"], sess["caps"])
    stmts, cmds = {}, []
    for seq, p in sess["client_packets"]:
        if seq != 0 or not p:
            raise ValueError("command packet with sequence id %d" % seq)
        c = {"command": COM_NAME.get(p[0], p[0]), "results": []}
        body = p[1:]
        name = c["command"]
        if name in ("COM_QUERY", "COM_INIT_DB"):
            c["text"] = body
            c["results"] = ans.results(encoding=encoding)
        elif name == "COM_QUIT":
            pass
        elif name == "COM_STMT_PREPARE":
            c["text"] = body
            a = ans.next()
            if a[:1] == b"\xff":
                c["results"] = [ans.error(a)]
            else:
                r = MyReader(a, 1)
                sid, ncol, npar = r.int(4), r.int(2), r.int(2)
                r.take(1)
                c.update(stmt_id=sid, num_columns=ncol, num_params=npar, warnings=r.int(2))
                params = [ans.coldef(ans.next()) for _ in range(npar)]
                if npar:
                    ans.eof()
                cols = [ans.coldef(ans.next()) for _ in range(ncol)]
                if ncol:
                    ans.eof()
                c["param_types"] = [x["type"] for x in params]
                c["column_types"] = [x["type"] for x in cols]
                stmts[sid] = {"nparams": npar, "columns": cols, "types": None, "long": {}}
        elif name == "COM_STMT_SEND_LONG_DATA":
            r = MyReader(body)
            c["stmt_id"], c["param"] = r.int(4), r.int(2)
            c["data"] = body[6:]
            stmts[c["stmt_id"]]["long"].setdefault(c["param"], []).append(c["data"])
        elif name in ("COM_STMT_RESET", "COM_STMT_CLOSE"):
            c["stmt_id"] = int.from_bytes(body[:4], "little")
            if len(body) != 4:
                raise ValueError("%s of %d bytes" % (name, len(body)))
            if name == "COM_STMT_RESET":
                stmts[c["stmt_id"]]["long"] = {}
                c["results"] = ans.results()
        elif name == "COM_STMT_EXECUTE":
            r = MyReader(body)
            sid = c["stmt_id"] = r.int(4)
            c["flags"], c["iterations"] = r.int(1), r.int(4)
            st = stmts[sid]
            n = st["nparams"]
            c["new_params_bound"], c["values"] = False, []
            if n:
                bitmap = r.take((n + 7) // 8)
                c["new_params_bound"] = bool(r.int(1))
                if c["new_params_bound"]:
                    st["types"] = [(r.int(1), r.int(1)) for _ in range(n)]
                if st["types"] is None:
                    raise ValueError("execute without types")
                for i, (t, f) in enumerate(st["types"]):
                    # a parameter sent by COM_STMT_SEND_LONG_DATA has that
                    # value, NULL bit or not (MariaDB reads it so)
                    if i in st["long"]:
                        c["values"].append(M.bytes_text(b"".join(st["long"][i])))
                    elif bitmap[i // 8] >> (i % 8) & 1:
                        c["values"].append(None)
                    else:
                        c["values"].append(my_value(r, t, bool(f & 0x80), encoding))
            if r.left():
                raise ValueError("%d bytes left in COM_STMT_EXECUTE" % r.left())
            c["types"] = [t for t, _ in st["types"]] if n else []
            c["unsigned"] = [bool(f & 0x80) for _, f in st["types"]] if n else []
            c["long_data"] = st["long"]
            st["long"] = {}
            c["results"] = ans.results(binary=True, cached=st["columns"], encoding=encoding)
        else:
            raise ValueError("unexpected command %r" % name)
        cmds.append(c)
    if ans.i != len(ans.pk):
        raise ValueError("%d server packets after the last answer" % (len(ans.pk) - ans.i))
    return cmds


def my_sessions(name, want=None):
    """-> (packets, [(conn, session, client bytes, server bytes)]); fails on
    gaps, connections not closed by the client, parse errors"""
    pkts, conns = ethernet_connections(name, M.MY_PORT, want)
    res = []
    for i, c in enumerate(conns):
        cs, _, gc = c.stream("c")
        ss, _, gs = c.stream("s")
        if gc or gs:
            fail("%s: connection %d has a gap" % (name, i))
            continue
        if not c.flags["c"] & (FIN | RST) or not c.syns:
            fail("%s: connection %d not complete (SYN .. client FIN)" % (name, i))
        try:
            res.append((c, my_session(cs, ss), cs, ss))
        except (ValueError, KeyError, struct.error, zlib.error) as e:
            fail("%s: connection %d: cannot parse: %s" % (name, i, e))
    return pkts, res


def my_check_handshake(name, sess, want):
    g, l = sess["greeting"], sess["login"]
    # MariaDB 10.x announces itself as "5.5.5-10.11.N-MariaDB-..."
    if not g["version"].startswith("5.5.5-10.11.") or "MariaDB" not in g["version"]:
        fail("%s: server version %r" % (name, g["version"]))
    if g["auth_plugin"] != M.AUTH_PLUGIN or \
            (not sess["tls"] and l.get("auth_plugin") != M.AUTH_PLUGIN):
        fail("%s: auth plugins %r / %r" % (name, g["auth_plugin"], l.get("auth_plugin")))
    for k in ("collation_id", "user", "database"):
        if k in want and l.get(k) != want[k]:
            fail("%s: HandshakeResponse %s %r, want %r" % (name, k, l.get(k), want[k]))
    for f in want.get("capabilities_set", []):
        if not l["caps"] & CAP[f]:
            fail("%s: client capability %s not set" % (name, f))
    for f in want.get("capabilities_unset", []):
        if l["caps"] & CAP[f]:
            fail("%s: client capability %s set" % (name, f))
    if not sess["tls"] and (sess["auth_packets"] or not sess["auth_ok"]):
        fail("%s: authentication took %d extra packets, ok=%s"
             % (name, sess["auth_packets"], sess["auth_ok"]))


def my_public_results(results):
    """drop the keys mysql_workload.py does not state"""
    keep = {"resultset": ("type", "columns", "rows", "warnings"),
            "ok": ("type", "affected_rows", "last_insert_id", "warnings"),
            "error": ("type", "code", "sql_state", "message")}
    return [{k: r[k] for k in keep[r["type"]]} for r in results]


def my_check_text_commands(name, cmds, want, encoding="utf-8"):
    """cmds (my_commands) against mysql_workload.py command dicts"""
    if len(cmds) != len(want):
        fail("%s: %d commands, want %d: %r" % (name, len(cmds), len(want),
                                              [c["command"] for c in cmds]))
    for i, (c, w) in enumerate(zip(cmds, want)):
        text = None if w["text"] is None else w["text"].encode(encoding)
        if c["command"] != w["command"] or c.get("text") != text:
            fail("%s: command %d is %s %r, want %s %r"
                 % (name, i, c["command"], (c.get("text") or b"")[:60], w["command"],
                    (text or b"")[:60]))
            continue
        got = my_public_results(c["results"])
        if got != w["results"]:
            fail("%s: answer to command %d (%r) differs:\n  got  %r\n  want %r"
                 % (name, i, (text or b"")[:40], got, w["results"]))


def tshark_my(name, yfilter, fields, port=None):
    """tshark -T json on a capture, the MySQL port decoded as mysql"""
    out = subprocess.run(
        ["tshark", "-r", out_path(name), "-d",
         "tcp.port==%d,mysql" % (port or M.MY_PORT), "-Y", yfilter, "-T", "json"] +
        [a for f in fields for a in ("-e", f)],
        check=True, capture_output=True).stdout
    return [p["_source"]["layers"] for p in json.loads(out.decode() or "[]")]


def tshark_my_text(b):
    """tshark shows MySQL strings as ASCII: each non-ASCII byte is U+FFFD"""
    return "".join(chr(x) if x < 0x80 else "\ufffd" for x in b)


def my_tshark_commands(name, cmds):
    """tshark must see the same commands, query texts and error codes"""
    rows = tshark_my(name, "mysql.command", ["mysql.command", "mysql.query", "mysql.stmt_id"])
    got = [int(v) for v in tshark_values(rows, "mysql.command")]
    want = [M.COM[c["command"]] for c in cmds]
    if got != want:
        fail("%s: tshark sees commands %r, want %r" % (name, got[:40], want[:40]))
    tq = tshark_values(rows, "mysql.query")
    wq = [tshark_my_text(c["text"]) for c in cmds
          if c["command"] in ("COM_QUERY", "COM_STMT_PREPARE")]
    if tq != wq:
        fail("%s: tshark sees other query texts" % name)
    te = [int(v) for v in tshark_values(tshark_my(name, "mysql.error_code", ["mysql.error_code"]),
                                        "mysql.error_code")]
    we = [r["code"] for c in cmds for r in c["results"] if r["type"] == "error"]
    if te != we:
        fail("%s: tshark sees error codes %r, want %r" % (name, te, we))


