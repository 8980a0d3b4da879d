/*
 * common.js — what the public page (index.html) and the case page
 * (case.html) share: names of codes, number and date formatting, and
 * reading the gateway's public JSON. Plain ES5 in one global, HCP; no
 * framework, nothing loaded from elsewhere. docs/page.md describes both pages.
 */
"use strict";
var HCP = (function () {
  /* The 8 prefectures in code order: [4-digit code, name, short name for the chart]. */
  var PREFECTURES = [
    ["6301", "西宁市", "西宁"],
    ["6302", "海东市", "海东"],
    ["6322", "海北藏族自治州", "海北"],
    ["6323", "黄南藏族自治州", "黄南"],
    ["6325", "海南藏族自治州", "海南"],
    ["6326", "果洛藏族自治州", "果洛"],
    ["6327", "玉树藏族自治州", "玉树"],
    ["6328", "海西蒙古族藏族自治州", "海西"]
  ];
  var KINDS = { complaint: "投诉", review: "差评" };
  var CHANNELS = {
    web: "网站", dept_platform: "部门业务平台", app: "移动客户端", wechat: "微信",
    kiosk: "自助终端", qrcode: "二维码", window_device: "窗口评价器", paper: "纸质评价",
    hall: "大厅现场", phone: "电话", "12345": "12345热线", visit: "来访", letter: "来信"
  };
  var DIMENSIONS = {
    coverage: "事项覆盖度", materials: "申报材料精简度", guide: "办事指南准确度",
    convenience: "服务应用便民度", modes: "服务方式完备度", proficiency: "业务办理熟练度",
    attitude: "服务态度", rights: "合法权益"
  };
  var OUTCOMES = {
    substantiated: "属实", unsubstantiated: "不属实", mistaken: "误评（不予采纳）",
    malicious: "恶意差评（不予采纳）"
  };
  var CASE_ID = /^\d{6}-\d{8}-\d{4,}$/;

  function prefName(code) {
    var c = String(code || "").slice(0, 4);
    for (var i = 0; i < PREFECTURES.length; i++) if (PREFECTURES[i][0] === c) return PREFECTURES[i][1];
    return "";
  }

  function prefShort(code) {
    var c = String(code || "").slice(0, 4);
    for (var i = 0; i < PREFECTURES.length; i++) if (PREFECTURES[i][0] === c) return PREFECTURES[i][2];
    return c;
  }

  /* One element with text content (never HTML from the feed). */
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  /* A count with thousands separators ("12,345"); "—" when not a number. */
  function num(n) {
    if (typeof n !== "number" || !isFinite(n)) return "—";
    return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  }

  /* A rate from the JSON (0..1 or null) as a percentage with one decimal. */
  function pct(rate) {
    if (typeof rate !== "number" || !isFinite(rate)) return "—";
    return Math.round(rate * 1000) / 10 + "%";
  }

  /* "2026-11-27T10:03:00+08:00" -> "2026-11-27 10:03" (Beijing time, as the feed gives it). */
  function shortTime(s) {
    if (!s) return "—";
    var m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(String(s));
    return m ? m[1] + " " + m[2] : String(s);
  }

  /* Whether s is a real calendar date written YYYY-MM-DD. */
  function isDate(s) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s || "");
    if (!m) return false;
    var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    return d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3];
  }

  /* A query string from {key: value}, leaving out empty values ("" or "?a=1&b=2"). */
  function query(o) {
    var parts = [];
    Object.keys(o).forEach(function (k) {
      if (o[k] !== "" && o[k] !== null && o[k] !== undefined) {
        parts.push(encodeURIComponent(k) + "=" + encodeURIComponent(o[k]));
      }
    });
    return parts.length ? "?" + parts.join("&") : "";
  }

  /* GET url as JSON; revalidated with the server each time (the routes send ETags). */
  function getJSON(url) {
    return fetch(url, { cache: "no-cache", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      });
  }

  /* The entries of a feed page: a bare array, or {requests: […]}. */
  function entriesOf(j) {
    if (Array.isArray(j)) return j;
    if (j && Array.isArray(j.requests)) return j.requests;
    throw new Error("数据格式不符");
  }

  return {
    PREFECTURES: PREFECTURES, KINDS: KINDS, CHANNELS: CHANNELS, DIMENSIONS: DIMENSIONS,
    OUTCOMES: OUTCOMES, CASE_ID: CASE_ID, prefName: prefName, prefShort: prefShort, el: el,
    num: num, pct: pct, shortTime: shortTime, isDate: isDate, query: query, getJSON: getJSON,
    entriesOf: entriesOf
  };
})();
