/*
 * spotchecks.js — the spot-check page (spotchecks.html, docs/spotchecks.md):
 * one table per draw, newest first, one row per county: population,
 * sample, checked, reached, rectified, satisfied, failed; and the draw's
 * public inputs (checkpoint size, beacon, seed) with a link to the JSON.
 * Text only through textContent (HCP.el); ES5, nothing from elsewhere.
 * Rows carry data-row ("ID:county", "ID:total", "ID:facts") and cells
 * data-k (the JSON's name) for the browser test (test_spotpage.py).
 */
"use strict";
(function () {
  var COLS = [
    ["county", "县（市、区）"], ["population", "当月办结"], ["sample", "抽取"],
    ["checked", "已核查"], ["reached", "联系到投诉人"], ["rectified", "已整改"],
    ["satisfied", "满意"], ["failed", "未通过"]
  ];

  function countyName(row) {
    return (row.county_name || "") + "（" + row.county + "）";
  }

  function total(rows, k) {
    var n = 0;
    rows.forEach(function (r) { n += typeof r[k] === "number" ? r[k] : 0; });
    return n;
  }

  function table(d) {
    var t = HCP.el("table");
    var cap = HCP.el("caption", d.period + " 抽查（第" + d.id + "号）各县情况");
    t.appendChild(cap);
    var head = HCP.el("tr");
    COLS.forEach(function (c) {
      var th = HCP.el("th", c[1]);
      th.setAttribute("scope", "col");
      head.appendChild(th);
    });
    var thead = HCP.el("thead");
    thead.appendChild(head);
    t.appendChild(thead);
    var body = HCP.el("tbody");
    var rows = d.results || [];
    rows.forEach(function (r) {
      var tr = HCP.el("tr");
      tr.setAttribute("data-row", d.id + ":" + r.county);
      COLS.forEach(function (c, i) {
        var cell = i === 0 ? HCP.el("th", countyName(r)) : HCP.el("td", HCP.num(r[c[0]]));
        if (i === 0) cell.setAttribute("scope", "row");
        cell.setAttribute("data-k", c[0]);
        tr.appendChild(cell);
      });
      body.appendChild(tr);
    });
    var sum = HCP.el("tr");
    sum.setAttribute("data-row", d.id + ":total");
    COLS.forEach(function (c, i) {
      var cell = i === 0 ? HCP.el("th", "合计") : HCP.el("td", HCP.num(total(rows, c[0])));
      if (i === 0) cell.setAttribute("scope", "row");
      cell.setAttribute("data-k", c[0]);
      sum.appendChild(cell);
    });
    body.appendChild(sum);
    t.appendChild(body);
    return t;
  }

  function section(d) {
    var s = HCP.el("section");
    s.setAttribute("aria-label", d.period + " 抽查");
    s.appendChild(HCP.el("h2", d.period + " 省级抽查（第" + d.id + "号）"));
    var size = (d.checkpoint || "").split("\n")[1] || "—";
    var dl = HCP.el("dl", null, "facts");
    dl.setAttribute("data-row", d.id + ":facts");
    [["drawn", "抽取时间", HCP.shortTime(d.drawn_datetime)],
     ["rate", "抽样比例", HCP.pct(d.rate) + "，每县至少 " + d.min_per_county + " 件"],
     ["tree_size", "透明日志检查点", "前 " + HCP.num(+size) + " 条公开记录"],
     ["beacon", "公开随机数", d.beacon],
     ["seed", "种子", d.seed]].forEach(function (p) {
      dl.appendChild(HCP.el("dt", p[1]));
      var dd = HCP.el("dd", p[2]);
      dd.setAttribute("data-k", p[0]);
      dl.appendChild(dd);
    });
    s.appendChild(dl);
    s.appendChild(table(d));
    var p = HCP.el("p");
    var a = HCP.el("a", "本次抽查的公开数据（JSON）");
    a.href = "feed/spotchecks.json#" + d.id;
    p.appendChild(a);
    s.appendChild(p);
    return s;
  }

  var state = document.getElementById("state");
  HCP.getJSON("feed/spotchecks.json").then(function (j) {
    var list = (j && j.spotchecks) || [];
    var box = document.getElementById("draws");
    list.forEach(function (d) { box.appendChild(section(d)); });
    document.getElementById("none").hidden = list.length > 0;
    state.textContent = "共 " + list.length + " 次抽查";
    document.body.setAttribute("data-state", "ready");
  }).catch(function (e) {
    state.textContent = "载入失败：" + e.message;
    document.body.setAttribute("data-state", "error");
  });
})();
