# rules_hold: the rules a county cannot game (issue 13; tests/system/test_rules_hold.py):
# a recorded overdue stays, backdated steps are marked and counted, the revisit
# follows reachability and satisfaction, disputes are written and decided by
# someone else. Included from tests/system/CMakeLists.txt; needs hcp-node.
if(TARGET hcp-node)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_rules_hold_python ${Python3_EXECUTABLE})
  else()
    set(hcp_rules_hold_python python3)
  endif()
  add_test(NAME rules_hold
    COMMAND ${hcp_rules_hold_python} ${CMAKE_CURRENT_LIST_DIR}/test_rules_hold.py
            $<TARGET_FILE:hcp-node>
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(rules_hold PROPERTIES LABELS system TIMEOUT 120
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
