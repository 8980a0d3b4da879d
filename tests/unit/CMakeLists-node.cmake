# The node's unit tests (tests/unit/test_node_*.c): cmocka, linked to the
# hcpnode library (node/CMakeLists.txt), label unit so that they run under
# ASan too. Included by tests/CMakeLists.txt.
foreach(name test_node_config test_node_query test_node_store)
  add_executable(${name} ${CMAKE_CURRENT_SOURCE_DIR}/unit/${name}.c)
  target_include_directories(${name} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
  target_link_libraries(${name} PRIVATE hcpnode PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS unit TIMEOUT 120)
endforeach()
