/*
 * gateway.js — drives the gateway console (gateway/www/console.html;
 * docs/consoles.md, "Gateway console") in Debian's chromium headless with
 * puppeteer-core (harness.js), as a person would: typing into the forms,
 * pressing Enter, Tab and Space, following the menu. Run by
 * tests/system/test_console_gateway.py, which starts the gateway, writes
 * the configuration and sets, beside the harness's environment:
 *
 *   HCP_CONSOLE_PHASE   supervisor | auditor | csrf | expired
 *   HCP_CONSOLE_CONFIG  the JSON file of accounts, cases and expectations
 *
 * Every failed check throws (exit 1, the reason in the result's `error`).
 * The result line (harness.main) carries what the Python side checks
 * further: screenshots, the CJK probe of each view, the draw made, the
 * statuses seen.
 */
"use strict";
const fs = require("fs");
const path = require("path");
const h = require("./harness.js");

const phase = process.env.HCP_CONSOLE_PHASE;
const cfg = JSON.parse(fs.readFileSync(process.env.HCP_CONSOLE_CONFIG, "utf8"));
const DOWNLOADS = path.join(h.ARTIFACTS, "downloads");
let out = null; /* the harness's result object */

function check(ok, what) {
  if (!ok) throw new Error("check failed: " + what);
  h.say(phase + " ok: " + what);
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

/* A 1366x768 screenshot of the view, and the CJK check of its heading:
 * its Chinese characters drawn in the page's own font must be real glyphs. */
async function shot(page, name) {
  out.screenshots.push(await h.shot(page, "console-gateway-" + name + ".png"));
  const sel = await page.evaluate(() => {
    const v = document.querySelector("section.view:not([hidden]) h2");
    return v ? "#" + v.id : "header h1";
  });
  const chars = Array.from(new Set(Array.from((await h.text(page, sel))
    .replace(/[^\u4e00-\u9fff]/g, "")))).slice(0, 6).join("");
  check(chars.length >= 2, name + ": the heading has Chinese text");
  out.cjk[name] = await h.cjkCheck(page, sel, chars);
  out.cjk[name].text = chars;
}

async function text(page, sel) {
  return page.$eval(sel, (e) => e.textContent);
}

/* Sign in through the form with the keyboard: the account, Tab, the
 * token, Enter (harness.signIn clicks; this is the keyboard's way). */
async function signIn(page, who) {
  await page.goto(h.BASE + "/console.html", { waitUntil: "load" });
  await page.waitForSelector("#signin-account", { visible: true });
  await page.focus("#signin-account");
  await page.keyboard.type(who.account);
  await page.keyboard.press("Tab");
  await page.keyboard.type(who.token);
  await page.keyboard.press("Enter");
  await page.waitForFunction((a) => document.body.dataset.account === a, {}, who.account);
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
  await page.goto(h.BASE + "/console.html", { waitUntil: "load" });
  await page.waitForSelector("#v-signin:not([hidden])");
  await shot(page, "signin");
  await page.type("#signin-account", cfg.supervisor.account);
  await page.type("#signin-token", "0".repeat(64));
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.getElementById("signin-error").textContent.length > 0);
  check(/账号或令牌不正确/.test(await text(page, "#signin-error")), "a wrong token is refused");

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
  /* the county's cases: none overdue, then all of them */
  await page.click('#counties-body tr[data-county="' + cfg.county + '"] button');
  await page.waitForSelector("#ccases-empty:not([hidden])");
  await page.select("#cc-filter", "all");
  await page.click("#f-ccases button[type=submit]");
  await page.waitForSelector('#ccases-body tr[data-case="' + cfg.closed[0] + '"]');
  const ncases = await page.$$eval("#ccases-body tr", (t) => t.length);
  check(ncases === cfg.received, "the county's cases listed: " + ncases);

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
  await h.allowDownloads(page, DOWNLOADS);
  await page.select("#m-pref", cfg.prefecture);
  await page.$eval("#m-month", (e, v) => { e.value = v; }, cfg.month);
  await page.type("#m-phone", "abc");
  await page.click("#f-monthly button[type=submit]");
  check(/联系电话只能包含.*phone: digits/.test(await text(page, "#m-msg")), "phone checked as the API does");
  await page.$eval("#m-phone", (e) => { e.value = ""; });
  await page.type("#m-phone", "0971-6155517");
  await page.select("#m-format", "xlsx");
  out.download = await h.download(page, "#f-monthly button[type=submit]", DOWNLOADS);
  const saved = await page.evaluate(() => document.body.getAttribute("data-downloaded"));
  check(path.basename(out.download) === saved, "monthly form saved as " + saved);
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
    /* a detail view still re-rendering (the list's click and the draw's own
     * load) may take the focus back to its heading between the focus and the
     * key: tick until the box shows ticked, at most three times */
    for (let i = 0; i < 3; i++) {
      await page.focus(id);
      await page.keyboard.press("Space");
      if (await page.$eval(id, (b) => b.checked)) break;
    }
    check(await page.$eval(id, (b) => b.checked), id + " ticked by the keyboard");
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
  await page.goto(h.BASE + "/console.html#access", { waitUntil: "load" });
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
  await page.goto(h.BASE + "/console.html#counties", { waitUntil: "load" });
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
  check(/^[0-9a-f]{64}$/.test(good || ""), "the session's CSRF token: 64 hex digits");
  out.forged = {};
  let r = await fetchIn(page, "POST", "/v1/directives", body, { "X-CSRF-Token": "f".repeat(64) });
  out.forged["POST forged token"] = { status: r.status, error: r.error };
  r = await fetchIn(page, "POST", "/v1/directives", body, {});
  out.forged["POST no token"] = { status: r.status, error: r.error };
  r = await fetchIn(page, "DELETE", "/v1/session", null, { "X-CSRF-Token": good.slice(0, -1) + (good.slice(-1) === "0" ? "1" : "0") });
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
  const msg = await text(page, "#signin-error");
  check(/登录已过期/.test(msg), "back to sign-in with the reason: " + msg);
  await shot(page, "expired");
  out.after = (await fetchIn(page, "GET", "/v1/counties", null)).status;
  /* signing in again: the account is still filled in, the token is not */
  check((await page.$eval("#signin-account", (e) => e.value)) === cfg.supervisor.account &&
        (await page.$eval("#signin-token", (e) => e.value)) === "", "account kept, token cleared");
  await page.type("#signin-token", cfg.supervisor.token);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#nav:not([hidden])");
  await page.waitForSelector('#counties-body tr[data-county="' + cfg.county + '"]');
}

const PHASES = { supervisor, auditor, csrf, expired };

h.main(async (browser, result) => {
  out = result;
  out.phase = phase;
  out.cjk = {};
  if (!PHASES[phase]) throw new Error("unknown phase " + phase);
  const page = await h.newPage(browser);
  try {
    await PHASES[phase](page);
  } catch (e) {
    await shot(page, phase + "-failed").catch(() => {});
    throw e;
  }
  check(page.hcpErrors.length === 0, "no script error in the page: " + page.hcpErrors.join("; "));
});
