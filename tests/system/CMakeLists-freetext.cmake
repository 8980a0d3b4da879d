# freetext_privacy: a phone, an ID number and an e-mail typed into every
# free-text field (tests/system/test_freetext_privacy.py): masked in lists,
# ledger, the gateway's list and the feed; never in the raw bytes of either
# store; back as typed only through the node's access-logged case read and
# after a restore from the gateway.
hcp_system_test(NAME freetext_privacy SCRIPT test_freetext_privacy.py TIMEOUT 180
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN})
