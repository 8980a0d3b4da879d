/*
 * gateway.js — drives the gateway console (gateway/www/console.html;
 * docs/consoles.md, "Gateway console") in Debian's chromium headless with
 * puppeteer-core, as a person would: typing into the forms, pressing
 * Enter, following the menu. Run by tests/system/test_console_gateway.py,
 * which starts the gateway and writes the configuration:
 *
 *   node gateway.js PHASE CONFIG.json
 *
 * PHASE: supervisor | auditor | csrf | expired (the Python test says what
 * each checks). Every failed check throws: exit 1 with the reason. On
 * success the last line of stdout is one JSON object: what the Python side
 * checks further (screenshots taken, the CJK probe of each view, the draw
 * made, the statuses seen).
 */
"use strict";
const fs = require("fs");
const path = require("path");
const puppeteer = require("puppeteer-core");

const phase = process.argv[2];
const cfg = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
const out = { phase: phase, shots: [], cjk: {} };
const WAIT = 20000;

function check(ok, what) {
  if (!ok) throw new Error("check failed: " + what);
  process.stderr.write("[gateway.js " + phase + "] ok: " + what + "\n");
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function launch() {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--lang=zh-CN",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--hide-scrollbars"]
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 1366, height: 768 });
  page.setDefaultTimeout(WAIT);
  page.on("pageerror", (e) => { throw new Error("script error in the page: " + e.message); });
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 4\d\d/.test(m.text())) {
      process.stderr.write("[page console] " + m.text() + "\n");
    }
  });
  return { browser, page };
}

/* A 1366x768 screenshot of the page in cfg.shots, and the CJK probe of
 * the view: its heading's Chinese glyphs drawn with the page's own font
 * compared with the box a font draws for a character it lacks. */
async function shot(page, name) {
  const file = path.join(cfg.shots, "console-gateway-" + name + ".png");
  await page.screenshot({ path: file });
  out.shots.push(file);
  out.cjk[name] = await page.evaluate(() => {
    const h = document.querySelector("section.view:not([hidden]) h2") || document.querySelector("h1");
    const font = getComputedStyle(h).font.replace(/\d+(\.\d+)?px/, "32px");
    const chars = Array.from(h.textContent.replace(/[^\u4e00-\u9fff]/g, "")).slice(0, 6);
    function pixels(ch) {
      const c = document.createElement("canvas");
      c.width = 48; c.height = 48;
      const x = c.getContext("2d");
      x.font = font; x.fillStyle = "#000"; x.fillText(ch, 4, 36);
      return Array.prototype.join.call(x.getImageData(0, 0, 48, 48).data, "");
    }
    const tofu = pixels("\uE000"), seen = {};
    let boxes = 0, distinct = 0;
    chars.forEach((ch) => {
      const p = pixels(ch);
      if (p === tofu) boxes++;
      if (!seen[p]) { seen[p] = 1; distinct++; }
    });
    return { font: font, text: chars.join(""), chars: new Set(chars).size, boxes: boxes,
             distinct: distinct };
  });
  check(out.cjk[name].chars >= 2, name + ": heading has Chinese text");
}

async function text(page, sel) {
  return page.$eval(sel, (e) => e.textContent);
}

async function visible(page, sel) {
  return page.$eval(sel, (e) => !e.closest("[hidden]") && e.offsetParent !== null);
}

/* Sign in through the form: type the account, then the token, then Enter. */
async function signIn(page, who) {
  await page.goto(cfg.base + "/console.html", { waitUntil: "load" });
  await page.waitForSelector("#v-signin:not([hidden])");
  await page.focus("#si-account");
  await page.keyboard.type(who.account);
  await page.keyboard.press("Tab");
  await page.keyboard.type(who.token);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#nav:not([hidden])");
  check((await text(page, "#who-name")) === who.account, "signed in as " + who.account);
}

