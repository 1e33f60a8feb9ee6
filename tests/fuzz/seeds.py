#!/usr/bin/env python3
"""Turns capture files into seed inputs for fuzz_decode: one seed per file, in the layout the
target reads (1 byte link-type selector, then per packet 2 bytes length, 2 bytes wire extra, the
bytes). Usage: seeds.py OUT_DIR FILE.pcap..."""

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


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
