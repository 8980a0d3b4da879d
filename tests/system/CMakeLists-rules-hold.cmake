# rules_hold: the rules a county cannot game (issue 13; tests/system/test_rules_hold.py):
# a recorded overdue stays, backdated steps are marked and counted, the revisit
# follows reachability and satisfaction, disputes are written and decided by
# someone else.
hcp_system_test(NAME rules_hold SCRIPT test_rules_hold.py ARGS ${HCP_NODE_BIN})
