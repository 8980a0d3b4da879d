# test_session: the console sessions' table, CSRF compare and Cookie parser
# (daemon/session.h, docs/consoles.md), cmocka against libhcpd; label unit
# (also run under ASan). Included by tests/CMakeLists.txt.
add_executable(test_session ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_session.c)
target_link_libraries(test_session PRIVATE hcpd PkgConfig::CMOCKA)
add_test(NAME test_session COMMAND test_session)
set_tests_properties(test_session PROPERTIES LABELS unit TIMEOUT 120)
