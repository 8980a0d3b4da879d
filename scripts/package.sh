#!/usr/bin/env bash
# make package — the Debian packages hcp-node, hcp-gateway and hcp-tools,
# built from this tree with the standard tooling (debian/, dpkg-buildpackage,
# debhelper), in OUT (default build/package):
#   OUT/hcp/                the tree's files, copied (tracked and new, not
#                           ignored ones), with debian/changelog written for
#                           the version; its obj-*/ build is kept, so a second
#                           run rebuilds only what changed
#   OUT/*.deb               the packages (and dpkg-buildpackage's .changes,
#                           .buildinfo)
# The version is the build's (cmake/version.cmake: git describe, made into a
# Debian version) or HCP_PKG_VERSION. The checkout itself is never written.
# Usage: scripts/package.sh [OUT]; JOBS (default nproc) parallel jobs.
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(pwd -P)
out=${1:-build/package}
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
case "$out/" in
"$src/"build*/* | "$src"/build*) ;;
"$src/"*) echo "package.sh: OUT must be outside the tree or under build*/" >&2; exit 2 ;;
esac

bash scripts/deps.sh package

# the version: HCP_PKG_VERSION, else the one the build reports
if [ -n "${HCP_PKG_VERSION:-}" ]; then
    version=$HCP_PKG_VERSION
else
    tmp=$(mktemp -d)
    cmake -DSRC="$src" -DOUT="$tmp" -P cmake/version.cmake
    version=$(head -n 1 "$tmp/VERSION")
    rm -rf "$tmp"
fi
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~]*$ ]] ||
    { echo "package.sh: '$version' is not a Debian native version" >&2; exit 2; }

# the tree's files into OUT/hcp (tar keeps their times: unchanged files are
# not rebuilt); without git (a tarball), every file but the build trees
stage="$out/hcp"
mkdir -p "$stage"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
        while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
        tar --null -T - -cf - | tar -xf - -C "$stage"
else
    tar --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$stage"
fi

# debian/changelog for this version (one entry: the packages are built
# from the tree, not from a Debian archive's history)
cat >"$stage/debian/changelog" <<EOC
hcp ($version) unstable; urgency=medium

  * Built from the tree by make package (scripts/package.sh).

 -- hcp developers <hcp@hcp.invalid>  $(date -R)
EOC

# forget the previous run's packaging steps, keep its compiled objects
# (obj-*/): dh reruns the configure step, which passes the new version
(cd "$stage/debian" && rm -rf debhelper-build-stamp .debhelper tmp files ./*.substvars \
    ./*.debhelper.log hcp-node hcp-gateway hcp-tools)
rm -f "$out"/hcp-node_*.deb "$out"/hcp-gateway_*.deb "$out"/hcp-tools_*.deb \
    "$out"/hcp-*dbgsym_*.deb "$out"/hcp_*.changes "$out"/hcp_*.buildinfo

jobs=${JOBS:-$(nproc 2>/dev/null || echo 2)}
(cd "$stage" && DEB_BUILD_OPTIONS="parallel=$jobs ${DEB_BUILD_OPTIONS:-}" \
    dpkg-buildpackage -b -us -uc -nc >"$out/build.log" 2>&1) ||
    { tail -n 60 "$out/build.log"; echo "package.sh: dpkg-buildpackage failed ($out/build.log)" >&2; exit 1; }
echo "package.sh: hcp $version:"
ls -1 "$out"/*_"$version"_*.deb
