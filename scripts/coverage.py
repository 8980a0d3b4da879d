#!/usr/bin/env python3
"""coverage.py — line coverage of source directories by the tests that ran
in a gcc --coverage build (`make coverage`; the Makefile's header says how).

Usage: scripts/coverage.py BUILD_DIR DIR...   (e.g. build-cov core node gateway)

Prints, for each DIR, the lines executed out of the executable lines of its
C files, then the same per file. gcovr (Debian's package) reads the .gcda
files when it is installed; otherwise gcov itself does (`gcov --json-format
--stdout`), and the counts of a source compiled into several objects (a
library and a test, say) are merged line by line. A file no test reached
counts with all its lines unexecuted when gcovr reads; with plain gcov it
is listed as "no data". Standard library only.
"""
import collections
import gzip
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def gcovr_lines(build, dirs):
    """{source path relative to ROOT: {line: hit count}} from gcovr's JSON."""
    filters = []
    for d in dirs:
        filters += ["--filter", os.path.join(ROOT, d) + "/"]
    p = subprocess.run(["gcovr", "--root", ROOT, "--object-directory", build, "--json", "-"] +
                       filters, capture_output=True, text=True, cwd=ROOT)
    if p.returncode != 0:
        raise RuntimeError("gcovr failed (exit %d): %s" % (p.returncode, p.stderr[-2000:]))
    out = {}
    for f in json.loads(p.stdout)["files"]:
        lines = out.setdefault(f["file"], {})
        for ln in f["lines"]:
            if ln.get("gcovr/noncode"):
                continue
            lines[ln["line_number"]] = lines.get(ln["line_number"], 0) + ln["count"]
    return out


def gcov_lines(build, dirs):
    """The same from gcov's JSON, one .gcda at a time, merged per line."""
    out = collections.defaultdict(dict)
    for top, _, names in os.walk(build):
        for name in names:
            if not name.endswith(".gcda"):
                continue
            p = subprocess.run(["gcov", "--json-format", "--stdout", os.path.join(top, name)],
                               capture_output=True, cwd=top)
            if p.returncode != 0:
                continue
            data = p.stdout
            if data[:2] == b"\x1f\x8b":
                data = gzip.decompress(data)
            for chunk in data.decode("utf-8", "replace").splitlines():
                if not chunk.strip():
                    continue
                for f in json.loads(chunk).get("files", []):
                    path = os.path.relpath(os.path.abspath(os.path.join(top, f["file"])), ROOT)
                    if path.split(os.sep)[0] not in dirs or not path.endswith(".c"):
                        continue
                    lines = out[path]
                    for ln in f["lines"]:
                        n = ln["line_number"]
                        lines[n] = lines.get(n, 0) + ln["count"]
    return out


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__.split("\n\n")[1])
    build, dirs = os.path.abspath(sys.argv[1]), sys.argv[2:]
    tool = "gcovr" if shutil.which("gcovr") else "gcov"
    try:
        lines = gcovr_lines(build, dirs) if tool == "gcovr" else gcov_lines(build, dirs)
    except Exception as e:  # gcovr 5.2 cannot parse some of gcc 12's gcov lines
        if tool != "gcovr":
            raise
        print("coverage: gcovr failed (%s); reading with gcov instead" % str(e).splitlines()[0][:200],
              file=sys.stderr)
        tool = "gcov"
        lines = gcov_lines(build, dirs)
    per_dir = {d: [0, 0] for d in dirs}
    rows = []
    for path in sorted(lines):
        hit = sum(1 for c in lines[path].values() if c > 0)
        total = len(lines[path])
        d = path.split(os.sep)[0]
        if d in per_dir:
            per_dir[d][0] += hit
            per_dir[d][1] += total
        rows.append((path, hit, total))
    print("line coverage by the C unit tests (ctest -L unit), read by %s" % tool)
    print("%-40s %8s %8s %7s" % ("directory", "executed", "lines", "cover"))
    for d in dirs:
        hit, total = per_dir[d]
        print("%-40s %8d %8d %6.1f%%" % (d + "/", hit, total, 100.0 * hit / total if total else 0))
    print()
    print("%-40s %8s %8s %7s" % ("file", "executed", "lines", "cover"))
    for path, hit, total in rows:
        print("%-40s %8d %8d %6.1f%%" % (path, hit, total, 100.0 * hit / total if total else 0))
    seen = set(lines)
    for d in dirs:
        for name in sorted(os.listdir(os.path.join(ROOT, d))):
            path = os.path.join(d, name)
            if name.endswith(".c") and path not in seen:
                print("%-40s  no data (no test reached it)" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
