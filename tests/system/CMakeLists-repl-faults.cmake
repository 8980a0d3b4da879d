# repl_faults: replication under faults (tests/system/test_repl_faults.py):
# the gateway and the node SIGKILLed again and again during catch-up, a TCP
# proxy cutting connections inside batches, and refusals (revoked
# certificate, another CA, no certificate, plain TCP, random bytes) while
# good counties keep replicating. Included from tests/system/CMakeLists.txt;
# needs both daemons and hcp-certs.
if(TARGET hcp-node AND TARGET hcp-gateway)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_faults_python ${Python3_EXECUTABLE})
  else()
    set(hcp_faults_python python3)
  endif()
  add_test(NAME repl_faults
    COMMAND ${hcp_faults_python} ${CMAKE_CURRENT_LIST_DIR}/test_repl_faults.py
            $<TARGET_FILE:hcp-node> $<TARGET_FILE:hcp-gateway> ${CMAKE_BINARY_DIR}/certs/hcp-certs
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(repl_faults PROPERTIES LABELS system TIMEOUT 420
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
