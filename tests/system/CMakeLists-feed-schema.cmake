# feed_schema: the public feed checked by third-party tools
# (tests/system/test_feed_schema.py): GET /feed/requests.json against the JSON
# Schema docs/feed.schema.json with ajv, GET /feed/atom.xml through the
# feedparser npm package, both via tests/feedcheck/check.js. The test copies
# tests/feedcheck into the build tree (HCP_FEEDCHECK_DIR) and runs `npm ci`
# there; it installs Debian's nodejs and npm when npm is missing
# (scripts/deps.sh node) and exits 77 (skipped) when npm cannot reach its
# registry.
hcp_system_test(NAME feed_schema SCRIPT test_feed_schema.py TIMEOUT 300
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} PROPERTIES SKIP_RETURN_CODE 77
  ENV HCP_FEEDCHECK_DIR=${CMAKE_CURRENT_BINARY_DIR}/feedcheck)
