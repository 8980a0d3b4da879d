# test_monthly: the monthly form's writer (daemon/monthly.h, docs/reports.md),
# cmocka against libhcpd; label unit (also run under ASan). Included by
# tests/CMakeLists.txt.
add_executable(test_monthly ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_monthly.c)
target_link_libraries(test_monthly PRIVATE hcpd PkgConfig::CMOCKA)
add_test(NAME test_monthly COMMAND test_monthly)
set_tests_properties(test_monthly PROPERTIES LABELS unit TIMEOUT 120)
# test_gw_report: the row of the form the gateway keeps per case (rp_form,
# gateway/report.h) equals one rendered afresh after every kind of step.
add_executable(test_gw_report ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_gw_report.c)
target_link_libraries(test_gw_report PRIVATE hcpgw PkgConfig::CMOCKA)
target_compile_options(test_gw_report PRIVATE -Wmissing-prototypes)
add_test(NAME test_gw_report COMMAND test_gw_report)
set_tests_properties(test_gw_report PROPERTIES LABELS unit TIMEOUT 120)
