# gateway_checks: the gateway checks, not trusts (tests/system/test_gateway_checks.py,
# docs/checks.md): a gateway and two county nodes over plain tcp:// — backdated
# steps, an overdue the county's log does not show, a self-decided dispute,
# GET /v1/stats/summary, and the same findings after the gateway is rebuilt.
hcp_system_test(NAME gateway_checks SCRIPT test_gateway_checks.py TIMEOUT 240
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN})
