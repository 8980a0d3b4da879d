"""test_certs.py — system tests for hcp-certs (stdlib only; needs the openssl command).

The script comes from argv[1] (ctest passes ${CMAKE_BINARY_DIR}/certs/hcp-certs) or from the
HCP_CERTS environment variable. Every test works in its own temporary directory and checks the
results with openssl itself: modes, subjects, extensions, chain and CRL verification, and a real
mutual-TLS 1.2 handshake between `openssl s_server` and `openssl s_client`.
"""
import os
import re
import select
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

import hcptest

GW_NAME = "gw.hcp.test"


def certs(*args, env=None, check=None):
    """Runs hcp-certs with ARGS; returns the CompletedProcess. CHECK, if given, is the wanted exit code."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    proc = subprocess.run([hcptest.path("hcp-certs")] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60, env=full_env)
    if check is not None and proc.returncode != check:
        raise AssertionError("hcp-certs %s: exit %d, wanted %d\nstdout:\n%s\nstderr:\n%s"
                             % (" ".join(args), proc.returncode, check, proc.stdout, proc.stderr))
    return proc


def openssl(*args, check=True):
    """Runs the openssl command; returns stdout+stderr as one string (raises on failure if CHECK)."""
    proc = subprocess.run(["openssl"] + list(args), stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=60)
    out = proc.stdout + proc.stderr
    if check and proc.returncode != 0:
        raise AssertionError("openssl %s failed (%d):\n%s" % (" ".join(args), proc.returncode, out))
    return proc.returncode, out


def mode(path):
    """The permission bits of PATH."""
    return stat.S_IMODE(os.stat(path).st_mode)


def x509(path, *what):
    """Text from `openssl x509 -noout WHAT… -in PATH`."""
    return openssl("x509", "-noout", "-in", path, *what)[1]


def verify(ca_dir, cert, crl=False):
    """(exit code, output) of `openssl verify` of CERT against the CA in CA_DIR, with the CRL if CRL."""
    args = ["verify", "-CAfile", os.path.join(ca_dir, "ca.crt")]
    if crl:
        args += ["-crl_check", "-CRLfile", os.path.join(ca_dir, "crl.pem")]
    return openssl(*(args + [cert]), check=False)


class Pki(unittest.TestCase):
    """Each test gets a fresh directory with a CA, a gateway and two county certificates."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="hcp-certs-test-")
        self.dir = os.path.join(self.tmp, "pki")
        self.init_out = certs("init", "--dir", self.dir, check=0).stdout
        certs("gateway", "--dir", self.dir, "--name", GW_NAME, "--ip", "127.0.0.1", "--ip", "::1",
              check=0)
        for county in ("630102", "630103"):
            certs("node", "--dir", self.dir, "--county", county, check=0)

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def path(self, *parts):
        """A path inside the CA directory."""
        return os.path.join(self.dir, *parts)

    # ------------------------------------------------------------------------------------ init

    def test_init_outputs_and_modes(self):
        for name in ("ca.crt", "ca.key", "crl.pem", "ca-db/index.txt", "ca-db/serial",
                     "ca-db/crlnumber", "ca-db/openssl.cnf"):
            self.assertTrue(os.path.isfile(self.path(name)), name)
        self.assertEqual(mode(self.path("ca.key")), 0o600)
        self.assertEqual(mode(self.path("ca-db")) & 0o077, 0)
        self.assertIn("ca.crt", self.init_out)
        self.assertIn("ca.key", self.init_out)
        self.assertIn("crl.pem", self.init_out)
        text = x509(self.path("ca.crt"), "-text")
        self.assertIn("hcp Qinghai province CA", x509(self.path("ca.crt"), "-subject"))
        self.assertRegex(text, r"Basic Constraints: critical\s+CA:TRUE")
        self.assertRegex(text, r"Key Usage: critical\s+Certificate Sign, CRL Sign")
        self.assertIn("ecdsa-with-SHA256", text)
        self.assertIn("prime256v1", text)
        # default validity: 3650 days
        self.assertEqual(openssl("x509", "-noout", "-checkend", str(3640 * 86400), "-in",
                                 self.path("ca.crt"), check=False)[0], 0)
        self.assertNotEqual(openssl("x509", "-noout", "-checkend", str(3660 * 86400), "-in",
                                    self.path("ca.crt"), check=False)[0], 0)
        # the initial CRL is empty, signed by the CA
        _, out = openssl("crl", "-in", self.path("crl.pem"), "-CAfile", self.path("ca.crt"),
                         "-noout", "-text")
        self.assertIn("verify OK", out)
        self.assertIn("No Revoked Certificates", out)

    def test_init_days(self):
        other = os.path.join(self.tmp, "short")
        certs("init", "--dir", other, "--days", "10", check=0)
        self.assertNotEqual(openssl("x509", "-noout", "-checkend", str(11 * 86400), "-in",
                                    os.path.join(other, "ca.crt"), check=False)[0], 0)

    def test_init_twice_refused(self):
        with open(self.path("ca.key"), "rb") as f:
            before = f.read()
        proc = certs("init", "--dir", self.dir, check=1)
        self.assertIn("refusing", proc.stderr)
        with open(self.path("ca.key"), "rb") as f:
            self.assertEqual(f.read(), before)

    # --------------------------------------------------------------------------------- gateway

    def test_gateway(self):
        crt, key = self.path("gateway.crt"), self.path("gateway.key")
        self.assertEqual(mode(key), 0o600)
        self.assertEqual(verify(self.dir, crt)[0], 0)
        out = x509(crt, "-subject", "-ext", "subjectAltName")
        self.assertRegex(out, r"subject=CN = %s\n" % re.escape(GW_NAME))
        self.assertIn("DNS:%s" % GW_NAME, out)
        self.assertIn("IP Address:127.0.0.1", out)
        self.assertIn("IP Address:0:0:0:0:0:0:0:1", out)
        text = x509(crt, "-text")
        self.assertIn("TLS Web Server Authentication", text)
        # clientAuth too: the gateway's canary dials its own listener as a node would
        self.assertIn("TLS Web Client Authentication", text)
        self.assertIn("CA:FALSE", text)
        # re-issuing replaces both files and says so
        serial = x509(crt, "-serial")
        proc = certs("gateway", "--dir", self.dir, "--name", "other.hcp.test", check=0)
        self.assertIn("replaced", proc.stdout)
        self.assertNotEqual(x509(crt, "-serial"), serial)
        self.assertIn("DNS:other.hcp.test", x509(crt, "-ext", "subjectAltName"))

    def test_gateway_bad_arguments(self):
        certs("gateway", "--dir", self.dir, check=2)                       # no --name
        certs("gateway", "--dir", self.dir, "--name", "bad name", check=2)
        certs("gateway", "--dir", self.dir, "--name", "10.0.0.1", check=2)  # an IP is not a DNS name
        certs("gateway", "--dir", self.dir, "--name", GW_NAME, "--ip", "nonsense", check=2)
        certs("gateway", "--dir", self.dir, "--name", GW_NAME, "--ip", check=2)

    # ------------------------------------------------------------------------------------ node

    def test_node(self):
        serials = set()
        for county in ("630102", "630103"):
            crt, key = self.path("nodes", county + ".crt"), self.path("nodes", county + ".key")
            self.assertEqual(mode(key), 0o600)
            self.assertEqual(verify(self.dir, crt)[0], 0)
            self.assertEqual(verify(self.dir, crt, crl=True)[0], 0)
            self.assertRegex(x509(crt, "-subject"), r"subject=CN = %s\n" % county)
            text = x509(crt, "-text")
            self.assertIn("TLS Web Client Authentication", text)
            self.assertNotIn("TLS Web Server Authentication", text)
            self.assertIn("NIST CURVE: P-256", text)
            self.assertIn("ecdsa-with-SHA256", text)
            # the key belongs to the certificate
            self.assertEqual(openssl("pkey", "-in", key, "-pubout")[1],
                             openssl("x509", "-in", crt, "-noout", "-pubkey")[1])
            serials.add(x509(crt, "-serial"))
        serials.add(x509(self.path("gateway.crt"), "-serial"))
        self.assertEqual(len(serials), 3)
        with open(self.path("ca-db", "index.txt")) as f:
            index = f.read()
        self.assertEqual(len(re.findall(r"^V\t.*\t/CN=6301\d\d$", index, re.M)), 2)

    def test_node_existing_refused_then_force(self):
        old = os.path.join(self.tmp, "old.crt")
        shutil.copy(self.path("nodes", "630103.crt"), old)
        proc = certs("node", "--dir", self.dir, "--county", "630103", check=1)
        self.assertIn("--force", proc.stderr)
        self.assertEqual(x509(old, "-serial"), x509(self.path("nodes", "630103.crt"), "-serial"))
        proc = certs("node", "--dir", self.dir, "--county", "630103", "--force", check=0)
        self.assertIn("revoked", proc.stdout)
        rc, out = verify(self.dir, old, crl=True)
        self.assertNotEqual(rc, 0)
        self.assertIn("revoked", out)
        self.assertEqual(verify(self.dir, self.path("nodes", "630103.crt"), crl=True)[0], 0)

    def test_unknown_county_refused(self):
        for code in ("630199", "632857", "110101", "63010", "6301021", "abcdef", ""):
            proc = certs("node", "--dir", self.dir, "--county", code, check=2)
            self.assertTrue(proc.stderr.strip(), code)
            self.assertFalse(os.path.exists(self.path("nodes", code + ".crt")))
        certs("revoke", "--dir", self.dir, "--county", "630199", check=2)

    def test_divisions_override(self):
        table = os.path.join(self.tmp, "divisions.tsv")
        with open(table, "w") as f:
            f.write("code\tname\n999999\ttest county\n")
        certs("node", "--dir", self.dir, "--county", "999999", env={"HCP_DIVISIONS": table}, check=0)
        certs("node", "--dir", self.dir, "--county", "630104", env={"HCP_DIVISIONS": table}, check=2)

    # ---------------------------------------------------------------------------------- revoke

    def test_revoke(self):
        crl_before = openssl("crl", "-in", self.path("crl.pem"), "-noout", "-crlnumber")[1]
        proc = certs("revoke", "--dir", self.dir, "--county", "630102", check=0)
        self.assertIn("crl.pem", proc.stdout)
        rc, out = verify(self.dir, self.path("nodes", "630102.crt"), crl=True)
        self.assertNotEqual(rc, 0)
        self.assertIn("revoked", out)
        self.assertEqual(verify(self.dir, self.path("nodes", "630103.crt"), crl=True)[0], 0)
        self.assertEqual(verify(self.dir, self.path("gateway.crt"), crl=True)[0], 0)
        self.assertNotEqual(openssl("crl", "-in", self.path("crl.pem"), "-noout", "-crlnumber")[1],
                            crl_before)
        self.assertEqual(mode(self.path("crl.pem")) & 0o444, 0o444)
        # revoking again is harmless; a new certificate for the county is then allowed
        certs("revoke", "--dir", self.dir, "--county", "630102", check=0)
        certs("node", "--dir", self.dir, "--county", "630102", check=0)
        self.assertEqual(verify(self.dir, self.path("nodes", "630102.crt"), crl=True)[0], 0)
        # a county never issued
        certs("revoke", "--dir", self.dir, "--county", "630104", check=1)

    def test_crl_command(self):
        certs("revoke", "--dir", self.dir, "--county", "630102", check=0)
        certs("crl", "--dir", self.dir, "--days", "7", check=0)
        rc, _ = verify(self.dir, self.path("nodes", "630102.crt"), crl=True)
        self.assertNotEqual(rc, 0)
        out = openssl("crl", "-in", self.path("crl.pem"), "-noout", "-nextupdate")[1]
        next_update = time.mktime(time.strptime(out.split("=", 1)[1].strip(), "%b %d %H:%M:%S %Y %Z"))
        self.assertLess(abs(next_update - time.mktime(time.gmtime()) - 7 * 86400), 3600)

    # ----------------------------------------------------------------------------- usage, help

    def test_help(self):
        for cmd in ("init", "gateway", "node", "revoke", "crl"):
            proc = certs(cmd, "--help", check=0)
            self.assertIn("Usage: hcp-certs " + cmd, proc.stdout)
        self.assertIn("Commands:", certs("--help", check=0).stdout)

    def test_usage_errors(self):
        certs(check=2)
        certs("frobnicate", check=2)
        certs("node", "--county", "630102", check=2)                 # no --dir
        certs("node", "--dir", self.dir, check=2)                      # no --county
        certs("node", "--dir", self.dir, "--county", check=2)          # flag without value
        certs("init", "--dir", os.path.join(self.tmp, "x"), "--days", "0", check=2)
        certs("init", "--dir", os.path.join(self.tmp, "x"), "--days", "ten", check=2)
        certs("init", "--dir", os.path.join(self.tmp, "x"), "--bogus", check=2)
        certs("init", "--dir", os.path.join(self.tmp, "x"), "--county", "630102", check=2)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "x")))

    def test_no_ca(self):
        empty = os.path.join(self.tmp, "empty")
        os.mkdir(empty)
        proc = certs("node", "--dir", empty, "--county", "630102", check=1)
        self.assertIn("init", proc.stderr)
        certs("gateway", "--dir", os.path.join(self.tmp, "missing"), "--name", GW_NAME, check=1)

    # -------------------------------------------------------------------------------- handshake

    def handshake(self, county):
        """Mutual TLS 1.2 between s_server (gateway cert, client cert required, CRL checked) and
        s_client (COUNTY's cert, gateway name checked). Returns (the server answered over it, what
        the server printed)."""
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen(
            ["openssl", "s_server", "-accept", "127.0.0.1:%d" % port, "-naccept", "1", "-www",
             "-tls1_2", "-cert", self.path("gateway.crt"), "-key", self.path("gateway.key"),
             "-CAfile", self.path("ca.crt"), "-Verify", "2", "-verify_return_error",
             "-crl_check", "-CRL", self.path("crl.pem")],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        seen = b""
        try:
            deadline = time.time() + 10
            while b"ACCEPT" not in seen and time.time() < deadline:
                if select.select([server.stdout], [], [], 0.2)[0]:
                    chunk = os.read(server.stdout.fileno(), 4096)
                    if not chunk:
                        break
                    seen += chunk
            ready = b"ACCEPT" in seen
            self.assertTrue(ready, "openssl s_server did not start")
            client = subprocess.run(
                ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, "-tls1_2", "-ign_eof",
                 "-servername", GW_NAME, "-verify_hostname", GW_NAME, "-verify_return_error",
                 "-CAfile", self.path("ca.crt"),
                 "-cert", self.path("nodes", county + ".crt"),
                 "-key", self.path("nodes", county + ".key")],
                input="GET / HTTP/1.0\r\n\r\n", capture_output=True, text=True, timeout=20)
        finally:
            server.kill()
            server.wait()
            seen += server.stdout.read()
            server.stdout.close()
        return "200 ok" in client.stdout.lower(), seen.decode(errors="replace")

    def test_tls_handshake(self):
        ok, out = self.handshake("630103")
        self.assertTrue(ok, out)
        certs("revoke", "--dir", self.dir, "--county", "630103", check=0)
        ok, out = self.handshake("630103")
        self.assertFalse(ok, out)
        self.assertIn("revoked", out)


def need_openssl():
    """Every check here runs the openssl command: without it nothing can be checked."""
    if shutil.which("openssl") is None:
        sys.exit("test_certs.py: the openssl command is missing")


if __name__ == "__main__":
    hcptest.main("hcp-certs", node=False, before=need_openssl)
