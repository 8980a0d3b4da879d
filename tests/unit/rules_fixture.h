/* rules_fixture.h — helpers shared by the rules tests: build events and
 * cases in a few lines. Header-only, static. */
#ifndef RULES_FIXTURE_H
#define RULES_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "rules.h"

/* "2026-02-13T10:00:00+08:00" -> instant; fails the test on a bad literal. */
static inline hcp_time T(const char *s)
{
    hcp_time t = 0;
    assert_int_equal(hcp_time_parse(s, strlen(s), &t), HCP_OK);
    return t;
}

static inline hcp_day D(const char *s)
{
    hcp_day d = 0;
    assert_int_equal(hcp_date_parse(s, strlen(s), &d), HCP_OK);
    return d;
}

static inline char *S(const char *s)
{
    return s ? hcp_strndup(s, strlen(s)) : NULL;
}

/* A case_open event; real_name gives a named complainant with a phone. */
static inline void make_open(hcp_event *ev, int kind, int rating, bool real_name, hcp_time at)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = HCP_EV_CASE_OPEN;
    ev->at = at;
    ev->recorded_at = at;
    ev->seq = 1;
    strcpy(ev->county, "630102");
    strcpy(ev->case_id, "630102-20260213-0001");
    ev->in.kind = (uint8_t)kind;
    ev->in.rating = (uint8_t)rating;
    ev->in.channel = HCP_CH_WINDOW_DEVICE;
    ev->in.dimensions = HCP_DIM_BIT(HCP_DIM_ATTITUDE);
    ev->in.unit.code = S("11630102MB1234567X");
    ev->in.unit.name = S("城东区政务服务中心");
    ev->in.service_item.code = S("QH-001");
    ev->in.service_item.name = S("营业执照办理");
    ev->in.content = S("窗口人员态度冷淡，材料反复要求补交。");
    if (real_name) {
        ev->in.has_complainant = true;
        ev->in.complainant.name = S("张三");
        ev->in.complainant.phone = S("13800000000");
    }
}

/* A step event of type `type` at `at` with the fields it needs filled. */
static inline void make_step(hcp_event *ev, int type, hcp_time at)
{
    memset(ev, 0, sizeof(*ev));
    ev->type = (uint8_t)type;
    ev->at = at;
    ev->recorded_at = at;
    strcpy(ev->county, "630102");
    strcpy(ev->case_id, "630102-20260213-0001");
    switch (type) {
    case HCP_EV_VERIFY_START:
        ev->verifier.name = S("李核实");
        ev->verifier.phone = S("0971-1234567");
        break;
    case HCP_EV_VERIFY_CONCLUDE:
        ev->outcome = HCP_OUT_SUBSTANTIATED;
        ev->note = S("经查属实");
        break;
    case HCP_EV_DISPUTE_FILE:
        ev->by = S("王窗口");
        ev->reason = S("当事人材料不全，非服务态度问题");
        break;
    case HCP_EV_DISPUTE_DECIDE:
        ev->verdict = HCP_VD_UPHELD;
        break;
    case HCP_EV_RECTIFY_ASSIGN:
        ev->unit.code = S("11630102MB1234567X");
        ev->unit.name = S("城东区市场监督管理局");
        ev->mode = HCP_RM_DEFERRED;
        break;
    case HCP_EV_RECTIFY_EXTEND:
        ev->reason = S("需协调上级部门");
        break;
    case HCP_EV_RECTIFY_DONE:
        ev->result = S("已完成整改，优化材料清单");
        break;
    case HCP_EV_FEEDBACK:
        ev->via = S("phone");
        ev->text = S("已电话告知整改结果");
        break;
    case HCP_EV_REVISIT:
        ev->by = S("赵回访");
        ev->satisfied = true;
        break;
    case HCP_EV_OVERDUE:
        ev->deadline = HCP_DL_FEEDBACK;
        break;
    default:
        break;
    }
}

#endif
