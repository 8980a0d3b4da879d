#!/usr/bin/env bash
# Install the Debian packages hcp needs, and only those that are missing.
# Called by every top-level make target; safe to run again (it does nothing
# when everything is present). Needs root (or sudo) only when something is missing.
set -euo pipefail

# build: compiler, build system, the libraries (OpenSSL's libcrypto for
# librepl's signatures; libcurl for hcp-verify reading a URL; libzstd for
# replication's compressed batches), JSON, unit tests
pkgs=(build-essential cmake pkg-config clang libclang-rt-14-dev
      libuv1-dev libhttp-parser-dev libnng-dev libmsgpack-dev liblmdb-dev libmbedtls-dev libssl-dev
      libjansson-dev libcmocka-dev libcurl4-openssl-dev libzstd-dev python3 openssl clang-format clang-tidy
      libxlsxwriter-dev python3-openpyxl # the monthly form's XLSX; reading it back in its test
      zlib1g-dev) # the monthly form gzipped for clients that accept it
# extra groups: "bench" adds the load generator, "browser" the headless
# browser the disclosure page's system test drives, "node" Node.js and npm
# for the feed's schema and feed-parser test (only when no npm is on PATH,
# so a Node.js installed otherwise is left alone), "go" Go and Debian's
# golang.org/x/mod sources (the transparency log's independent verifier,
# tests/interop/, built offline), "office" LibreOffice headless for the
# monthly form's second reader (test_monthly), "coverage" gcovr for
# `make coverage`, "package" the Debian packaging tools (`make package`) and
# lintian (the package test lints the .debs), "metrics" promtool (Debian
# prometheus, ~96 MB installed) for the metrics test's checks of both
# /metrics, the alert rules and the dashboard,
# "web" nginx, which serves the files of `hcp-gateway publish` in its system
# test and benchmark (docs/transparency.md "Publishing")
for group in "$@"; do
  case "$group" in
    # bench: wrk, the load generator; the peers stage (bench/peers/, issue #18):
    # PostgreSQL 15 and psycopg2 (logical replication), nats-server and Go with
    # Debian's nats.go (JetStream leaf nodes; bench/peers/natspeer built offline)
    bench) pkgs+=(wrk postgresql-15 python3-psycopg2 nats-server golang-go
                  golang-github-nats-io-go-nats-dev) ;;
    browser) pkgs+=(chromium fonts-wqy-microhei) ;; # the page test: browser, CJK font for screenshots
    go) pkgs+=(golang-go golang-golang-x-mod-dev) ;; # test_tlog_go.py
    node) command -v npm >/dev/null 2>&1 || pkgs+=(nodejs npm) ;;
    office) pkgs+=(libreoffice-calc-nogui) ;; # test_monthly converts the form's XLSX to CSV
    coverage) pkgs+=(gcovr) ;;
    package) pkgs+=(debhelper dpkg-dev help2man lintian) ;; # make package; lintian: the package test
    web) pkgs+=(nginx-light) ;; # hcp-gateway publish: test_publish.py, bench/publish_bench.py
    metrics) pkgs+=(prometheus) ;; # promtool: tests/system/test_metrics.py
    *) echo "deps.sh: unknown group '$group'" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps.sh: installing missing Debian packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
