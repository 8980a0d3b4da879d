# page: the public disclosure page (gateway/www/index.html, GET / on
# hcp-gateway) in headless chromium (tests/system/test_page.py): against a
# stub feed always, and against a real gateway fed by two county nodes once
# the gateway serves /feed/requests.json. The test installs Debian's
# chromium when missing (scripts/deps.sh browser) and exits 77 (skipped)
# when it cannot. Included from tests/system/CMakeLists.txt.
if(TARGET hcp-gateway AND TARGET hcp-node)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_page_python ${Python3_EXECUTABLE})
  else()
    set(hcp_page_python python3)
  endif()
  add_test(NAME page
    COMMAND ${hcp_page_python} ${CMAKE_CURRENT_LIST_DIR}/test_page.py
            $<TARGET_FILE:hcp-node> $<TARGET_FILE:hcp-gateway>
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(page PROPERTIES LABELS system TIMEOUT 240 SKIP_RETURN_CODE 77
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
