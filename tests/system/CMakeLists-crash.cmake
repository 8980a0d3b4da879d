# node_crash: SIGKILL hcp-node at random moments under concurrent writes and
# check that every acknowledged write survives (tests/system/test_node_crash.py).
# Included from tests/system/CMakeLists.txt. HCP_CRASH_SEED in the environment
# reproduces a run's kill times; the seed is printed first.
if(TARGET hcp-node)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_crash_python ${Python3_EXECUTABLE})
  else()
    set(hcp_crash_python python3)
  endif()
  add_test(NAME node_crash
    COMMAND ${hcp_crash_python} ${CMAKE_CURRENT_LIST_DIR}/test_node_crash.py
            $<TARGET_FILE:hcp-node> --kills 24 --clients 16)
  set_tests_properties(node_crash PROPERTIES LABELS system TIMEOUT 300)
endif()
