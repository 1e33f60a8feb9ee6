"""The PostgreSQL sink's password never shows in what tcpdp writes: not in libpq's message about
a malformed connection URI (which quotes the token it cannot decode), not in a failed login, not
in `tcpdp config`; whether the connection string comes from --pg or from the configuration, and
whether tcpdp stops at the error or goes on and logs it to tcpdp.log."""

import json
import os
import shutil
import tempfile
import unittest

from servers import free_port, postgres
from support import TcpdpRun, pcap, run

HOST = "127.0.0.1"

# The URI of issue 16: its password holds a malformed escape (%ZZ), which libpq quotes whole.
MALFORMED = "postgresql://u:Uri%ZZS3cretPw@host/db"
MALFORMED_SECRETS = ["Uri%ZZS3cretPw", "ZZS3cret", "S3cretPw"]


def files_under(directory):
    for root, _, names in os.walk(directory):
        for name in names:
            yield os.path.join(root, name)


class Checks(unittest.TestCase):
    def assert_hidden(self, secrets, text, where):
        for secret in secrets:
            self.assertNotIn(secret, text, "the password shows in %s: %s" % (where, text))

    def assert_files_hidden(self, secrets, directory, skip=()):
        for path in files_under(directory):
            if path in skip:
                continue
            with open(path, "rb") as f:
                self.assert_hidden(secrets, f.read().decode("utf-8", "replace"), path)

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tcpdp-secrets-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def config(self, dsn):
        """A configuration (outside the log directory, which it names) with [pg] conninfo."""
        path = os.path.join(self.dir, "tcpdp.toml")
        self.logs = os.path.join(self.dir, "logs")
        with open(path, "w") as f:
            f.write('[log]\ndir = "%s"\n[pg]\nenable = true\nconninfo = %s\nshutdownTimeout = 0.5\n'
                    % (self.logs, json.dumps(dsn)))
        return path


class MalformedUri(Checks):
    def test_from_the_flag_the_error_says_what_without_the_password(self):
        rc, out, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "--pg", MALFORMED], cwd=self.dir)
        self.assertEqual((rc, out), (1, b""))
        self.assertEqual(err, 'tcpdp: PostgreSQL sink: cannot connect to PostgreSQL: '
                              'invalid percent-encoded token: "***"\n')
        self.assert_files_hidden(MALFORMED_SECRETS, self.dir)

    def test_from_the_configuration_read_goes_on_and_says_it_without_the_password(self):
        config = self.config(MALFORMED)
        rc, out, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "-c", config], cwd=self.dir)
        self.assertEqual(rc, 0, err)
        self.assertGreater(len(out), 0)
        self.assertIn('invalid percent-encoded token: "***"', err)
        self.assert_hidden(MALFORMED_SECRETS, err, "stderr")
        self.assert_files_hidden(MALFORMED_SECRETS, self.dir, skip=[config])

    def test_proxy_logs_it_to_tcpdp_log_without_the_password(self):
        t = TcpdpRun(self, "proxy", "tcpdp-secrets-")
        with open(t.config, "a") as f:
            f.write("[pg]\nenable = true\nconninfo = %s\nretryWaitMin = 0.2\nshutdownTimeout = 0.5\n"
                    % json.dumps(MALFORMED))
        self.assertTrue(t.launch(["-l", "%s:%d" % (HOST, free_port()), "-r", "%s:%d" % (HOST, free_port()),
                                  "-d", "pg"], "relaying"), t.stderr())
        t.stop()
        with open(os.path.join(t.logs, "tcpdp.log")) as f:
            program_log = f.read()
        self.assertIn('invalid percent-encoded token: \\"***\\"', program_log)
        self.assert_hidden(MALFORMED_SECRETS, t.stderr(), "stderr")
        self.assert_files_hidden(MALFORMED_SECRETS, t.logs)

    def test_config_shows_the_connection_string_without_the_password(self):
        for dsn, shown in [(MALFORMED, "postgresql://u:***@host/db"),
                           ("host=db user=u password='S3cretPw two'", "host=db user=u password=***"),
                           ("postgresql://db/audit?user=u&password=S3cretPw", "postgresql://db/audit?user=u&password=***")]:
            with self.subTest(dsn=dsn):
                rc, out, err = run(["config", "-c", self.config(dsn)])
                self.assertEqual(rc, 0, err)
                self.assertIn("conninfo = %s\n" % json.dumps(shown), out.decode())
                self.assert_hidden(MALFORMED_SECRETS, out.decode(), "tcpdp config")


class WrongPassword(Checks):
    """A real PostgreSQL where alice must give her password (scram) over TCP."""

    @classmethod
    def setUpClass(cls):
        cls._server = postgres()
        cls.server = cls._server.__enter__()
        cls.server.require_password("alice", "right")

    @classmethod
    def tearDownClass(cls):
        cls._server.__exit__(None, None, None)

    def test_a_failed_login_says_so_without_the_password(self):
        port = self.server.port
        cases = {
            "URI": ("postgresql://alice:Wr0ng%%2FS3cretPw@%s:%d/postgres?sslmode=disable&gssencmode=disable"
                    % (HOST, port), ["Wr0ng%2FS3cretPw", "Wr0ng/S3cretPw", "S3cretPw"]),
            "keywords": ("host=%s port=%d dbname=postgres user=alice password='Wr0ng S3cretPw' sslmode=disable "
                         "gssencmode=disable" % (HOST, port), ["Wr0ng S3cretPw", "S3cretPw"]),
        }
        for what, (dsn, secrets) in cases.items():
            with self.subTest(what):
                rc, out, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "--pg", dsn], cwd=self.dir)
                self.assertEqual((rc, out), (1, b""))
                self.assertIn('password authentication failed for user "alice"', err)
                self.assert_hidden(secrets, err, "stderr")
                config = self.config(dsn)
                rc, _, err = run(["read", pcap("tcp_close.pcap"), "-d", "conn", "-c", config], cwd=self.dir)
                self.assertEqual(rc, 0, err)
                self.assertIn('password authentication failed for user "alice"', err)
                self.assert_hidden(secrets, err, "stderr")
                self.assert_files_hidden(secrets, self.dir, skip=[config])


if __name__ == "__main__":
    unittest.main()
