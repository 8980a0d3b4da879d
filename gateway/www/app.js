/*
 * app.js — the public page (index.html; docs/page.md). Reads the period
 * from the address (?from=YYYY-MM-DD&to=YYYY-MM-DD, the filter form), shows
 * the gateway's figures for it (feed/stats.json: never computed here), draws
 * the two charts as inline SVG, and lists the latest updated cases of the
 * period from the feed (feed/requests.json). Reloads every 60 s.
 */
"use strict";
(function () {
  var H = HCP;
  var SVGNS = "http://www.w3.org/2000/svg";
  var LATEST = 20;
  var REFRESH_MS = 60000;
  var ROW_KEYS = ["cases", "closed", "open", "on_time", "late", "on_time_rate", "revisit_rate",
                  "satisfaction_rate"];
  var $ = function (id) { return document.getElementById(id); };

  /* The period asked for in the address; bad values are reported, not sent. */
  function period() {
    var p = new URLSearchParams(location.search);
    var from = (p.get("from") || "").trim(), to = (p.get("to") || "").trim(), msg = "";
    if (from && !H.isDate(from)) { msg = "起始日期格式应为 年-月-日"; from = ""; }
    if (to && !H.isDate(to)) { msg = "截止日期格式应为 年-月-日"; to = ""; }
    if (from && to && from > to) { msg = "起始日期不能晚于截止日期，已显示全部日期"; from = to = ""; }
    return { from: from, to: to, msg: msg };
  }

  function text(v, key) {
    return /_rate$/.test(key) ? H.pct(v) : H.num(v);
  }

  /* Fill the cells marked data-k inside container from a ROW of the JSON. */
  function fillRow(container, row) {
    var cells = container.querySelectorAll("[data-k]");
    for (var i = 0; i < cells.length; i++) {
      var k = cells[i].getAttribute("data-k");
      cells[i].textContent = text(row ? row[k] : null, k);
    }
  }

  function tableRow(key, label, row, cls) {
    var tr = H.el("tr", null, (cls || "") + (row.cases ? "" : " zero"));
    tr.setAttribute("data-row", key);
    var th = H.el("th", label);
    th.setAttribute("scope", "row");
    tr.appendChild(th);
    ROW_KEYS.forEach(function (k) {
      var td = H.el("td", text(row[k], k), "num");
      td.setAttribute("data-k", k);
      tr.appendChild(td);
    });
    return tr;
  }

  function svg(tag, attrs, parent) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (parent) parent.appendChild(e);
    return e;
  }

  function svgText(parent, x, y, s, anchor, cls) {
    var t = svg("text", { x: x, y: y, "text-anchor": anchor || "middle" }, parent);
    if (cls) t.setAttribute("class", cls);
    t.textContent = s;
    return t;
  }

  /* The count axis's top: 4 steps of a round whole number (1, 2, 2.5 or 5 × 10^n), so
   * that every grid line is a whole count at or above v. */
  function niceMax(v) {
    var need = Math.max(1, v / 4), p = 1;
    while (p * 10 <= need) p *= 10;
    var steps = [1, 2, 2.5, 5, 10];
    for (var i = 0; i < steps.length; i++) {
      var st = steps[i] * p;
      if (st >= need && st === Math.floor(st)) return 4 * st;
    }
    return 40 * p;
  }

  /*
   * One chart into figure fig: a bar per item (cases, left axis) and a point
   * per item with a rate (on-time rate, right axis 0-100 %), joined by a line.
   * items: [{key, label, row}]. Each bar and point carries data-key and its
   * value (data-cases, data-rate) as the JSON gave it, and a <title>.
   */
  function chart(fig, id, title, items) {
    var W = 600, HT = 250, L = 46, R = 46, T = 14, B = 44;
    var w = W - L - R, h = HT - T - B;
    fig.textContent = "";
    var s = svg("svg", { viewBox: "0 0 " + W + " " + HT, "class": "chart", role: "img",
                         "aria-labelledby": id + "-t " + id + "-d", id: id }, fig);
    var t = svg("title", { id: id + "-t" }, s);
    t.textContent = title;
    var d = svg("desc", { id: id + "-d" }, s);
    d.textContent = "柱形为受理件数，折线为按期办理率；各项数字见下方表格。";
    if (!items.length) {
      svgText(s, W / 2, HT / 2, "所选期间没有受理的差评、投诉", "middle", "none");
      return;
    }
    var max = niceMax(items.reduce(function (m, it) { return Math.max(m, it.row.cases || 0); }, 0));
    for (var g = 0; g <= 4; g++) {
      var gy = T + h - h * g / 4;
      svg("line", { x1: L, x2: L + w, y1: gy, y2: gy, "class": g ? "grid" : "axis" }, s);
      svgText(s, L - 6, gy + 4, H.num(max * g / 4), "end");
      svgText(s, L + w + 6, gy + 4, g * 25 + "%", "start");
    }
    var band = w / items.length, bw = Math.max(2, Math.min(40, band * 0.6));
    var every = Math.ceil(items.length / 14); /* at most 14 labels on the axis */
    var pts = [];
    items.forEach(function (it, i) {
      var cx = L + band * i + band / 2, n = it.row.cases || 0, bh = h * n / max;
      var r = svg("rect", { x: (cx - bw / 2).toFixed(1), y: (T + h - bh).toFixed(1),
                            width: bw.toFixed(1), height: bh.toFixed(1), "class": "bar",
                            "data-key": it.key, "data-cases": n }, s);
      svg("title", {}, r).textContent = it.label + "：受理 " + H.num(n) + " 件，按期办理率 " +
        H.pct(it.row.on_time_rate);
      if (i % every === 0) svgText(s, cx, T + h + 16, it.label, "middle");
      if (typeof it.row.on_time_rate === "number") {
        pts.push([cx, T + h - h * it.row.on_time_rate, it]);
      }
    });
    /* the line joins neighbours only: it breaks where an item has no rate */
    var run = [];
    function flush() {
      if (run.length > 1) {
        svg("polyline", { "class": "line", points: run.map(function (p) {
          return p[0].toFixed(1) + "," + p[1].toFixed(1);
        }).join(" ") }, s);
      }
      run = [];
    }
    items.forEach(function (it, i) {
      var p = pts.filter(function (q) { return q[2] === it; })[0];
      if (p) run.push(p); else flush();
      if (i === items.length - 1) flush();
    });
    pts.forEach(function (p) {
      var c = svg("circle", { cx: p[0].toFixed(1), cy: p[1].toFixed(1), r: 3.5, "class": "pt",
                              "data-key": p[2].key, "data-rate": p[2].row.on_time_rate }, s);
      svg("title", {}, c).textContent = p[2].label + "：按期办理率 " + H.pct(p[2].row.on_time_rate);
    });
    svgText(s, 12, T + h / 2, "件", "middle");
    svgText(s, W - 10, T + h / 2, "%", "middle");
  }

  function render(j) {
    fillRow($("cards"), j.total || {});
    $("period").textContent = j.from || j.to ? (j.from || "最早") + " 至 " + (j.to || "今") : "全部";
    $("generated").textContent = H.shortTime(j.generated_datetime);
    var months = Array.isArray(j.by_month) ? j.by_month : [];
    var prefs = Array.isArray(j.by_prefecture) ? j.by_prefecture : [];
    var mb = $("month-body"), pb = $("pref-body");
    mb.textContent = "";
    months.forEach(function (m) { mb.appendChild(tableRow("month:" + m.month, m.month, m)); });
    $("month-empty").hidden = months.length > 0;
    pb.textContent = "";
    prefs.forEach(function (p) {
      pb.appendChild(tableRow("pref:" + p.code, p.name || H.prefName(p.code) || p.code, p));
    });
    pb.appendChild(tableRow("total-table", "全省合计", j.total || {}, "total"));
    chart($("chart-month"), "svg-month", "按月受理件数与按期办理率", months.map(function (m) {
      return { key: m.month, label: m.month, row: m };
    }));
    chart($("chart-pref"), "svg-pref", "各市州受理件数与按期办理率", prefs.map(function (p) {
      return { key: p.code, label: H.prefShort(p.code), row: p };
    }));
  }

  function statusCell(e) {
    var closed = e.status === "closed";
    var td = H.el("td");
    td.appendChild(H.el("span", closed ? "已办结" : "办理中", "st " + (closed ? "closed" : "open")));
    return td;
  }

  function renderLatest(list) {
    var body = $("latest-body");
    body.textContent = "";
    list.forEach(function (e) {
      var id = String(e.service_request_id || "");
      var tr = H.el("tr");
      tr.setAttribute("data-id", id);
      var td = H.el("td", null, "id");
      var a = H.el("a", id);
      a.href = "case.html" + H.query({ id: id });
      td.appendChild(a);
      tr.appendChild(td);
      tr.appendChild(H.el("td", e.county_name || e.county || "—"));
      tr.appendChild(H.el("td", e.service_name || e.service_code || "—"));
      tr.appendChild(H.el("td", H.KINDS[e.kind] || e.kind || "—"));
      tr.appendChild(statusCell(e));
      tr.appendChild(H.el("td", e.status_notes || "—"));
      tr.appendChild(H.el("td", H.shortTime(e.requested_datetime), "time"));
      tr.appendChild(H.el("td", H.shortTime(e.updated_datetime), "time"));
      body.appendChild(tr);
    });
    $("latest-empty").hidden = list.length > 0;
    $("latest-note").textContent = list.length ? "最近更新的 " + list.length + " 件，点编号查看详情" : "";
  }

  function setState(s, err) {
    var e = $("state");
    e.textContent = s;
    e.className = err ? "err" : "";
  }

  function pad(n) { return n < 10 ? "0" + n : "" + n; }

  var P = period();
  var loading = false;

  function load() {
    if (loading) return;
    loading = true;
    var sq = H.query({ from: P.from, to: P.to });
    var fq = { start_date: P.from, end_date: P.to };
    var stats = H.getJSON("feed/stats.json" + sq).then(function (j) {
      render(j);
      document.body.setAttribute("data-stats", "ok");
    }, function (err) {
      document.body.setAttribute("data-stats", "error");
      throw new Error("统计数据载入失败（" + err.message + "）");
    });
    var fqs = H.query({ page_size: LATEST, start_date: fq.start_date, end_date: fq.end_date });
    var latest = H.getJSON("feed/requests.json" + fqs).then(function (j) {
      renderLatest(H.entriesOf(j).slice(0, LATEST));
    }, function (err) {
      throw new Error("办理信息载入失败（" + err.message + "）");
    });
    Promise.all([stats, latest]).then(function () {
      var d = new Date();
      setState("已更新 " + pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds()));
      document.body.setAttribute("data-state", "ready");
    }, function (err) {
      setState(err.message + "，稍后自动重试", true);
      document.body.setAttribute("data-state", "error");
    }).then(function () { loading = false; });
  }

  $("f-from").value = P.from;
  $("f-to").value = P.to;
  $("filter-msg").textContent = P.msg;
  $("filter").addEventListener("submit", function (ev) {
    var f = $("f-from").value, t = $("f-to").value;
    if (f && t && f > t) {
      ev.preventDefault();
      $("filter-msg").textContent = "起始日期不能晚于截止日期";
      $("f-from").focus();
    }
  });
  $("search").addEventListener("submit", function () { $("q-id").value = $("q-id").value.trim(); });
  $("l-stats").href = "feed/stats.json" + H.query({ from: P.from, to: P.to });
  $("l-json").href = "feed/requests.json" + H.query({ start_date: P.from, end_date: P.to });
  $("l-atom").href = "feed/atom.xml" + H.query({ start_date: P.from, end_date: P.to });
  load();
  setInterval(load, REFRESH_MS);
})();
