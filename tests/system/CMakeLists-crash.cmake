# node_crash: SIGKILL hcp-node at random moments under concurrent writes and
# check that every acknowledged write survives (tests/system/test_node_crash.py).
# HCP_CRASH_SEED in the environment reproduces a run's kill times; the seed
# is printed first.
hcp_system_test(NAME node_crash SCRIPT test_node_crash.py TIMEOUT 300
  ARGS ${HCP_NODE_BIN} --kills 24 --clients 16)
