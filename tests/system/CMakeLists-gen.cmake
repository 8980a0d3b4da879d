# gen: tools/hcp-gen (the data generator of `make demo` and the benchmarks)
# runs a few seconds against one real hcp-node and must leave cases at several
# stages of handling (tests/system/test_gen.py). Included from
# tests/system/CMakeLists.txt; needs hcp-node.
if(TARGET hcp-node)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_gen_python ${Python3_EXECUTABLE})
  else()
    set(hcp_gen_python python3)
  endif()
  add_test(NAME gen
    COMMAND ${hcp_gen_python} ${CMAKE_CURRENT_LIST_DIR}/test_gen.py
            $<TARGET_FILE:hcp-node> ${PROJECT_SOURCE_DIR}/tools/hcp-gen
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(gen PROPERTIES LABELS system TIMEOUT 120
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
