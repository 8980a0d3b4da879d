# feed_schema: the public feed checked by third-party tools
# (tests/system/test_feed_schema.py): GET /feed/requests.json against the JSON
# Schema docs/feed.schema.json with ajv, GET /feed/atom.xml through the
# feedparser npm package, both via tests/feedcheck/check.js. The test copies
# tests/feedcheck into the build tree (HCP_FEEDCHECK_DIR) and runs `npm ci`
# there; it installs Debian's nodejs and npm when npm is missing
# (scripts/deps.sh node) and exits 77 (skipped) when npm cannot reach its
# registry. Included from tests/system/CMakeLists.txt.
if(TARGET hcp-gateway AND TARGET hcp-node)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_feed_schema_python ${Python3_EXECUTABLE})
  else()
    set(hcp_feed_schema_python python3)
  endif()
  add_test(NAME feed_schema
    COMMAND ${hcp_feed_schema_python} ${CMAKE_CURRENT_LIST_DIR}/test_feed_schema.py
            $<TARGET_FILE:hcp-node> $<TARGET_FILE:hcp-gateway>
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(feed_schema PROPERTIES LABELS system TIMEOUT 300 SKIP_RETURN_CODE 77
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1;HCP_FEEDCHECK_DIR=${CMAKE_CURRENT_BINARY_DIR}/feedcheck")
endif()
