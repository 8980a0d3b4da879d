# case_numbers: a refused request takes no case number
# (tests/system/test_case_numbers.py). Included from
# tests/system/CMakeLists.txt; needs hcp-node.
if(TARGET hcp-node)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_numbers_python ${Python3_EXECUTABLE})
  else()
    set(hcp_numbers_python python3)
  endif()
  add_test(NAME case_numbers
    COMMAND ${hcp_numbers_python} ${CMAKE_CURRENT_LIST_DIR}/test_case_numbers.py
            $<TARGET_FILE:hcp-node>
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(case_numbers PROPERTIES LABELS system TIMEOUT 120
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
