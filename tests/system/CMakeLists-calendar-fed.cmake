# calendar_fed: one calendar for the federation (issue #13, finding 2;
# tests/system/test_calendar_fed.py): a gateway and a county node over plain
# tcp://; a gateway restarted with the right calendar recounts a wrong
# provisional deadline; an extension into a year the calendar does not
# cover is provisional at both ends and the feed says so in words; a
# published version recounts every open case to the same values at node
# and gateway (compared case by case); the node's dispute window and
# extensions follow it; a node refuses a --calendar that differs from the
# version it applied.
hcp_system_test(NAME calendar_fed SCRIPT test_calendar_fed.py TIMEOUT 240
  ARGS ${HCP_NODE_BIN} ${HCP_GATEWAY_BIN})
