"""The MariaDB captures of mysql_workload.py against what the workload sent and got, and against
tshark's mysql dissector."""

import mysql_workload as M
from capture_reader import fail, failure_count, out_path, report, tshark_values
from mysql_wire import (my_check_handshake, my_check_text_commands, my_commands, my_public_results,
                        my_sessions, my_tshark_commands, tshark_my, tshark_my_text)


def check_mysql_client():
    nfail = failure_count()
    name = "mysql_client.pcap"
    pkts, sessions = my_sessions(name, 1)
    if not sessions:
        return
    c, sess, cs, ss = sessions[0]
    my_check_handshake(name, sess, M.CLIENT_HANDSHAKE)
    try:
        cmds = my_commands(sess)
    except (ValueError, KeyError, UnicodeDecodeError) as e:
        fail("%s: cannot parse the commands: %s" % (name, e))
        return
    my_check_text_commands(name, cmds, M.CLIENT_COMMANDS)
    if [c["text"].decode() for c in cmds if c["command"] == "COM_QUERY"] != M.CLIENT_QUERIES:
        fail("%s: COM_QUERY texts differ from CLIENT_QUERIES" % name)
    # the long query must span TCP segments
    q = b"\x03" + M.LONG_QUERY.encode()
    start = cs.find(q)
    _, starts, _ = c.stream("c")
    if start < 0 or not any(start < s < start + len(q) for s in starts):
        fail("%s: the long query does not span segments" % name)
    my_tshark_commands(name, cmds)
    ta = [int(v) for v in tshark_values(tshark_my(name, "mysql.affected_rows",
                                                  ["mysql.affected_rows"]),
                                        "mysql.affected_rows")]
    wa = [0] + [r["affected_rows"] for w in M.CLIENT_COMMANDS for r in w["results"]
                if r["type"] == "ok"]                  # 0: the OK after authentication
    if ta != wa:
        fail("%s: tshark sees affected rows %r, want %r" % (name, ta, wa))
    report(nfail, "%s: %d packets, %d commands (%d COM_QUERY, largest %d bytes), caps 0x%x, "
           "collation %d; tshark agrees"
           % (name, len(pkts), len(cmds), len(M.CLIENT_QUERIES),
              max(len(x) for x in M.CLIENT_QUERIES), sess["login"]["caps"],
              sess["login"]["collation_id"]))


