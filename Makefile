# hcp — front door. Every target first installs missing Debian packages.
#   make demo   run a whole local federation (gateway + Qinghai's county nodes)
#   make test   build, run every test through ctest, then the unit tests and
#               the fuzz target under ASan+UBSan (what CI runs)
#   make bench  run the benchmarks, print a table, write build/bench/results.json
#   make check  quick: build and run the tests once, no sanitizers, no fuzzing
JOBS        ?= $(shell nproc 2>/dev/null || echo 2)
BUILD       ?= build
ASAN_BUILD  ?= build-asan
FUZZ_SECONDS ?= 60
CMAKE_FLAGS ?=

.PHONY: all deps build check test test-asan demo bench format tidy clean

all: build

deps:
	@bash scripts/deps.sh

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DHCP_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# The system tests also drive headless Chromium and an npm feed checker:
# their packages are installed here, before ctest's timeouts start.
check: build
	@bash scripts/deps.sh browser node
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test: check test-asan

# Unit tests, the decoder fuzz targets and the daemons' API tests, built by
# clang with ASan+UBSan (LeakSanitizer checks every daemon's exit).
test-asan: deps
	@CC=clang cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DHCP_WERROR=ON \
	  -DHCP_SANITIZE=ON -DHCP_FUZZ=ON -DHCP_FUZZ_SECONDS=$(FUZZ_SECONDS) >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ctest --output-on-failure -j $(JOBS) -L 'unit|fuzz'
	@cd $(ASAN_BUILD) && LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ctest --output-on-failure -j $(JOBS) -R '^(test_node_api|test_node_ops|test_node_privacy|repl|http_limits)$$'

demo: build
	@bash scripts/demo.sh $(BUILD)

bench: deps
	@bash scripts/deps.sh bench
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=Release -DHCP_WERROR=ON $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)
	@bash bench/run.sh $(BUILD)

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

tidy: build
	@clang-tidy -p $(BUILD) --quiet $$(git ls-files 'core/*.c' 'node/*.c' 'gateway/*.c' 'replication/*.c' 'certs/*.c')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
