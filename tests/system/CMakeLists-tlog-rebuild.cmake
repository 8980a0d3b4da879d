# tlog_rebuild: a lost gateway rebuilt from three counties' logs
# (tests/system/test_tlog_rebuild.py, issue #14, docs/transparency.md): nodes
# resending one at a time reproduce the same leaves in the same order and the
# same checkpoint; resending at once, the same leaves with each county's in
# its order (counties interleave by arrival).
hcp_system_test(NAME tlog_rebuild SCRIPT test_tlog_rebuild.py TIMEOUT 300
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} $<TARGET_FILE:hcp-verify>)
