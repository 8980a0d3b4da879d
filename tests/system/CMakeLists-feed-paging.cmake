# feed_paging: paging the public feed at a constant cost
# (tests/system/test_feed_paging.py): the keyset cursor (Link rel=next) walks
# every entry exactly once with and without filters, page=N is the Nth slice
# (the count index), bad cursors are 400, updates during a walk behave as
# docs/feed.md says, and the counts survive a restart.
hcp_system_test(NAME feed_paging SCRIPT test_feed_paging.py TIMEOUT 300
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN})
