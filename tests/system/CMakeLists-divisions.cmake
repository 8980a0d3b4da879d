# divisions: a division list given at run time (tests/system/test_divisions.py):
# hcp-node and hcp-gateway started with --divisions FILE (the gateway through
# its INI key) accept a county of the file and refuse one not in it, and
# refuse a malformed file with its file:line. repl_client (built by
# tests/system/CMakeLists.txt) is the peer holding a certificate for a
# county outside the list.
hcp_system_test(NAME divisions SCRIPT test_divisions.py
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} ${HCP_CERTS_BIN} ${HCP_REPL_CLIENT_BIN})
