# fault: the federation under every fault at once (tests/system/test_fault_soak.py,
# issue #10): >= 100 SIGKILLs of the gateway and the nodes under load, >= 100
# connections cut by proxies, a full disk at the gateway and at a node (tmpfs,
# root only; HCP_FAULT_SKIP_DISK=1 skips it), and a lost gateway rebuilt from
# the counties' logs; every acknowledged write checked exactly once at both.
# RUN_SERIAL: it kills and restarts daemons ~150 times and needs the machine's
# time for its own convergence waits. HCP_FAULT_SEED repeats a run's choices.
if(TARGET hcp-node AND TARGET hcp-gateway)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_fault_python ${Python3_EXECUTABLE})
  else()
    set(hcp_fault_python python3)
  endif()
  add_test(NAME fault_soak
    COMMAND ${hcp_fault_python} ${CMAKE_CURRENT_LIST_DIR}/test_fault_soak.py
            $<TARGET_FILE:hcp-node> $<TARGET_FILE:hcp-gateway> ${CMAKE_BINARY_DIR}/certs/hcp-certs
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(fault_soak PROPERTIES LABELS "system;fault" TIMEOUT 720 RUN_SERIAL TRUE
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
