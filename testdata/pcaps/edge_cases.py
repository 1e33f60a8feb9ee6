#!/usr/bin/env python3
"""Hand-made edge-case captures for tcpdp, with their expected decoding.

Every ``edge_*`` file in this directory is written by this module (run
``python3 edge_cases.py`` or ``python3 make_edge_cases.py``).  The module is
also imported by the integration tests: ``CASES`` states, for each file, what
a correct TCP reassembler must deliver to the protocol decoder.  The
expectations are written down from the way each file is *constructed* here
(which bytes are put into which segment), never from running tcpdp.

Only the Python 3 standard library is used.  All addresses are documentation
or loopback addresses: the files are just bytes, nothing is sent anywhere.

CASES layout (one entry per file)::

    CASES["edge_ooo"] = {
        "file": "edge_ooo.pcap",          # name of the file next to this module
        "description": "...",
        "format": "pcap" | "pcapng" | None,  # None: not a capture (edge_corrupt)
        "linktype": 1,                    # link type written in the file
        "ts_resolution": "us" | "ns",
        "packets": 14,                    # number of complete packet records
        "error": False,                   # True: tcpdp must fail to read the file
        "truncated_file": False,          # True: last record is cut short
        "target": None,                   # or "3306": the test passes -t 3306
        "connections": [                  # in order of first appearance
            {"client": "10.0.0.1:40000",  # IPv6: "[2001:db8::1]:40000"
             "server": "10.0.0.2:5432",
             "mid_stream": False,
             "client_to_server": [b"AAAA", ("gap", 4), b"CCCC"],
             "server_to_client": [b"..."]},
        ],
        # only where "target" is not None: what is reported without -t
        "connections_without_target": [...],
    }

A stream is a list of ``bytes`` (delivered data, in sequence order, each byte
exactly once) and ``("gap", N)`` tuples (N bytes the capture never saw, at
their position).  Adjacent bytes objects may be merged by the consumer; an
empty list means nothing is delivered in that direction.

Conventions used for building the files:
  * timestamps start at 2026-01-02T03:04:05Z and increase by 1 ms per packet
    record; pcap files are microsecond resolution except edge_wrap, which is
    a nanosecond pcap (magic 0xa1b23c4d); edge_pcapng uses the default
    if_tsresol (microseconds).
  * IPv4 header checksums and TCP checksums (IPv4 and IPv6 pseudo headers)
    are correct, computed over the full on-the-wire segment (so also for the
    snaplen-truncated and the fragmented packets).
  * Ethernet frames shorter than 60 bytes are zero-padded to 60 bytes (as a
    NIC does on the wire), so a decoder must take the payload length from
    the IP header, not from the frame length.  Other link types are not
    padded.
  * SYN and SYN-ACK carry MSS / window scale / SACK-permitted options, data
    segments carry no TCP options unless said otherwise.
"""

import calendar
import ipaddress
import os
import re
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

EPOCH = calendar.timegm((2026, 1, 2, 3, 4, 5, 0, 0, 0))  # 2026-01-02T03:04:05Z
STEP_NS = 1_000_000  # 1 ms between packet records

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113

MASK32 = 0xFFFFFFFF


# --------------------------------------------------------------------------
# Checksums and protocol headers
# --------------------------------------------------------------------------

def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def is_v6(addr):
    return ":" in addr


def ip_bytes(addr):
    return ipaddress.ip_address(addr).packed


def endpoint_str(addr, port):
    a = ipaddress.ip_address(addr)
    if a.version == 6:
        return "[%s]:%d" % (a.compressed, port)
    return "%s:%d" % (a.compressed, port)


def tcp_opts_syn(mss=1460):
    # MSS, NOP, window scale 7, NOP, NOP, SACK permitted  (12 bytes)
    return struct.pack("!BBH", 2, 4, mss) + b"\x01\x03\x03\x07" + b"\x01\x01\x04\x02"


