# feed: the gateway's public disclosure feed (tests/system/test_feed.py):
# a gateway and two county nodes over plain tcp:// (--insecure); real-time
# JSON and Atom, filters and paging, conditional GET, and no personal data
# in any public response.
hcp_system_test(NAME feed SCRIPT test_feed.py TIMEOUT 180
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN})
