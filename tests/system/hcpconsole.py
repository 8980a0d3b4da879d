"""hcpconsole.py — what the console browser tests (test_console_node.py,
test_console_gateway.py) share on the Python side: Node.js and npm, the npm
project tests/console (puppeteer-core; package.json, package-lock.json,
.npmrc, harness.js and the scripts) installed with `npm ci` in the build
tree, Debian's chromium and the CJK font, and running one of the project's
scripts against a daemon.

As tests/system/test_feed_schema.py does for tests/feedcheck: the project is
copied to $HCP_CONSOLE_DIR (ctest: BUILD/tests/system/console; else a
directory under the system's temporary directory) and installed there, never
in the source tree; the install is skipped when that copy already has the
same package files installed. npm missing is installed (scripts/deps.sh node,
as root), chromium and fonts-wqy-microhei likewise (scripts/deps.sh browser).
If npm cannot reach its registry, or a tool cannot be installed, the program
exits 77 (ctest: skipped) and says why.

Screenshots and downloads go to $HCP_CONSOLE_ARTIFACTS (ctest:
BUILD/tests/system/console-artifacts/<test>).
"""
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hcptest  # noqa: E402
from hcptest import tail  # noqa: E402

ROOT = hcptest.ROOT
SRC = os.path.join(ROOT, "tests", "console")
PACKAGE_FILES = ("package.json", "package-lock.json", ".npmrc")
# npm's words for a registry it could not reach
OFFLINE = re.compile(r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|"
                     r"EHOSTUNREACH|ERR_SOCKET_TIMEOUT|ESOCKETTIMEDOUT|E50[0-9]|network|"
                     r"getaddrinfo|proxy", re.I)

say = hcptest.sayer("console")


def have_cjk_font():
    p = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True)
    return p.returncode == 0 and "WenQuanYi Micro Hei" in p.stdout


def ensure_tools():
    """(node binary, npm binary, chromium binary): installs what is missing
    (deps.sh node / browser, as root) or exits 77."""
    hcptest.ensure_installed(lambda: shutil.which("npm"), "npm", "nodejs and npm", "node", say,
                             timeout=600)
    hcptest.ensure_installed(lambda: shutil.which("chromium") and shutil.which("fc-list")
                             and have_cjk_font(), "chromium and a CJK font",
                             "chromium fonts-wqy-microhei", "browser", say)
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        say("SKIPPED: npm is there but no node binary")
        sys.exit(hcptest.SKIP)
    return node, shutil.which("npm"), shutil.which("chromium")


def project_dir():
    """Where the npm project is installed: never inside the source tree."""
    d = os.environ.get("HCP_CONSOLE_DIR") or os.path.join(
        tempfile.gettempdir(), "hcp-console-%d" % os.getuid())
    d = os.path.abspath(d)
    if d == SRC or d.startswith(SRC + os.sep):
        raise AssertionError("HCP_CONSOLE_DIR must not be tests/console itself: %s" % d)
    return d


def install(npm):
    """Copy tests/console to project_dir() and `npm ci` there (unless that
    copy is installed already); returns the directory. Exits 77 when the
    registry cannot be reached."""
    d = project_dir()
    os.makedirs(d, exist_ok=True)
    digest = hashlib.sha256()
    for name in sorted(os.listdir(SRC)):
        src = os.path.join(SRC, name)
        if not os.path.isfile(src):
            continue
        with open(src, "rb") as f:
            data = f.read()
        if name in PACKAGE_FILES:
            digest.update(name.encode() + b"\0" + data + b"\0")
        shutil.copyfile(src, os.path.join(d, name))
    stamp = os.path.join(d, "node_modules", ".hcp-installed")
    want = digest.hexdigest()
    try:
        with open(stamp) as f:
            if f.read().strip() == want:
                say("npm project already installed in %s", d)
                return d
    except OSError:
        pass
    env = dict(os.environ, npm_config_update_notifier="false", npm_config_fund="false",
               npm_config_audit="false", npm_config_fetch_retries="1",
               npm_config_fetch_timeout="30000", npm_config_loglevel="warn",
               PUPPETEER_SKIP_DOWNLOAD="1")
    cmd = [npm, "ci", "--no-audit", "--no-fund", "--omit=dev"]
    say("%s (in %s)", " ".join(cmd), d)
    try:
        p = subprocess.run(cmd, cwd=d, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=300)
    except subprocess.TimeoutExpired:
        say("SKIPPED: npm ci did not finish in 300 s (registry unreachable?)")
        sys.exit(hcptest.SKIP)
    out = p.stdout + p.stderr
    if p.returncode != 0:
        if OFFLINE.search(out):
            say("SKIPPED: npm cannot reach its registry (%s):\n%s",
                env.get("npm_config_registry", "npm's configured registry"), tail(out))
            sys.exit(hcptest.SKIP)
        raise AssertionError("npm ci failed (exit %d):\n%s" % (p.returncode, tail(out)))
    with open(stamp, "w") as f:
        f.write(want + "\n")
    say("npm ci: %s", out.strip().splitlines()[-1] if out.strip() else "done")
    return d


def artifacts(name):
    """The directory for name's screenshots and downloads (made, emptied)."""
    base = os.environ.get("HCP_CONSOLE_ARTIFACTS") or os.path.join(os.getcwd(),
                                                                   "console-artifacts")
    d = os.path.join(os.path.abspath(base), name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


class Runner:
    """Runs scripts of the installed project: set up once per test program."""

    def __init__(self):
        self.node, npm, self.chromium = ensure_tools()
        self.dir = install(npm)

    def run(self, script, url, artifacts_dir, env=None, timeout=300):
        """node SCRIPT in the project with the harness's environment and
        env; returns (exit status, the JSON result line or None, stderr)."""
        e = dict(os.environ, HCP_CHROMIUM=self.chromium, HCP_CONSOLE_URL=url,
                 HCP_CONSOLE_ARTIFACTS=artifacts_dir)
        e.update(env or {})
        p = subprocess.run([self.node, os.path.join(self.dir, script)], cwd=self.dir, env=e,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
        result = None
        for line in reversed(p.stdout.strip().splitlines()):
            try:
                result = json.loads(line)
                break
            except ValueError:
                continue
        return p.returncode, result, p.stderr
