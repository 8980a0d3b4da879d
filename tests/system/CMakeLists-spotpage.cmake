# spotpage: the spot-check page (gateway/www/spotchecks.html, docs/spotchecks.md)
# in headless chromium (tests/system/test_spotpage.py): a gateway and two
# nodes, two draws and two findings; every number on the page equals
# /feed/spotchecks.json, the heading's Chinese glyphs are drawn with a CJK
# font, and a published static copy shows the same. Installs Debian's
# chromium and fonts-wqy-microhei when missing (scripts/deps.sh browser) and
# exits 77 (skipped) when it cannot. Screenshot: build/tests/system/spotpage.png.
hcp_system_test(NAME spotpage SCRIPT test_spotpage.py TIMEOUT 300
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN} PROPERTIES SKIP_RETURN_CODE 77)