/* Open a view from the menu with the keyboard: focus its link, Enter. */
async function openView(page, view) {
  await page.focus('#nav a[data-view="' + view + '"]');
  await page.keyboard.press("Enter");
  await page.waitForFunction((v) => document.body.getAttribute("data-view") === v, {}, view);
}

/* A request from inside the page (its cookie) with the given headers. */
async function fetchIn(page, method, url, body, headers) {
  return page.evaluate(async (m, u, b, h) => {
    const r = await fetch(u, { method: m, headers: Object.assign({ "Content-Type": "application/json" }, h),
                               body: b === null ? undefined : JSON.stringify(b), credentials: "same-origin" });
    let j = {};
    try { j = await r.json(); } catch (e) { j = {}; }
    return { status: r.status, error: j.error || null, json: j };
  }, method, url, body, headers || {});
}

async function csrfOf(page) {
  return (await fetchIn(page, "GET", "/v1/session", null)).json.csrf;
}

async function supervisor(page) {
  /* a wrong token first: refused, the form stays */
  await page.goto(cfg.base + "/console.html", { waitUntil: "load" });
  await page.waitForSelector("#v-signin:not([hidden])");
  await shot(page, "signin");
  await page.type("#si-account", cfg.supervisor.account);
  await page.type("#si-token", "0".repeat(64));
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("si-msg").textContent.length > 0);
  check(/账号或令牌不正确/.test(await text(page, "#si-msg")), "a wrong token is refused");

  await signIn(page, cfg.supervisor);
  const menu = await page.$$eval("#nav a:not([hidden])", (a) => a.map((x) => x.textContent));
  check(menu.indexOf("访问日志") < 0 && menu.indexOf("省级抽查") >= 0, "supervisor's menu: " + menu);

  /* counties: the county connected, lag 0, its findings */
  await page.waitForSelector('#counties-body tr[data-county="' + cfg.county + '"]');
  const row = await page.$eval('#counties-body tr[data-county="' + cfg.county + '"]',
                               (tr) => Array.from(tr.cells).map((c) => c.textContent));
  check(/城东区/.test(row[0]) && row[1] === "正常" && row[3] === "0", "county row " + row);
  check(Number(row[11]) === cfg.open, "cases open at the county: " + row[11]);
  await shot(page, "counties");
  await page.select("#c-filter", "seen");
  const seen = await page.$$eval("#counties-body tr", (t) => t.length);
  check(seen === 1, "filter: one county connected");

  /* figures: Art. 11 and Art. 12 with their charts */
  await openView(page, "figures");
  await page.waitForFunction(() => document.getElementById("hot-body").rows.length > 0);
  await page.waitForSelector("#svg-hot rect.bar");
  await page.waitForFunction(() => /阈值/.test(document.getElementById("units-note").textContent));
  check(await page.$("#svg-units") !== null, "Art. 11 chart drawn");
  const received = await text(page, '#sum-cards [data-k="received"]');
  check(received === String(cfg.received), "figures: received " + received);
  await page.waitForSelector("#svg-units rect.bar");
  const unit = await page.$eval("#units-body tr", (r) => Array.from(r.cells).map((c) => c.textContent));
  check(unit[0] === cfg.county && unit[3] === "1", "Art. 11: the unit with its negative review: " + unit);
  await page.select("#h-by", "county");
  await page.click("#f-hot button[type=submit]");
  await page.waitForFunction(() => /城东区/.test(document.getElementById("hot-body").textContent));
  /* a bad value: the gateway's own sentence */
  await page.$eval("#h-limit", (e) => { e.value = "0"; });
  await page.click("#f-hot button[type=submit]");
  check(/limit: an integer 1\.\.1000/.test(await text(page, "#h-msg")), "hot spots: limit checked");
  await page.$eval("#h-limit", (e) => { e.value = "10"; });
  await page.click("#f-hot button[type=submit]");
  await shot(page, "figures");

  /* the monthly form of 西宁市, as XLSX */
  await openView(page, "monthly");
  const cdp = await page.createCDPSession();
  await cdp.send("Browser.setDownloadBehavior", { behavior: "allow", downloadPath: cfg.downloads });
  await page.select("#m-pref", cfg.prefecture);
  await page.$eval("#m-month", (e, v) => { e.value = v; }, cfg.month);
  await page.type("#m-phone", "abc");
  await page.click("#f-monthly button[type=submit]");
  check(/联系电话只能包含.*phone: digits/.test(await text(page, "#m-msg")), "phone checked as the API does");
  await page.$eval("#m-phone", (e) => { e.value = ""; });
  await page.type("#m-phone", "0971-6155517");
  await page.select("#m-format", "xlsx");
  await page.click("#f-monthly button[type=submit]");
  await page.waitForFunction(() => document.body.hasAttribute("data-downloaded"));
  const saved = await page.evaluate(() => document.body.getAttribute("data-downloaded"));
  for (let i = 0; i < 100 && !fs.existsSync(path.join(cfg.downloads, saved)); i++) await sleep(100);
  check(fs.existsSync(path.join(cfg.downloads, saved)), "monthly form saved as " + saved);
  await shot(page, "monthly");

  /* spot checks: a bad rate refused with the API's message, then a draw */
  await openView(page, "spot");
  await page.$eval("#d-period", (e, v) => { e.value = v; }, cfg.month);
  await page.$eval("#d-rate", (e) => { e.value = ""; });
  await page.type("#d-rate", "1.5");
  await page.type("#d-beacon", "2026-12-01 双色球 03 07 12 19 25 31 + 09");
  await page.click("#f-draw button[type=submit]");
  check(/rate: a number from 0 to 1 with at most six decimals/.test(await text(page, "#d-msg")),
        "rate checked as the API does");
  await page.$eval("#d-rate", (e) => { e.value = ""; });
  await page.type("#d-rate", "0.4");
  await page.$eval("#d-min", (e) => { e.value = ""; });
  await page.type("#d-min", "1");
  await page.click("#f-draw button[type=submit]");
  await page.waitForSelector("#spot-detail:not([hidden]) #spot-cases tr");
  out.beacon = "2026-12-01 双色球 03 07 12 19 25 31 + 09";
  const title = await text(page, "#h-spot-detail");
  out.draw = Number(/第(\d+)号/.exec(title)[1]);
  const drawn = await page.$$eval("#spot-cases tr", (t) => t.map((r) => r.getAttribute("data-case")));
  check(drawn.length === 2, "0.4 of 5 closed cases: 2 drawn (" + drawn + ")");
  /* the list has it, and opening it from the list shows the same draw */
  await page.waitForSelector('#spot-body tr[data-spot="' + out.draw + '"]');
  await page.click('#spot-body tr[data-spot="' + out.draw + '"] button');
  await page.waitForFunction((t) => document.getElementById("h-spot-detail").textContent === t, {}, title);
  /* record a finding: all three yes, with a note (the keyboard: Space ticks) */
  out.finding_case = drawn[0];
  await page.select("#r-case", drawn[0]);
  for (const id of ["#r-reached", "#r-rectified", "#r-satisfied"]) {
    await page.focus(id);
    await page.keyboard.press("Space");
  }
  await page.type("#r-note", "已电话回访，投诉人满意");
  await page.click("#f-find button[type=submit]");
  await page.waitForSelector('#spot-cases tr[data-case="' + drawn[0] + '"][data-found="1"]');
  const res = await page.$eval('#spot-cases tr[data-case="' + drawn[0] + '"]', (r) => r.cells[3].textContent);
  check(res === "联系到：是，整改：是，满意：是", "finding shown: " + res);
  await page.waitForFunction(() => {
    const t = document.querySelector("#spot-results tr");
    return t && t.cells[3].textContent === "1";
  });
  await shot(page, "spot");

  /* directives sent: the correction (applied) and the draw's spotcheck ones */
  await openView(page, "directives");
  await page.waitForSelector('#dir-body tr[data-seq="' + cfg.correction + '"]');
  const corr = await page.$eval('#dir-body tr[data-seq="' + cfg.correction + '"]',
                                (r) => Array.from(r.cells).map((c) => c.textContent));
  check(corr[3] === "纠正" && corr[7] === "1" && /已执行/.test(corr[9]), "correction applied: " + corr);
  const types = await page.$$eval("#dir-body tr", (t) => t.map((r) => r.getAttribute("data-type")));
  check(types.indexOf("spotcheck") >= 0 && types.indexOf("spotcheck_result") >= 0,
        "spot check directives listed: " + types);
  /* a correction about a case the gateway does not hold: the gateway's refusal */
  await page.type("#co-case", cfg.county + "-20200101-9999");
  await page.type("#co-note", "请补充材料");
  await page.click("#f-corr button[type=submit]");
  await page.waitForFunction(() => document.getElementById("co-msg").textContent.length > 0);
  check(/省级平台没有该案件.*404 case_not_found/.test(await text(page, "#co-msg")),
        "refusal shown with the gateway's error: " + (await text(page, "#co-msg")));
  await shot(page, "directives");

  /* the access log is not offered; asked for by address, another view is shown */
  await page.goto(cfg.base + "/console.html#access", { waitUntil: "load" });
  await page.waitForSelector("#nav:not([hidden])");
  check((await page.evaluate(() => document.body.getAttribute("data-view"))) !== "access",
        "no access log for a supervisor");
  check((await fetchIn(page, "GET", "/v1/access-log", null)).status === 403, "access log refused (403)");

  /* sign out: the cookie no longer opens anything */
  await page.click("#signout");
  await page.waitForSelector("#v-signin:not([hidden])");
  check((await fetchIn(page, "GET", "/v1/counties", null)).status === 401, "signed out");
}

