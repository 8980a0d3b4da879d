#!/usr/bin/env python3
"""The layering check of `make style`: every #include "..." of the C tree
resolves to one file, and

  core/ <- replication/, daemon/ <- node/, gateway/

each directory includes only its own headers and those of the layers below
it (node/ and gateway/ never each other), and no chain of includes between
headers leads back to where it started. Prints each violation; exit 1 when
there is one. Usage: scripts/layers.py [ROOT]"""
import os
import re
import sys

# Who may include whom (besides itself).
ALLOWED = {
    "core": set(),
    "replication": {"core"},
    "daemon": {"core"},
    "node": {"core", "replication", "daemon"},
    "gateway": {"core", "replication", "daemon"},
    "verify": {"core"},  # hcp-verify: public data only, the core's log and note code
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def headers_of(root):
    """Map a header's file name to its directories (must be one)."""
    found = {}
    for d in ALLOWED:
        for name in os.listdir(os.path.join(root, d)):
            if name.endswith(".h"):
                found.setdefault(name, []).append(d)
    return found


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    where = headers_of(root)
    bad = []
    for name, dirs in where.items():
        if len(dirs) > 1:
            bad.append(f"{name}: in {', '.join(dirs)} (one name, one file)")
    edges = {}
    for d in ALLOWED:
        for name in sorted(os.listdir(os.path.join(root, d))):
            if not name.endswith((".c", ".h")):
                continue
            path = f"{d}/{name}"
            with open(os.path.join(root, path), encoding="utf-8") as f:
                text = f.read()
            for inc in INCLUDE.findall(text):
                base = os.path.basename(inc)
                if base not in where:
                    continue  # generated (gen/…) or a system header in quotes
                to = where[base][0]
                if to != d and to not in ALLOWED[d]:
                    bad.append(f"{path}: includes {to}/{base} ({d}/ may include "
                               f"{', '.join(sorted(ALLOWED[d] | {d}))} only)")
                if name.endswith(".h"):
                    edges.setdefault(path, set()).add(f"{to}/{base}")
    # A cycle among headers: depth-first search with colours.
    colour = {}

    def visit(node, stack):
        colour[node] = 1
        for nxt in sorted(edges.get(node, ())):
            if colour.get(nxt) == 1:
                cyc = stack[stack.index(nxt):] + [nxt] if nxt in stack else [node, nxt]
                bad.append("include cycle: " + " -> ".join(cyc))
            elif colour.get(nxt) is None:
                visit(nxt, stack + [nxt])
        colour[node] = 2

    for node in sorted(edges):
        if colour.get(node) is None:
            visit(node, [node])
    for line in bad:
        print(f"layers: {line}")
    if not bad:
        print(f"layers: ok ({sum(len(v) for v in edges.values())} header includes, "
              f"{len(where)} headers, no cycle, no upward include)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
