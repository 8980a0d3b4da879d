# calendar_restore: a node restored from the gateway gets the federation
# calendar back (issue #13; tests/system/test_calendar_restore.py): 2027
# published and applied, the node's disk lost, a fresh store fetches its
# history back, asks the gateway for the calendar entry it acknowledged and
# stores it before it takes records; its calendar version and a case's
# deadlines equal the gateway's.
hcp_system_test(NAME calendar_restore SCRIPT test_calendar_restore.py TIMEOUT 120
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN})
