# C unit tests of hcp-gateway (tests/unit/test_gw_*.c), linked to the
# gateway's library hcpgw (gateway/CMakeLists.txt); label unit, so they
# also run under ASan+UBSan. Included by tests/CMakeLists.txt.
foreach(t test_gw_config test_gw_park test_gw_feed_entry test_gw_feed_query test_gw_checks test_gw_stats
  test_gw_feed_counts test_gw_feed_cache test_gw_feed_marks test_gw_log)
  add_executable(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.c)
  target_link_libraries(${t} PRIVATE hcpgw PkgConfig::CMOCKA)
  target_compile_options(${t} PRIVATE -Wmissing-prototypes)
  add_test(NAME ${t} COMMAND ${t})
  set_tests_properties(${t} PROPERTIES LABELS unit TIMEOUT 120)
endforeach()

# test_gw_www: the table of the public page's embedded files (gateway/www.h).
add_executable(test_gw_www ${CMAKE_CURRENT_LIST_DIR}/test_gw_www.c)
target_link_libraries(test_gw_www PRIVATE hcpgw PkgConfig::CMOCKA)
target_compile_options(test_gw_www PRIVATE -Wmissing-prototypes)
add_test(NAME test_gw_www COMMAND test_gw_www)
set_tests_properties(test_gw_www PROPERTIES LABELS unit TIMEOUT 120)
