# accounts: named accounts and roles at both daemons (tests/system/test_accounts.py):
# `user add` while the daemons run, clerks without personal data, supervisors'
# reads in the access log under their own account, auditors' GET /v1/access-log,
# disabled accounts, the dispute rule, the gateway's logged case reads, and the
# seal key kept apart from the data. Included from tests/system/CMakeLists.txt.
if(TARGET hcp-node AND TARGET hcp-gateway)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_accounts_python ${Python3_EXECUTABLE})
  else()
    set(hcp_accounts_python python3)
  endif()
  add_test(NAME accounts
    COMMAND ${hcp_accounts_python} ${CMAKE_CURRENT_LIST_DIR}/test_accounts.py
            $<TARGET_FILE:hcp-node> $<TARGET_FILE:hcp-gateway>
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(accounts PROPERTIES LABELS system TIMEOUT 180
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
