# feed: the gateway's public disclosure feed (tests/system/test_feed.py):
# a gateway and two county nodes over plain tcp:// (--insecure); real-time
# JSON and Atom, filters and paging, conditional GET, and no personal data
# in any public response. Included from tests/system/CMakeLists.txt.
if(TARGET hcp-node AND TARGET hcp-gateway)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_feed_python ${Python3_EXECUTABLE})
  else()
    set(hcp_feed_python python3)
  endif()
  add_test(NAME feed
    COMMAND ${hcp_feed_python} ${CMAKE_CURRENT_LIST_DIR}/test_feed.py
            $<TARGET_FILE:hcp-node> $<TARGET_FILE:hcp-gateway>
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(feed PROPERTIES LABELS system TIMEOUT 180
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