async function auditor(page) {
  await signIn(page, cfg.auditor);
  out.menu = await page.$$eval("#nav a:not([hidden])", (a) => a.map((x) => x.textContent));
  await page.waitForFunction(() => document.body.getAttribute("data-view") === "access");
  await page.waitForSelector("#access-body tr");
  const what = await page.$$eval("#access-body tr", (t) => t.map((r) => r.cells[2].textContent + " " + r.cells[3].textContent));
  check(what.indexOf(cfg.supervisor.account + " monthly:" + cfg.prefecture + ":" + cfg.month) >= 0,
        "the supervisor's download is in the log: " + what);
  /* the account filter, and a bad account name checked as the API does */
  await page.type("#a-account", "no/such");
  await page.click("#f-access button[type=submit]");
  check(/account: not an account name/.test(await text(page, "#a-msg")), "account checked");
  await page.$eval("#a-account", (e) => { e.value = ""; });
  await page.type("#a-account", "nobody");
  await page.click("#f-access button[type=submit]");
  await page.waitForSelector("#access-empty:not([hidden])");
  await page.$eval("#a-account", (e) => { e.value = ""; });
  await page.click("#f-access button[type=submit]");
  await page.waitForSelector("#access-body tr");
  await shot(page, "access");
  /* asked for by address, a supervisor view is not shown */
  await page.goto(cfg.base + "/console.html#counties", { waitUntil: "load" });
  await page.waitForFunction(() => document.body.getAttribute("data-view") === "access");
  const csrf = await csrfOf(page);
  out.refused = {};
  for (const u of ["/v1/counties", "/v1/stats/summary", "/v1/spotchecks", "/v1/directives",
                   "/v1/stats/units?year=2026", "/v1/reports/monthly?month=" + cfg.month +
                   "&prefecture=" + cfg.prefecture + "&format=json", "/v1/cases/" + cfg.closed[0]]) {
    out.refused["GET " + u] = (await fetchIn(page, "GET", u, null)).status;
  }
  out.refused["POST /v1/spotchecks"] = (await fetchIn(page, "POST", "/v1/spotchecks",
    { period: cfg.month, rate: 0.5, min_per_county: 1, beacon: "x" }, { "X-CSRF-Token": csrf })).status;
  out.refused["POST /v1/directives"] = (await fetchIn(page, "POST", "/v1/directives",
    { type: "correction", "case": cfg.closed[0], note: "x" }, { "X-CSRF-Token": csrf })).status;
}

