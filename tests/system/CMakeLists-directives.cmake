# directives: province -> county directives over mutual TLS
# (tests/system/test_directives.py, docs/directives.md): a correction about
# a case applied once at its county, answered, shown at both ends; a type no
# node knows refused everywhere; restarts apply nothing twice.
hcp_system_test(NAME directives SCRIPT test_directives.py TIMEOUT 180
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} ${HCP_CERTS_BIN})
