/*
 * console-core.js — what every view of the gateway console (console.html;
 * docs/consoles.md, "Gateway console") shares: the session (sign-in with
 * POST /v1/session, GET /v1/session on load, sign-out with DELETE), calls
 * to the gateway's routes with the session cookie and, on every method but
 * GET, the session's X-CSRF-Token header; the API's error names and details
 * in Chinese; and switching views by the address's #fragment, each view
 * shown only to the role its routes allow. Plain ES5 in one global,
 * HCPC; text only through textContent (HCP.el).
 */
"use strict";
var HCPC = (function () {
  var H = HCP;
  var session = null; /* {account, roles, csrf, expires} */
  var views = {};     /* name -> {role, load(el)} registered by console-views.js */
  var current = null;
  var $ = function (id) { return document.getElementById(id); };

  /* The API's error names, in Chinese (docs/api.md, "Errors"). */
  var ERRORS = {
    unauthorized: "账号或令牌不正确，或账号已停用",
    session_expired: "登录已过期，请重新登录",
    csrf_failed: "请求校验失败（CSRF），请刷新页面后重试",
    forbidden: "当前账号的角色无权执行此操作",
    invalid_field: "填写的内容不符合要求",
    invalid_query: "查询条件不符合要求",
    invalid_parameter: "查询条件不符合要求",
    invalid_json: "请求格式错误",
    not_found: "没有找到",
    not_drawn: "该案件不在本次抽查的样本中",
    case_not_found: "省级平台没有该案件",
    already_recorded: "该案件的核查结果已经记录过",
    no_checkpoint: "透明日志尚无签名检查点，暂不能抽查",
    storage_full: "存储空间已满，请稍后重试",
    overloaded: "服务器繁忙，请稍后重试",
    unavailable: "服务器暂不可用，请稍后重试",
    storage_error: "存储出错",
    method_not_allowed: "不支持的操作"
  };

  /* The API's field details (the English sentence of a 4xx), in Chinese;
   * the views' own checks give the same sentence, so a form shows the same
   * message whether the browser or the gateway found the fault. */
  var DETAILS = {
    "period: a month, YYYY-MM": "期间应为月份，格式 年-月（YYYY-MM）",
    "rate: a number from 0 to 1 with at most six decimals": "抽查比例应为 0 到 1 之间、最多六位小数的数",
    "min_per_county: an integer 0..1000000": "每县至少抽取数应为 0 到 1000000 的整数",
    "beacon: the public value, 1 to 1024 bytes of text": "公开随机数应为 1 到 1024 字节的文字",
    "case: a case id of the draw": "请选择本次抽查抽中的案件",
    "reached, rectified, satisfied: true or false each": "联系到、已整改、满意三项各为是或否",
    "note: text of at most 16384 bytes": "说明最多 16384 字节",
    "month: expected YYYY-MM": "月份格式应为 年-月（YYYY-MM）",
    "prefecture: required (e.g. 630100)": "请选择市州",
    "prefecture: not a known division code": "不是已知的市州代码",
    "format: expected json, csv or xlsx": "格式应为 JSON、CSV 或 XLSX",
    "phone: digits, spaces, + - ( ) only": "联系电话只能包含数字、空格和 + - ( )",
    "case: a case id is required": "请填写案件编号",
    "county: six digits": "县代码应为 6 位数字",
    "year: required, a year YYYY between 2000 and 2199": "年度应为 2000 到 2199 之间的四位年份",
    "from: required, a date YYYY-MM-DD": "请填写起始日期（年-月-日）",
    "to: required, a date YYYY-MM-DD": "请填写截止日期（年-月-日）",
    "from: after to": "起始日期不能晚于截止日期",
    "limit: an integer 1..1000": "条数应为 1 到 1000 的整数",
    "by: one of service_item, unit, dimension, county, prefecture": "请选择热点的分类方式",
    "from: expected YYYY-MM-DD or RFC 3339": "起始日期格式应为 年-月-日",
    "to: expected YYYY-MM-DD or RFC 3339": "截止日期格式应为 年-月-日",
    "account: not an account name": "账号名只能由 1–63 个字母、数字和 . _ - @ 组成"
  };

  /* One message for an error answer {error, detail, field}: Chinese first,
   * then the gateway's own detail as it sent it. */
  function errText(status, j) {
    var name = j && j.error ? String(j.error) : "";
    var detail = j && j.detail ? String(j.detail) : "";
    var zh = DETAILS[detail] || ERRORS[name] || "请求失败";
    var tail = [name, detail].filter(function (s) { return s; }).join("：");
    return zh + "（" + status + (tail ? " " + tail : "") + "）";
  }

  /* A form's message for a detail sentence the view's own check produced
   * (the same sentence the gateway would send). */
  function localText(detail) {
    return (DETAILS[detail] || detail) + "（" + detail + "）";
  }

  /* An error thrown by call(): status, the JSON, the message to show. */
  function ApiError(status, j) {
    this.status = status;
    this.json = j || {};
    this.message = errText(status, j);
  }

  /*
   * Call a route: method, path (with query), body (an object sent as JSON,
   * or undefined), as "json" (default), "blob" or "raw" (the Response).
   * Resolves to {status, json|blob|response}; rejects with ApiError for any
   * status >= 400. A 401 other than the sign-in's own ends the session in
   * the page and shows the sign-in with the reason.
   */
  function call(method, path, body, as) {
    var headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && method !== "HEAD" && session && session.csrf) {
      headers["X-CSRF-Token"] = session.csrf;
    }
    return fetch(path, {
      method: method, headers: headers, credentials: "same-origin", cache: "no-store",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      if (r.status >= 400) {
        return r.json().catch(function () { return {}; }).then(function (j) {
          if (r.status === 401 && path !== "/v1/session") signedOut(errText(401, j));
          throw new ApiError(r.status, j);
        });
      }
      if (as === "raw") return { status: r.status, response: r };
      if (as === "blob") return r.blob().then(function (b) { return { status: r.status, blob: b }; });
      if (r.status === 204) return { status: 204, json: null };
      return r.json().then(function (j) { return { status: r.status, json: j }; });
    });
  }

  function get(path, q) { return call("GET", path + H.query(q || {})); }
  function post(path, body) { return call("POST", path, body); }

  function hasRole(role) {
    return !!session && Array.isArray(session.roles) && session.roles.indexOf(role) >= 0;
  }

  function status(s, err) {
    var e = $("status");
    e.textContent = s || "";
    e.className = err ? "msg" : "";
  }

  function hideViews() {
    var v = document.querySelectorAll("section.view");
    for (var i = 0; i < v.length; i++) v[i].hidden = true;
  }

  /* The views this session may open, in menu order. */
  function allowed() {
    var out = [];
    var links = $("nav").querySelectorAll("a[data-view]");
    for (var i = 0; i < links.length; i++) {
      var ok = hasRole(links[i].getAttribute("data-role"));
      links[i].hidden = !ok;
      if (ok) out.push(links[i].getAttribute("data-view"));
    }
    return out;
  }

  /* Show the view the address names (the first allowed one otherwise). */
  function route() {
    if (!session) return;
    var ok = allowed();
    var name = location.hash.replace(/^#/, "");
    if (ok.indexOf(name) < 0) name = ok[0];
    if (!name) {
      hideViews();
      status("此账号没有可用的功能", true);
      return;
    }
    hideViews();
    var links = $("nav").querySelectorAll("a[data-view]");
    for (var i = 0; i < links.length; i++) {
      if (links[i].getAttribute("data-view") === name) links[i].setAttribute("aria-current", "page");
      else links[i].removeAttribute("aria-current");
    }
    var sec = $("v-" + name);
    sec.hidden = false;
    document.body.setAttribute("data-view", name);
    var first = current !== name;
    current = name;
    status("");
    if (views[name]) views[name].load(sec, first);
    var h = sec.querySelector("h2");
    if (h && first) h.focus();
  }

  function showSession() {
    $("who").hidden = false;
    $("nav").hidden = false;
    $("who-name").textContent = session.account;
    var names = { supervisor: "监督员", auditor: "审计员", clerk: "办理员" };
    $("who-roles").textContent = "（" + (session.roles || []).map(function (r) {
      return names[r] || r;
    }).join("、") + "）";
  }

  /* Back to the sign-in form, with why (an expired session, a sign-out). */
  function signedOut(why) {
    session = null;
    current = null;
    delete document.body.dataset.account;
    $("who").hidden = true;
    $("nav").hidden = true;
    hideViews();
    $("v-signin").hidden = false;
    document.body.setAttribute("data-view", "signin");
    $("signin-error").textContent = why || "";
    status("");
    $("signin-account").focus();
  }

  function signedIn(s) {
    session = s;
    document.body.dataset.account = s.account;
    showSession();
    $("signin-token").value = "";
    $("signin-error").textContent = "";
    route();
  }

  function signIn(ev) {
    ev.preventDefault();
    var account = $("signin-account").value.trim(), token = $("signin-token").value.trim();
    if (!account || !token) {
      $("signin-error").textContent = "请填写账号和令牌";
      (account ? $("signin-token") : $("signin-account")).focus();
      return;
    }
    $("signin-error").textContent = "";
    call("POST", "/v1/session", { account: account, token: token }).then(function (r) {
      signedIn(r.json);
    }, function (e) {
      $("signin-error").textContent = e.message || "登录失败";
      $("signin-token").focus();
    });
  }

  function signOut() {
    call("DELETE", "/v1/session").then(function () {
      signedOut("已退出登录");
    }, function (e) {
      if (e.status !== 401) status(e.message, true);
    });
  }

  /* On load: an existing session (the cookie) opens the console directly. */
  function start() {
    $("f-signin").addEventListener("submit", signIn);
    $("signout").addEventListener("click", signOut);
    window.addEventListener("hashchange", route);
    /* no session yet and an ended one answer alike (the cookie is HttpOnly):
     * the form without a message; an ended one during use says so (call) */
    call("GET", "/v1/session").then(function (r) { signedIn(r.json); }, function (e) {
      signedOut(e.status === 401 ? "" : e.message);
    });
  }

  /* Register view name (the section v-NAME): load(section, firstShow) fills it. */
  function view(name, load) {
    views[name] = { load: load };
  }

  /* Show a call's failure in element msg (and the page status). */
  function fail(msg) {
    return function (e) {
      var t = e && e.message ? e.message : String(e);
      if (msg) $(msg).textContent = t;
      status(t, true);
    };
  }

  return {
    call: call, get: get, post: post, view: view, start: start, status: status, fail: fail,
    errText: errText, localText: localText, hasRole: hasRole, $: $
  };
})();