async function csrf(page) {
  await signIn(page, cfg.supervisor);
  const good = await csrfOf(page);
  const body = { type: "correction", "case": cfg.closed[2], note: "请核实" };
  out.forged = {};
  let r = await fetchIn(page, "POST", "/v1/directives", body, { "X-CSRF-Token": "f".repeat(64) });
  out.forged["POST forged token"] = { status: r.status, error: r.error };
  r = await fetchIn(page, "POST", "/v1/directives", body, {});
  out.forged["POST no token"] = { status: r.status, error: r.error };
  r = await fetchIn(page, "DELETE", "/v1/session", null, { "X-CSRF-Token": good.slice(0, 63) + "0" });
  out.forged["DELETE session forged"] = { status: r.status, error: r.error };
  /* through the page: the form's request with its header rewritten */
  await openView(page, "directives");
  await page.setRequestInterception(true);
  page.on("request", (req) => {
    if (req.method() === "POST") {
      const h = Object.assign({}, req.headers());
      h["x-csrf-token"] = "0".repeat(64);
      req.continue({ headers: h });
    } else {
      req.continue();
    }
  });
  await page.type("#co-case", cfg.closed[2]);
  await page.type("#co-note", "请核实");
  await page.click("#f-corr button[type=submit]");
  await page.waitForFunction(() => document.getElementById("co-msg").textContent.length > 0);
  const msg = await text(page, "#co-msg");
  check(/请求校验失败.*403 csrf_failed/.test(msg), "the page shows the CSRF refusal: " + msg);
  await shot(page, "csrf");
  await page.setRequestInterception(false);
  page.removeAllListeners("request");
  /* the control: the session's own token is taken */
  r = await fetchIn(page, "POST", "/v1/directives", body, { "X-CSRF-Token": good });
  out.control = r.status;
}

