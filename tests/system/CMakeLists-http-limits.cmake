# http-limits: the limits every HTTP listener keeps (tests/system/
# test_http_limits.py): idle floods, idle and request timeouts, the
# connection cap, bodies on public routes, garbage, pipelining and malformed
# query values, on a real hcp-node and hcp-gateway.
hcp_system_test(NAME http_limits SCRIPT test_http_limits.py TIMEOUT 180
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN})
