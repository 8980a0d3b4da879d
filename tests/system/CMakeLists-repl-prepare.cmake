# repl_prepare: batches decoded and chain-checked on the gateway's receiving
# threads are answered as the writer alone answered them: a wrong hash or an
# undecodable record in the middle of a signed batch is `malformed`, the
# events before it applied (tests/system/test_repl_prepare.py; the batches
# made by repl_client's `cases` mode).
hcp_system_test(NAME repl_prepare SCRIPT test_repl_prepare.py TIMEOUT 120
  ARGS ${HCP_GATEWAY_BIN} ${HCP_CERTS_BIN} ${HCP_REPL_CLIENT_BIN})
