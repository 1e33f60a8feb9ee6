"""The optional cross-check of the edge-case captures with tshark (python3 edge_cases.py --check)."""

import os
import re
import subprocess

# --------------------------------------------------------------------------
# Optional cross-check with tshark (python3 edge_cases.py --check)
#
# For every file: no malformed packets, no expert errors, no bad IPv4 / TCP
# checksums (checksum validation on), the expected number of frames, and
# tshark's "follow,tcp,raw" bytes compared with CASES.  Known differences
# with tshark 4.0.17 (by design of the cases, the files are as described):
#   edge_gap_eof, edge_rst: tshark never releases the data held behind a
#     hole that is never filled, so it shows only the bytes before the hole;
#   edge_snaplen: tshark shows the captured bytes but does not mark the gap;
#   edge_truncated, edge_corrupt: tshark reports the file as cut short / not
#     a capture file (rc 2), as intended.
# --------------------------------------------------------------------------

def _tshark(args):
    r = subprocess.run(["tshark"] + args, capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def _follow(path, idx):
    """Return (node0, node1, [(direction, bytes)]) from tshark follow raw."""
    _, out, _ = _tshark(["-r", path, "-q", "-z", "follow,tcp,raw,%d" % idx])
    nodes, chunks = [], []
    in_body = False
    for line in out.splitlines():
        if line.startswith("Node 0:") or line.startswith("Node 1:"):
            nodes.append(line.split(": ", 1)[1].strip())
            in_body = len(nodes) == 2
            continue
        if line.startswith("====="):
            in_body = False
            continue
        if in_body and line.strip():
            d = 1 if line.startswith("\t") else 0
            chunks.append((d, bytes.fromhex(line.strip())))
    return nodes, chunks


def _flat(stream):
    return b"".join(x for x in stream if isinstance(x, bytes))


def _normalize(stream):
    """Merge adjacent bytes chunks: [b"a", b"b", ("gap", 3)] -> [b"ab", ("gap", 3)]."""
    out = []
    for x in stream:
        if isinstance(x, bytes):
            if not x:
                continue
            if out and isinstance(out[-1], bytes):
                out[-1] += x
                continue
        out.append(x)
    return out


_TSHARK_MISSING = re.compile(rb"\[(\d+) bytes missing in capture file\]\x00?")


def _tshark_stream(data):
    """tshark's follow output marks holes with a text marker; turn it into gaps."""
    out, pos = [], 0
    for m in _TSHARK_MISSING.finditer(data):
        out.append(data[pos:m.start()])
        out.append(("gap", int(m.group(1))))
        pos = m.end()
    out.append(data[pos:])
    return _normalize(out)


def check(directory, cases):
    """Validate the written files with tshark; returns a list of notes."""
    notes = []
    for name, case in cases.items():
        path = os.path.join(directory, case["file"])
        if case["error"]:
            rc, _, err = _tshark(["-r", path])
            notes.append("%s: tshark rc=%d (%s)" % (name, rc, err.strip()[:80]))
            continue
        rc, out, err = _tshark([
            "-r", path, "-o", "tcp.check_checksum:TRUE",
            "-o", "ip.check_checksum:TRUE",
            "-Y", "_ws.malformed || _ws.expert.severity >= error || "
                  "tcp.checksum.status == 0 || ip.checksum.status == 0"])
        bad = [l for l in out.splitlines() if l.strip()]
        _, cnt, _ = _tshark(["-r", path, "-T", "fields", "-e", "frame.number"])
        nframes = len(cnt.split())
        status = "ok" if not bad else "PROBLEMS:\n    " + "\n    ".join(bad)
        notes.append("%s: %d frames (expected %d), error/malformed/bad-checksum: %s%s"
                     % (name, nframes, case["packets"], status,
                        (" (tshark rc=%d %s)" % (rc, err.strip()[:120])) if rc else ""))
        conns = case.get("connections_without_target", case["connections"])
        for i, conn in enumerate(conns):
            nodes, chunks = _follow(path, i)
            if len(nodes) != 2:
                notes.append("  conn %d: tshark shows no stream %d" % (i, i))
                continue
            if nodes[0] == conn["client"]:
                c2s_dir = 0
            elif nodes[1] == conn["client"]:
                c2s_dir = 1
            else:
                notes.append("  conn %d: endpoints differ: %s vs %s/%s"
                             % (i, nodes, conn["client"], conn["server"]))
                continue
            for key, d in (("client_to_server", c2s_dir),
                           ("server_to_client", 1 - c2s_dir)):
                got = _tshark_stream(b"".join(b for dd, b in chunks if dd == d))
                want = _normalize(conn[key])
                gaps = sum(x[1] for x in want if not isinstance(x, bytes))
                if got == want:
                    res = "tshark agrees (%d bytes%s)" % (
                        len(_flat(want)), ", gaps marked" if gaps else "")
                elif _flat(got) == _flat(want):
                    res = "tshark agrees on the %d bytes; it does not mark the " \
                          "%d-byte gap(s)" % (len(_flat(want)), gaps)
                else:
                    res = "tshark DIFFERS: tshark %r, expected %r" % (
                        [x if not isinstance(x, bytes) else x[:40] for x in got],
                        [x if not isinstance(x, bytes) else x[:40] for x in want])
                notes.append("  conn %d %s: %s" % (i, key, res))
    return notes