def my_check_stmt(name, json_name, handshake, text_commands, tshark_commands=True):
    nfail = failure_count()
    path = out_path(json_name)
    entries = M.load_stmt_expected(path)
    pkts, sessions = my_sessions(name, 1)
    if not sessions:
        return None
    _, sess, _, _ = sessions[0]
    my_check_handshake(name, sess, handshake)
    try:
        cmds = my_commands(sess)
    except (ValueError, KeyError, UnicodeDecodeError) as e:
        fail("%s: cannot parse the commands: %s" % (name, e))
        return None
    nt = len(text_commands)
    my_check_text_commands(name, cmds[:nt], text_commands)
    rest = cmds[nt:]
    seq = [(c["command"], c.get("stmt_id")) for c in rest]
    if seq != M.stmt_command_sequence(entries):
        fail("%s: command sequence differs from stmt_command_sequence()" % name)
        return None
    queries = {c["stmt_id"]: c["text"].decode() for c in rest
               if c["command"] == "COM_STMT_PREPARE"}
    execs = [c for c in rest if c["command"] == "COM_STMT_EXECUTE"]
    for c, e in zip(execs, entries):
        label = "%s: %s" % (name, e["name"])
        if queries[c["stmt_id"]] != e["query"]:
            fail("%s: prepared %r" % (label, queries[c["stmt_id"]]))
        for k in ("new_params_bound", "types", "unsigned", "values"):
            if c[k] != e[k]:
                fail("%s: %s on the wire %r, JSON %r" % (label, k, c[k], e[k]))
        if c["flags"] != 0 or c["iterations"] != 1:
            fail("%s: flags %d iterations %d" % (label, c["flags"], c["iterations"]))
        want_long = {ld["param"]: ld["chunks"] for ld in e.get("long_data", [])}
        got_long = {k: [M.bytes_text(x) for x in v] for k, v in c["long_data"].items()}
        if got_long != want_long:
            fail("%s: long data %r" % (label, got_long))
        res = c["results"]
        if "error" in e:
            ok = [(r["type"], r.get("code"), r.get("sql_state")) for r in res] == \
                [("error", e["error"], e["sql_state"])]
        elif "affected_rows" in e:
            ok = [(r["type"], r.get("affected_rows"), r.get("last_insert_id")) for r in res] == \
                [("ok", e["affected_rows"], e["last_insert_id"])]
        else:
            ok = len(res) == 1 and res[0]["type"] == "resultset" and \
                res[0]["column_types"] == e["result_types"] and \
                res[0]["column_unsigned"] == e["result_unsigned"] and res[0]["rows"] == e["rows"]
        if not ok:
            fail("%s: answer %r differs" % (label, res))
    # the chunk COM_STMT_RESET discarded
    disc = [e for e in entries if e.get("discarded_chunks")]
    for e in disc:
        i = seq.index(("COM_STMT_RESET", e["stmt_id"]))
        if M.bytes_text(rest[i - 1]["data"]) != e["discarded_chunks"][0] or \
                my_public_results(rest[i]["results"]) != [{"type": "ok", "affected_rows": 0,
                                                           "last_insert_id": 0, "warnings": 0}]:
            fail("%s: discarded chunk / COM_STMT_RESET answer differ" % name)
    if not tshark_commands:
        report(nfail, "%s: %d packets, %d COM_STMT_PREPARE, %d COM_STMT_EXECUTE (%d with "
               "new-params-bound 0), %d COM_STMT_SEND_LONG_DATA; matches %s"
               % (name, len(pkts), len(queries), len(execs),
                  sum(1 for e in entries if e["types"] and not e["new_params_bound"]),
                  sum(1 for c in rest if c["command"] == "COM_STMT_SEND_LONG_DATA"),
                  json_name))
        return sess
    # tshark: commands, statement ids, new-params-bound flags, parameter counts
    my_tshark_commands(name, cmds)
    rows = tshark_my(name, "mysql.command == 23", ["mysql.stmt_id", "mysql.new_parameter_bound_flag"])
    tid = [int(r["mysql.stmt_id"][0]) for r in rows]
    if tid != [e["stmt_id"] for e in entries]:
        fail("%s: tshark sees executes of statements %r" % (name, tid))
    tnb = [int(r["mysql.new_parameter_bound_flag"][0]) for r in rows
           if "mysql.new_parameter_bound_flag" in r]
    if tnb != [int(e["new_params_bound"]) for e in entries if e["types"]]:
        fail("%s: tshark sees new-params-bound flags %r" % (name, tnb))
    tnp = [int(v) for v in tshark_values(tshark_my(name, "mysql.num_params", ["mysql.num_params"]),
                                         "mysql.num_params")]
    wnp = [c["num_params"] for c in rest if c["command"] == "COM_STMT_PREPARE"]
    if tnp != wnp:
        fail("%s: tshark sees parameter counts %r, want %r" % (name, tnp, wnp))
    report(nfail, "%s: %d packets, %d COM_STMT_PREPARE, %d COM_STMT_EXECUTE (%d with "
           "new-params-bound 0), %d COM_STMT_SEND_LONG_DATA; matches %s; tshark agrees"
           % (name, len(pkts), len(queries), len(execs),
              sum(1 for e in entries if e["types"] and not e["new_params_bound"]),
              sum(1 for c in rest if c["command"] == "COM_STMT_SEND_LONG_DATA"), json_name))
    return sess


