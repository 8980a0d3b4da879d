# tlog: the public transparency log (tests/system/test_tlog.py, issue #14,
# docs/transparency.md): a gateway and a node over plain tcp://; hcp-verify
# passes over the URL and over a mirrored directory, and detects a changed
# tile, a changed entry and an older checkpoint; a restart continues the tree.
hcp_system_test(NAME tlog SCRIPT test_tlog.py TIMEOUT 240
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} $<TARGET_FILE:hcp-verify>)
