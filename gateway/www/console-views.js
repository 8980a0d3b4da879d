/*
 * console-views.js — the views of the gateway console (console.html;
 * docs/consoles.md, "Gateway console"): counties (GET /v1/counties with
 * the summary's open and late counts), figures (GET /v1/stats/summary,
 * /units, /staff, /hotspots, with SVG bar charts), the monthly form
 * (GET /v1/reports/monthly, downloaded as a file), spot checks (GET and
 * POST /v1/spotchecks, POST /v1/spotchecks/ID/results), directives (GET
 * and POST /v1/directives) and, for auditors, the access log (GET
 * /v1/access-log). Each form checks its fields as the gateway does and
 * shows the same message; whatever the gateway refuses is shown with its
 * own detail. Plain ES5, text only through textContent.
 */
"use strict";
(function () {
  var H = HCP, C = HCPC, $ = C.$;
  var SVGNS = "http://www.w3.org/2000/svg";

  function pad(n) { return n < 10 ? "0" + n : "" + n; }

  /* Today in Asia/Shanghai as YYYY-MM-DD (the gateway's day of receipt). */
  function today() {
    var d = new Date(Date.now() + 8 * 3600 * 1000);
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
  }

  function shiftDays(day, n) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(day);
    var d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3] + n));
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate());
  }

  function td(text, cls) { return H.el("td", text, cls); }

  function row(cells) {
    var tr = H.el("tr");
    cells.forEach(function (c) { tr.appendChild(typeof c === "object" && c ? c : td(c)); });
    return tr;
  }

  function clear(id) { var e = $(id); e.textContent = ""; return e; }

  function countyLabel(code, name) {
    return (name || "") + "（" + code + "）";
  }

  function svg(tag, attrs, parent) {
    var e = document.createElementNS(SVGNS, tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, String(attrs[k])); });
    if (parent) parent.appendChild(e);
    return e;
  }

  function svgText(parent, x, y, s, anchor, cls) {
    var t = svg("text", { x: x, y: y, "text-anchor": anchor || "start" }, parent);
    if (cls) t.setAttribute("class", cls);
    t.textContent = s;
    return t;
  }

  /*
   * A horizontal bar chart into figure fig: one row per item {key, label,
   * value, prev (optional second bar), over (highlighted)}; fmt formats a
   * value; max the scale's end (the largest value when absent); mark an
   * optional vertical line {at, label} (a threshold). Each bar carries
   * data-key and data-value; the numbers are in the table beside it.
   */
  function hbars(fig, id, title, items, opt) {
    opt = opt || {};
    var fmt = opt.fmt || H.num;
    var rowH = opt.prevKey ? 24 : 18, L = 170, R = 60, T = 8, W = 600;
    var HT = T + Math.max(1, items.length) * rowH + 22;
    fig.textContent = "";
    var s = svg("svg", { viewBox: "0 0 " + W + " " + HT, "class": "chart hbars", role: "img",
                         "aria-labelledby": id + "-t", id: id }, fig);
    svg("title", { id: id + "-t" }, s).textContent = title + "（数字见下方表格）";
    if (!items.length) {
      svgText(s, W / 2, T + 14, "没有数据", "middle", "none");
      return;
    }
    var max = opt.max || items.reduce(function (m, it) {
      return Math.max(m, it.value || 0, it.prev || 0);
    }, 0) || 1;
    var w = W - L - R;
    items.forEach(function (it, i) {
      var y = T + i * rowH;
      var lab = it.label.length > 13 ? it.label.slice(0, 12) + "…" : it.label;
      svgText(s, L - 6, y + 12, lab, "end");
      var bh = opt.prevKey ? 10 : 12;
      var bw = Math.max(0, w * (it.value || 0) / max);
      var r = svg("rect", { x: L, y: y + 2, width: bw.toFixed(1), height: bh,
                            "class": "bar" + (it.over ? " over" : ""), "data-key": it.key,
                            "data-value": it.value }, s);
      svg("title", {}, r).textContent = it.label + "：" + fmt(it.value);
      svgText(s, L + bw + 4, y + 11, fmt(it.value), "start");
      if (opt.prevKey) {
        var pw = Math.max(0, w * (it.prev || 0) / max);
        var p = svg("rect", { x: L, y: y + 13, width: pw.toFixed(1), height: 7, "class": "prev",
                              "data-key": it.key, "data-value": it.prev }, s);
        svg("title", {}, p).textContent = it.label + "（上期）：" + fmt(it.prev);
      }
    });
    svg("line", { x1: L, x2: L, y1: T, y2: HT - 20, "class": "axis" }, s);
    if (opt.mark) {
      var mx = L + w * opt.mark.at / max;
      svg("line", { x1: mx, x2: mx, y1: T, y2: HT - 20, "class": "thr" }, s);
      svgText(s, mx, HT - 6, opt.mark.label, "middle", "thr");
    }
  }

  /* ---- counties ---- */
  var STATES = { never_seen: "未接入", ok: "正常", forked: "断链（拒收）", unauthorized: "证书冒用" };
  var FIND = ["backdated", "overdue_unmarked", "deadline_mismatch", "self_decided", "case_number_gaps"];
  var countyRows = [];

  function renderCounties() {
    var mode = $("c-filter").value, body = clear("counties-body"), shown = 0;
    countyRows.forEach(function (c) {
      var f = c.findings || {}, nf = 0;
      FIND.forEach(function (k) { nf += f[k] || 0; });
      var problem = c.state === "forked" || c.state === "unauthorized" || c.lag > 0 || nf > 0 ||
                    c.rule_flags > 0;
      if (mode === "seen" && c.state === "never_seen") return;
      if (mode === "problem" && !problem) return;
      var fig = c.figures || {}, late = fig.on_time ? fig.on_time.late : null;
      var tr = row([countyLabel(c.county, c.name)]);
      tr.setAttribute("data-county", c.county);
      if (problem) tr.className = "problem";
      var st = H.el("span", STATES[c.state] || c.state, "st s-" + c.state);
      var cell = td(); cell.appendChild(st); tr.appendChild(cell);
      tr.appendChild(td(H.num(c.applied), "num"));
      tr.appendChild(td(H.num(c.lag), "num" + (c.lag > 0 ? " warn" : "")));
      tr.appendChild(td(H.shortTime(c.last_seen), "time"));
      tr.appendChild(td(H.num(c.rule_flags), "num" + (c.rule_flags > 0 ? " warn" : "")));
      FIND.forEach(function (k) {
        var cellf = td(H.num(f[k] || 0), "num" + (f[k] > 0 ? " warn" : ""));
        cellf.setAttribute("data-k", k);
        tr.appendChild(cellf);
      });
      tr.appendChild(td(H.num(fig.open), "num"));
      tr.appendChild(td(H.num(late), "num" + (late > 0 ? " warn" : "")));
      var act = td();
      if (c.state !== "never_seen") {
        var b = H.el("button", "查看");
        b.type = "button";
        b.setAttribute("aria-label", "查看" + (c.name || c.county) + "的案件");
        b.addEventListener("click", function () { countyCases(c, ""); });
        act.appendChild(b);
      }
      tr.appendChild(act);
      body.appendChild(tr);
      shown++;
    });
    $("counties-note").textContent = "显示 " + shown + " / " + countyRows.length + " 个";
  }

  function loadCounties() {
    C.status("正在载入……");
    Promise.all([C.get("/v1/counties"), C.get("/v1/stats/summary")]).then(function (rs) {
      var figs = {};
      (rs[1].json.counties || []).forEach(function (c) { figs[c.county] = c.figures; });
      countyRows = (rs[0].json.counties || []).map(function (c) {
        c.figures = figs[c.county] || {};
        return c;
      });
      renderCounties();
      C.status("已更新 " + new Date().toLocaleTimeString("zh-CN", { hour12: false }));
    }, C.fail());
  }

  /* One county's cases (GET /v1/cases: no personal data, nothing logged),
   * the overdue ones by default, in pages of 50. */
  var ccCounty = null, ccNext = null;
  function countyCases(c, after) {
    ccCounty = c;
    var overdue = $("cc-filter").value === "overdue";
    C.get("/v1/cases", { county: c.county, overdue: overdue ? "true" : "", limit: 50,
                         after: after || "" }).then(function (r) {
      var list = r.json.cases || [], body = after ? $("ccases-body") : clear("ccases-body");
      $("county-cases").hidden = false;
      $("h-county-cases").textContent = countyLabel(c.county, c.name) + (overdue ? "已超期的件" : "的全部件");
      list.forEach(function (x) {
        var tr = row([td(x.id, "id"), H.KINDS[x.kind] || x.kind, (x.service_item && x.service_item.name) || "—",
                      CASE_STATUS[x.status] || x.status, td(H.shortTime(x.received_at), "time"),
                      td(H.shortTime(x.deadlines && x.deadlines.feedback_due), "time"),
                      td(x.overdue ? "是" : "否", x.overdue ? "warn" : "")]);
        tr.setAttribute("data-case", x.id);
        body.appendChild(tr);
      });
      ccNext = r.json.next;
      $("ccases-more").hidden = !ccNext;
      $("ccases-empty").hidden = !!after || list.length > 0;
      if (!after) $("h-county-cases").focus();
    }, C.fail());
  }
  $("f-ccases").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (ccCounty) countyCases(ccCounty, "");
  });
  $("ccases-more").addEventListener("click", function () { countyCases(ccCounty, ccNext); });

  C.view("counties", function (sec, first) { loadCounties(); });
  $("c-filter").addEventListener("change", renderCounties);
  $("c-reload").addEventListener("click", loadCounties);

  /* ---- figures ---- */
  function fillCards(f) {
    var v = {
      received: H.num(f.received), closed: H.num(f.closed), open: H.num(f.open),
      on_time_rate: H.pct(f.on_time && f.on_time.rate), late: H.num(f.on_time && f.on_time.late),
      revisit_rate: H.pct(f.revisit && f.revisit.rate),
      revisit_missing: H.num(f.revisit && f.revisit.missing),
      satisfaction_rate: H.pct(f.satisfaction && f.satisfaction.rate),
      satisfied: H.num(f.satisfaction && f.satisfaction.satisfied)
    };
    var cells = $("sum-cards").querySelectorAll("[data-k]");
    for (var i = 0; i < cells.length; i++) cells[i].textContent = v[cells[i].getAttribute("data-k")];
  }

  function unitsLoad(ev) {
    if (ev) ev.preventDefault();
    var y = $("u-year").value.trim();
    $("u-msg").textContent = "";
    if (!/^\d{4}$/.test(y) || +y < 2000 || +y > 2199) {
      $("u-msg").textContent = C.localText("year: required, a year YYYY between 2000 and 2199");
      $("u-year").focus();
      return;
    }
    C.get("/v1/stats/units", { year: y }).then(function (r) {
      var j = r.json, body = clear("units-body");
      $("units-note").textContent = j.year + " 年：阈值 " + H.pct(j.threshold) + "，超过阈值 " +
        H.num(j.over) + " 个单位，待定 " + H.num(j.pending) + " 个";
      var units = j.units || [];
      units.forEach(function (u) {
        var tr = row([u.county, (u.unit && u.unit.name) || "", td(H.num(u.ratings), "num"),
                      td(H.num(u.negative), "num"), td(H.pct(u.share), "num"),
                      u.over_threshold ? "是" : "否", td(H.num(u.pending), "num")]);
        if (u.over_threshold) tr.className = "problem";
        body.appendChild(tr);
      });
      $("units-empty").hidden = units.length > 0;
      var top = units.slice().sort(function (a, b) { return (b.share || 0) - (a.share || 0); })
        .slice(0, 10);
      hbars($("chart-units"), "svg-units", "各单位差评率（前 10）", top.map(function (u) {
        return { key: u.county + (u.unit ? u.unit.code : ""), label: (u.unit && u.unit.name) || "",
                 value: u.share || 0, over: u.over_threshold };
      }), { fmt: H.pct, max: Math.max(j.threshold * 2, top.length ? top[0].share : 0) || 1,
            mark: { at: j.threshold, label: "阈值 " + H.pct(j.threshold) } });
    }, C.fail("u-msg"));
    staffLoad(y, "");
  }

  var staffNext = null, staffYear = "";
  function staffLoad(y, after) {
    staffYear = y;
    C.get("/v1/stats/staff", { year: y, limit: 50, after: after }).then(function (r) {
      var j = r.json, body = after ? $("staff-body") : clear("staff-body");
      (j.staff || []).forEach(function (s) {
        body.appendChild(row([s.county, (s.unit && s.unit.name) || "",
                              (s.staff_name || "") + "（" + s.staff_id + "）",
                              td(H.num(s.cases), "num"), (s.case_ids || []).join("、"),
                              s.listed ? "列入" : "待定（有未决异议）"]));
      });
      staffNext = j.next;
      $("staff-empty").hidden = !!after || (j.staff || []).length > 0;
      $("staff-more").hidden = !j.next;
      $("staff-note").textContent = j.year + " 年，阈值 " + j.threshold + " 件";
    }, C.fail());
  }

  var HOT_BY = { service_item: "事项", unit: "单位", dimension: "评价维度", county: "县（市、区）",
                 prefecture: "市州" };

  function hotLabel(by, r) {
    if (by === "dimension") return H.DIMENSIONS[r.dimension] || r.dimension || r.key;
    return r.name || r.code || r.key;
  }

  function hotLoad(ev) {
    if (ev) ev.preventDefault();
    var from = $("h-from").value, to = $("h-to").value, by = $("h-by").value;
    var limit = $("h-limit").value.trim();
    var bad = !H.isDate(from) ? "from: required, a date YYYY-MM-DD" :
              !H.isDate(to) ? "to: required, a date YYYY-MM-DD" :
              from > to ? "from: after to" :
              !/^\d{1,4}$/.test(limit) || +limit < 1 || +limit > 1000 ? "limit: an integer 1..1000" : "";
    $("h-msg").textContent = bad ? C.localText(bad) : "";
    if (bad) return;
    C.get("/v1/stats/hotspots", { from: from, to: to, by: by, limit: limit }).then(function (r) {
      var j = r.json, body = clear("hot-body"), rows = j.rows || [];
      $("hot-note").textContent = j.from + " 至 " + j.to + "，按" + (HOT_BY[j.by] || j.by) +
        "；上期 " + (j.previous ? j.previous.from + " 至 " + j.previous.to : "—");
      rows.forEach(function (x, i) {
        body.appendChild(row([td(String(i + 1), "num"), hotLabel(j.by, x), td(H.num(x.cases), "num"),
                              td(H.num(x.previous), "num")]));
      });
      hbars($("chart-hot"), "svg-hot", "投诉热点（本期与上期件数）", rows.map(function (x) {
        return { key: x.key, label: hotLabel(j.by, x), value: x.cases, prev: x.previous };
      }), { prevKey: true });
    }, C.fail("h-msg"));
  }

  C.view("figures", function (sec, first) {
    if (first && !$("u-year").value) {
      var t = today();
      $("u-year").value = t.slice(0, 4);
      $("h-to").value = t;
      $("h-from").value = shiftDays(t, -29);
    }
    C.get("/v1/stats/summary").then(function (r) { fillCards(r.json.figures || {}); }, C.fail());
    unitsLoad();
    hotLoad();
  });
  $("f-units").addEventListener("submit", unitsLoad);
  $("f-hot").addEventListener("submit", hotLoad);
  $("staff-more").addEventListener("click", function () { staffLoad(staffYear, staffNext); });

  /* ---- monthly form ---- */
  (function () {
    var sel = $("m-pref");
    H.PREFECTURES.forEach(function (p) {
      var o = H.el("option", p[1]);
      o.value = p[0] + "00";
      sel.appendChild(o);
    });
  })();

  /* Save blob as a file named name (the browser's download). */
  function saveAs(blob, name) {
    var url = URL.createObjectURL(blob);
    var a = H.el("a");
    a.href = url;
    a.download = name;
    a.hidden = true;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(url); a.remove(); }, 1000);
  }

  $("f-monthly").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var pref = $("m-pref").value, month = $("m-month").value.trim(), fmt = $("m-format").value;
    var phone = $("m-phone").value.trim();
    var bad = !/^\d{4}-(0[1-9]|1[0-2])$/.test(month) ? "month: expected YYYY-MM" :
              !/^\d{6}$/.test(pref) ? "prefecture: required (e.g. 630100)" :
              !/^[0-9 +()\-]*$/.test(phone) ? "phone: digits, spaces, + - ( ) only" : "";
    $("m-msg").textContent = bad ? C.localText(bad) : "";
    $("m-ok").textContent = "";
    if (bad) return;
    var q = H.query({ month: month, prefecture: pref, format: fmt, phone: phone });
    C.call("GET", "/v1/reports/monthly" + q, undefined, "blob").then(function (r) {
      if (r.status === 204) {
        $("m-ok").textContent = H.prefName(pref) + month + " 没有受理的差评投诉，无统计表可下载。";
        return;
      }
      var name = "统计表-" + H.prefName(pref) + "-" + month + "." + fmt;
      saveAs(r.blob, name);
      $("m-ok").textContent = "已下载 " + name + "（" + H.num(r.blob.size) + " 字节）";
      document.body.setAttribute("data-downloaded", name);
    }, C.fail("m-msg"));
  });

  /* ---- spot checks ---- */
  var CASE_STATUS = {
    received: "待核实", verifying: "核实中", disputed: "异议复核", rectifying: "整改中",
    feedback_pending: "待反馈", awaiting_revisit: "待回访", resolved: "已办结", closed: "已关闭"
  };
  var spotOpen = null;

  function yesNo(b) { return b ? "是" : "否"; }

  function spotList() {
    C.get("/v1/spotchecks").then(function (r) {
      var list = r.json.spotchecks || [], body = clear("spot-body");
      list.forEach(function (d) {
        var res = d.results || [], n = 0, chk = 0, failed = 0;
        res.forEach(function (x) { n += x.sample || 0; chk += x.checked || 0; failed += x.failed || 0; });
        var b = H.el("button", "打开");
        b.type = "button";
        b.setAttribute("data-open", d.id);
        b.setAttribute("aria-label", "打开第" + d.id + "号抽查");
        b.addEventListener("click", function () { spotDetail(d.id); });
        var cell = td(); cell.appendChild(b);
        var tr = row([td(String(d.id), "num"), d.period, td(H.shortTime(d.drawn_datetime), "time"),
                      td(H.pct(d.rate), "num"), td(H.num(n), "num"), td(H.num(chk), "num"),
                      td(H.num(failed), "num" + (failed ? " warn" : "")), cell]);
        tr.setAttribute("data-spot", d.id);
        body.appendChild(tr);
      });
      $("spot-empty").hidden = list.length > 0;
    }, C.fail());
  }

  function spotDetail(id, keepFocus) {
    C.get("/v1/spotchecks/" + encodeURIComponent(id)).then(function (r) {
      var d = r.json;
      spotOpen = d.id;
      $("spot-detail").hidden = false;
      $("h-spot-detail").textContent = "第" + d.id + "号抽查（" + d.period + "）";
      var facts = clear("spot-facts");
      [["抽取时间", H.shortTime(d.drawn_datetime)], ["抽取人", d.by || "—"],
       ["比例 / 每县至少", H.pct(d.rate) + " / " + d.min_per_county],
       ["公开随机数", d.beacon], ["检查点条目数", H.num(d.tree_size)], ["种子", d.seed]
      ].forEach(function (f) { facts.appendChild(H.el("dt", f[0])); facts.appendChild(H.el("dd", f[1])); });
      var rb = clear("spot-results");
      (d.results || []).forEach(function (x) {
        rb.appendChild(row([countyLabel(x.county, x.county_name), td(H.num(x.population), "num"),
                            td(H.num(x.sample), "num"), td(H.num(x.checked), "num"),
                            td(H.num(x.reached), "num"), td(H.num(x.rectified), "num"),
                            td(H.num(x.satisfied), "num"), td(H.num(x.failed), "num")]));
      });
      var found = {};
      (d.findings || []).forEach(function (f) { found[f.case] = f; });
      var cb = clear("spot-cases"), sel = clear("r-case");
      (d.cases || []).forEach(function (c) {
        var f = found[c.case];
        var res = f ? "联系到：" + yesNo(f.reached) + "，整改：" + yesNo(f.rectified) + "，满意：" +
                      yesNo(f.satisfied) : "未核查";
        var act = td();
        if (!f) {
          var b = H.el("button", "记录结果");
          b.type = "button";
          b.setAttribute("aria-label", "记录 " + c.case + " 的核查结果");
          b.addEventListener("click", function () { $("r-case").value = c.case; $("r-reached").focus(); });
          act.appendChild(b);
          var o = H.el("option", c.case + "（" + c.county + "）");
          o.value = c.case;
          sel.appendChild(o);
        }
        var tr = row([td(c.case, "id"), c.county, CASE_STATUS[c.status] || c.status || "—", res,
                      f ? (f.note || "") : "", act]);
        tr.setAttribute("data-case", c.case);
        if (f) tr.setAttribute("data-found", "1");
        cb.appendChild(tr);
      });
      $("f-find").hidden = sel.options.length === 0;
      if (!keepFocus) $("h-spot-detail").focus();
    }, C.fail());
  }

  $("f-draw").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var period = $("d-period").value.trim(), rate = $("d-rate").value.trim();
    var minpc = $("d-min").value.trim(), beacon = $("d-beacon").value;
    var rateOk = /^(0(\.\d{1,6})?|1(\.0{1,6})?|\.\d{1,6})$/.test(rate);
    var bytes = new TextEncoder().encode(beacon).length;
    var bad = !/^\d{4}-(0[1-9]|1[0-2])$/.test(period) ? "period: a month, YYYY-MM" :
              !rateOk ? "rate: a number from 0 to 1 with at most six decimals" :
              !/^\d{1,7}$/.test(minpc) || +minpc > 1000000 ? "min_per_county: an integer 0..1000000" :
              bytes < 1 || bytes > 1024 ? "beacon: the public value, 1 to 1024 bytes of text" : "";
    $("d-msg").textContent = bad ? C.localText(bad) : "";
    if (bad) return;
    C.post("/v1/spotchecks", { period: period, rate: Number(rate), min_per_county: Number(minpc),
                               beacon: beacon }).then(function (r) {
      C.status("已抽取第" + r.json.id + "号抽查");
      spotList();
      spotDetail(r.json.id);
    }, C.fail("d-msg"));
  });

  $("f-find").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var cid = $("r-case").value, note = $("r-note").value;
    var bad = !cid ? "case: a case id of the draw" :
              new TextEncoder().encode(note).length > 16384 ? "note: text of at most 16384 bytes" : "";
    $("r-msg").textContent = bad ? C.localText(bad) : "";
    if (bad || spotOpen === null) return;
    var body = { "case": cid, reached: $("r-reached").checked, rectified: $("r-rectified").checked,
                 satisfied: $("r-satisfied").checked };
    if (note.trim()) body.note = note;
    C.post("/v1/spotchecks/" + spotOpen + "/results", body).then(function () {
      C.status("已记录 " + cid + " 的核查结果");
      $("r-note").value = "";
      ["r-reached", "r-rectified", "r-satisfied"].forEach(function (k) { $(k).checked = false; });
      spotList();
      spotDetail(spotOpen, true);
    }, C.fail("r-msg"));
  });

  C.view("spot", function (sec, first) {
    if (first && !$("d-period").value) $("d-period").value = today().slice(0, 7);
    spotList();
    if (spotOpen !== null) spotDetail(spotOpen, true);
  });

  /* ---- directives ---- */
  var DTYPES = { correction: "纠正", spotcheck: "抽查", spotcheck_result: "抽查结果", calendar: "工作日历" };
  var DSTATES = { pending: "待发", sent: "已发", applied: "已执行", refused: "被拒" };
  var dirLast = null;

  function dirBody(d) {
    var b = d.body || {};
    if (d.type === "correction") return (b["case"] || "") + "：" + (b.note || "");
    if (d.type === "spotcheck") return "第" + b.spotcheck + "号抽查：" + (b["case"] || "");
    if (d.type === "spotcheck_result") {
      return "第" + b.spotcheck + "号抽查：" + (b["case"] || "") + "，联系到：" + yesNo(b.reached) +
             "，整改：" + yesNo(b.rectified) + "，满意：" + yesNo(b.satisfied);
    }
    if (d.type === "calendar") return "版本 " + (b.version !== undefined ? b.version : "");
    return JSON.stringify(b);
  }

  function dirLoad(ev, before) {
    if (ev) ev.preventDefault();
    var county = $("di-county").value.trim();
    if (county && !/^\d{6}$/.test(county)) {
      $("di-msg").textContent = C.localText("county: six digits");
      return;
    }
    $("di-msg").textContent = "";
    C.get("/v1/directives", { type: $("di-type").value, county: county, limit: 50,
                              before: before || "" }).then(function (r) {
      var list = r.json.directives || [], body = before ? $("dir-body") : clear("dir-body");
      list.forEach(function (d) {
        var cnt = d.counts || {};
        var states = (d.counties || []).map(function (c) {
          return c.county + " " + (DSTATES[c.state] || c.state) + (c.why ? "（" + c.why + "）" : "");
        }).join("；");
        var tr = row([td(String(d.seq), "num"), td(H.shortTime(d.at), "time"),
                      d.target === "all" ? "全部县" : d.target, DTYPES[d.type] || d.type, dirBody(d),
                      td(H.num(cnt.pending), "num"), td(H.num(cnt.sent), "num"),
                      td(H.num(cnt.applied), "num"), td(H.num(cnt.refused), "num" + (cnt.refused ? " warn" : "")),
                      states]);
        tr.setAttribute("data-seq", d.seq);
        tr.setAttribute("data-type", d.type);
        body.appendChild(tr);
        dirLast = d.seq;
      });
      $("dir-empty").hidden = before || list.length > 0;
      $("dir-more").hidden = list.length < 50;
    }, C.fail("di-msg"));
  }

  $("f-dir").addEventListener("submit", dirLoad);
  $("dir-more").addEventListener("click", function () { dirLoad(null, dirLast); });
  $("f-corr").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var cid = $("co-case").value.trim(), note = $("co-note").value;
    var bad = !cid ? "case: a case id is required" : "";
    if (!bad && !H.CASE_ID.test(cid)) bad = "case: a case id is required";
    $("co-msg").textContent = bad ? C.localText(bad) : (!note.trim() ? "请填写纠正意见" : "");
    if (bad || !note.trim()) return;
    C.post("/v1/directives", { type: "correction", "case": cid, note: note }).then(function (r) {
      C.status("已下发第" + r.json.seq + "号指令");
      $("co-note").value = "";
      dirLoad();
    }, C.fail("co-msg"));
  });
  C.view("directives", function () { dirLoad(); });

  /* ---- access log (auditors) ---- */
  var accessNext = null;
  function accessLoad(ev, after) {
    if (ev) ev.preventDefault();
    var from = $("a-from").value, to = $("a-to").value, acc = $("a-account").value.trim();
    var bad = from && !H.isDate(from) ? "from: expected YYYY-MM-DD or RFC 3339" :
              to && !H.isDate(to) ? "to: expected YYYY-MM-DD or RFC 3339" :
              acc && !/^[A-Za-z0-9._@-]{1,63}$/.test(acc) ? "account: not an account name" : "";
    $("a-msg").textContent = bad ? C.localText(bad) : "";
    if (bad) return;
    C.get("/v1/access-log", { from: from, to: to, account: acc, after: after || "", limit: 200 })
      .then(function (r) {
        var list = r.json.entries || [], body = after ? $("access-body") : clear("access-body");
        list.forEach(function (e) {
          var tr = row([td(String(e.n), "num"), td(H.shortTime(e.at), "time"), e.account, e.what]);
          tr.setAttribute("data-n", e.n);
          body.appendChild(tr);
        });
        accessNext = r.json.next;
        $("access-more").hidden = !r.json.next;
        $("access-empty").hidden = !!after || list.length > 0;
      }, C.fail("a-msg"));
  }
  $("f-access").addEventListener("submit", accessLoad);
  $("access-more").addEventListener("click", function () { accessLoad(null, accessNext); });
  C.view("access", function () { accessLoad(); });

  C.start();
})();
