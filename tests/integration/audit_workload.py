"""The connections test_audit holds `tcpdp audit` to, made by this process (run as an unprivileged
user): argv PORT4 PORT6 CLOSED_PORT OTHER_PORT
[EARLIER_PORT]. Prints what it did as one JSON object: its pid,
uid, command name and each connection's ports, in the order made.

  close4   IPv4, the client closes first, the server after reading the end
  close6   IPv6, the server closes first, the client after reading the end
  reset4   IPv4, the client aborts (SO_LINGER 0: a reset instead of a FIN)
  refused  IPv4, a connect() to a port nothing listens on
  other    IPv4 to OTHER_PORT, which the test does not target
  earlier  IPv4 to EARLIER_PORT, where the test listens since before audit started: the client
           closes, the test accepts and closes later
"""

import json
import os
import socket
import struct
import sys
import time


def listener(family, host, port):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(8)
    return s


def pair(lst, family, host, port):
    c = socket.socket(family, socket.SOCK_STREAM)
    c.connect((host, port))
    a, _ = lst.accept()
    return c, a


def main():
    port4, port6, closed_port, other_port = map(int, sys.argv[1:5])
    l4 = listener(socket.AF_INET, "127.0.0.1", port4)
    l6 = listener(socket.AF_INET6, "::1", port6)
    lo = listener(socket.AF_INET, "127.0.0.1", other_port)
    done = []

    c, a = pair(l4, socket.AF_INET, "127.0.0.1", port4)
    done.append({"name": "close4", "client_port": c.getsockname()[1], "server_port": port4})
    c.close()
    assert a.recv(10) == b""
    a.close()

    c, a = pair(l6, socket.AF_INET6, "::1", port6)
    done.append({"name": "close6", "client_port": c.getsockname()[1], "server_port": port6})
    a.close()
    assert c.recv(10) == b""
    c.close()

    c, a = pair(l4, socket.AF_INET, "127.0.0.1", port4)
    done.append({"name": "reset4", "client_port": c.getsockname()[1], "server_port": port4})
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
    try:
        a.recv(10)
    except ConnectionResetError:
        pass
    a.close()

    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        c.connect(("127.0.0.1", closed_port))
        raise SystemExit("a connect to port %d was accepted" % closed_port)
    except ConnectionRefusedError:
        pass
    done.append({"name": "refused", "client_port": None, "server_port": closed_port})
    c.close()

    c, a = pair(lo, socket.AF_INET, "127.0.0.1", other_port)
    done.append({"name": "other", "client_port": c.getsockname()[1], "server_port": other_port})
    c.close()
    a.close()

    if len(sys.argv) > 5:
        c = socket.create_connection(("127.0.0.1", int(sys.argv[5])))
        done.append({"name": "earlier", "client_port": c.getsockname()[1],
                     "server_port": int(sys.argv[5])})
        c.close()

    for s in (l4, l6, lo):
        s.close()
    time.sleep(0.2)  # the last FINs and ACKs cross before the process goes
    with open("/proc/self/comm") as f:
        comm = f.read().strip()
    print(json.dumps({"pid": os.getpid(), "uid": os.getuid(), "comm": comm, "connections": done}))


if __name__ == "__main__":
    main()
