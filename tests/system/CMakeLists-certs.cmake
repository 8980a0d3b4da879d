# hcp-certs (certs/): init/gateway/node/revoke/crl checked with the openssl command — modes, names,
# chain and CRL verification, a mutual-TLS 1.2 handshake. Needs only the script and openssl, not
# hcp-node, so include this fragment before any early return() for a missing hcp-node target.
if(NOT DEFINED hcp_python)
  set(hcp_python python3)
endif()
add_test(NAME certs
  COMMAND ${hcp_python} ${CMAKE_CURRENT_SOURCE_DIR}/test_certs.py ${CMAKE_BINARY_DIR}/certs/hcp-certs
  WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
set_tests_properties(certs PROPERTIES LABELS system TIMEOUT 120
  ENVIRONMENT "PYTHONDONTWRITEBYTECODE=1")
