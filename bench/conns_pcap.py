#!/usr/bin/env python3
"""bench/conns_pcap.py OUT N: writes the synthetic many-connections capture of conns.sh and pg.sh
to OUT, unless OUT already holds it (it is kept between runs, in bench/data).

A classic pcap (microseconds, raw IPv4, link type 101) in which N TCP connections are all open at
the same time: first every connection does its handshake and sends one request, then every
connection gets its answer and closes with FIN/FIN. Server 10.0.0.1:5432; client i is
10.(1 + i / 60000).x.y port 1024 + i % 60000, so N is at most 3840000. One microsecond between
packets; 8 packets a connection: SYN, SYN-ACK, ACK, request; later answer, client FIN, server FIN,
last ACK. `tcpdp read -d conn` makes 10 state changes and one summary of each connection.
"""
import os
import struct
import sys

path, n = sys.argv[1], int(sys.argv[2])
if not 1 <= n <= 3840000:
    sys.exit("conns_pcap.py: N must be from 1 to 3840000")
if os.path.exists(path) and os.path.getsize(path) > 0:
    sys.exit(0)
print("writing %s" % path, file=sys.stderr)
final, path = path, path + ".tmp"
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
SERVER = bytes([10, 0, 0, 1])
clock = [1700000000, 0]
with open(path, "wb") as out:
    out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101))

    def packet(src, sport, dst, dport, seq, ack, flags, payload=b""):
        clock[1] += 1
        if clock[1] == 1000000:
            clock[0], clock[1] = clock[0] + 1, 0
        tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 0x50, flags, 65535, 0, 0) + payload
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64, 6, 0,
                         src, dst) + tcp
        out.write(struct.pack("<IIII", clock[0], clock[1], len(ip), len(ip)) + ip)

    def client(i):
        k = i % 60000
        return bytes([10, 1 + i // 60000, k // 256, k % 256]), 1024 + k

    for i in range(n):
        c, p = client(i)
        request = b"request %d\n" % i
        packet(c, p, SERVER, 5432, 1000, 0, SYN)
        packet(SERVER, 5432, c, p, 5000, 1001, SYN | ACK)
        packet(c, p, SERVER, 5432, 1001, 5001, ACK)
        packet(c, p, SERVER, 5432, 1001, 5001, PSH | ACK, request)
    for i in range(n):
        c, p = client(i)
        end = 1001 + len(b"request %d\n" % i)
        packet(SERVER, 5432, c, p, 5001, end, PSH | ACK, b"answer\n")
        packet(c, p, SERVER, 5432, end, 5008, FIN | ACK)
        packet(SERVER, 5432, c, p, 5008, end + 1, FIN | ACK)
        packet(c, p, SERVER, 5432, end + 1, 5009, ACK)
os.rename(path, final)
