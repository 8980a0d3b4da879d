# hcp-certs (certs/): init/gateway/node/revoke/crl checked with the openssl command — modes, names,
# chain and CRL verification, a mutual-TLS 1.2 handshake. Needs only the script and openssl.
hcp_system_test(NAME certs SCRIPT test_certs.py ARGS ${HCP_CERTS_BIN})
