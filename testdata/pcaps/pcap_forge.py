"""The building blocks of edge_cases.py: IPv4 and IPv6 packets with correct checksums, TCP
segments, link layers (Ethernet with VLAN tags, Linux cooked SLL, BSD loopback, raw IP), pcap and
pcapng files, and a TCP connection that records what a correct reassembler must deliver from the
segments it is given. Only the Python 3 standard library."""

import calendar
import ipaddress
import struct

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

