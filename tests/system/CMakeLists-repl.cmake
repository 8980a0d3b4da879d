# repl: county nodes replicate to hcp-gateway over mutual TLS on loopback
# (tests/system/test_repl.py): certificates from hcp-certs, three counties
# converge with identical cases, an offline node catches up, a node holding
# another county's certificate is refused.
hcp_system_test(NAME repl SCRIPT test_repl.py TIMEOUT 240
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} ${HCP_CERTS_BIN})
