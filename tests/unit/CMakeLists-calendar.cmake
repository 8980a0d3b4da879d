# The federation calendar (issue #13; docs/calendar.md "The federation
# calendar"): test_calver (core/calver.h, libhcpcore), test_node_calendar
# (node/calendar_fed.h against a real temporary LMDB) and
# test_calendar_both (the same version applied at a node store and a
# gateway store: every open case's deadlines compared). Label unit, so
# they run under ASan too. Included by tests/CMakeLists.txt.
hcp_unit_test(test_calver)
target_include_directories(test_calver PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
