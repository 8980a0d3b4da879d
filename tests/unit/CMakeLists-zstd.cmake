# test_repl_zstd: compressed replication batches (replication/frame.c,
# docs/replication.md "Compression"): framing, bounds, hostile frames.
# cmocka against librepl, plus libzstd to craft frames; label unit (also
# run under ASan). Included by tests/CMakeLists.txt.
add_executable(test_repl_zstd ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_repl_zstd.c)
target_link_libraries(test_repl_zstd PRIVATE hcpcore repl PkgConfig::CMOCKA PkgConfig::ZSTD)
add_test(NAME test_repl_zstd COMMAND test_repl_zstd)
set_tests_properties(test_repl_zstd PROPERTIES LABELS unit TIMEOUT 120)
