# metrics: GET /metrics of hcp-gateway and hcp-node after replication over
# mutual TLS, checked by `promtool check metrics` and by value; the alert
# rules by `promtool check rules` and `promtool test rules`; the Grafana
# dashboard by a schema check whose queries name only exposed metrics
# (tests/system/test_metrics.py, docs/operations.md). promtool: Debian
# package prometheus (scripts/deps.sh metrics); skipped (77) without it.
hcp_system_test(NAME metrics SCRIPT test_metrics.py TIMEOUT 300
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} ${HCP_CERTS_BIN}
  PROPERTIES SKIP_RETURN_CODE 77)
