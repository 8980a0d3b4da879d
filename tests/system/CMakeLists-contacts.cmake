# contacts: Art. 14's register (tests/system/test_contacts.py, docs/reports.md):
# contacts with and without a case, a later link, the month as clerk (masked) and
# supervisor (logged), replication and the gateway's aggregate per county and channel.
hcp_system_test(NAME contacts SCRIPT test_contacts.py TIMEOUT 180
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN})
