# divisions: a division list given at run time (tests/system/test_divisions.py):
# hcp-node and hcp-gateway started with --divisions FILE (the gateway through
# its INI key) accept a county of the file and refuse one not in it, and
# refuse a malformed file with its file:line. repl_client (defined by
# CMakeLists-repl-hostile.cmake, under the same guard) is the peer holding a
# certificate for a county outside the list.
if(TARGET hcp-node AND TARGET hcp-gateway AND TARGET repl)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_divisions_python ${Python3_EXECUTABLE})
  else()
    set(hcp_divisions_python python3)
  endif()
  add_test(NAME divisions
    COMMAND ${hcp_divisions_python} ${CMAKE_CURRENT_LIST_DIR}/test_divisions.py
            $<TARGET_FILE:hcp-node> $<TARGET_FILE:hcp-gateway> ${CMAKE_BINARY_DIR}/certs/hcp-certs
            $<TARGET_FILE:repl_client>
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(divisions PROPERTIES LABELS system TIMEOUT 120
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
