# directive_faults: directives under the upward path's faults
# (tests/system/test_directive_faults.py, docs/directives.md): the gateway
# and a node SIGKILLed 20 times each and a proxy cutting connections while
# directives stream; each applied exactly once, in order, at every county.
hcp_system_test(NAME directive_faults SCRIPT test_directive_faults.py TIMEOUT 240
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} ${HCP_CERTS_BIN})
