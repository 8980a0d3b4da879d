# case_number_gaps: the gateway reports gaps in a county's case numbers
# found in a real signed county log (tests/system/test_case_number_gaps.py;
# the log made and signed with the county's key by repl_client's `cases`
# mode) on /v1/counties `findings`, the cases and /v1/stats/summary.
hcp_system_test(NAME case_number_gaps SCRIPT test_case_number_gaps.py TIMEOUT 120
  ARGS ${HCP_GATEWAY_BIN} ${HCP_CERTS_BIN} ${HCP_REPL_CLIENT_BIN})
