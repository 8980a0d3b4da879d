# hcp — front door. Every target first installs missing Debian packages.
#   make demo   run a whole local federation (gateway + Qinghai's county nodes)
#   make test   the style gate first, then build, run every test through
#               ctest, then the unit tests, the fuzz targets and the daemons'
#               tests under ASan+UBSan, and the daemons' tests under
#               ThreadSanitizer (what CI runs)
#   make style  the style gate alone (scripts/style.sh): fails on any drift
#               from .clang-format in a tracked *.c/*.h and on any clang-tidy
#               finding (.clang-tidy; every finding an error) in core/ daemon/
#               node/ gateway/ replication/ certs/, STYLE_JOBS files at once;
#               `make format` fixes the format
#   make coverage  line coverage of core/, node/ and gateway/ by the C unit
#               tests: a gcc --coverage build in $(COV_BUILD)/, `ctest -L unit`
#               there, then gcovr (Debian's package, installed by scripts/
#               deps.sh coverage) or scripts/coverage.py (plain gcov) writes
#               a summary per directory and per file to $(COV_BUILD)/coverage.txt
#   make bench  run the benchmarks, print a table, write build/bench/results.json
#   make check  quick: build and run the tests once, no sanitizers, no fuzzing
#   make fuzz-long  every fuzz target for FUZZ_RUNS executions, one at a time
#   make package  the Debian packages hcp-node, hcp-gateway, hcp-tools
#               (debian/, dpkg-buildpackage) in $(PKG_OUT)/, version from git
#               describe or HCP_PKG_VERSION (scripts/package.sh; installing
#               and running them: docs/operations.md)
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
BUILD       ?= build
ASAN_BUILD  ?= build-asan
TSAN_BUILD  ?= build-tsan
FUZZ_SECONDS ?= 60
FUZZ_BUILD  ?= build-fuzz
FUZZ_RUNS   ?= 10000000
FUZZ_TARGETS ?= codec repl_frame intake step redact feed_entry
CMAKE_FLAGS ?=
STYLE_JOBS  ?= $(JOBS)
COV_BUILD   ?= build-cov
PKG_OUT     ?= $(BUILD)/package

.PHONY: all deps build configure check test style test-asan check-tsan fuzz-long demo bench \
        format tidy coverage clean package

all: build

deps:
	@bash scripts/deps.sh

configure: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHCP_WERROR=ON $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j $(JOBS)

# The system tests also drive headless Chromium, an npm feed checker and
# Go's transparency-log verifier, nginx and promtool (the metrics test):
# their packages are installed here, before ctest's timeouts start.
check: build
	@bash scripts/deps.sh browser node go web metrics
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test: style check test-asan check-tsan

# The style gate needs only the compile commands of a configured build.
style: configure
	@bash scripts/style.sh $(BUILD) $(STYLE_JOBS)

# Unit tests, the decoder fuzz targets and the daemons' API tests, built by
# clang with ASan+UBSan (LeakSanitizer checks every daemon's exit).
test-asan: deps
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHCP_WERROR=ON \
	  -DHCP_SANITIZE=ON -DHCP_FUZZ=ON -DHCP_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ctest --output-on-failure -j $(JOBS) -L 'unit|fuzz'
	@cd $(ASAN_BUILD) && LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ctest --output-on-failure -j $(JOBS) -R '^(test_node_api|test_node_ops|test_node_privacy|repl|http_limits|repl_hostile|accounts|freetext_privacy|case_numbers|rules_hold|directives|gateway_checks|calendar_fed|calendar_restore|case_number_gaps|tlog|tlog_rebuild|monthly|contacts|feed|publish|metrics|stats|spotcheck|repl_zstd|console_node|spotpage|console_gateway|form_rows)$$'

# The daemons' API and replication tests built with ThreadSanitizer: a race
# makes the daemon exit 66 at its stop, which every test checks.
TSAN_TESTS ?= ^(test_node_api|test_node_ops|test_node_privacy|repl|repl_hostile|accounts|freetext_privacy|directives|contacts|metrics|spotcheck|repl_zstd|form_rows|monthly)$$
check-tsan: deps
	@CC=clang cmake -S . -B $(TSAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHCP_WERROR=ON -DHCP_TSAN=ON >/dev/null
	@cmake --build $(TSAN_BUILD) -j $(JOBS)
	@cd $(TSAN_BUILD) && TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 suppressions=$(CURDIR)/tests/tsan.supp" \
	  ctest --output-on-failure -j $(JOBS) -R '$(TSAN_TESTS)'

# The long fuzz run (docs/fuzz.md): ASan+UBSan like test-asan but optimised
# (RelWithDebInfo), each target for FUZZ_RUNS executions, one after the
# other, new inputs kept in $(FUZZ_BUILD)/fuzz-long/<target>/, a crash as
# $(FUZZ_BUILD)/fuzz-long/crash-*. The final stats go to <target>.log there.
fuzz-long: deps
	@CC=clang cmake -S . -B $(FUZZ_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHCP_WERROR=ON \
	  -DHCP_SANITIZE=ON -DHCP_FUZZ=ON >/dev/null
	@cmake --build $(FUZZ_BUILD) -j $(JOBS) --target $(addprefix fuzz_,$(FUZZ_TARGETS))
	@set -e; mkdir -p $(FUZZ_BUILD)/fuzz-long; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_BUILD)/fuzz-long/$$t; \
	  echo "== fuzz_$$t: $(FUZZ_RUNS) runs"; \
	  $(FUZZ_BUILD)/tests/fuzz_$$t -runs=$(FUZZ_RUNS) -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(FUZZ_BUILD)/fuzz-long/ $(FUZZ_BUILD)/fuzz-long/$$t \
	    tests/fuzz/corpus/$$t >$(FUZZ_BUILD)/fuzz-long/$$t.log 2>&1 \
	    || { tail -40 $(FUZZ_BUILD)/fuzz-long/$$t.log; exit 1; }; \
	  grep -E '^stat::|^Done|cov:' $(FUZZ_BUILD)/fuzz-long/$$t.log | tail -8; \
	done

demo: build
	@bash scripts/demo.sh $(BUILD)

bench: deps
	@bash scripts/deps.sh bench web
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DHCP_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@bash bench/run.sh $(BUILD)

package: deps
	@JOBS=$(JOBS) bash scripts/package.sh $(PKG_OUT)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

tidy: configure
	@clang-tidy -p $(BUILD) --quiet $$(git ls-files 'core/*.c' 'daemon/*.c' 'node/*.c' 'gateway/*.c' 'replication/*.c' 'certs/*.c')

# Coverage of the C tests: only the unit label runs (the system tests drive
# the daemons from Python and would hide what the C tests leave untested).
coverage: deps
	@bash scripts/deps.sh coverage || echo "coverage: no gcovr; scripts/coverage.py reports instead"
	@CC=gcc cmake -S . -B $(COV_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHCP_WERROR=ON \
	  -DCMAKE_C_FLAGS="--coverage -fprofile-update=atomic $(COV_CFLAGS)" -DCMAKE_EXE_LINKER_FLAGS=--coverage $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(COV_BUILD) -j $(JOBS)
	@find $(COV_BUILD) -name '*.gcda' -delete
	@cd $(COV_BUILD) && ctest --output-on-failure -j $(JOBS) -L unit
	@python3 scripts/coverage.py $(COV_BUILD) core node gateway >$(COV_BUILD)/coverage.txt
	@cat $(COV_BUILD)/coverage.txt

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD) $(COV_BUILD)
