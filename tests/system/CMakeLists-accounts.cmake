# accounts: named accounts and roles at both daemons (tests/system/test_accounts.py):
# `user add` while the daemons run, clerks without personal data, supervisors'
# reads in the access log under their own account, auditors' GET /v1/access-log,
# disabled accounts, the dispute rule, the gateway's logged case reads, and the
# seal key kept apart from the data.
hcp_system_test(NAME accounts SCRIPT test_accounts.py TIMEOUT 180
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN})
