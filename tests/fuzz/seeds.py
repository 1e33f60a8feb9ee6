#!/usr/bin/env python3
"""Turns capture files into seed inputs for the fuzz targets.

    seeds.py OUT_DIR FILE.pcap...                for fuzz_decode: one seed per file (1 byte
                                                 link-type selector, then per packet 2 bytes
                                                 length, 2 bytes wire extra, the bytes)
    seeds.py --streams PORT OUT_DIR FILE.pcap... for the protocol decoders (fuzz_pg, fuzz_mysql):
                                                 one seed per TCP connection of Ethernet/IPv4
                                                 captures, its payloads in the layout of
                                                 fuzz_dumper.h, PORT being the server's
    seeds.py --proxy OUT_DIR                     for fuzz_proxy: PROXY protocol v1 and v2 headers
                                                 (TCP4, TCP6, LOCAL) before a pg, mysql or hex
                                                 conversation's first messages"""

import os
import struct
import sys

# The order of kLinkTypes in fuzz_decode.cc: EN10MB, LINUX_SLL, LINUX_SLL2, NULL, LOOP, RAW.
SELECTOR = {1: 0, 113: 1, 276: 2, 0: 3, 108: 4, 101: 5, 12: 5}


def packets(data):
    magic = struct.unpack("<I", data[:4])[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    pos = 24
    while pos + 16 <= len(data):
        _, _, caplen, wirelen = struct.unpack(endian + "IIII", data[pos:pos + 16])
        yield linktype, data[pos + 16:pos + 16 + caplen], wirelen - caplen
        pos += 16 + caplen


def main(out_dir, files):
    os.makedirs(out_dir, exist_ok=True)
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        if len(data) < 24 or data[:4] not in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1"):
            continue  # pcapng and broken files are left to the fuzzer
        seed = bytearray()
        for linktype, packet, extra in packets(data):
            if not seed:
                seed.append(SELECTOR.get(linktype, 0))
            packet = packet[:65535]
            seed += struct.pack(">HH", len(packet), min(extra, 65535)) + packet
            if len(seed) > 16384:
                break
        with open(os.path.join(out_dir, os.path.basename(path) + ".seed"), "wb") as f:
            f.write(seed)


def tcp_payloads(data):
    """(client port, from server, payload) of each Ethernet/IPv4 TCP packet with data."""
    for linktype, packet, _ in packets(data):
        if linktype != 1 or len(packet) < 34 or packet[12:14] != b"\x08\x00" or packet[23] != 6:
            continue
        ihl = (packet[14] & 15) * 4
        tcp = packet[14 + ihl:]
        total = struct.unpack(">H", packet[16:18])[0]
        sport, dport = struct.unpack(">HH", tcp[:4])
        payload = tcp[(tcp[12] >> 4) * 4:total - ihl]
        if payload:
            yield sport, dport, payload


def dumper_chunks(from_server, payload):
    """fuzz_dumper.h's chunks: a control byte (bit 0 the server's, length (4k + 1) in bits 2-7)."""
    out = bytearray()
    while payload:
        n = min(len(payload), 253)
        n -= (n - 1) % 4
        out.append((n - 1) // 4 << 2 | int(from_server))
        out += payload[:n]
        payload = payload[n:]
    return out


def streams(port, out_dir, files):
    os.makedirs(out_dir, exist_ok=True)
    for path in files:
        with open(path, "rb") as f:
            data = f.read()
        seeds = {}
        for sport, dport, payload in tcp_payloads(data):
            from_server = sport == port
            seed = seeds.setdefault(dport if from_server else sport, bytearray(b"\x00"))
            if len(seed) < 16384:
                seed += dumper_chunks(from_server, payload)
        for client, seed in seeds.items():
            name = "%s.%d.seed" % (os.path.basename(path), client)
            with open(os.path.join(out_dir, name), "wb") as f:
                f.write(seed)


V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2(command, family, addresses):
    """A PROXY protocol v2 header: version 2 and the command, family and transport, addresses."""
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(addresses)) + addresses


def proxy(out_dir):
    os.makedirs(out_dir, exist_ok=True)
    v1 = b"PROXY TCP4 192.0.2.7 198.51.100.1 51000 5432\r\n"
    v1_6 = b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 3306\r\n"
    v2_4 = proxy_v2(1, 0x11, bytes([192, 0, 2, 7, 198, 51, 100, 1]) + struct.pack("!HH", 51000, 5432))
    v2_6 = proxy_v2(1, 0x21, bytes(15) + b"\x07" + bytes(15) + b"\x01" + struct.pack("!HH", 51000, 3306))
    local = proxy_v2(0, 0x00, b"")
    params = b"user\x00bob\x00\x00"
    startup = struct.pack("!II", 8 + len(params), 196608) + params
    ssl_request = struct.pack("!II", 8, 80877103)
    auth_ok = b"R" + struct.pack("!II", 8, 0) + b"Z" + struct.pack("!I", 5) + b"I"
    greeting = b"\x0a8.0.36\x00" + struct.pack("<I", 7) + b"abcdefgh\x00" + b"\xff\xff"
    greeting = struct.pack("<I", len(greeting))[:3] + b"\x00" + greeting
    query = b"\x03SELECT 1"
    query = struct.pack("<I", len(query))[:3] + b"\x00" + query
    seeds = {
        "pg_v1": (0, [(False, v1 + startup), (True, auth_ok)]),
        "pg_v2_ssl": (0, [(False, v2_4 + ssl_request), (True, b"N"), (False, startup)]),
        "mysql_v1_tcp6": (1, [(False, v1_6), (True, greeting), (False, query)]),
        "mysql_v2_tcp6": (1, [(False, v2_6), (True, greeting)]),
        "hex_local": (2, [(False, local + b"hello"), (True, b"world")]),
    }
    for name, (flags, chunks) in seeds.items():
        seed = bytearray([flags])
        for from_server, payload in chunks:
            seed += dumper_chunks(from_server, payload)
        with open(os.path.join(out_dir, name + ".seed"), "wb") as f:
            f.write(seed)


if __name__ == "__main__":
    if sys.argv[1] == "--streams":
        streams(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
    elif sys.argv[1] == "--proxy":
        proxy(sys.argv[2])
    else:
        main(sys.argv[1], sys.argv[2:])
