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

import os
import struct
import sys

import edge_check
from pcap_forge import (Capture, Conn, Ether, LINKTYPE_LINUX_SLL, LINKTYPE_NULL, LINKTYPE_RAW, Null,
                        Raw, SLL, V4C, V4S, V6C, V6S, gap, tcp_opts_syn, v6_padn_ext)

HERE = os.path.dirname(os.path.abspath(__file__))


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



def main(argv):
    names = write_all()
    print("wrote %d files to %s" % (len(names), HERE))
    for n in names:
        print("  " + n)
    if "--check" in argv:
        for line in edge_check.check(HERE, CASES):
            print(line)


if __name__ == "__main__":
    main(sys.argv[1:])
