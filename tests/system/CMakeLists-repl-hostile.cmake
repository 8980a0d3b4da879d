# repl_hostile: the replication port against a hostile peer
# (tests/system/test_repl_hostile.py): hellos for another county, with a
# made-up or too large head, thousands of invented county codes, a revoked
# certificate, idle TCP, half-done TLS handshakes and silent connections,
# and a certificate revoked while the gateway runs. repl_client.c is the
# peer (it speaks the node protocol with a given certificate). Included
# from tests/system/CMakeLists.txt; needs both daemons and hcp-certs.
if(TARGET hcp-node AND TARGET hcp-gateway AND TARGET repl)
  add_executable(repl_client ${CMAKE_CURRENT_LIST_DIR}/repl_client.c)
  target_link_libraries(repl_client PRIVATE repl hcpcore nng::nng PkgConfig::MSGPACK)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_hostile_python ${Python3_EXECUTABLE})
  else()
    set(hcp_hostile_python python3)
  endif()
  add_test(NAME repl_hostile
    COMMAND ${hcp_hostile_python} ${CMAKE_CURRENT_LIST_DIR}/test_repl_hostile.py
            $<TARGET_FILE:hcp-node> $<TARGET_FILE:hcp-gateway> ${CMAKE_BINARY_DIR}/certs/hcp-certs
            $<TARGET_FILE:repl_client>
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(repl_hostile PROPERTIES LABELS system TIMEOUT 240
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
