"""A small pcap and TCP reader of check_captures.py's own (Ethernet, Linux cooked SLL and SLL2;
IPv4 and IPv6; connections put back together by sequence number), tshark's view for comparison,
and the failures the checks find."""

import os
import shutil
import struct
import subprocess


LINKTYPES = {"EN10MB": 1, "LINUX_SLL": 113, "LINUX_SLL2": 276}
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg)


def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise SystemExit("%s: not a pcap file" % path)
    _, _, _, _, _, snaplen, linktype = struct.unpack(e + "IHHiIII", data[:24])
    pkts, pos = [], 24
    while pos < len(data):
        _, _, caplen, origlen = struct.unpack(e + "IIII", data[pos:pos + 16])
        pkts.append((caplen, origlen, data[pos + 16:pos + 16 + caplen]))
        pos += 16 + caplen
    return snaplen, linktype & 0x0FFFFFFF, pkts


def parse(linktype, frame):
    """-> dict for a TCP packet, or None"""
    if linktype == 1:
        etype, off = struct.unpack("!H", frame[12:14])[0], 14
    elif linktype == 276:
        etype, off = struct.unpack("!H", frame[0:2])[0], 20
    elif linktype == 113:
        etype, off = struct.unpack("!H", frame[14:16])[0], 16
    else:
        raise SystemExit("unexpected link type %d" % linktype)
    if etype == 0x0800:
        ihl = (frame[off] & 0x0F) * 4
        total = struct.unpack("!H", frame[off + 2:off + 4])[0]
        if frame[off + 9] != 6:
            return None
        src, dst = frame[off + 12:off + 16], frame[off + 16:off + 20]
        tcp, end = off + ihl, off + total
    elif etype == 0x86DD:
        if frame[off + 6] != 6:
            return None
        plen = struct.unpack("!H", frame[off + 4:off + 6])[0]
        src, dst = frame[off + 8:off + 24], frame[off + 24:off + 40]
        tcp, end = off + 40, off + 40 + plen
    else:
        return None
    sport, dport, seq, ack = struct.unpack("!HHII", frame[tcp:tcp + 12])
    doff = (frame[tcp + 12] >> 4) * 4
    flags = frame[tcp + 13]
    return {"src": (src, sport), "dst": (dst, dport), "seq": seq,
            "flags": flags, "payload": frame[tcp + doff:end],
            "truncated": len(frame) < end, "v6": etype == 0x86DD}


class Conn:
    def __init__(self, client, server):
        self.client, self.server = client, server
        self.syns = 0
        self.flags = {"c": 0, "s": 0}          # OR of flags per direction
        self.isn = {}
        self.segs = {"c": [], "s": []}          # (seq, payload)
        self.v6 = False
        self.max_seg = 0

    def stream(self, d):
        """-> (bytes, segment start offsets, gap?)"""
        isn = self.isn.get(d)
        segs = self.segs[d]
        if isn is None:
            if not segs:
                return b"", [], False
            isn = min(s for s, _ in segs) - 1
        buf, starts, gap = bytearray(), set(), False
        for off, data in sorted(((s - isn - 1) & 0xFFFFFFFF, p) for s, p in segs):
            if off > len(buf):
                gap = True
                break
            starts.add(off)
            overlap = buf[off:off + len(data)]
            if overlap != data[:len(overlap)]:
                gap = True                      # inconsistent retransmission
            buf += data[len(buf) - off:]
        return bytes(buf), sorted(starts), gap


def connections(pkts, linktype, server_port):
    conns = {}
    order = []
    for _, _, frame in pkts:
        p = parse(linktype, frame)
        if p is None:
            continue
        if p["dst"][1] == server_port:
            key, d = (p["src"], p["dst"]), "c"
        elif p["src"][1] == server_port:
            key, d = (p["dst"], p["src"]), "s"
        else:
            continue
        c = conns.get(key)
        if c is None:
            c = conns[key] = Conn(*key)
            order.append(c)
        c.v6 = p["v6"]
        c.flags[d] |= p["flags"]
        if p["flags"] & SYN:
            if d == "c":
                c.syns += 1
            c.isn[d] = p["seq"]
        if p["payload"]:
            c.segs[d].append((p["seq"], p["payload"]))
            c.max_seg = max(c.max_seg, len(p["payload"]))
    return order


def tshark_follow(path):
    """-> (client bytes, server bytes) of tcp.stream 0, or None without tshark"""
    if not shutil.which("tshark"):
        return None
    out = subprocess.run(["tshark", "-r", path, "-q", "-z", "follow,tcp,raw,0"],
                         check=True, capture_output=True, text=True).stdout
    c, s, body = [], [], False
    for line in out.splitlines():
        if line.startswith("Node 1:"):
            body = True
            continue
        if not body or line.startswith("====") or not line.strip():
            continue
        (s if line.startswith("\t") else c).append(line.strip())
    return bytes.fromhex("".join(c)), bytes.fromhex("".join(s))


# Where the captures are (set by check_captures.py before any check runs).
_out_dir = None


def set_out_dir(path):
    global _out_dir
    _out_dir = path


def out_path(name):
    return os.path.join(_out_dir, name)


def ethernet_connections(name, port, want=None):
    """-> (packets, connections to port) of an Ethernet capture; a failure for another link type,
    or for another number of connections than `want`"""
    _, linktype, pkts = read_pcap(out_path(name))
    if linktype != 1:
        fail("%s: link type %d" % (name, linktype))
    conns = connections(pkts, linktype, port)
    if want is not None and len(conns) != want:
        fail("%s: %d connections, want %d" % (name, len(conns), want))
    return pkts, conns


def failure_count():
    return len(failures)


def report(nfail, msg):
    """print an ok line only when the check added no failure"""
    print(("ok   " if len(failures) == nfail else "BAD  ") + msg)


def tshark_values(rows, field):
    return [v for r in rows for v in r.get(field, [])]


def tshark_bytes(v):
    return bytes.fromhex(v.replace(":", ""))


def as_tshark_string(s):
    """tshark shows pgsql strings as ASCII: each non-ASCII byte is U+FFFD"""
    return "".join(chr(b) if b < 0x80 else "\ufffd" for b in s.encode())


