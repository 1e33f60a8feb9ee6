"""Logins to a real MariaDB server captured by tcpdump: the handshake record's login outcome, the
authentication switch to ed25519, and no password or signature written, against the server's own
general log (which names each connection's user and refuses the failed ones)."""

import os
import shutil
import subprocess
import tempfile
import unittest

from servers import mariadb
from support import Capture, records, run

PASSWORD = "ed-Pa55word-never-logged"


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("tcpdump"), "a live capture on lo needs root and tcpdump")
class Logins(unittest.TestCase):
    def test_native_and_ed25519_logins_and_a_refused_one(self):
        with mariadb() as db, tempfile.TemporaryDirectory() as d:
            db.sql_local("INSTALL SONAME 'auth_ed25519'; "
                         "CREATE USER 'ed'@'127.0.0.1' IDENTIFIED VIA ed25519 USING PASSWORD('%s'); "
                         "GRANT SELECT ON *.* TO 'ed'@'127.0.0.1';" % PASSWORD)
            since = db.log_position()
            path = os.path.join(d, "logins.pcap")
            args = [a for a in db.client_args if a not in ("-u", db.user)]
            with Capture(path, db.port):
                for user, password in (("tcpdp", None), ("ed", PASSWORD), ("ed", "wrong")):
                    cmd = ["mariadb"] + args + ["-u", user, "-e", "SELECT CURRENT_USER()"]
                    if password:
                        cmd.append("--password=" + password)
                    subprocess.run(cmd, env=db.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            rc, out, err = run(["read", path, "-d", "mysql", "-t", str(db.port)])
            self.assertEqual(rc, 0, err)
            self.assertNotIn(PASSWORD.encode(), out)
            logins = [r for r in records(out) if r.get("message_type") == "HandshakeResponse"]
            got = [(r["username"], r.get("login_ok"), r.get("auth_switch"), r.get("error_code")) for r in logins]

            # The server's view, per connection: a Connect entry names the user who logs in, and
            # a second one says "Access denied" when the login is refused (MariaDB's general log).
            by_id = {}
            for e in db.general_log(since):
                if e["command"] == "Connect":
                    by_id.setdefault(e["id"], []).append(e["argument"])
            want = []
            for _, entries in sorted(by_id.items()):
                user = entries[0].split("@")[0]
                denied = any(a.startswith("Access denied") for a in entries)
                switch = "client_ed25519" if user == "ed" else None
                want.append((user, not denied, switch, 1045 if denied else None))
            self.assertEqual(got, want)
            self.assertEqual(len(want), 3)


if __name__ == "__main__":
    unittest.main()
