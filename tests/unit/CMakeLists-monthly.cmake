# test_monthly: the monthly form's writer (daemon/monthly.h, docs/reports.md),
# cmocka against libhcpd; label unit (also run under ASan). Included by
# tests/CMakeLists.txt.
add_executable(test_monthly ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_monthly.c)
target_link_libraries(test_monthly PRIVATE hcpd PkgConfig::CMOCKA)
add_test(NAME test_monthly COMMAND test_monthly)
set_tests_properties(test_monthly PROPERTIES LABELS unit TIMEOUT 120)
