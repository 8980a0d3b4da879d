/*
 * case.js — the case page (case.html?id=CASE-ID; docs/page.md). Fetches
 * feed/requests.json?service_request_id=ID and takes the entry with that id
 * from the answer (a published static copy may answer with a whole page of
 * the feed, so the id is matched here, not trusted), then shows its facts
 * and the handling steps the entry shows as reached.
 */
"use strict";
(function () {
  var H = HCP;
  var $ = function (id) { return document.getElementById(id); };

  function setState(s, state) {
    $("state").textContent = s;
    $("state").className = state === "error" ? "err" : "";
    document.body.setAttribute("data-state", state);
  }

  function has(notes, word) { return String(notes || "").indexOf(word) >= 0; }

  /*
   * The steps of the regulation's procedure (accept, verify, rectify,
   * feed back, revisit, close) as far as the public entry shows them: each
   * {key, name, state: done|current|todo|skipped, detail}.
   */
  function steps(e) {
    var notes = e.status_notes, closed = e.status === "closed", out = e.outcome;
    var rejected = out === "mistaken" || out === "malicious";
    var list = [];
    function add(key, name, state, detail) {
      list.push({ key: key, name: name, state: state, detail: detail || "" });
    }
    add("accept", "受理", "done", "受理时间 " + H.shortTime(e.requested_datetime) +
        (e.expected_datetime ? "，办理期限 " + H.shortTime(e.expected_datetime) : ""));
    if (out) {
      add("verify", rejected ? "复核" : "核实", "done", "结论：" + (H.OUTCOMES[out] || out));
    } else {
      add("verify", has(notes, "复核") ? "复核" : "核实",
          has(notes, "正在") || has(notes, "等待核实") ? "current" : closed ? "skipped" : "todo",
          has(notes, "复核") ? "工作人员申请复核，正在复核" : "");
    }
    if (out === "substantiated" || e.rectification_result) {
      add("rectify", "整改", e.rectification_result ? "done" : "current",
          e.rectification_result ? "整改结果：" + e.rectification_result : "正在整改");
    } else {
      add("rectify", "整改", out || closed ? "skipped" : "todo", out ? "经核实无需整改" : "");
    }
    var fedBack = has(notes, "已反馈") || e.revisited === true || (closed && !!out && !rejected);
    add("feedback", "反馈", fedBack ? "done" : has(notes, "正在反馈") ? "current" : rejected ? "skipped" : "todo",
        fedBack ? (out === "substantiated" ? "已反馈整改结果" : "已反馈核实结果") : "");
    add("revisit", "回访", e.revisited === true ? "done" : has(notes, "等待回访") ? "current" :
        closed ? "skipped" : "todo", e.revisited === true ? "已回访" : closed ? "无回访记录" : "");
    add("close", "办结", closed ? "done" : "todo",
        closed ? "办结时间 " + H.shortTime(e.step_datetime || e.updated_datetime) : "");
    return list;
  }

  var STATE_NAMES = { done: "已完成", current: "进行中", todo: "未开始", skipped: "不涉及" };

  function show(e) {
    $("case-id").textContent = e.service_request_id;
    var closed = e.status === "closed";
    $("case-status").textContent = "";
    $("case-status").appendChild(H.el("span", closed ? "已办结" : "办理中", "st " + (closed ? "closed" : "open")));
    var prov = e.deadline_provisional && e.deadline_note ? "（" + e.deadline_note + "）" : "";
    var v = {
      status_notes: e.status_notes || "—",
      kind: H.KINDS[e.kind] || e.kind || "—",
      region: [H.prefName(e.county), e.county_name || e.county].filter(Boolean).join(" "),
      service: e.service_name ? e.service_name + (e.service_code ? "（" + e.service_code + "）" : "")
                              : e.service_code || "—",
      agency_responsible: e.agency_responsible || "—",
      channel: H.CHANNELS[e.channel] || e.channel || "—",
      dimensions: (e.dimensions || []).map(function (d) { return H.DIMENSIONS[d] || d; }).join("、") || "—",
      requested_datetime: H.shortTime(e.requested_datetime),
      expected_datetime: H.shortTime(e.expected_datetime) + prov,
      deadline_met: e.deadline_met === false ? "否（已超过办理期限）" : "是",
      step_datetime: H.shortTime(e.step_datetime),
      updated_datetime: H.shortTime(e.updated_datetime)
    };
    var dds = $("facts").querySelectorAll("[data-k]");
    for (var i = 0; i < dds.length; i++) dds[i].textContent = v[dds[i].getAttribute("data-k")];
    var ol = $("steps");
    ol.textContent = "";
    steps(e).forEach(function (s) {
      var li = H.el("li");
      li.setAttribute("data-step", s.key);
      li.setAttribute("data-state", s.state);
      li.appendChild(H.el("span", s.name, "name"));
      li.appendChild(H.el("span", STATE_NAMES[s.state], "state"));
      if (s.detail) {
        li.appendChild(H.el("br"));
        li.appendChild(H.el("span", s.detail, "detail"));
      }
      ol.appendChild(li);
    });
    $("case").hidden = false;
    $("steps-box").hidden = false;
    document.title = e.service_request_id + " · 差评投诉办理详情";
  }

  function missing(text, state) {
    $("missing-text").textContent = text;
    $("missing").hidden = false;
    setState(text, state);
  }

  var id = (new URLSearchParams(location.search).get("id") || "").trim();
  $("q-id").value = id;
  if (!id) {
    missing("请输入差评、投诉的编号。", "noid");
    return;
  }
  if (!H.CASE_ID.test(id)) {
    missing("编号“" + id + "”格式不正确。编号格式：6位县代码-8位日期-序号，如 630102-20261127-0042。", "invalid");
    return;
  }
  var q = H.query({ service_request_id: id });
  $("l-json").href = "feed/requests.json" + q;
  $("l-atom").href = "feed/atom.xml" + q;
  function pick(j) {
    return H.entriesOf(j).filter(function (e) { return e && e.service_request_id === id; })[0];
  }
  H.getJSON("feed/requests.json" + q).then(function (j) {
    var found = pick(j);
    /* other cases in the answer: a static server that ignored the query;
     * a published copy keeps each case at feed/case/ID.json (docs/page.md) */
    if (!found && H.entriesOf(j).length > 0) {
      return H.getJSON("feed/case/" + encodeURIComponent(id) + ".json").then(pick, function () {
        return null;
      });
    }
    return found;
  }).then(function (found) {
    if (!found) {
      missing("未找到编号为 " + id + " 的公开信息。请核对编号；新受理的件在县级平台同步后即可查到。", "notfound");
      return;
    }
    show(found);
    setState("已载入", "ready");
  }, function (err) {
    missing("载入失败（" + err.message + "），请稍后刷新重试。", "error");
  });
})();
