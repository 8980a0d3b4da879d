// node.js — the node console driven as a person would (tests/system/
// test_console_node.py sets the environment): a clerk signs in, files a
// complaint (first with a field the API refuses), walks it through
// verification, rectification, feedback and revisit to its close with the
// step buttons the rules allow, sees a refusal in Chinese with its article,
// sees an overdue case in red in the queue, downloads the month's form and
// prints the ledger; the refusals: a clerk asking for personal data, a
// forged CSRF token, a clerk reading directives, and an expired session
// (on a second node with a one-second idle limit). A supervisor then reads
// the personal data with a reason. Result on stdout (harness.main).
//
// Environment: HCP_CONSOLE_URL (node A), HCP_CLERK_TOKEN, HCP_SUP_TOKEN (A's
// clerk1, sup1), HCP_OVERDUE_CASE (a case of A received 10 days ago),
// HCP_SHORT_URL, HCP_SHORT_TOKEN (node B and its clerk2; idle limit 3 s).
"use strict";

const fs = require("fs");
const path = require("path");
const h = require("./harness.js");
const { assert, say } = h;

const A = h.BASE;
const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error("missing " + k);
  return v;
};

async function visible(page, sel) {
  return page.$eval(sel, (e) => !e.closest("[hidden]") && e.offsetParent !== null).catch(() => false);
}

// Wait until the text of sel contains want; returns the text.
async function waitText(page, sel, want) {
  await page.waitForFunction((s, w) => {
    const e = document.querySelector(s);
    return e && e.textContent.indexOf(w) >= 0;
  }, {}, sel, want).catch(async (e) => {
    throw new Error("waiting for " + JSON.stringify(want) + " in " + sel + ": got " +
      JSON.stringify(await h.text(page, sel)) + " (" + e.message + ")");
  });
  return h.text(page, sel);
}

// Go to a view by its navigation link (keyboard: focus + Enter).
async function nav(page, id) {
  await page.focus(id);
  await page.keyboard.press("Enter");
}

// Type into an input after clearing it.
async function fill(page, sel, value) {
  await page.$eval(sel, (e) => { e.value = ""; });
  if (value !== "") await page.type(sel, value);
}

// Open the case page of id and wait for its steps.
async function openCase(page, id) {
  await page.evaluate((i) => { location.hash = "#case/" + encodeURIComponent(i); }, id);
  await page.waitForFunction((i) => document.body.dataset.case === i, {}, id);
}

// Do the allowed step `type` with fields {selector: value}; waits for the
// case to reach status want.
async function step(page, type, fields, want) {
  await page.waitForSelector("#step-" + type, { visible: true });
  await page.click("#step-" + type);
  await page.waitForSelector("#step-form:not([hidden])");
  for (const [sel, v] of Object.entries(fields || {})) {
    const tag = await page.$eval(sel, (e) => e.tagName);
    if (tag === "SELECT") await page.select(sel, v);
    else await fill(page, sel, v);
  }
  await page.click("#step-submit");
  await page.waitForFunction((w) => document.body.dataset.caseStatus === w &&
    document.getElementById("step-form").hidden, {}, want).catch(async (e) => {
    throw new Error(type + ": case not " + want + ": " + (await h.text(page, "#step-error")) + " " + e.message);
  });
  say("step", type, "->", want);
}

async function allowedSteps(page) {
  return page.$$eval("#case-steps button", (bs) => bs.map((b) => b.dataset.step));
}