def check_mysql_stmt():
    my_check_stmt("mysql_stmt.pcap", "mysql_stmt.expected.json", M.STMT_HANDSHAKE, [])


def check_mysql_compress():
    nfail = failure_count()
    name = "mysql_compress.pcap"
    # tshark 4.0 decodes the compressed frames, not always the packets in
    # them: it takes every frame as the start of a packet (the long query's
    # packet spans two frames) and does not follow prepared statements
    sess = my_check_stmt(name, "mysql_compress.expected.json", M.COMPRESS_HANDSHAKE,
                         M.COMPRESS_COMMANDS, tshark_commands=False)
    if sess is None:
        return
    stmt = M.load_stmt_expected(out_path("mysql_stmt.expected.json"))
    comp = M.load_stmt_expected(out_path("mysql_compress.expected.json"))
    strip = lambda es: [{k: v for k, v in e.items() if k != "stmt_id"} for e in es]
    if strip(stmt) != strip(comp):
        fail("%s: executions differ from mysql_stmt.expected.json (beyond stmt_id)" % name)
    if not sess["compressed"]:
        fail("%s: compression not negotiated" % name)
        return
    cf, sf = sess["client_frames"], sess["server_frames"]
    zipped = sum(1 for _, u in cf + sf if u)
    stored = sum(1 for _, u in cf + sf if not u)
    # the long query is deflated into frames, one larger than a loopback segment
    big = max(clen for clen, _ in cf)
    if not zipped or not stored or big <= 65483:
        fail("%s: %d deflated / %d stored frames, largest client frame %d bytes"
             % (name, zipped, stored, big))
    for d, want in (("dst", cf), ("src", sf)):
        rows = tshark_my(name, "mysql.compressed_packet_length && tcp.%sport == %d"
                         % (d, M.MY_PORT), ["mysql.compressed_packet_length",
                                          "mysql.compressed_packet_length_uncompressed"])
        got = list(zip([int(v) for v in tshark_values(rows, "mysql.compressed_packet_length")],
                       [int(v) for v in tshark_values(
                           rows, "mysql.compressed_packet_length_uncompressed")]))
        if got != want:
            fail("%s: tshark sees other compressed frames (%s port)" % (name, d))
    report(nfail, "%s: %d deflated and %d stored compressed frames (largest %d bytes); "
           "tshark sees the same frames" % (name, zipped, stored, big))


def check_mysql_charset(case):
    nfail = failure_count()
    w = M.CHARSET_CASES[case]
    name = "mysql_%s.pcap" % case
    pkts, sessions = my_sessions(name, 1)
    if not sessions:
        return
    _, sess, cs, ss = sessions[0]
    my_check_handshake(name, sess, {"collation_id": w["collation_id"], "user": M.USER,
                                    "database": M.DATABASE})
    try:
        cmds = my_commands(sess, w["encoding"])
    except (ValueError, KeyError, UnicodeDecodeError) as e:
        fail("%s: cannot parse the commands: %s" % (name, e))
        return
    my_check_text_commands(name, cmds, w["commands"], w["encoding"])
    q = w["query_bytes"]
    if b"\x03" + q not in cs or w["text"].encode() in cs or \
            w["result_bytes"] not in ss or w["result_text"].encode() in ss:
        fail("%s: the wire does not carry %s bytes" % (name, case))
    tq = tshark_values(tshark_my(name, "mysql.query", ["mysql.query"]), "mysql.query")
    if tq != [tshark_my_text(q)]:
        fail("%s: tshark sees queries %r" % (name, tq))
    report(nfail, "%s: %d packets, collation %d, query bytes %s; tshark agrees"
           % (name, len(pkts), sess["login"]["collation_id"], q.hex()))


