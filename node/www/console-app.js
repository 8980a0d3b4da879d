// console-app.js — the node console (docs/consoles.md): sign-in with a
// session cookie, intake forms, the work queue, the case page with the steps
// the rules allow now, the month's ledger and contacts register, the sync
// state and the province's directives. Plain JavaScript, no library: every
// figure comes from the node's own API (docs/api.md), every refusal is the
// API's, shown in Chinese (console-rules.js).
"use strict";

(function () {
  var T = window.HCP_TEXT;
  var session = null; // {account, roles, csrf, expires}
  var $ = function (id) { return document.getElementById(id); };

  // ---- small helpers ----

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); }
  function when(t) { return t ? String(t).slice(0, 16).replace("T", " ") : "—"; }
  function hasRole(r) { return !!session && session.roles.indexOf(r) >= 0; }
  function thisMonth() {
    var d = new Date(Date.now() + 8 * 3600 * 1000); // Asia/Shanghai
    return d.toISOString().slice(0, 7);
  }
  // a datetime-local value as RFC 3339 in +08:00 ("" stays "")
  function atOf(v) { return v ? v + (v.length === 16 ? ":00" : "") + "+08:00" : ""; }
  function flash(msg) { $("flash").textContent = msg || ""; }

  // The API's refusal in Chinese: the rule's sentence and article when it
  // is a rule, else the error's words; the API's own detail after it.
  function explain(status, body) {
    body = body || {};
    var name = body.error || ("HTTP " + status);
    var r = T.refusals[name];
    var s;
    if (r) s = r[0] + (r[1] ? "（依据：《青海省受理政务服务差评投诉规定》" + r[1] + "）" : "");
    else s = T.errors[name] || "操作未成功";
    if (body.field) s += "：字段 " + body.field;
    if (body.detail) s += "。接口说明：" + body.detail;
    return s + " [" + name + "]";
  }

  // ---- the API, with the session cookie and the CSRF header ----

  function api(method, path, body) {
    var h = { "Accept": "application/json" };
    if (method !== "GET" && method !== "HEAD" && session) h["X-CSRF-Token"] = session.csrf;
    var init = { method: method, headers: h, credentials: "same-origin" };
    if (body !== undefined) {
      h["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (res) {
      return res.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (res.status === 401 && path !== "/v1/session") {
          signedOut(T.errors.session_expired);
          throw { status: 401, body: data, handled: true };
        }
        if (res.status >= 400) throw { status: res.status, body: data };
        return { status: res.status, body: data };
      });
    });
  }

  function failed(target) {
    return function (e) {
      if (e && e.handled) return;
      var msg = e && e.status ? explain(e.status, e.body) : "网络错误：" + String(e);
      if (target) target.textContent = msg; else flash(msg);
    };
  }

  // ---- sign-in ----

  function signedIn(s) {
    session = s;
    document.body.dataset.account = s.account;
    $("who-name").textContent = s.account;
    $("who-roles").textContent = s.roles.map(function (r) {
      return { clerk: "受理员", supervisor: "督办员", auditor: "审计员" }[r] || r;
    }).join("、");
    $("signin").hidden = true;
    $("who").hidden = false;
    $("nav").hidden = false;
    $("main").hidden = false;
    $("signin-token").value = "";
    route();
  }

  function signedOut(message) {
    session = null;
    delete document.body.dataset.account;
    $("who").hidden = true;
    $("nav").hidden = true;
    $("main").hidden = true;
    $("signin").hidden = false;
    $("signin-error").textContent = message || "";
    $("signin-account").focus();
  }

  $("signin-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    $("signin-error").textContent = "";
    api("POST", "/v1/session", { account: $("signin-account").value.trim(), token: $("signin-token").value.trim() })
      .then(function (r) { signedIn(r.body); })
      .catch(function (e) {
        $("signin-error").textContent = e && e.status === 401 ? "账号或令牌不正确。" : failedText(e);
      });
  });
  function failedText(e) { return e && e.status ? explain(e.status, e.body) : "网络错误"; }

  $("signout").addEventListener("click", function () {
    api("DELETE", "/v1/session").then(function () { signedOut("已退出登录。"); }, failed());
  });

  // ---- views ----

  var views = ["queue", "intake", "case", "ledger", "sync"];
  function show(name) {
    views.forEach(function (v) { $("view-" + v).hidden = v !== name; });
    document.querySelectorAll("#nav a").forEach(function (a) {
      if (a.getAttribute("href") === "#" + name) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    });
    var h = $(name + "-title");
    if (h) h.focus();
  }

  function route() {
    if (!session) return;
    flash("");
    var h = location.hash.replace(/^#/, "") || "queue";
    if (h.indexOf("case/") === 0) { show("case"); loadCase(decodeURIComponent(h.slice(5))); }
    else if (h === "intake") show("intake");
    else if (h === "ledger") { show("ledger"); loadLedger(); }
    else if (h === "sync") { show("sync"); loadSync(); }
    else { show("queue"); loadQueue(); }
  }
  window.addEventListener("hashchange", route);

  // ---- the work queue ----

  Object.keys(T.statuses).forEach(function (s) {
    $("q-status").appendChild(el("option", { value: s }, T.statuses[s]));
  });

  // The deadline still running for a list entry (the rules' statuses that
  // owe something): the re-review while disputed, else the feedback.
  function nextDue(c) {
    var d = c.deadlines || {};
    if (c.status === "closed") return null;
    if (c.status === "disputed" && d.rereview_due) return d.rereview_due;
    if (c.adopted && ["received", "verifying", "rectifying", "feedback_pending"].indexOf(c.status) >= 0)
      return d.feedback_due;
    return null;
  }

  function loadQueue() {
    var status = $("q-status").value, overdue = $("q-overdue").checked;
    var soon = $("q-soon").checked, open = $("q-open").checked;
    var all = [], pages = 0;
    function page(after) {
      var q = "/v1/cases?limit=500" + (status ? "&status=" + encodeURIComponent(status) : "") +
        (overdue ? "&overdue=true" : "") + (after ? "&after=" + encodeURIComponent(after) : "");
      return api("GET", q).then(function (r) {
        all = all.concat(r.body.cases || []);
        pages++;
        if (r.body.next && pages < 20) return page(r.body.next);
      });
    }
    page(null).then(function () {
      var now = Date.now();
      var rows = all.filter(function (c) {
        if (open && c.status === "closed") return false;
        if (soon) {
          var due = nextDue(c);
          if (!due) return false;
          var left = Date.parse(due) - now;
          if (left < 0 || left > 2 * 86400000) return false;
        }
        return true;
      });
      rows.sort(function (a, b) {
        var da = nextDue(a), db = nextDue(b);
        if (da && db) return Date.parse(da) - Date.parse(db);
        if (da) return -1;
        if (db) return 1;
        return a.id < b.id ? -1 : 1;
      });
      var body = $("queue-body");
      clear(body);
      rows.forEach(function (c) {
        var tr = el("tr", { "data-case": c.id });
        if (c.overdue) tr.className = "overdue";
        var td = el("td");
        td.appendChild(el("a", { href: "#case/" + encodeURIComponent(c.id) }, c.id));
        tr.appendChild(td);
        tr.appendChild(el("td", null, T.kinds[c.kind] || c.kind));
        tr.appendChild(el("td", null, T.statuses[c.status] || c.status));
        tr.appendChild(el("td", null, c.service_item ? c.service_item.name : ""));
        tr.appendChild(el("td", null, c.unit ? c.unit.name : ""));
        tr.appendChild(el("td", null, when(c.received_at)));
        tr.appendChild(el("td", null, when(nextDue(c))));
        tr.appendChild(el("td", null, c.overdue ? "已逾期" : (c.deadline_met === false ? "曾逾期" : "")));
        body.appendChild(tr);
      });
      $("queue-count").textContent = "共 " + rows.length + " 件，按办理期限排序；逾期的以红色标出。";
    }).catch(failed());
  }
  $("queue-filters").addEventListener("submit", function (ev) { ev.preventDefault(); loadQueue(); });

  // ---- intake ----

  Object.keys(T.channels).forEach(function (c) {
    $("f-channel").appendChild(el("option", { value: c }, T.channels[c]));
  });
  Object.keys(T.dimensions).forEach(function (d) {
    var l = el("label");
    var i = el("input", { type: "checkbox", value: d, id: "dim-" + d });
    l.appendChild(i);
    l.appendChild(document.createTextNode(" " + T.dimensions[d]));
    $("f-dims").appendChild(l);
  });

  function intakeType() {
    var r = document.querySelector("input[name=itype]:checked");
    return r ? r.value : "complaint";
  }
  function intakeShow() {
    var t = intakeType();
    document.querySelectorAll("#intake-form [data-for]").forEach(function (e) {
      e.hidden = e.getAttribute("data-for").split(" ").indexOf(t) < 0;
    });
  }
  document.querySelectorAll("input[name=itype]").forEach(function (r) {
    r.addEventListener("change", intakeShow);
  });
  intakeShow();

  function val(id) { return $(id).value.trim(); }
  function setIf(o, k, v) { if (v !== "") o[k] = v; }

  function intakeBody(t) {
    var b = {};
    if (t === "contact") {
      b.channel = $("f-k-channel").value;
      b.summary = $("f-summary").value;
      setIf(b, "name", val("f-k-name"));
      setIf(b, "phone", val("f-k-phone"));
      setIf(b, "case", val("f-k-case"));
    } else {
      b.unit = { code: val("f-unit-code"), name: val("f-unit-name") };
      setIf(b, "window", val("f-window"));
      if (val("f-staff-id") || val("f-staff-name")) b.staff = { id: val("f-staff-id"), name: val("f-staff-name") };
      b.service_item = { code: val("f-item-code"), name: val("f-item-name") };
      b.channel = $("f-channel").value;
      if (t !== "complaint" && $("f-rating").value) b.rating = Number($("f-rating").value);
      var dims = [];
      document.querySelectorAll("#f-dims input:checked").forEach(function (i) { dims.push(i.value); });
      if (dims.length) b.dimensions = dims;
      var c = {};
      setIf(c, "name", val("f-c-name"));
      setIf(c, "phone", val("f-c-phone"));
      setIf(c, "id_number", val("f-c-idno"));
      setIf(c, "organization", val("f-c-org"));
      if (Object.keys(c).length) b.complainant = c;
      b.content = $("f-content").value;
      if (t !== "evaluation") b.kind = t;
    }
    setIf(b, "at", atOf($("f-at").value));
    return b;
  }

  function markField(form, field) {
    form.querySelectorAll("[aria-invalid]").forEach(function (e) { e.removeAttribute("aria-invalid"); });
    if (!field) return;
    var base = String(field).replace(/\[\d+\]$/, "");
    var e = Array.prototype.filter.call(form.querySelectorAll("[data-field]"), function (x) {
      return x.getAttribute("data-field") === base && !x.closest("[hidden]");
    })[0];
    if (!e) return "";
    e.setAttribute("aria-invalid", "true");
    if (e.focus) e.focus();
    var l = e.id ? form.querySelector("label[for='" + e.id + "']") : null;
    return l ? l.textContent.replace(/\s*\*$/, "") : "";
  }

  $("intake-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var t = intakeType(), form = $("intake-form");
    $("intake-error").textContent = "";
    $("intake-ok").textContent = "";
    var path = t === "contact" ? "/v1/contacts" : t === "evaluation" ? "/v1/evaluations" : "/v1/cases";
    api("POST", path, intakeBody(t)).then(function (r) {
      markField(form, null);
      var b = r.body || {};
      var id = t === "contact" ? b.case : t === "evaluation" ? b.case : b.id;
      var ok = $("intake-ok");
      ok.textContent = t === "contact" ? "已登记，登记号 " + b.contact + "。" :
        t === "evaluation" ? "评价已登记（第 " + b.evaluation + " 条）" + (id ? "，已作为差评受理：" : "。") :
          "已受理：";
      if (id) {
        var a = el("a", { href: "#case/" + encodeURIComponent(id), id: "intake-case" }, id);
        ok.appendChild(a);
      }
    }).catch(function (e) {
      if (e && e.handled) return;
      var label = markField(form, e && e.body ? e.body.field : null);
      $("intake-error").textContent = (label ? "「" + label + "」" : "") + failedText(e);
    });
  });

  // ---- the case page ----

  var current = null; // {id, steps reply}
  var stepFields = {
    verify_start: [["verifier.name", "核实人姓名 *"], ["verifier.phone", "核实人电话 *"]],
    notify_staff: [],
    verify_conclude: [["outcome", "核实结论 *", { substantiated: "属实", unsubstantiated: "不属实" }], ["note", "说明", "area"]],
    dispute_file: [["by", "申请人（工号或姓名） *"], ["reason", "申请理由 *", "area"], ["document", "书面申请编号"], ["staff_explanation", "工作人员陈述", "area"]],
    dispute_decide: [["outcome", "复核结论 *", { upheld: "维持差评", mistaken: "误评", malicious: "恶意差评" }], ["note", "说明", "area"], ["unit_explanation", "单位说明", "area"]],
    rectify_assign: [["unit.code", "整改单位代码 *"], ["unit.name", "整改单位名称 *"], ["mode", "整改方式 *", { deferred: "限期整改", immediate: "立行立改" }]],
    rectify_extend: [["reason", "延期原因 *", "area"], ["new_due", "新的期限 *", "date"]],
    rectify_done: [["result", "整改结果 *", "area"]],
    feedback: [["via", "反馈方式 *"], ["text", "反馈内容 *", "area"]],
    revisit: [["by", "回访人 *"], ["satisfied", "回访结果 *", { "true": "满意", "false": "不满意" }], ["note", "说明", "area"]],
    close: [["decision", "书面决定（回访不满意时由督办员填写）", "area"]]
  };

  function loadCase(id) {
    $("case-title").textContent = "案件 " + id;
    $("step-form").hidden = true;
    $("step-error").textContent = "";
    $("pd-error").textContent = "";
    $("pd-facts").hidden = true;
    clear($("pd-facts"));
    delete document.body.dataset.case; // set again once this case is drawn
    delete document.body.dataset.caseStatus;
    return api("GET", "/v1/cases/" + encodeURIComponent(id) + "/steps").then(function (r) {
      current = { id: id, s: r.body };
      drawCase(r.body);
    }).catch(failed($("step-error")));
  }

  function fact(dl, k, v) {
    dl.appendChild(el("dt", null, k));
    dl.appendChild(el("dd", null, v === null || v === undefined || v === "" ? "—" : v));
  }

  function drawCase(s) {
    var c = s.record;
    var dl = $("case-facts");
    clear(dl);
    fact(dl, "类型", T.kinds[c.kind] || c.kind);
    fact(dl, "状态", T.statuses[c.status] || c.status);
    fact(dl, "结论", c.outcome ? T.outcomes[c.outcome] : "");
    fact(dl, "渠道", T.channels[c.channel] || c.channel);
    fact(dl, "服务单位", c.unit ? c.unit.name + "（" + c.unit.code + "）" : "");
    fact(dl, "服务事项", c.service_item ? c.service_item.name : "");
    fact(dl, "工作人员", c.staff ? c.staff.name + "（" + c.staff.id + "）" : "");
    fact(dl, "内容（已遮蔽）", c.content);
    fact(dl, "受理时间", when(c.received_at));
    fact(dl, "实名", c.real_name ? "是" : "否");
    document.body.dataset.caseStatus = c.status;
    document.body.dataset.case = s.case;
    $("view-case").classList.toggle("is-overdue", !!c.overdue);

    var tb = $("case-deadlines").querySelector("tbody");
    clear(tb);
    (s.deadlines || []).forEach(function (d) {
      var tr = el("tr", { "data-deadline": d.kind });
      var late = d.open && d.working_days_left < 0;
      if (late) tr.className = "overdue";
      tr.appendChild(el("td", null, T.deadlines[d.kind] || d.kind));
      tr.appendChild(el("td", null, when(d.due) + (d.provisional ? "（暂定）" : "")));
      tr.appendChild(el("td", { "data-left": d.working_days_left },
        !d.open ? "—" : d.working_days_left < 0 ? "已逾期 " + (-d.working_days_left) + " 个工作日" :
          "剩余 " + d.working_days_left + " 个工作日"));
      tr.appendChild(el("td", null, d.open ? (late ? "已逾期" : "进行中") : "已完成或不再适用"));
      tb.appendChild(tr);
    });

    var steps = $("case-steps"), refused = $("case-refused-list");
    clear(steps);
    clear(refused);
    var any = false;
    s.steps.forEach(function (st) {
      if (st.allowed) {
        any = true;
        var b = el("button", { type: "button", id: "step-" + st.type, "data-step": st.type },
          T.steps[st.type] || st.type);
        b.addEventListener("click", function () { openStep(st); });
        steps.appendChild(b);
      } else {
        var r = T.refusals[st.rule];
        var li = el("li", { "data-step": st.type, "data-rule": st.rule || "" });
        li.textContent = (T.steps[st.type] || st.type) + "：" + (r ? r[0] + (r[1] ? "（" + r[1] + "）" : "") : st.rule);
        refused.appendChild(li);
      }
    });
    if (!any) steps.appendChild(el("p", { "class": "muted" }, "目前没有可办理的步骤。"));

    var tl = $("case-timeline");
    clear(tl);
    (c.events || []).forEach(function (e) {
      var li = el("li", { "data-type": e.type });
      li.appendChild(el("strong", null, T.steps[e.type] || e.type));
      li.appendChild(document.createTextNode(" " + when(e.at) + (e.account ? " · " + e.account : "") +
        (e.backdated ? " · 补录" : "") + (e.type === "overdue" ? " · " + (e.deadline || "") : "")));
      tl.appendChild(li);
    });
  }

  var openType = null, openNeeds = null;
  function openStep(st) {
    openType = st.type;
    openNeeds = st.needs || null;
    $("step-title").textContent = T.steps[st.type] || st.type;
    var box = $("step-fields");
    clear(box);
    stepFields[st.type].forEach(function (f) {
      var id = "sf-" + f[0].replace(".", "-");
      box.appendChild(el("label", { "for": id }, f[1]));
      var input;
      if (f[2] && typeof f[2] === "object") {
        input = el("select", { id: id });
        Object.keys(f[2]).forEach(function (k) { input.appendChild(el("option", { value: k }, f[2][k])); });
      } else if (f[2] === "area") input = el("textarea", { id: id, rows: "2" });
      else input = el("input", { id: id, type: f[2] === "date" ? "date" : "text" });
      input.setAttribute("data-field", f[0]);
      box.appendChild(input);
    });
    $("step-at").value = "";
    $("step-error").textContent = "";
    $("step-form").hidden = false;
    var first = box.querySelector("input, select, textarea") || $("step-submit");
    first.focus();
  }

  $("step-cancel").addEventListener("click", function () { $("step-form").hidden = true; });

  $("step-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var body = { type: openType };
    $("step-fields").querySelectorAll("[data-field]").forEach(function (i) {
      var k = i.getAttribute("data-field"), v = i.value;
      if (v === "") return;
      if (k === "satisfied") v = v === "true";
      var parts = k.split(".");
      if (parts.length === 2) { body[parts[0]] = body[parts[0]] || {}; body[parts[0]][parts[1]] = v; }
      else body[k] = v;
    });
    var at = atOf($("step-at").value);
    if (at) body.at = at;
    api("POST", "/v1/cases/" + encodeURIComponent(current.id) + "/events", body).then(function () {
      flash("已办理：" + (T.steps[openType] || openType));
      $("step-form").hidden = true;
      return loadCase(current.id);
    }).catch(function (e) {
      if (e && e.handled) return;
      var label = markField($("step-form"), e && e.body ? e.body.field : null);
      $("step-error").textContent = (label ? "「" + label + "」" : "") + failedText(e);
    });
  });

  // personal data: a supervisor asks, with a reason; the read is logged
  $("pd-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    $("pd-error").textContent = "";
    var reason = $("pd-reason").value.trim();
    api("GET", "/v1/cases/" + encodeURIComponent(current.id) + "/personal?reason=" + encodeURIComponent(reason))
      .then(function (r) {
        var c = r.body, dl = $("pd-facts");
        clear(dl);
        var p = c.complainant || {};
        fact(dl, "投诉人", p.name);
        fact(dl, "电话", p.phone);
        fact(dl, "身份证号", p.id_number);
        fact(dl, "单位", p.organization);
        fact(dl, "工作人员电话", c.staff ? c.staff.phone : "");
        fact(dl, "内容（原文）", c.content);
        dl.hidden = false;
      }).catch(function (e) {
        if (e && e.handled) return;
        $("pd-error").textContent = e && e.status === 403 ? "无权查看个人信息：需要督办员角色。" + failedText(e) : failedText(e);
      });
  });

  // ---- ledger and register ----

  var contactsRows = [];
  function loadLedger() {
    if (!$("l-month").value) $("l-month").value = thisMonth();
    var m = $("l-month").value;
    $("l-csv").href = "/v1/reports/monthly?month=" + m + "&format=csv";
    $("l-xlsx").href = "/v1/reports/monthly?month=" + m + "&format=xlsx";
    $("ledger-head").textContent = m + " 差评投诉台账";
    $("contacts-head").textContent = m + " 来电来访来信登记簿";
    api("GET", "/v1/ledger?month=" + m).then(function (r) {
      var tb = $("ledger-table").querySelector("tbody");
      clear(tb);
      (r.body.rows || []).forEach(function (row) {
        var tr = el("tr", { "data-case": row.case_id });
        [row.no, row.case_id, T.kinds[row.kind] || row.kind, T.channels[row.channel] || row.channel,
          when(row.received_at), row.unit ? row.unit.name : "", row.content, row.rectification_result,
          row.use_of_result, T.statuses[row.status] || row.status].forEach(function (v) {
          tr.appendChild(el("td", null, v === null || v === undefined ? "" : v));
        });
        tb.appendChild(tr);
      });
      $("ledger-note").textContent = "共 " + (r.body.rows || []).length + " 件。";
    }).catch(failed($("ledger-note")));
    api("GET", "/v1/contacts?month=" + m).then(function (r) {
      contactsRows = r.body.contacts || [];
      var tb = $("contacts-table").querySelector("tbody");
      clear(tb);
      contactsRows.forEach(function (k) {
        var tr = el("tr");
        [k.contact, when(k.at), T.channels[k.channel] || k.channel, k.summary, k.case || "", k.account || ""]
          .forEach(function (v) { tr.appendChild(el("td", null, v)); });
        tb.appendChild(tr);
      });
      $("contacts-note").textContent = "共 " + contactsRows.length + " 条。";
    }).catch(failed($("contacts-note")));
  }
  $("ledger-form").addEventListener("submit", function (ev) { ev.preventDefault(); loadLedger(); });
  $("l-print").addEventListener("click", function () { window.print(); });
  $("k-csv").addEventListener("click", function () {
    var q = function (v) { v = v === null || v === undefined ? "" : String(v); return '"' + v.replace(/"/g, '""') + '"'; };
    var lines = [["编号", "时间", "方式", "摘要", "关联案件", "登记人"].map(q).join(",")];
    contactsRows.forEach(function (k) {
      lines.push([k.contact, k.at, T.channels[k.channel] || k.channel, k.summary, k.case || "", k.account || ""].map(q).join(","));
    });
    var blob = new Blob(["\ufeff" + lines.join("\r\n") + "\r\n"], { type: "text/csv;charset=utf-8" });
    var a = el("a", { href: URL.createObjectURL(blob), download: "contacts-" + $("l-month").value + ".csv" });
    document.body.appendChild(a);
    a.click();
    document.body.removeChild(a);
  });

  // ---- sync and directives ----

  function loadSync() {
    api("GET", "/v1/sync").then(function (r) {
      var s = r.body, dl = $("sync-facts");
      clear(dl);
      fact(dl, "省级平台", s.gateway || "未配置（离线运行）");
      fact(dl, "连接", s.connected ? "已连接" : "未连接");
      fact(dl, "本地日志位置", s.log_head);
      fact(dl, "省级已确认", s.acked);
      fact(dl, "待同步条数", s.lag);
      fact(dl, "最近错误", s.last_error || "无");
    }).catch(failed());
    api("GET", "/v1/directives").then(function (r) {
      var tb = $("dir-table").querySelector("tbody");
      clear(tb);
      (r.body.directives || []).forEach(function (d) {
        var tr = el("tr");
        [d.seq, d.type || "", d.target || "", d.case || "", d.note || "",
          d.state === "applied" ? "已执行" : d.state === "refused" ? "未执行（" + (d.why || "") + "）" : d.state,
          when(d.applied_at || d.at)].forEach(function (v) { tr.appendChild(el("td", null, v)); });
        tb.appendChild(tr);
      });
      $("dir-note").textContent = "共 " + (r.body.directives || []).length + " 条。";
    }).catch(failed($("dir-note")));
  }

  // ---- start: the session the cookie may still hold ----

  fetch("/healthz").then(function (r) { return r.json(); }).then(function (h) {
    $("county").textContent = h.county ? "（" + h.county + "）" : "";
  }).catch(function () {});
  api("GET", "/v1/session").then(function (r) { signedIn(r.body); }, function () { signedOut(""); });
})();
