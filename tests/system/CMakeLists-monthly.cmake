# monthly: the monthly statistics form per prefecture (tests/system/test_monthly.py,
# docs/reports.md): JSON, CSV read back by the csv module, XLSX read by openpyxl and
# converted by LibreOffice headless; 204 for an empty month; supervisors only, logged.
hcp_system_test(NAME monthly SCRIPT test_monthly.py TIMEOUT 300
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN})
