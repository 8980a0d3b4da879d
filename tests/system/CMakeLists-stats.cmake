# stats: the province's figures (tests/system/test_stats.py, docs/stats.md): a
# population made with a fixed seed through two county nodes, its Art. 11 lists,
# hot spots, summary and /feed/stats.json computed by the test and compared.
hcp_system_test(NAME stats SCRIPT test_stats.py TIMEOUT 300
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN})
