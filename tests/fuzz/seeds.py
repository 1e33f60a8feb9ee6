#!/usr/bin/env python3
"""Turns capture files into seed inputs for the fuzz targets.

    seeds.py OUT_DIR FILE.pcap...                for fuzz_decode: one seed per file (1 byte
                                                 link-type selector, then per packet 2 bytes
                                                 length, 2 bytes wire extra, the bytes)
    seeds.py --streams PORT OUT_DIR FILE.pcap... for the protocol decoders (fuzz_pg, fuzz_mysql):
                                                 one seed per TCP connection of Ethernet/IPv4
                                                 captures, its payloads in the layout of
                                                 fuzz_dumper.h, PORT being the server's"""

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


if __name__ == "__main__":
    if sys.argv[1] == "--streams":
        streams(int(sys.argv[2]), sys.argv[3], sys.argv[4:])
    else:
        main(sys.argv[1], sys.argv[2:])
