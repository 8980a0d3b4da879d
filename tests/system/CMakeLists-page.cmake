# page: the public disclosure page (gateway/www/index.html, GET / on
# hcp-gateway) in headless chromium (tests/system/test_page.py): against a
# stub feed always, and against a real gateway fed by two county nodes once
# the gateway serves /feed/requests.json. The test installs Debian's
# chromium when missing (scripts/deps.sh browser) and exits 77 (skipped)
# when it cannot.
hcp_system_test(NAME page SCRIPT test_page.py TIMEOUT 240
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} PROPERTIES SKIP_RETURN_CODE 77)
