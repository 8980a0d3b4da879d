# repl_faults: replication under faults (tests/system/test_repl_faults.py):
# the gateway and the node SIGKILLed again and again during catch-up, a TCP
# proxy cutting connections inside batches, and refusals (revoked
# certificate, another CA, no certificate, plain TCP, random bytes) while
# good counties keep replicating.
hcp_system_test(NAME repl_faults SCRIPT test_repl_faults.py TIMEOUT 420
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} ${HCP_CERTS_BIN})
