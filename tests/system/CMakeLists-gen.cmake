# gen: tools/hcp-gen (the data generator of `make demo` and the benchmarks)
# runs a few seconds against one real hcp-node and must leave cases at several
# stages of handling (tests/system/test_gen.py).
hcp_system_test(NAME gen SCRIPT test_gen.py
  ARGS ${HCP_NODE_BIN} ${PROJECT_SOURCE_DIR}/tools/hcp-gen)
