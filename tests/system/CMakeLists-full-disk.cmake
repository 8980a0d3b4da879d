# full_disk: the gateway's and the node's data directory on a small tmpfs
# that fills up, then grows (tests/system/test_full_disk.py): both keep
# running, refuse what they cannot commit (storage_full), never acknowledge
# it, and resume by themselves when there is room. Needs root to mount a
# tmpfs: skipped (with the reason) otherwise.
hcp_system_test(NAME full_disk SCRIPT test_full_disk.py LABELS system fault TIMEOUT 240
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN}
  PROPERTIES SKIP_REGULAR_EXPRESSION "skipped 'SKIPPED:")
