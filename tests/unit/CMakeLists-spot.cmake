# Spot checks (issue #15; docs/spotchecks.md): test_sample checks the draw
# of core/sample.h — its bytes, consistency, prefix property, the
# population's leaf rule, and a chi-square test of equal probability.
# Included by tests/CMakeLists.txt.
hcp_unit_test(test_sample)
hcp_unit_test(test_reopen) # the re-open by a failed finding (core/rules.c)
