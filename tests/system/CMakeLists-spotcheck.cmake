# spotcheck: the province's spot checks (tests/system/test_spotcheck.py,
# issue #15, docs/spotchecks.md): a gateway and two nodes over plain tcp://;
# the draw and its publication, hcp-verify spotcheck (over the URL and a
# directory; an altered sample, an omitted case, a forged checkpoint), and
# the work end to end (directives, findings, a failed one re-opening the case).
hcp_system_test(NAME spotcheck SCRIPT test_spotcheck.py TIMEOUT 240
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} $<TARGET_FILE:hcp-verify>)
