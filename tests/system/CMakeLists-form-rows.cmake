# form_rows: the monthly form's rows written behind a catch-up (gateway/report.h,
# docs/reports.md "Rows written behind"): a backlog replicated at once, the form
# right after, the drain's log line, and the same form after a kill -9 and a restart.
hcp_system_test(NAME form_rows SCRIPT test_form_rows.py TIMEOUT 180
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN})
