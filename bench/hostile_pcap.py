#!/usr/bin/env python3
"""bench/hostile_pcap.py OUT KIND SIZE: writes a capture of one TCP connection, picked up mid-way
(no handshake), whose client sends SIZE bytes in segments of 100 bytes that keep a protocol
decoder looking for a message boundary all along: the costliest input a decoder's resync can be
given. KIND:

  pg     PostgreSQL (port 5432): every 900000 bytes a Query header that claims a body of
         1000000 bytes, which cannot be judged until all of it has come, then 'x' filler.
  mysql  MySQL (port 3306): the same with a packet header of sequence 0 and 1000000 bytes.
  pgrows PostgreSQL server side (port 5432, the server sends): DataRow headers, each of 32767
         columns of 68 bytes whose lengths spell the next candidate's header, so every candidate
         walks many columns before it is refused.

A decoder whose work is linear takes about as long per byte at every SIZE; one that searches its
held window again on every segment takes time that grows with SIZE (up to its window).
"""
import struct
import sys

path, kind, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
SEGMENT = 100
CLIENT, SERVER = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])


def pg_window(n):
    out = bytearray()
    while len(out) < n:
        block = b"Q" + struct.pack("!I", 1000000) + b"x" * (900000 - 5)
        out += block
    return bytes(out[:n])


def mysql_window(n):
    out = bytearray()
    while len(out) < n:
        block = struct.pack("<I", 1000000)[:3] + b"\x00" + b"x" * (900000 - 4)
        out += block
    return bytes(out[:n])


def pg_rows(n):
    # A column of length 68 is "\0\0\0D" and 68 bytes; those bytes begin with the rest of a
    # DataRow header (length, column count), so each 'D' starts a candidate that parses as many
    # columns as the data holds before it is refused.
    column = b"\x00\x00\x00D" + struct.pack("!IH", 900000, 32767) + b"\x00\x00\x00\x44" * 15 + b"z" * 2
    assert len(column) == 72
    return (column * (n // len(column) + 1))[:n]


KINDS = {"pg": (5432, pg_window, False), "mysql": (3306, mysql_window, False),
         "pgrows": (5432, pg_rows, True)}
if kind not in KINDS:
    sys.exit("hostile_pcap.py: KIND is one of " + ", ".join(KINDS))
port, make, from_server = KINDS[kind]
payload = make(size)

with open(path, "wb") as out:
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))  # raw IPv4
    seq, usec = 1000, 0
    for at in range(0, len(payload), SEGMENT):
        data = payload[at:at + SEGMENT]
        if from_server:
            src, dst, sport, dport = SERVER, CLIENT, port, 40000
        else:
            src, dst, sport, dport = CLIENT, SERVER, 40000, port
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 5000, 0x50, 0x18, 65535, 0, 0) + data
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0, src,
                         dst) + tcp
        usec += 10
        out.write(struct.pack("<IIII", 1700000000 + usec // 1000000, usec % 1000000, len(ip),
                              len(ip)) + ip)
        seq += len(data)
