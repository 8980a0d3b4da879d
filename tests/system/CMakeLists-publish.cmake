# publish: `hcp-gateway publish` and Debian's nginx serving the published
# directory (tests/system/test_publish.py, issue #14, docs/transparency.md
# "Publishing"): the feed, tiles and checkpoint through nginx are what the
# gateway serves, hcp-verify passes against nginx, a second run rewrites no
# full tile and the old checkpoint is consistent with the new one.
hcp_system_test(NAME publish SCRIPT test_publish.py TIMEOUT 300
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} $<TARGET_FILE:hcp-verify>)
