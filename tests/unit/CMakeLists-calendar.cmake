# The federation calendar (issue #13; docs/calendar.md "The federation
# calendar"): test_calver (core/calver.h, libhcpcore) and test_calendar_both
# (node/calendar_fed.h and gateway/calendar_fed.h against real temporary
# LMDB stores: the handlers, their refusals, the start-up refusal, and the
# same version applied at a node store and a gateway store, every case's
# deadlines compared). Label unit, so they run under ASan too. Included by tests/CMakeLists.txt.
hcp_unit_test(test_calver)
target_include_directories(test_calver PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
if(TARGET hcpnode AND TARGET hcpgw)
  add_executable(test_calendar_both ${CMAKE_CURRENT_LIST_DIR}/test_calendar_both.c)
  target_include_directories(test_calendar_both PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  target_link_libraries(test_calendar_both PRIVATE hcpnode hcpgw PkgConfig::CMOCKA)
  target_compile_options(test_calendar_both PRIVATE -Wmissing-prototypes)
  add_test(NAME test_calendar_both COMMAND test_calendar_both)
  set_tests_properties(test_calendar_both PROPERTIES LABELS unit TIMEOUT 120)
endif()
