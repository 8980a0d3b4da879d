# http-limits: the limits every HTTP listener keeps (tests/system/
# test_http_limits.py): idle floods, idle and request timeouts, the
# connection cap, bodies on public routes, garbage, pipelining and malformed
# query values, on a real hcp-node and hcp-gateway. Included from
# tests/system/CMakeLists.txt.
if(TARGET hcp-node AND TARGET hcp-gateway)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_httplim_python ${Python3_EXECUTABLE})
  else()
    set(hcp_httplim_python python3)
  endif()
  add_test(NAME http_limits
    COMMAND ${hcp_httplim_python} ${CMAKE_CURRENT_LIST_DIR}/test_http_limits.py
            $<TARGET_FILE:hcp-node> $<TARGET_FILE:hcp-gateway>
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(http_limits PROPERTIES LABELS system TIMEOUT 180
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
