// harness.js — what the console tests share (tests/console/node.js, gateway.js):
// Debian's chromium started headless through puppeteer-core (no browser is
// downloaded), signing in through a console's form, screenshots into the
// build tree's artifacts directory, the CJK-glyph check, file downloads, and
// a main() that reports one JSON line and the exit status.
//
// Environment (set by tests/system/hcpconsole.py):
//   HCP_CHROMIUM   the browser (default /usr/bin/chromium)
//   HCP_CONSOLE_ARTIFACTS  where screenshots and downloads go (made if missing)
//   HCP_CONSOLE_URL        the daemon's base URL, e.g. http://127.0.0.1:8701
//
// The sign-in form every console has (docs/consoles.md): inputs
// #signin-account and #signin-token, button #signin-submit, the message
// #signin-error; once signed in, <body data-account="NAME"> and the form is
// hidden; signed out (or the session ended), body has no data-account and
// the form shows again.
"use strict";

const fs = require("fs");
const path = require("path");
const assert = require("assert");
const puppeteer = require("puppeteer-core");

const ARTIFACTS = process.env.HCP_CONSOLE_ARTIFACTS || path.join(process.cwd(), "artifacts");
const BASE = (process.env.HCP_CONSOLE_URL || "").replace(/\/$/, "");
const WAIT = 20000; // ms a page may take to show what it must (a ceiling, never a measure)

// Log a line to stderr with the test's name.
function say(...args) {
  process.stderr.write("[console] " + args.join(" ") + "\n");
}

// chromium headless at 1366x768 in Chinese, with a profile of its own.
async function launch() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const profile = fs.mkdtempSync(path.join(require("os").tmpdir(), "hcp-console-chromium-"));
  const browser = await puppeteer.launch({
    executablePath: process.env.HCP_CHROMIUM || "/usr/bin/chromium",
    headless: true,
    userDataDir: profile,
    defaultViewport: { width: 1366, height: 768 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--lang=zh-CN", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
      "--disable-dev-shm-usage", "--window-size=1366,768"],
  });
  browser.hcpProfile = profile;
  return browser;
}

// Close the browser and remove its profile.
async function close(browser) {
  if (!browser) return;
  const profile = browser.hcpProfile;
  await browser.close().catch(() => {});
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
}

// A new page that fails the test on any uncaught script error and collects
// the console's messages (page.hcpErrors).
async function newPage(browser) {
  const page = await browser.newPage();
  page.hcpErrors = [];
  page.on("pageerror", (e) => page.hcpErrors.push(String(e)));
  page.setDefaultTimeout(WAIT);
  return page;
}

// Sign in through the console's form at url (a page of the console).
async function signIn(page, url, account, token) {
  await page.goto(url, { waitUntil: "networkidle0" });
  await page.waitForSelector("#signin-account", { visible: true });
  await page.$eval("#signin-account", (e) => { e.value = ""; });
  await page.$eval("#signin-token", (e) => { e.value = ""; });
  await page.type("#signin-account", account);
  await page.type("#signin-token", token);
  await page.click("#signin-submit");
  await page.waitForFunction((a) => document.body.dataset.account === a, {}, account);
}

// Sign out with the console's button #signout.
async function signOut(page) {
  await page.click("#signout");
  await page.waitForFunction(() => !document.body.dataset.account);
}

// A screenshot of the whole viewport into ARTIFACTS/name; returns its path.
async function shot(page, name) {
  const file = path.join(ARTIFACTS, name);
  await page.screenshot({ path: file });
  assert.ok(fs.statSync(file).size > 1000, "empty screenshot " + file);
  say("screenshot", file);
  return file;
}

// Whether the page draws Chinese with a real CJK font: each character of
// chars is drawn on a canvas in the computed font of selector and compared
// with the "tofu" a font without the glyph draws (a private-use code point
// no font has). With a CJK font every glyph differs from the tofu and from
// the others; without one they are all the same box. Returns
// {font, boxes, distinct, blank} and asserts the glyphs are real.
async function cjkCheck(page, selector, chars) {
  const r = await page.evaluate((sel, text) => {
    const el = document.querySelector(sel);
    const font = getComputedStyle(el || document.body).font;
    function pixels(ch) {
      const c = document.createElement("canvas");
      c.width = 48; c.height = 48;
      const x = c.getContext("2d");
      x.font = font.replace(/\d+(\.\d+)?px/, "32px");
      x.fillStyle = "#000";
      x.fillText(ch, 4, 36);
      return Array.prototype.join.call(x.getImageData(0, 0, 48, 48).data, "");
    }
    const tofu = pixels("\uE000"), seen = {};
    let boxes = 0, distinct = 0;
    for (const ch of text) {
      const p = pixels(ch);
      if (p === tofu) boxes++;
      if (!seen[p]) { seen[p] = 1; distinct++; }
    }
    return { font, boxes, distinct, blank: pixels(text[0]) === pixels(" ") };
  }, selector, chars);
  assert.strictEqual(r.boxes, 0, "CJK drawn as boxes: " + JSON.stringify(r));
  assert.strictEqual(r.distinct, [...chars].length, "CJK glyphs not distinct: " + JSON.stringify(r));
  assert.ok(!r.blank, "CJK glyph blank: " + JSON.stringify(r));
  return r;
}

// Downloads of page go to dir (made if missing).
async function allowDownloads(page, dir) {
  fs.mkdirSync(dir, { recursive: true });
  const cdp = await page.createCDPSession();
  await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: dir });
}

// Click selector and wait for a new finished file in dir; returns its path.
async function download(page, selector, dir) {
  const before = new Set(fs.existsSync(dir) ? fs.readdirSync(dir) : []);
  await page.click(selector);
  const end = Date.now() + WAIT;
  for (;;) {
    const fresh = fs.readdirSync(dir).filter((f) => !before.has(f) && !f.endsWith(".crdownload"));
    if (fresh.length > 0) {
      const file = path.join(dir, fresh[0]);
      if (fs.statSync(file).size > 0) return file;
    }
    if (Date.now() > end) throw new Error("no download from " + selector + " in " + dir);
    await new Promise((res) => setTimeout(res, 100));
  }
}

// The text of selector (trimmed), "" when absent.
async function text(page, selector) {
  return page.$eval(selector, (e) => e.textContent.trim()).catch(() => "");
}

// Run fn(browser, result) with a browser; print result as one JSON line on
// stdout ({ok, ...}); exit 0 when it passed, 1 with the error otherwise.
function main(fn) {
  (async () => {
    let browser = null;
    const result = { ok: false, screenshots: [] };
    try {
      browser = await launch();
      await fn(browser, result);
      result.ok = true;
    } catch (e) {
      result.error = String(e && e.stack ? e.stack : e);
    } finally {
      await close(browser);
    }
    process.stdout.write(JSON.stringify(result) + "\n");
    process.exit(result.ok ? 0 : 1);
  })();
}

module.exports = {
  ARTIFACTS, BASE, WAIT, say, launch, close, newPage, signIn, signOut, shot, cjkCheck,
  allowDownloads, download, text, main, assert,
};