def tcp_segment(src, dst, sport, dport, seq, ack, flags, data=b"", opts=b"",
                window=65535):
    """TCP header + data with a correct checksum for src/dst (v4 or v6)."""
    if len(opts) % 4:
        opts += b"\0" * (4 - len(opts) % 4)  # EOL padding
    fl = 0
    for ch, bit in (("F", 0x01), ("S", 0x02), ("R", 0x04), ("P", 0x08),
                    ("A", 0x10), ("U", 0x20)):
        if ch in flags:
            fl |= bit
    doff = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & MASK32, ack & MASK32,
                      doff << 4, fl, window, 0, 0) + opts
    seg = hdr + data
    if is_v6(src):
        pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!IxxxB", len(seg), 6)
    else:
        pseudo = ip_bytes(src) + ip_bytes(dst) + struct.pack("!xBH", 6, len(seg))
    c = inet_checksum(pseudo + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def ipv4_packet(src, dst, payload, ident, proto=6, ttl=64, df=True,
                mf=False, frag_off=0, total_payload=None):
    flags = (0x2 if df else 0) | (0x1 if mf else 0)
    tot = 20 + len(payload)
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, ident,
                      (flags << 13) | (frag_off // 8), ttl, proto, 0,
                      ip_bytes(src), ip_bytes(dst))
    c = inet_checksum(hdr)
    return hdr[:10] + struct.pack("!H", c) + hdr[12:] + payload


def ipv6_packet(src, dst, first_nh, payload, hlim=64, flow=0):
    hdr = struct.pack("!IHBB16s16s", (6 << 28) | flow, len(payload), first_nh,
                      hlim, ip_bytes(src), ip_bytes(dst))
    return hdr + payload


def v6_padn_ext(nh, pad_fill=b"\0\0\0\0"):
    """An 8-byte hop-by-hop / destination options header holding one PadN."""
    return struct.pack("!BB", nh, 0) + b"\x01\x04" + pad_fill


# --------------------------------------------------------------------------
# Link layers: each one turns an IP packet into a frame
# --------------------------------------------------------------------------

class Ether:
    linktype = LINKTYPE_ETHERNET

    def __init__(self, cmac="02:00:00:00:00:01", smac="02:00:00:00:00:02",
                 vlans=(), pad=True):
        self.mac = {"c": bytes.fromhex(cmac.replace(":", "")),
                    "s": bytes.fromhex(smac.replace(":", ""))}
        self.vlans = list(vlans)  # [(tpid, vid), ...] outermost first
        self.pad = pad

    def frame(self, frm, v6, ip):
        to = "s" if frm == "c" else "c"
        f = self.mac[to] + self.mac[frm]
        for tpid, vid in self.vlans:
            f += struct.pack("!HH", tpid, vid & 0x0FFF)
        f += struct.pack("!H", 0x86DD if v6 else 0x0800) + ip
        if self.pad and len(f) < 60:
            f += b"\0" * (60 - len(f))
        return f


class SLL:
    """Linux cooked capture v1, as captured on the client host."""
    linktype = LINKTYPE_LINUX_SLL

    def __init__(self, cmac="02:00:00:00:00:01", smac="02:00:00:00:00:02"):
        self.mac = {"c": bytes.fromhex(cmac.replace(":", "")),
                    "s": bytes.fromhex(smac.replace(":", ""))}

    def frame(self, frm, v6, ip):
        pkttype = 4 if frm == "c" else 0  # OUTGOING / HOST
        return (struct.pack("!HHH", pkttype, 1, 6) + self.mac[frm] + b"\0\0"
                + struct.pack("!H", 0x86DD if v6 else 0x0800) + ip)


class Null:
    """BSD loopback: 4-byte address family in host (here little-endian) order."""
    linktype = LINKTYPE_NULL

    def __init__(self, af_inet6=30):
        self.af_inet6 = af_inet6

    def frame(self, frm, v6, ip):
        return struct.pack("<I", self.af_inet6 if v6 else 2) + ip


class Raw:
    linktype = LINKTYPE_RAW

    def frame(self, frm, v6, ip):
        return ip


# --------------------------------------------------------------------------
# Capture files
# --------------------------------------------------------------------------

class Capture:
    def __init__(self, linktype=LINKTYPE_ETHERNET, snaplen=262144,
                 fmt="pcap", nano=False):
        self.linktype = linktype
        self.snaplen = snaplen
        self.fmt = fmt
        self.nano = nano
        self.frames = []

    def add(self, frame):
        self.frames.append(frame)

    def records(self):
        for i, f in enumerate(self.frames):
            ts_ns = EPOCH * 10**9 + i * STEP_NS
            yield ts_ns, f[:self.snaplen], len(f)

    def to_bytes(self):
        return self._pcapng() if self.fmt == "pcapng" else self._pcap()

    def _pcap(self):
        magic = 0xA1B23C4D if self.nano else 0xA1B2C3D4
        out = [struct.pack("<IHHiIII", magic, 2, 4, 0, 0, self.snaplen,
                           self.linktype)]
        for ts_ns, data, origlen in self.records():
            sec, frac = divmod(ts_ns, 10**9)
            if not self.nano:
                frac //= 1000
            out.append(struct.pack("<IIII", sec, frac, len(data), origlen))
            out.append(data)
        return b"".join(out)

    def _pcapng(self):
        def block(btype, body):
            body += b"\0" * (-len(body) % 4)
            tot = 12 + len(body)
            return struct.pack("<II", btype, tot) + body + struct.pack("<I", tot)

        out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1)),
               # IDB without options: if_tsresol defaults to 10^-6
               block(0x00000001, struct.pack("<HHI", self.linktype, 0,
                                             self.snaplen))]
        for ts_ns, data, origlen in self.records():
            ts = ts_ns // 1000
            out.append(block(0x00000006, struct.pack(
                "<IIIII", 0, ts >> 32, ts & MASK32, len(data), origlen) + data))
        return b"".join(out)


