// console-rules.js — the Chinese words of the node console: statuses, steps,
// channels, and every refusal the API can answer, with the article of
// 《青海省受理政务服务差评投诉规定》 it comes from (docs/rules.md, docs/domain.md).
"use strict";

var HCP_TEXT = {
  statuses: {
    received: "已受理，待核实", verifying: "核实中", disputed: "复核中",
    rectifying: "整改中", feedback_pending: "待反馈", awaiting_revisit: "待回访",
    resolved: "待办结", closed: "已办结"
  },
  kinds: { complaint: "投诉", review: "差评" },
  outcomes: { substantiated: "属实", unsubstantiated: "不属实", mistaken: "误评", malicious: "恶意差评" },
  channels: {
    web: "政务服务网", dept_platform: "部门业务系统", app: "移动端", wechat: "微信",
    kiosk: "自助终端", qrcode: "二维码", window_device: "窗口评价器", paper: "纸质评价表",
    hall: "大厅现场", phone: "电话", "12345": "12345 热线", visit: "来访", letter: "来信"
  },
  dimensions: {
    coverage: "事项覆盖", materials: "申请材料", guide: "办事指南", convenience: "便利程度",
    modes: "办理方式", proficiency: "业务水平", attitude: "服务态度", rights: "权益保障"
  },
  deadlines: { feedback_due: "反馈期限（5 个工作日）", dispute_due: "复核申请期限（2 个工作日）", rereview_due: "复核期限（5 个工作日）" },
  steps: {
    verify_start: "开始核实", notify_staff: "告知工作人员", verify_conclude: "核实结论",
    dispute_file: "登记复核申请", dispute_decide: "复核决定", rectify_assign: "指定整改",
    rectify_extend: "延长整改期限", rectify_done: "整改完成", feedback: "反馈投诉人",
    revisit: "回访", close: "办结", case_open: "受理", evaluation: "评价", overdue: "逾期",
    directive: "省级指令", correction_answer: "答复纠错", contact: "来电来访来信"
  },
  // rule -> [Chinese sentence, article]
  refusals: {
    case_exists: ["案件编号已存在。", "第六条"],
    review_not_negative: ["只有“不满意”“非常不满意”的评价才作为差评受理。", "第二条"],
    complaint_has_rating: ["投诉不填写评价等级。", "第二条"],
    case_closed: ["案件已办结，不能再办理。", "第八条"],
    wrong_status: ["案件当前状态不能办理这一步骤。", "第七条、第八条"],
    at_in_future: ["发生时间不能晚于当前时间。", "第七条"],
    at_before_receipt: ["发生时间不能早于受理时间。", "第七条"],
    at_before_previous_step: ["发生时间不能早于上一步骤。", "第七条"],
    staff_already_notified: ["已经告知过工作人员。", "第九条"],
    staff_not_notified: ["尚未告知工作人员，复核申请期限还未开始。", "第九条"],
    dispute_already_filed: ["本案已经申请过复核。", "第九条"],
    dispute_window_closed: ["已超过收到差评后 2 个工作日的复核申请期限。", "第九条"],
    rectification_not_assigned: ["尚未指定整改单位。", "第八条"],
    extension_needs_reason: ["延期须说明客观原因。", "第八条"],
    immediate_cannot_extend: ["立行立改的事项不能延期。", "第八条"],
    extension_not_later: ["新的期限须晚于原期限。", "第八条"],
    extension_not_working_day: ["新的期限须为工作日。", "第八条"],
    extension_after_deadline: ["原期限已过，不能再延期。", "第八条"],
    revisit_required: ["实名且属实的案件须先回访才能办结（回访率 100%）。", "第八条"],
    revisit_unsatisfied: ["回访不满意，须督办员书面决定才能办结。", "第八条"],
    dispute_decided_at_filing: ["复核须经审查，不能在申请的同一时刻作出误评或恶意差评的决定。", "第九条"],
    dispute_same_account: ["复核决定须由登记复核申请以外的账号作出。", "第九条"],
    dispute_decided_by_staff: ["被评价的工作人员本人不能作出复核决定。", "第九条"],
    already_overdue: ["该期限已记为逾期。", "第八条"],
    not_overdue: ["该期限尚未逾期。", "第八条"],
    no_such_correction: ["没有可答复的纠错指令。", "第十四条"],
    invalid_step: ["步骤内容不完整。", ""]
  },
  // API errors other than rules, in Chinese
  errors: {
    invalid_field: "填写有误", invalid_json: "提交内容无法解析", invalid_step: "步骤内容不完整",
    forbidden: "当前账号无权进行此操作", unauthorized: "账号或令牌不正确",
    session_expired: "会话已过期，请重新登录", csrf_failed: "请求校验失败，请刷新页面后重试",
    case_not_found: "没有这个案件", restoring: "节点正在从省级平台恢复数据，请稍后再试",
    storage_full: "存储空间已满，请联系管理员", not_found: "没有这个地址",
    contact_not_found: "没有这条登记", already_linked: "这条登记已关联案件"
  }
};
