# page: the public page (gateway/www: index.html, case.html and their
# scripts; docs/page.md) in headless chromium (tests/system/test_page.py):
# against a stub site (feed and /feed/stats.json) always, and against a real
# gateway fed by two county nodes (the figures part once the gateway serves
# /feed/stats.json). The test installs Debian's chromium and
# fonts-wqy-microhei when missing (scripts/deps.sh browser) and exits 77
# (skipped) when it cannot. Screenshots: build/tests/system/page-*.png.
hcp_system_test(NAME page SCRIPT test_page.py TIMEOUT 300
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} PROPERTIES SKIP_RETURN_CODE 77)