# --------------------------------------------------------------------------
# A TCP connection model that emits packets into a Capture
# --------------------------------------------------------------------------

def _contig(ranges):
    """End of the contiguous prefix [0, end) covered by the ranges."""
    end = 0
    for a, b in sorted(ranges):
        if a > end:
            break
        end = max(end, b)
    return end


class Conn:
    """Both endpoints of one TCP connection.

    Sequence space is tracked relative to each side's ISN ("rel"): rel 0 is
    the SYN, rel k+1 is stream byte k, the FIN takes one rel number after the
    last byte.  ``rcv[x]`` holds the rel ranges endpoint x really received
    from its peer; the ACK number an endpoint sends defaults to its contiguous
    received prefix.  A segment can be put on the wire and into the capture
    (normal), on the wire only (``lost``: the capture missed it, the peer got
    it), or nowhere (``dropped``: lost in the network, the peer never got it).
    """

    def __init__(self, cap, link, client, server, cisn, sisn,
                 v6_ext=(), established=None):
        self.cap = cap
        self.link = link
        self.addr = {"c": client, "s": server}
        self.isn = {"c": cisn & MASK32, "s": sisn & MASK32}
        self.nxt = {"c": 0, "s": 0}
        self.rcv = {"c": [], "s": []}
        self.ipid = {"c": 0x1000 + (cisn & 0xFFF), "s": 0x2000 + (sisn & 0xFFF)}
        self.v6 = is_v6(client[0])
        self.v6_ext = list(v6_ext)  # [(type, fn(nh) -> bytes)] in order
        if established:
            # picked up mid-stream: each side already sent this many bytes
            for side, n in established.items():
                other = "s" if side == "c" else "c"
                self.nxt[side] = 1 + n
                self.rcv[other].append((0, 1 + n))

    # -- packet building ------------------------------------------------
    def seg(self, frm, flags="PA", data=b"", off=None, ack=None, opts=b"",
            capture=True, arrive=True, frag=None):
        to = "s" if frm == "c" else "c"
        if "S" in flags:
            assert off in (None, 0)
            rel = 0
        else:
            rel = self.nxt[frm] if off is None else off + 1
        seq = self.isn[frm] + rel
        end = rel + len(data) + ("S" in flags) + ("F" in flags)
        self.nxt[frm] = max(self.nxt[frm], end)
        if arrive and end > rel:
            self.rcv[to].append((rel, end))
        if "A" in flags:
            if ack is None:
                ack = self.isn[to] + _contig(self.rcv[frm])
        else:
            ack = 0
        if not capture:
            return
        (saddr, sport), (daddr, dport) = self.addr[frm], self.addr[to]
        tcp = tcp_segment(saddr, daddr, sport, dport, seq, ack, flags, data, opts)
        for ip in self._ip(frm, tcp, frag):
            self.cap.add(self.link.frame(frm, self.v6, ip))

    def _ip(self, frm, l4, frag):
        to = "s" if frm == "c" else "c"
        src, dst = self.addr[frm][0], self.addr[to][0]
        self.ipid[frm] = (self.ipid[frm] + 1) & 0xFFFF
        ident = self.ipid[frm]
        if not self.v6:
            if not frag:
                return [ipv4_packet(src, dst, l4, ident)]
            out = []
            for a, b in frag:
                assert a % 8 == 0 and (b == len(l4) or b % 8 == 0)
                out.append(ipv4_packet(src, dst, l4[a:b], ident, df=False,
                                       mf=b < len(l4), frag_off=a))
            return out
        # IPv6: build the extension header chain in front of TCP
        types = [t for t, _ in self.v6_ext]
        chain = b""
        for i, (t, fn) in enumerate(self.v6_ext):
            nh = types[i + 1] if i + 1 < len(types) else 6
            chain += fn(nh)
        first = types[0] if types else 6
        if not frag:
            return [ipv6_packet(src, dst, first, chain + l4)]
        assert not self.v6_ext
        out = []
        for a, b in frag:
            assert a % 8 == 0 and (b == len(l4) or b % 8 == 0)
            fh = struct.pack("!BBHI", 6, 0, (a // 8) << 3 | (1 if b < len(l4) else 0),
                             0x0E0C0000 | ident)
            out.append(ipv6_packet(src, dst, 44, fh + l4[a:b]))
        return out

    # -- conveniences ---------------------------------------------------
    def lost(self, frm, data):
        """Sent and received by the peer, but missing from the capture."""
        self.seg(frm, "PA", data, capture=False, arrive=True)

    def dropped(self, frm, data):
        """Sent but lost in the network: neither captured nor received."""
        self.seg(frm, "PA", data, capture=False, arrive=False)

    def handshake(self, syn_data=b"", syn_opts=None):
        mss = 65495 if self.addr["c"][0].startswith("127.") else 1460
        if syn_opts is None:
            syn_opts = tcp_opts_syn(mss)
        self.seg("c", "S", syn_data, opts=syn_opts)
        self.seg("s", "SA", opts=tcp_opts_syn(mss))
        self.seg("c", "A")

    def close(self, first="c"):
        other = "s" if first == "c" else "c"
        self.seg(first, "FA")
        self.seg(other, "FA")
        self.seg(first, "A")

    # -- expectations ---------------------------------------------------
    def expect(self, c2s, s2c, mid_stream=False):
        return {"client": endpoint_str(*self.addr["c"]),
                "server": endpoint_str(*self.addr["s"]),
                "mid_stream": mid_stream,
                "client_to_server": list(c2s),
                "server_to_client": list(s2c)}


def gap(n):
    return ("gap", n)


V4C, V4S = "10.0.0.1", "10.0.0.2"
V6C, V6S = "2001:db8::1", "2001:db8::2"


# --------------------------------------------------------------------------
# The cases.  Each builder fills a Capture and returns the expectations.
# --------------------------------------------------------------------------

def build_ooo(cap):
    c = Conn(cap, Ether(), (V4C, 40000), (V4S, 5432), 1000, 5000)
    c.handshake()
    c.seg("c", "PA", b"AAAA")                 # stream bytes 0..3
    c.seg("s", "A")                           # ack 4
    c.seg("c", "PA", b"CCCC", off=8)          # bytes 8..11 arrive first
    c.seg("s", "A")                           # duplicate ack 4
    c.seg("c", "PA", b"BBBB", off=4)          # fills the hole 4..7
    c.seg("s", "A")                           # ack 12
    c.seg("s", "PA", b"server-reply")
    c.seg("c", "A")
    c.close("c")
    return [c.expect([b"AAAABBBBCCCC"], [b"server-reply"])]


def build_retransmit(cap):
    C = b"GET /resource HTTP/1.1\r\nHost: example.test\r\nAccept: */*\r\n\r\n"
    S = b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world"
    c = Conn(cap, Ether(), (V4C, 40001), (V4S, 8080), 0x11111111, 0x22222222)
    c.handshake()
    c.seg("c", "PA", C[0:20])
    c.seg("c", "PA", C[20:40])
    c.seg("c", "PA", C[20:40], off=20)        # exact retransmit
    c.seg("s", "A")                           # ack 40
    c.seg("c", "PA", C[5:15], off=5)          # partial retransmit, all old bytes
    c.seg("c", "PA", C[30:], off=30)          # partial retransmit 30..39 + new 40..
    c.seg("s", "A")
    c.seg("s", "PA", S[:30])
    c.seg("s", "PA", S[:30], off=0)           # exact retransmit, server side
    c.seg("c", "A")
    c.seg("s", "PA", S[30:])
    c.seg("c", "A")
    c.close("c")
    return [c.expect([C], [S])]


def build_overlap(cap):
    c = Conn(cap, Ether(), (V4C, 40002), (V4S, 5432), 3000, 7000)
    c.handshake()
    c.seg("c", "PA", b"0123456789abcdef")     # bytes 0..15, delivered
    c.seg("s", "A")                           # ack 16
    # retransmit of 8..15 with DIFFERENT bytes, plus new bytes 16..23
    # (tshark's follow agrees: it keeps the first bytes, adds the tail)
    c.seg("c", "PA", b"XXXXXXXX" + b"ghijklmn", off=8)
    c.seg("s", "A")                           # ack 24
    c.seg("s", "PA", b"ok")
    c.seg("c", "A")
    c.close("c")
    return [c.expect([b"0123456789abcdefghijklmn"], [b"ok"])]


def build_gap(cap):
    s1, s2, s3, s4 = b"first-seg-12", b"SECOND-MISSING-17", b"third-s-9", b"fourth-seg-"
    assert (len(s1), len(s2), len(s3), len(s4)) == (12, 17, 9, 11)
    c = Conn(cap, Ether(), (V4C, 40003), (V4S, 5432), 4000, 8000)
    c.handshake()
    c.seg("c", "PA", s1)
    c.seg("s", "A")                           # ack 12
    c.lost("c", s2)                           # server got it, capture did not
    c.seg("c", "PA", s3)
    c.seg("s", "A")                           # ack 38: beyond the hole -> gap
    # (tshark's follow agrees, printing "[17 bytes missing in capture file]")
    c.seg("c", "PA", s4)
    c.seg("s", "A")
    c.seg("s", "PA", b"reply-after-gap")
    c.seg("c", "A")
    c.close("c")
    return [c.expect([s1, gap(len(s2)), s3 + s4], [b"reply-after-gap"])]


def build_gap_eof(cap):
    s1, s2, s3 = b"before-hole-", b"never-seen-bytes-20!", b"after-the-hole"
    c = Conn(cap, Ether(), (V4C, 40004), (V4S, 5432), 5000, 9000)
    c.handshake()
    c.seg("s", "PA", b"banner\n")
    c.seg("c", "A")
    c.seg("c", "PA", s1)
    c.seg("s", "A")
    c.dropped("c", s2)                        # lost in the network for good
    c.seg("c", "PA", s3)
    c.seg("s", "A")                           # duplicate ack: end of s1
    # end of file, connection still open, hole still open.
    # Note: tshark 4.0 "follow,tcp" shows only s1 here: it never releases
    # data held behind a hole that is never filled.  Our semantics deliver
    # the gap and then s3.
    return [c.expect([s1, gap(len(s2)), s3], [b"banner\n"])]


def build_syn_data(cap):
    syn_data = b"TFO-REQUEST-IN-SYN;"
    c = Conn(cap, Ether(), (V4C, 40005), (V4S, 443), 0x0BADF00D, 0x0DEFACED)
    tfo = struct.pack("!BB", 34, 10) + bytes.fromhex("0123456789abcdef")
    c.handshake(syn_data=syn_data, syn_opts=tcp_opts_syn() + tfo)
    c.seg("c", "PA", b"second-client-segment")
    c.seg("s", "A")
    c.seg("s", "PA", b"server-answer")
    c.seg("c", "A")
    c.close("s")
    return [c.expect([syn_data + b"second-client-segment"], [b"server-answer"])]


def build_wrap(cap):
    # client data starts at seq 2^32-19: segments of 10 and 9 bytes end at
    # 2^32-1, the third segment starts exactly at seq 0.  The server ISN is
    # 2^32-5, its reply starts at 2^32-4 and wraps inside the segment.
    C = [b"wrap-seg-1", b"wrap-seg2", b"at-zero!", b"after-wrap-13"]
    assert [len(x) for x in C] == [10, 9, 8, 13]
    S = b"server-reply-that-wraps-around-zero"
    c = Conn(cap, Ether(), (V4C, 40006), (V4S, 5432), 2**32 - 20, 2**32 - 5)
    c.handshake()
    for x in C:
        c.seg("c", "PA", x)
    c.seg("s", "A")
    c.seg("s", "PA", S)
    c.seg("c", "A")
    c.close("c")
    return [c.expect([b"".join(C)], [S])]


GSO_PAYLOAD = b"".join(b"%09d\n" % (i * 10) for i in range(6000))  # 60000 bytes


def build_gso(cap):
    assert len(GSO_PAYLOAD) == 60000
    c = Conn(cap, Ether("00:00:00:00:00:00", "00:00:00:00:00:00"),
             ("127.0.0.1", 40007), ("127.0.0.1", 8080), 123456, 654321)
    c.handshake()
    c.seg("c", "PA", b"GET /big\n")
    c.seg("s", "A")
    c.seg("s", "PA", GSO_PAYLOAD)             # IPv4 total length 60040
    c.seg("c", "A")
    c.close("c")
    return [c.expect([b"GET /big\n"], [GSO_PAYLOAD])]


def build_midstream(cap):
    c = Conn(cap, Ether(), ("10.0.0.3", 51000), ("10.0.0.4", 5432),
             0x30000000, 0x40000000, established={"c": 1000, "s": 5000})
    c.seg("s", "PA", b"row-data-1\n")         # first packet is from the server
    c.seg("c", "A")
    c.seg("c", "PA", b"SELECT 2;\n")
    c.seg("s", "PA", b"row-data-2\n")
    c.seg("c", "PA", b"SELECT 3;\n")
    c.seg("s", "PA", b"row-data-3\n")
    c.seg("c", "A")
    c.close("c")
    return [c.expect([b"SELECT 2;\nSELECT 3;\n"],
                     [b"row-data-1\nrow-data-2\nrow-data-3\n"], mid_stream=True)]


def build_vlan(cap):
    a = Conn(cap, Ether(vlans=[(0x8100, 100)]), (V4C, 40008), (V4S, 5432),
             11000, 12000)
    b = Conn(cap, Ether("02:00:00:00:00:05", "02:00:00:00:00:06",
                        vlans=[(0x88A8, 200), (0x8100, 300)]),
             ("10.0.0.5", 40009), ("10.0.0.6", 3306), 13000, 14000)
    a.handshake()
    b.handshake()
    a.seg("c", "PA", b"vlan-100-query")
    b.seg("c", "PA", b"qinq-200-300-query")
    a.seg("s", "PA", b"vlan-100-answer")
    b.seg("s", "PA", b"qinq-200-300-answer")
    a.seg("c", "A")
    b.seg("c", "A")
    a.close("c")
    b.close("c")
    return [a.expect([b"vlan-100-query"], [b"vlan-100-answer"]),
            b.expect([b"qinq-200-300-query"], [b"qinq-200-300-answer"])]


def build_ipv6(cap):
    ext = [(0, lambda nh: v6_padn_ext(nh)),                       # hop-by-hop
           (60, lambda nh: v6_padn_ext(nh, b"\0\0\0\0"))]         # dest options
    c = Conn(cap, Ether(), (V6C, 40010), (V6S, 5432), 21000, 22000, v6_ext=ext)
    c.handshake()
    c.seg("c", "PA", b"ipv6-request-through-ext-headers")
    c.seg("s", "A")
    c.seg("s", "PA", b"ipv6-response")
    c.seg("c", "A")
    c.close("c")
    return [c.expect([b"ipv6-request-through-ext-headers"], [b"ipv6-response"])]


FRAG4_PAYLOAD = bytes((0x41 + i % 26) for i in range(1400))
FRAG6_PAYLOAD = bytes((0x61 + i % 26) for i in range(1000))


def build_ipv4_frag(cap):
    a = Conn(cap, Ether(), (V4C, 40011), (V4S, 5432), 31000, 32000)
    a.handshake()
    # TCP header (20) + 1400 bytes = 1420 bytes of IP payload, 3 fragments,
    # written last fragment first
    a.seg("c", "PA", FRAG4_PAYLOAD, frag=[(960, 1420), (0, 480), (480, 960)])
    a.seg("s", "A")
    a.seg("s", "PA", b"v4-frag-ack-reply")
    a.seg("c", "A")
    a.close("c")
    b = Conn(cap, Ether(), (V6C, 40012), (V6S, 5432), 33000, 34000)
    b.handshake()
    # TCP header (20) + 1000 = 1020 bytes, IPv6 fragment header, 2 fragments
    b.seg("c", "PA", FRAG6_PAYLOAD, frag=[(0, 512), (512, 1020)])
    b.seg("s", "A")
    b.seg("s", "PA", b"v6-frag-ack-reply")
    b.seg("c", "A")
    b.close("c")
    return [a.expect([FRAG4_PAYLOAD], [b"v4-frag-ack-reply"]),
            b.expect([FRAG6_PAYLOAD], [b"v6-frag-ack-reply"])]


def _two_family_conns(cap, link, tag):
    a = Conn(cap, link, (V4C, 40020), (V4S, 5432), 41000, 42000)
    b = Conn(cap, link, (V6C, 40021), (V6S, 5432), 43000, 44000)
    a.handshake()
    a.seg("c", "PA", tag + b"-v4-query")
    a.seg("s", "PA", tag + b"-v4-answer")
    a.seg("c", "A")
    a.close("c")
    b.handshake()
    b.seg("c", "PA", tag + b"-v6-query")
    b.seg("s", "PA", tag + b"-v6-answer")
    b.seg("c", "A")
    b.close("c")
    return [a.expect([tag + b"-v4-query"], [tag + b"-v4-answer"]),
            b.expect([tag + b"-v6-query"], [tag + b"-v6-answer"])]


def build_sll(cap):
    return _two_family_conns(cap, SLL(), b"sll")


def build_null(cap):
    return _two_family_conns(cap, Null(af_inet6=30), b"null")


def build_raw(cap):
    return _two_family_conns(cap, Raw(), b"raw")


SNAP_RESPONSE = bytes((0x30 + i % 10) for i in range(200))


def build_snaplen(cap):
    # snaplen 80: Ethernet 14 + IPv4 20 + TCP 20 = 54 header bytes, so a data
    # segment keeps 26 payload bytes.
    c = Conn(cap, Ether(), (V4C, 40013), (V4S, 80), 51000, 52000)
    c.handshake()
    c.seg("c", "PA", b"GET /x\r\n\r\n")       # 10 bytes, fully captured
    c.seg("s", "A")
    c.seg("s", "PA", SNAP_RESPONSE)           # 200 bytes, 26 captured
    # (tshark's follow shows the 26 + 20 bytes but does not mark the gap)
    c.seg("c", "A")
    c.seg("s", "PA", b"tail-fits-in-snaplen")  # 20 bytes, fully captured
    c.seg("c", "A")
    c.close("c")
    return [c.expect([b"GET /x\r\n\r\n"],
                     [SNAP_RESPONSE[:26], gap(174), b"tail-fits-in-snaplen"])]


def build_truncated(cap):
    c = Conn(cap, Ether(), (V4C, 40014), (V4S, 5432), 61000, 62000)
    c.handshake()
    c.seg("c", "PA", b"request-one\n")
    c.seg("s", "A")
    c.seg("s", "PA", b"response-one\n")
    c.seg("c", "A")
    c.seg("c", "FA")
    # the last record: server FIN with final data; the file is cut in the
    # middle of this data (see TRUNCATE_KEEP below)
    c.seg("s", "FPA", b"final-data-never-complete\n")
    return [c.expect([b"request-one\n"], [b"response-one\n"])]


def build_rst(cap):
    s1, s2, s3 = b"data-before-hole", b"hole-13-bytes", b"held-after-hole"
    c = Conn(cap, Ether(), (V4C, 40015), (V4S, 5432), 71000, 72000)
    c.handshake()
    c.seg("s", "PA", b"hello-from-server")
    c.seg("c", "A")
    c.seg("c", "PA", s1)
    c.seg("s", "A")
    c.dropped("c", s2)
    c.seg("c", "PA", s3)
    c.seg("s", "A")                           # duplicate ack: end of s1
    c.seg("s", "RA")                          # reset with the hole open
    # Note: tshark 4.0 "follow,tcp" shows only s1 (held s3 never released);
    # our semantics: the RST closes the hole as a gap, then s3 is delivered.
    return [c.expect([s1, gap(len(s2)), s3], [b"hello-from-server"])]


def build_port_reuse(cap):
    link = Ether()
    a = Conn(cap, link, (V4C, 40016), (V4S, 5432), 81000, 82000)
    a.handshake()
    a.seg("c", "PA", b"first-connection-query")
    a.seg("s", "PA", b"first-connection-answer")
    a.seg("c", "A")
    a.close("c")
    a.seg("c", "A")                           # trailing pure ACK (duplicate)
    b = Conn(cap, link, (V4C, 40016), (V4S, 5432), 0x90000000, 0xA0000000)
    b.handshake()
    b.seg("c", "PA", b"second-connection-query")
    b.seg("s", "PA", b"second-connection-answer")
    b.seg("c", "A")
    b.close("c")
    return [a.expect([b"first-connection-query"], [b"first-connection-answer"]),
            b.expect([b"second-connection-query"], [b"second-connection-answer"])]


def build_targets(cap):
    a = Conn(cap, Ether(), (V4C, 40017), (V4S, 5432), 91000, 92000)
    b = Conn(cap, Ether("02:00:00:00:00:01", "02:00:00:00:00:03"),
             (V4C, 40018), ("10.0.0.3", 3306), 93000, 94000)
    a.handshake()
    b.handshake()
    a.seg("c", "PA", b"postgres-side-query")
    b.seg("c", "PA", b"mysql-side-query")
    a.seg("s", "PA", b"postgres-side-answer")
    b.seg("s", "PA", b"mysql-side-answer")
    a.seg("c", "A")
    b.seg("c", "A")
    a.close("c")
    b.close("c")
    return [a.expect([b"postgres-side-query"], [b"postgres-side-answer"]),
            b.expect([b"mysql-side-query"], [b"mysql-side-answer"])]


CORRUPT_BYTES = b"this is not a capture\n"

# edge_truncated: how many bytes of the last record's frame are kept
# (Ethernet 14 + IPv4 20 + TCP 20 + 10 of the 26 data bytes)
TRUNCATE_KEEP = 14 + 20 + 20 + 10

# name -> (builder, description, capture kwargs, extra case fields)
_SPECS = [
    ("edge_ooo", build_ooo,
     "Ethernet/IPv4, handshake, client sends AAAA, then CCCC arrives before "
     "BBBB; server replies; FIN/FIN close.", {}, {}),
    ("edge_retransmit", build_retransmit,
     "An exact retransmit of a client segment, a spurious partial retransmit "
     "of old bytes, a retransmit overlapping delivered bytes (same content) "
     "with a new tail, and an exact server-side retransmit.", {}, {}),
    ("edge_overlap", build_overlap,
     "A retransmit covering 8 already delivered (and acked) bytes with "
     "DIFFERENT content plus 8 new bytes: the first-delivered bytes win, only "
     "the new tail is added.", {}, {}),
    ("edge_gap", build_gap,
     "Client segment 2 (17 bytes) is missing from the capture; the server "
     "ACKs past segment 3, which declares a 17-byte gap; more data follows.",
     {}, {}),
    ("edge_gap_eof", build_gap_eof,
     "A 20-byte hole that is never acked and never filled; the file ends "
     "with the connection open: gap declared at end of file, held data "
     "delivered after it.", {}, {}),
    ("edge_syn_data", build_syn_data,
     "TCP Fast Open style: the client SYN carries 19 bytes of data (and a "
     "TFO cookie option); the SYN-ACK acks them; server closes first.", {}, {}),
    ("edge_wrap", build_wrap,
     "Client ISN 2^32-20 (a segment starts exactly at seq 0), server ISN "
     "2^32-5 (its reply wraps inside the segment). Nanosecond pcap.",
     {"nano": True}, {}),
    ("edge_gso", build_gso,
     "Loopback-style (zero MACs, 127.0.0.1) GSO segment: one 60000-byte "
     "server segment, IPv4 total length 60040.", {}, {}),
    ("edge_midstream", build_midstream,
     "No handshake in the file; the first packet comes from port 5432; data "
     "both ways between 10.0.0.3:51000 and 10.0.0.4:5432; FIN close.", {}, {}),
    ("edge_vlan", build_vlan,
     "Two interleaved connections: one with an 802.1Q tag (VLAN 100), one "
     "QinQ (0x88a8 VLAN 200 outer, 0x8100 VLAN 300 inner).", {}, {}),
    ("edge_ipv6", build_ipv6,
     "Ethernet/IPv6 with a hop-by-hop options header and a destination "
     "options header (PadN) before TCP in every packet; data both ways.",
     {}, {}),
    ("edge_ipv4_frag", build_ipv4_frag,
     "IPv4: a 1400-byte TCP segment in 3 IP fragments written last fragment "
     "first; then an IPv6 connection whose 1000-byte segment is split into "
     "2 fragments with a Fragment header.", {}, {}),
    ("edge_sll", build_sll,
     "Linux cooked capture v1 (linktype 113): one IPv4 and one IPv6 "
     "connection.", {"linktype": LINKTYPE_LINUX_SLL}, {}),
    ("edge_null", build_null,
     "BSD loopback DLT_NULL (linktype 0), family little-endian: 2 for the "
     "IPv4 connection, 30 (macOS AF_INET6) for the IPv6 connection.",
     {"linktype": LINKTYPE_NULL}, {}),
    ("edge_raw", build_raw,
     "LINKTYPE_RAW (101): one IPv4 and one IPv6 connection.",
     {"linktype": LINKTYPE_RAW}, {}),
    ("edge_snaplen", build_snaplen,
     "Snaplen 80: a 200-byte server segment is captured with only 26 payload "
     "bytes; the missing 174 bytes are a gap; a following 20-byte segment is "
     "complete.", {"snaplen": 80}, {}),
    ("edge_pcapng", build_ooo,
     "The edge_ooo packets written as pcapng (SHB, IDB without options so "
     "if_tsresol is the default microseconds, EPBs), Ethernet.",
     {"fmt": "pcapng"}, {}),
    ("edge_truncated", build_truncated,
     "Handshake, request, response, client FIN; the last record (server "
     "FIN carrying 26 data bytes) is cut after 10 of its data bytes: only "
     "the complete records count.", {}, {"truncated_file": True}),
    ("edge_rst", build_rst,
     "A 13-byte client hole is still open when the server sends RST: gap "
     "declared, held data delivered, connection closed by reset.", {}, {}),
    ("edge_port_reuse", build_port_reuse,
     "A full connection closed by FIN/FIN/ACK plus a trailing duplicate pure "
     "ACK, then a new connection on the same 4-tuple with a new ISN.", {}, {}),
    ("edge_targets", build_targets,
     "Two interleaved connections to server ports 5432 and 3306; with "
     "-t 3306 only the 3306 connection is reported.", {},
     {"target": "3306"}),
]


def _build():
    cases, files = {}, {}
    for name, builder, desc, capkw, extra in _SPECS:
        cap = Capture(**capkw)
        conns = builder(cap)
        data = cap.to_bytes()
        nrec = len(cap.frames)
        if extra.get("truncated_file"):
            last = cap.frames[-1]
            assert len(last) > TRUNCATE_KEEP
            data = data[:len(data) - (len(last) - TRUNCATE_KEEP)]
            nrec -= 1
        fname = name + (".pcapng" if cap.fmt == "pcapng" else ".pcap")
        case = {
            "file": fname,
            "description": desc,
            "format": cap.fmt,
            "linktype": cap.linktype,
            "ts_resolution": "ns" if cap.nano else "us",
            "packets": nrec,
            "error": False,
            "truncated_file": False,
            "target": None,
            "connections": conns,
        }
        case.update(extra)
        if case["target"] is not None:
            port = ":" + case["target"]
            case["connections_without_target"] = conns
            case["connections"] = [c for c in conns
                                   if c["server"].endswith(port)]
        cases[name] = case
        files[fname] = data
    cases["edge_corrupt"] = {
        "file": "edge_corrupt.pcap",
        "description": "Not a capture at all (bad magic number): reading "
                       "must fail with an error.",
        "format": None,
        "linktype": None,
        "ts_resolution": None,
        "packets": 0,
        "error": True,
        "truncated_file": False,
        "target": None,
        "connections": [],
    }
    files["edge_corrupt.pcap"] = CORRUPT_BYTES
    return cases, files


CASES, FILES = _build()


def write_all(directory=HERE):
    for fname, data in FILES.items():
        with open(os.path.join(directory, fname), "wb") as f:
            f.write(data)
    return sorted(FILES)


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


def check(directory=HERE):
    """Validate the written files with tshark; returns a list of notes."""
    notes = []
    for name, case in CASES.items():
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


def main(argv):
    names = write_all()
    print("wrote %d files to %s" % (len(names), HERE))
    for n in names:
        print("  " + n)
    if "--check" in argv:
        for line in check():
            print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
