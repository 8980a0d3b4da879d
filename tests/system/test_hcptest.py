"""test_hcptest.py — the harness's own rules that decide a test's verdict
(tests/system/hcptest.py), checked on fixed inputs; no daemon is started.

Usage: python3 test_hcptest.py

  test_nng_cycles  which LeakSanitizer reports pass as nng 1.5.2's own
                   teardown cycle (docs/testing.md, "Sanitizers"): only
                   indirect leaks, made inside libnng or the TLS libraries
                   its connections hold, at least one inside libnng. A
                   gateway stopped during repl_hostile's TLS set-ups left
                   one whose objects were mostly OpenSSL's; it failed the
                   ASan run before the rule took them in.
"""
import unittest

import hcptest

HEAD = "==1==ERROR: LeakSanitizer: detected memory leaks\n\n"
TAIL = "SUMMARY: AddressSanitizer: 100 byte(s) leaked in 3 allocation(s).\n"


def leak(kind, lib, n=16):
    frame1 = "    #1 0x7f00 in f (/lib/x86_64-linux-gnu/%s+0x1)\n" % lib if lib else \
        "    #1 0x5500 in ours /work/gateway/ingest.c:10:3\n"
    return ("%s leak of %d byte(s) in 1 object(s) allocated from:\n"
            "    #0 0x5500 in malloc (/work/build-asan/gateway/hcp-gateway+0x1)\n%s"
            "    #2 0x7f01 in start_thread\n\n" % (kind, n, frame1))


class NngCycles(unittest.TestCase):
    def test_nng_cycles(self):
        ok = hcptest.nng_cycles_only
        nng, ssl, crypto = "libnng.so.1", "libssl.so.3", "libcrypto.so.3"
        # nng's cycle, with the TLS objects its connections hold
        self.assertTrue(ok(HEAD + leak("Indirect", nng) + TAIL))
        self.assertTrue(ok(HEAD + leak("Indirect", nng) + leak("Indirect", ssl) +
                           leak("Indirect", crypto) + TAIL))
        # OpenSSL's objects alone: not shown to hang on nng
        self.assertFalse(ok(HEAD + leak("Indirect", ssl) + leak("Indirect", crypto) + TAIL))
        # a direct leak anywhere fails, also inside nng (an nng_msg we dropped)
        self.assertFalse(ok(HEAD + leak("Indirect", nng) + leak("Direct", nng) + TAIL))
        self.assertFalse(ok(HEAD + leak("Indirect", nng) + leak("Direct", ssl) + TAIL))
        # an object our own code allocated fails, indirect or not
        self.assertFalse(ok(HEAD + leak("Indirect", nng) + leak("Indirect", None) + TAIL))
        # any other sanitizer's finding fails
        self.assertFalse(ok(HEAD + leak("Indirect", nng) + TAIL +
                            "==1==ERROR: AddressSanitizer: heap-use-after-free\n"))
        self.assertFalse(ok("no report at all"))
        # and the verdict on a daemon's stderr follows it
        self.assertIsNone(hcptest.sanitizer_problem("log line\n" + HEAD + leak("Indirect", nng)
                                                    + leak("Indirect", ssl) + TAIL))
        self.assertEqual(hcptest.sanitizer_problem("log line\n" + HEAD + leak("Direct", nng)
                                                   + TAIL), "Sanitizer")


if __name__ == "__main__":
    hcptest.main(node=False)
