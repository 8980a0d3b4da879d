# tlog_go: Go's golang.org/x/mod/sumdb/tlog and sumdb/note (Debian's
# golang-golang-x-mod-dev, built offline in GOPATH mode) verify the gateway's
# checkpoint signature, read its tiles and check inclusion and consistency
# proofs (tests/system/test_tlog_go.py, tests/interop/tlogcheck, issue #14,
# docs/transparency.md). Fails, never skips, when Go cannot be installed.
hcp_system_test(NAME tlog_go SCRIPT test_tlog_go.py TIMEOUT 600
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN})
