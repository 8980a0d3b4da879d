# repl_zstd: compressed replication batches (tests/system/test_repl_zstd.py,
# docs/replication.md "Compression"): negotiated between new peers, not
# used with an old-style one (HCP_REPL_ZSTD=off) either way, compressed
# restore, hostile compressed frames (repl_client zbomb) refused.
hcp_system_test(NAME repl_zstd SCRIPT test_repl_zstd.py TIMEOUT 300
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} ${HCP_CERTS_BIN} ${HCP_REPL_CLIENT_BIN})
