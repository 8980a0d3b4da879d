# full_disk: the gateway's and the node's data directory on a small tmpfs
# that fills up, then grows (tests/system/test_full_disk.py): both keep
# running, refuse what they cannot commit (storage_full), never acknowledge
# it, and resume by themselves when there is room. Needs root to mount a
# tmpfs: skipped (with the reason) otherwise. Included from
# tests/system/CMakeLists.txt; needs both daemons.
if(TARGET hcp-node AND TARGET hcp-gateway)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    set(hcp_disk_python ${Python3_EXECUTABLE})
  else()
    set(hcp_disk_python python3)
  endif()
  add_test(NAME full_disk
    COMMAND ${hcp_disk_python} ${CMAKE_CURRENT_LIST_DIR}/test_full_disk.py
            $<TARGET_FILE:hcp-node> $<TARGET_FILE:hcp-gateway>
    WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(full_disk PROPERTIES LABELS "system;fault" TIMEOUT 240
    SKIP_REGULAR_EXPRESSION "skipped 'SKIPPED:"
    ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
endif()