h.main(async (browser, result) => {
  const downloads = path.join(h.ARTIFACTS, "downloads");
  const page = await h.newPage(browser);
  await h.allowDownloads(page, downloads);

  // ---- a clerk signs in ----
  await page.goto(A + "/", { waitUntil: "networkidle0" });
  await page.waitForSelector("#signin-account", { visible: true });
  result.screenshots.push(await h.shot(page, "node-signin.png"));
  result.cjk = await h.cjkCheck(page, "#signin-title", "登录差评投诉");
  // a wrong token is refused in Chinese
  await page.type("#signin-account", "clerk1");
  await page.type("#signin-token", "0".repeat(64));
  await page.click("#signin-submit");
  await waitText(page, "#signin-error", "账号或令牌不正确");
  await h.signIn(page, A + "/", "clerk1", env("HCP_CLERK_TOKEN"));
  assert.ok(await visible(page, "#queue-title"), "queue after sign-in");
  const cookies = await page.cookies();
  const sc = cookies.find((c) => c.name === "hcp_session");
  assert.ok(sc && sc.httpOnly && sc.sameSite === "Strict", "cookie flags: " + JSON.stringify(sc));
  assert.strictEqual(await page.evaluate(() => document.cookie.indexOf("hcp_session")), -1, "cookie readable by script");

  // ---- intake: a complaint, first refused by the API's own validation ----
  await nav(page, "#nav-intake");
  await page.waitForSelector("#intake-form", { visible: true });
  await page.click("#it-complaint");
  await fill(page, "#f-unit-code", "");
  await fill(page, "#f-unit-name", "城东区政务服务中心");
  await fill(page, "#f-item-code", "SI-002");
  await fill(page, "#f-item-name", "不动产登记");
  await page.select("#f-channel", "phone");
  await fill(page, "#f-staff-id", "S001");
  await fill(page, "#f-staff-name", "王芳");
  await fill(page, "#f-c-name", "李明");
  await fill(page, "#f-c-phone", "13900001234");
  await page.click("#dim-attitude");
  await fill(page, "#f-content", "窗口人员态度生硬，请回电");
  await page.click("#intake-submit");
  const invalid = await waitText(page, "#intake-error", "unit.code");
  assert.ok(invalid.indexOf("填写有误") >= 0 && invalid.indexOf("invalid_field") >= 0, invalid);
  assert.strictEqual(await page.$eval("#f-unit-code", (e) => e.getAttribute("aria-invalid")), "true");
  result.intake_refusal = invalid;
  result.screenshots.push(await h.shot(page, "node-intake-refused.png"));
  await fill(page, "#f-unit-code", "U01");
  await page.click("#intake-submit");
  await page.waitForSelector("#intake-case");
  const cid = await h.text(page, "#intake-case");
  assert.match(cid, /^\d{6}-\d{8}-\d{4}$/);
  result.case = cid;
  say("filed", cid);

  // ---- the case: only the allowed steps; a refusal in Chinese ----
  await page.click("#intake-case");
  await page.waitForFunction((i) => document.body.dataset.case === i, {}, cid);
  let allowed = await allowedSteps(page);
  assert.deepStrictEqual(allowed.sort(), ["notify_staff", "verify_start"], "allowed at receipt: " + allowed);
  const why = await h.text(page, "#case-refused-list li[data-step=dispute_file]");
  assert.ok(why.indexOf("第九条") >= 0, why);
  const left = await page.$eval("#case-deadlines tr[data-deadline=feedback_due] td[data-left]", (e) => Number(e.dataset.left));
  assert.ok(left >= 4 && left <= 6, "working days left " + left);
  result.screenshots.push(await h.shot(page, "node-case-received.png"));
  // a step dated before the receipt: the rules refuse it, in Chinese with the article
  await page.click("#step-verify_start");
  await fill(page, "#sf-verifier-name", "赵敏");
  await fill(page, "#sf-verifier-phone", "0971-0005678");
  await page.$eval("#step-at", (e) => { e.value = "2023-01-02T10:00"; });
  await page.click("#step-submit");
  const refusal = await waitText(page, "#step-error", "at_before_receipt");
  assert.ok(refusal.indexOf("发生时间不能早于受理时间") >= 0 && refusal.indexOf("第七条") >= 0, refusal);
  result.step_refusal = refusal;
  result.screenshots.push(await h.shot(page, "node-step-refused.png"));
  await page.click("#step-cancel");

  // ---- the walk: verification, rectification, feedback, revisit, close ----
  await step(page, "verify_start", { "#sf-verifier-name": "赵敏", "#sf-verifier-phone": "0971-0005678" }, "verifying");
  await step(page, "verify_conclude", { "#sf-outcome": "substantiated", "#sf-note": "属实" }, "rectifying");
  await step(page, "rectify_assign", { "#sf-unit-code": "U09", "#sf-unit-name": "城东区不动产登记中心", "#sf-mode": "deferred" }, "rectifying");
  await step(page, "rectify_done", { "#sf-result": "已对窗口人员批评教育" }, "feedback_pending");
  await step(page, "feedback", { "#sf-via": "电话", "#sf-text": "已整改并电话告知" }, "awaiting_revisit");
  allowed = await allowedSteps(page);
  assert.ok(allowed.indexOf("close") < 0 && allowed.indexOf("revisit") >= 0, "before the revisit: " + allowed);
  const owed = await h.text(page, "#case-refused-list li[data-step=close]");
  assert.ok(owed.indexOf("须先回访") >= 0 && owed.indexOf("第八条") >= 0, owed);
  await step(page, "revisit", { "#sf-by": "赵敏", "#sf-satisfied": "true" }, "resolved");
  await step(page, "close", {}, "closed");
  const types = await page.$$eval("#case-timeline li", (ls) => ls.map((l) => l.dataset.type));
  for (const t of ["case_open", "verify_start", "verify_conclude", "rectify_assign", "rectify_done", "feedback", "revisit", "close"])
    assert.ok(types.indexOf(t) >= 0, "timeline lacks " + t + ": " + types);
  result.screenshots.push(await h.shot(page, "node-case-closed.png"));

  // ---- the clerk asks for personal data: refused ----
  await fill(page, "#pd-reason", "核对投诉人身份");
  await page.click("#pd-submit");
  const pdRefused = await waitText(page, "#pd-error", "无权查看个人信息");
  assert.ok(pdRefused.indexOf("forbidden") >= 0, pdRefused);
  assert.ok(!(await visible(page, "#pd-facts")), "personal data shown to a clerk");
  result.personal_refused = pdRefused;

  // ---- the queue: the overdue case in red, sorted by deadline ----
  const overdueId = env("HCP_OVERDUE_CASE");
  await nav(page, "#nav-queue");
  const redHandle = await page.waitForFunction((i) => {
    const tr = document.querySelector("#queue-body tr[data-case='" + i + "']");
    if (!tr || !tr.isConnected) return null;
    return { cls: tr.className, color: getComputedStyle(tr.cells[0]).color, text: tr.textContent };
  }, {}, overdueId);
  const red = await redHandle.jsonValue();
  assert.strictEqual(red.cls, "overdue", JSON.stringify(red));
  assert.strictEqual(red.color, "rgb(179, 38, 30)", JSON.stringify(red));
  assert.ok(red.text.indexOf("已逾期") >= 0, red.text);
  const first = await page.$eval("#queue-body tr", (tr) => tr.dataset.case);
  assert.strictEqual(first, overdueId, "the most urgent first");
  await page.click("#q-overdue");
  await page.click("#q-apply");
  await page.waitForFunction(() => Array.from(document.querySelectorAll("#queue-body tr")).every((t) => t.className === "overdue"));
  result.screenshots.push(await h.shot(page, "node-queue-overdue.png"));
  result.cjk_queue = await h.cjkCheck(page, "#queue-title", "工作队列");
  await page.click("#q-overdue");
  // the overdue case's page: its deadline in red with the working days late
  await openCase(page, overdueId);
  const late = await page.$eval("#case-deadlines tr[data-deadline=feedback_due]", (tr) => ({ cls: tr.className, left: Number(tr.querySelector("td[data-left]").dataset.left) }));
  assert.ok(late.cls === "overdue" && late.left < 0, JSON.stringify(late));

  // ---- the ledger: download the month's form, print ----
  await nav(page, "#nav-ledger");
  await page.waitForFunction((i) => !!document.querySelector("#ledger-table tr[data-case='" + i + "']"), {}, cid);
  const csv = await h.download(page, "#l-csv", downloads);
  const xlsx = await h.download(page, "#l-xlsx", downloads);
  result.downloads = [csv, xlsx];
  assert.ok(fs.readFileSync(xlsx).slice(0, 2).toString() === "PK", "xlsx is a zip");
  const kcsv = await h.download(page, "#k-csv", downloads);
  result.downloads.push(kcsv);
  result.screenshots.push(await h.shot(page, "node-ledger.png"));
  await page.emulateMediaType("print");
  assert.ok(!(await visible(page, "#nav")) && !(await visible(page, "#l-load")), "print shows the navigation");
  result.screenshots.push(await h.shot(page, "node-ledger-print.png"));
  await page.emulateMediaType("screen");

  // ---- sync; directives need a supervisor ----
  await nav(page, "#nav-sync");
  await waitText(page, "#sync-facts", "待同步条数");
  const dirRefused = await waitText(page, "#dir-note", "当前账号无权");
  result.directives_refused = dirRefused;
  result.screenshots.push(await h.shot(page, "node-sync-clerk.png"));

  // ---- a forged CSRF token, and none: 403 csrf_failed, nothing filed ----
  result.csrf = await page.evaluate(async () => {
    const body = JSON.stringify({ channel: "phone", summary: "伪造请求" });
    const forged = await fetch("/v1/contacts", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": "f".repeat(64) }, body });
    const none = await fetch("/v1/contacts", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body });
    return { forged: forged.status, forged_body: await forged.json(), none: none.status };
  });
  assert.strictEqual(result.csrf.forged, 403);
  assert.strictEqual(result.csrf.forged_body.error, "csrf_failed");
  assert.strictEqual(result.csrf.none, 403);

  // ---- sign out; a supervisor reads the personal data with a reason ----
  await h.signOut(page);
  assert.ok(await visible(page, "#signin-account"), "sign-in after sign-out");
  await h.signIn(page, A + "/", "sup1", env("HCP_SUP_TOKEN"));
  await openCase(page, cid);
  assert.ok(!(await visible(page, "#pd-facts")), "personal data shown before asking");
  const masked = await h.text(page, "#case-facts");
  assert.ok(masked.indexOf("13900001234") < 0, "phone in the default view");
  await fill(page, "#pd-reason", "");
  await page.click("#pd-submit");
  await waitText(page, "#pd-error", "reason");
  await fill(page, "#pd-reason", "回访核实投诉人联系方式");
  await page.click("#pd-submit");
  await waitText(page, "#pd-facts", "13900001234");
  result.screenshots.push(await h.shot(page, "node-case-personal.png"));
  await nav(page, "#nav-sync");
  await waitText(page, "#dir-note", "共 ");

  // ---- an expired session (node B: idle limit 3 s) ----
  const B = env("HCP_SHORT_URL");
  const pb = await h.newPage(browser);
  await h.signIn(pb, B + "/", "clerk2", env("HCP_SHORT_TOKEN"));
  await new Promise((res) => setTimeout(res, 5000)); // past the idle limit (not a measurement)
  await nav(pb, "#nav-ledger");
  await pb.waitForSelector("#signin-account", { visible: true });
  const gone = await waitText(pb, "#signin-error", "会话已过期");
  assert.strictEqual(await pb.evaluate(() => document.body.dataset.account || ""), "");
  result.expired = gone;
  result.screenshots.push(await h.shot(pb, "node-session-expired.png"));

  assert.deepStrictEqual(page.hcpErrors.concat(pb.hcpErrors), [], "script errors");
});
