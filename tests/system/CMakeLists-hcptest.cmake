# hcptest: the harness's own verdict rules on fixed inputs (no daemon): which
# LeakSanitizer reports pass as nng 1.5.2's teardown cycle (docs/testing.md).
hcp_system_test(NAME hcptest SCRIPT test_hcptest.py TIMEOUT 30)
