# repl_hostile: the replication port against a hostile peer
# (tests/system/test_repl_hostile.py): hellos for another county, with a
# made-up or too large head, thousands of invented county codes, a revoked
# certificate, idle TCP, half-done TLS handshakes and silent connections,
# and a certificate revoked while the gateway runs. repl_client.c is the
# peer (it speaks the node protocol with a given certificate; built by
# tests/system/CMakeLists.txt).
hcp_system_test(NAME repl_hostile SCRIPT test_repl_hostile.py TIMEOUT 240
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} ${HCP_CERTS_BIN} ${HCP_REPL_CLIENT_BIN})
