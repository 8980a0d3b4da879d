# console_gateway: the gateway console (gateway/www/console*.{html,js,css};
# docs/consoles.md, "Gateway console") driven in Debian's chromium headless
# by tests/console/gateway.js (puppeteer-core, through harness.js) against a
# real gateway fed by one county node (tests/system/test_console_gateway.py):
# supervisor (counties, figures, monthly form, spot check, directives),
# auditor (access log only), forged CSRF, expired session. Node/npm,
# chromium and the CJK font are installed when missing (scripts/deps.sh
# node browser, as root), puppeteer-core by `npm ci` of tests/console in the
# build tree (a directory of its own, console-gateway/: console_node may run
# its `npm ci` at the same time in console/); exit 77 (skipped) when that
# cannot be done. Screenshots and
# the downloaded form: build/tests/system/console-artifacts/gateway/.
hcp_system_test(NAME console_gateway SCRIPT test_console_gateway.py TIMEOUT 600
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN}
  ENV HCP_CONSOLE_DIR=${CMAKE_CURRENT_BINARY_DIR}/console-gateway
      HCP_CONSOLE_ARTIFACTS=${CMAKE_CURRENT_BINARY_DIR}/console-artifacts
  PROPERTIES SKIP_RETURN_CODE 77)