async function expired(page) {
  await signIn(page, cfg.supervisor);
  await page.waitForSelector('#counties-body tr[data-county="' + cfg.county + '"]');
  /* no request for longer than the idle limit: the session ends */
  await sleep((cfg.idle + 1.5) * 1000);
  await openView(page, "directives").catch(() => {});
  await page.waitForSelector("#v-signin:not([hidden])");
  const msg = await text(page, "#si-msg");
  check(/登录已过期/.test(msg), "back to sign-in with the reason: " + msg);
  await shot(page, "expired");
  out.after = (await fetchIn(page, "GET", "/v1/counties", null)).status;
  /* signing in again works */
  await page.type("#si-account", cfg.supervisor.account);
  await page.type("#si-token", cfg.supervisor.token);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#nav:not([hidden])");
}

const PHASES = { supervisor, auditor, csrf, expired };

(async () => {
  if (!PHASES[phase]) throw new Error("unknown phase " + phase);
  const { browser, page } = await launch();
  try {
    await PHASES[phase](page);
  } catch (e) {
    try { await shot(page, phase + "-failed"); } catch (e2) { /* keep the first error */ }
    throw e;
  } finally {
    await browser.close();
  }
  process.stdout.write(JSON.stringify(out) + "\n");
})().catch((e) => {
  process.stderr.write("[gateway.js " + phase + "] FAILED: " + (e && e.stack || e) + "\n");
  process.exit(1);
});
