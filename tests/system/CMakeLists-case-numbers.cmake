# case_numbers: a refused request takes no case number
# (tests/system/test_case_numbers.py).
hcp_system_test(NAME case_numbers SCRIPT test_case_numbers.py ARGS ${HCP_NODE_BIN})
