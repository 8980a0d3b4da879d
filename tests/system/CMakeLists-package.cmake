# package: the Debian packages built by `make package`, installed with
# dpkg -i, both daemons run from their units' ExecStart lines as the units'
# users, a county replicating to the gateway over mTLS with certificates from
# the installed hcp-certs, the backup and CRL-refresh services, an upgrade in
# place to a higher version, and a purge that leaves nothing behind
# (tests/system/test_package.py, docs/operations.md). Root only (else
# skipped, 77); RUN_SERIAL: it installs packages on the machine.
hcp_system_test(NAME package SCRIPT test_package.py TIMEOUT 1500 LABELS system package
  PROPERTIES SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
