#!/usr/bin/env bash
# The style gate of `make style` (and so of `make test`): fails when a
# tracked C file drifts from .clang-format, or when clang-tidy (.clang-tidy,
# every finding an error) finds anything in the daemons' and the libraries'
# C files, or when an include breaks the layering (scripts/layers.py).
# Prints every finding, then a count per file.
# Usage: scripts/style.sh BUILD_DIR [JOBS]   (BUILD_DIR holds compile_commands.json)
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/style.sh BUILD_DIR [JOBS]}
jobs=${2:-2}
tidy_dirs=(core daemon node gateway replication certs verify)

if [ ! -f "$build/compile_commands.json" ]; then
  echo "style.sh: $build/compile_commands.json missing (configure with cmake first)" >&2
  exit 2
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "== clang-format --dry-run --Werror (every tracked *.c, *.h)"
git ls-files -z '*.c' '*.h' | xargs -0 clang-format --dry-run --Werror >"$out/format.log" 2>&1
format_rc=$?
cat "$out/format.log"

echo "== layers (scripts/layers.py: core <- replication, daemon <- node, gateway; no include cycle)"
python3 scripts/layers.py .
layers_rc=$?

echo "== clang-tidy, findings are errors (${tidy_dirs[*]}; $jobs in parallel)"
pathspecs=()
for d in "${tidy_dirs[@]}"; do pathspecs+=("$d/*.c"); done
# One clang-tidy per file, its output kept apart so that parallel runs do
# not interleave; a file's log is printed whole afterwards.
git ls-files -z -- "${pathspecs[@]}" |
  xargs -0 -P "$jobs" -I{} sh -c \
    'f=$1; log=$2/tidy-$(printf %s "$f" | tr / _).log
     clang-tidy -p "$3" --quiet --warnings-as-errors="*" "$f" >"$log" 2>&1 || echo "$f" >>"$2/tidy-failed"' \
    _ {} "$out" "$build"
tidy_rc=0
[ -s "$out/tidy-failed" ] && tidy_rc=1
for log in "$out"/tidy-*.log; do
  [ -e "$log" ] || continue
  grep -E '^[^ ].*:[0-9]+:[0-9]+: (error|warning):' -A3 "$log" || true
done

echo "== findings per file"
{
  grep -hoE '^[^ :]+\.[ch]:[0-9]+:[0-9]+: (error|warning)' "$out/format.log" |
    sed -E 's/:[0-9]+:[0-9]+: .*//; s/$/ (clang-format)/'
  cat "$out"/tidy-*.log 2>/dev/null | grep -hoE '^[^ :]+\.[ch]:[0-9]+:[0-9]+: (error|warning)' |
    sed -E 's/:[0-9]+:[0-9]+: .*//; s|^'"$PWD"'/||; s/$/ (clang-tidy)/'
} | sort | uniq -c | sort -rn
if [ -s "$out/tidy-failed" ]; then
  # a file whose run failed without a located finding (a compile error, say)
  while read -r f; do
    log="$out/tidy-$(printf %s "$f" | tr / _).log"
    if ! grep -q ': error:' "$log"; then
      echo "      ? $f (clang-tidy failed without a finding):"
      tail -5 "$log"
    fi
  done <"$out/tidy-failed"
fi

if [ $format_rc -ne 0 ] || [ $tidy_rc -ne 0 ] || [ $layers_rc -ne 0 ]; then
  echo "style: FAILED (clang-format exit $format_rc, layers exit $layers_rc, clang-tidy $( [ $tidy_rc -eq 0 ] && echo clean || echo 'has findings')); 'make format' fixes the format"
  exit 1
fi
echo "style: clean"