def check_mysql_slap():
    nfail = failure_count()
    name = "mysql_slap.pcap"
    s = M.SLAP
    pkts, sessions = my_sessions(name, s["connections"])
    per, inserts, selects = [], 0, 0
    for i, (_, sess, _, _) in enumerate(sessions):
        setup = i == 0
        my_check_handshake(name, sess, {"user": M.USER, "collation_id": s["collation_id"],
                                        "database": None if setup else s["setup_init_db"]})
        try:
            cmds = my_commands(sess)
        except (ValueError, KeyError, UnicodeDecodeError) as e:
            fail("%s: connection %d: cannot parse: %s" % (name, i, e))
            continue
        if any(r["type"] == "error" for c in cmds for r in c["results"]):
            fail("%s: connection %d got an error" % (name, i))
        texts = [c["text"].decode() for c in cmds if c["command"] == "COM_QUERY"]
        kinds = ["INSERT" if t.startswith(s["insert_prefix"]) and
                 t.endswith(s["insert_suffix"]) else
                 "SELECT" if t == s["select_text"] else t for t in texts]
        per.append(len(texts))
        inserts += kinds.count("INSERT")
        selects += kinds.count("SELECT")
        names = [c["command"] for c in cmds]
        if setup:
            want = (["COM_QUERY"] * 2 + ["COM_INIT_DB"] +
                    ["COM_QUERY"] * (2 + s["setup_inserts"]) + ["COM_QUIT"])
            ok = names == want and \
                [k for k in kinds if k != "INSERT"] == s["setup_statements"] and \
                kinds[3:3 + s["setup_inserts"]] == ["INSERT"] * s["setup_inserts"] and \
                cmds[2]["text"].decode() == s["setup_init_db"]
        else:
            ok = names == ["COM_QUERY"] * len(s["load_pattern"]) + ["COM_QUIT"] and \
                kinds == s["load_pattern"]
        if not ok:
            fail("%s: connection %d sends %r %r" % (name, i, names, kinds))
    if per != s["per_connection"] or (inserts, selects) != (s["inserts"], s["selects"]):
        fail("%s: COM_QUERY per connection %r, %d INSERT, %d SELECT"
             % (name, per, inserts, selects))
    tc = tshark_values(tshark_my(name, "mysql.command == 3", ["mysql.command"]), "mysql.command")
    if len(tc) != s["com_query"]:
        fail("%s: tshark counts %d COM_QUERY, want %d" % (name, len(tc), s["com_query"]))
    report(nfail, "%s: %d packets, %d connections, %d COM_QUERY (%d INSERT, %d SELECT); "
           "tshark agrees" % (name, len(pkts), len(sessions), sum(per), inserts, selects))


def check_mysql_ssl():
    nfail = failure_count()
    name = "mysql_ssl.pcap"
    pkts, sessions = my_sessions(name, 1)
    if not sessions:
        return
    _, sess, cs, ss = sessions[0]
    my_check_handshake(name, sess, {"capabilities_set": M.SSL_CASE["capabilities_set"],
                                    "collation_id": M.SSL_CASE["collation_id"]})
    if not sess["tls"] or len(cs) < 36 or cs[:4] != b"\x20\x00\x00\x01":
        fail("%s: no 32-byte SSLRequest" % name)
        return
    if sess["client_tls"][:2] != b"\x16\x03" or sess["server_tls"][:2] != b"\x16\x03":
        fail("%s: no TLS records after the SSLRequest" % name)
    with open(out_path(name), "rb") as f:
        raw = f.read()
    if M.SSL_CASE["query"].split("'")[1].encode() in raw or b"SELECT" in raw:
        fail("%s: plaintext visible in the capture" % name)
    hs = tshark_values(tshark_my(name, "tls.handshake", ["tls.handshake.type"]),
                       "tls.handshake.type")
    if "1" not in hs or "2" not in hs:
        fail("%s: tshark sees no TLS ClientHello/ServerHello" % name)
    report(nfail, "%s: %d packets, SSLRequest (caps 0x%x) then TLS; no plaintext; tshark sees "
           "the TLS handshake" % (name, len(pkts), sess["login"]["caps"]))

