# fault: the federation under every fault at once (tests/system/test_fault_soak.py,
# issue #10): >= 100 SIGKILLs of the gateway and the nodes under load, >= 100
# connections cut by proxies, a full disk at the gateway and at a node (tmpfs,
# root only; HCP_FAULT_SKIP_DISK=1 skips it), and a lost gateway rebuilt from
# the counties' logs; every acknowledged write checked exactly once at both.
# RUN_SERIAL: it kills and restarts daemons ~150 times and needs the machine's
# time for its own convergence waits. HCP_FAULT_SEED repeats a run's choices.
hcp_system_test(NAME fault_soak SCRIPT test_fault_soak.py LABELS system fault TIMEOUT 720
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} ${HCP_CERTS_BIN} PROPERTIES RUN_SERIAL TRUE)
