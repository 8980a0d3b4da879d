# console_node: the node console (node/www, docs/consoles.md) and the console
# sessions (daemon/session.c) on two real hcp-node processes
# (tests/system/test_console_node.py): the session routes, cookie and CSRF
# checks without a browser, then tests/console/node.js in Debian's headless
# chromium through puppeteer-core — a clerk walks a complaint to its close,
# the refusals (role, forged CSRF, expired session), the ledger downloaded.
# The test copies tests/console into the build tree (HCP_CONSOLE_DIR) and runs
# `npm ci` there; it installs nodejs/npm, chromium and fonts-wqy-microhei when
# missing (scripts/deps.sh node, browser) and exits 77 (skipped) when it
# cannot or npm cannot reach its registry. Screenshots and downloads:
# build/tests/system/console-artifacts/node/.
hcp_system_test(NAME console_node SCRIPT test_console_node.py TIMEOUT 400
  ARGS ${HCP_NODE_BIN} PROPERTIES SKIP_RETURN_CODE 77
  ENV HCP_CONSOLE_DIR=${CMAKE_CURRENT_BINARY_DIR}/console
      HCP_CONSOLE_ARTIFACTS=${CMAKE_CURRENT_BINARY_DIR}/console-artifacts)
