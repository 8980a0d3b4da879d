# freetext_privacy: a phone, an ID number and an e-mail typed into every
# free-text field (tests/system/test_freetext_privacy.py): masked in lists,
# ledger, the gateway's list and the feed; never in the raw bytes of either
# store; back as typed only through the node's access-logged case read and
# after a restore from the gateway. Included from tests/system/CMakeLists.txt.
if(TARGET hcp-node AND TARGET hcp-gateway)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_freetext_python ${Python3_EXECUTABLE})
  else()
    set(hcp_freetext_python python3)
  endif()
  add_test(NAME freetext_privacy
    COMMAND ${hcp_freetext_python} ${CMAKE_CURRENT_LIST_DIR}/test_freetext_privacy.py
            $<TARGET_FILE:hcp-node> $<TARGET_FILE:hcp-gateway>
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(freetext_privacy PROPERTIES LABELS system TIMEOUT 180
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
