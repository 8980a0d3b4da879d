# test_format: the stores' data-format version and --version (daemon/
# format.h, version.h), cmocka against libhcpd; label unit (also run under
# ASan). Included by tests/CMakeLists.txt.
add_executable(test_format ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_format.c)
target_link_libraries(test_format PRIVATE hcpd PkgConfig::CMOCKA)
add_test(NAME test_format COMMAND test_format)
set_tests_properties(test_format PROPERTIES LABELS unit TIMEOUT 120)
