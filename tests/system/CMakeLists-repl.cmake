# repl: county nodes replicate to hcp-gateway over mutual TLS on loopback
# (tests/system/test_repl.py): certificates from hcp-certs, three counties
# converge with identical cases, an offline node catches up, a node holding
# another county's certificate is refused. Included from
# tests/system/CMakeLists.txt; needs both daemons.
if(TARGET hcp-node AND TARGET hcp-gateway)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_repl_python ${Python3_EXECUTABLE})
  else()
    set(hcp_repl_python python3)
  endif()
  add_test(NAME repl
    COMMAND ${hcp_repl_python} ${CMAKE_CURRENT_LIST_DIR}/test_repl.py
            $<TARGET_FILE:hcp-node> $<TARGET_FILE:hcp-gateway> ${CMAKE_BINARY_DIR}/certs/hcp-certs
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(repl PROPERTIES LABELS system TIMEOUT 240
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
