/* case.c — names of the model's enums, and ownership helpers. */
#include "case.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "division.h"

const char *const hcp_kind_names[HCP_KIND_COUNT_] = {NULL, "review", "complaint"};
const char *const hcp_channel_names[HCP_CH_COUNT_] = {
    NULL,    "web",  "dept_platform", "app",   "wechat", "kiosk", "qrcode", "window_device",
    "paper", "hall", "phone",         "12345", "visit",  "letter"};
const char *const hcp_dimension_names[HCP_DIM_COUNT_] = {NULL,          "coverage",    "materials",
                                                         "guide",       "convenience", "modes",
                                                         "proficiency", "attitude",    "rights"};
const char *const hcp_status_names[HCP_ST_COUNT_] = {
    NULL,         "received",         "verifying",        "disputed",
    "rectifying", "feedback_pending", "awaiting_revisit", "resolved",
    "closed"};
const char *const hcp_outcome_names[HCP_OUT_COUNT_] = {NULL, "substantiated", "unsubstantiated",
                                                       "mistaken", "malicious"};
const char *const hcp_verdict_names[HCP_VD_COUNT_] = {NULL, "upheld", "mistaken", "malicious"};
const char *const hcp_rectify_mode_names[HCP_RM_COUNT_] = {NULL, "immediate", "deferred"};
const char *const hcp_deadline_names[HCP_DL_COUNT_] = {NULL, "feedback", "dispute", "rereview"};
const char *const hcp_ev_type_names[HCP_EV_COUNT_] = {NULL,
                                                      "evaluation",
                                                      "case_open",
                                                      "verify_start",
                                                      "notify_staff",
                                                      "verify_conclude",
                                                      "dispute_file",
                                                      "dispute_decide",
                                                      "rectify_assign",
                                                      "rectify_extend",
                                                      "rectify_done",
                                                      "feedback",
                                                      "revisit",
                                                      "close",
                                                      "overdue",
                                                      "directive",
                                                      "correction_answer",
                                                      "contact"};
const char *const hcp_dir_result_names[HCP_DR_COUNT_] = {NULL, "applied", "refused"};

int hcp_name_lookup(const char *const *names, int count, const char *s, size_t n)
{
    if (names == NULL || s == NULL)
        return 0;
    for (int i = 1; i < count; i++)
        if (names[i] != NULL && strlen(names[i]) == n && memcmp(names[i], s, n) == 0)
            return i;
    return 0;
}

static void str_free(char **p)
{
    free(*p);
    *p = NULL;
}

void hcp_intake_clear(hcp_intake *in)
{
    if (in == NULL)
        return;
    str_free(&in->unit.code);
    str_free(&in->unit.name);
    str_free(&in->window);
    str_free(&in->staff.id);
    str_free(&in->staff.name);
    str_free(&in->staff.phone);
    str_free(&in->service_item.code);
    str_free(&in->service_item.name);
    str_free(&in->complainant.name);
    str_free(&in->complainant.phone);
    str_free(&in->complainant.id_number);
    str_free(&in->complainant.organization);
    str_free(&in->content);
    memset(in, 0, sizeof(*in));
}

static void extra_free(hcp_extra *x)
{
    free(x->data);
    memset(x, 0, sizeof(*x));
}

void hcp_case_clear(hcp_case *c)
{
    if (c == NULL)
        return;
    hcp_intake_clear(&c->in);
    str_free(&c->verifier.name);
    str_free(&c->verifier.phone);
    str_free(&c->rectify_unit.code);
    str_free(&c->rectify_unit.name);
    str_free(&c->rectification_result);
    extra_free(&c->extra);
    memset(c, 0, sizeof(*c));
}

void hcp_event_clear(hcp_event *ev)
{
    if (ev == NULL)
        return;
    hcp_intake_clear(&ev->in);
    str_free(&ev->verifier.name);
    str_free(&ev->verifier.phone);
    str_free(&ev->note);
    str_free(&ev->by);
    str_free(&ev->reason);
    str_free(&ev->unit.code);
    str_free(&ev->unit.name);
    str_free(&ev->result);
    str_free(&ev->via);
    str_free(&ev->text);
    str_free(&ev->account);
    str_free(&ev->document);
    str_free(&ev->staff_explanation);
    str_free(&ev->unit_explanation);
    str_free(&ev->decision);
    str_free(&ev->dir_type);
    str_free(&ev->dir_hash);
    str_free(&ev->dir_why);
    str_free(&ev->summary);
    str_free(&ev->caller_name);
    str_free(&ev->caller_phone);
    extra_free(&ev->extra);
    memset(ev, 0, sizeof(*ev));
}

/* Replace *dst (NULL) by a copy of src; false only when a copy failed. */
static bool dup_into(char **dst, const char *src)
{
    if (src == NULL) {
        *dst = NULL;
        return true;
    }
    *dst = hcp_strndup(src, strlen(src));
    return *dst != NULL;
}

static bool extra_copy(hcp_extra *dst, const hcp_extra *src)
{
    dst->data = NULL;
    if (src->len == 0)
        return true;
    dst->data = malloc(src->len);
    if (dst->data == NULL)
        return false;
    memcpy(dst->data, src->data, src->len);
    return true;
}

int hcp_intake_copy(hcp_intake *dst, const hcp_intake *src)
{
    if (dst == NULL || src == NULL)
        return HCP_EINVAL;
    *dst = *src; /* scalars; every pointer is replaced below */
    bool ok = dup_into(&dst->unit.code, src->unit.code);
    ok &= dup_into(&dst->unit.name, src->unit.name);
    ok &= dup_into(&dst->window, src->window);
    ok &= dup_into(&dst->staff.id, src->staff.id);
    ok &= dup_into(&dst->staff.name, src->staff.name);
    ok &= dup_into(&dst->staff.phone, src->staff.phone);
    ok &= dup_into(&dst->service_item.code, src->service_item.code);
    ok &= dup_into(&dst->service_item.name, src->service_item.name);
    ok &= dup_into(&dst->complainant.name, src->complainant.name);
    ok &= dup_into(&dst->complainant.phone, src->complainant.phone);
    ok &= dup_into(&dst->complainant.id_number, src->complainant.id_number);
    ok &= dup_into(&dst->complainant.organization, src->complainant.organization);
    ok &= dup_into(&dst->content, src->content);
    if (!ok) {
        hcp_intake_clear(dst);
        return HCP_ENOMEM;
    }
    return HCP_OK;
}

int hcp_case_copy(hcp_case *dst, const hcp_case *src)
{
    if (dst == NULL || src == NULL)
        return HCP_EINVAL;
    *dst = *src;
    memset(&dst->in, 0, sizeof(dst->in));
    if (hcp_intake_copy(&dst->in, &src->in) != HCP_OK) {
        memset(dst, 0, sizeof(*dst));
        return HCP_ENOMEM;
    }
    bool ok = dup_into(&dst->verifier.name, src->verifier.name);
    ok &= dup_into(&dst->verifier.phone, src->verifier.phone);
    ok &= dup_into(&dst->rectify_unit.code, src->rectify_unit.code);
    ok &= dup_into(&dst->rectify_unit.name, src->rectify_unit.name);
    ok &= dup_into(&dst->rectification_result, src->rectification_result);
    ok &= extra_copy(&dst->extra, &src->extra);
    if (!ok) {
        hcp_case_clear(dst);
        return HCP_ENOMEM;
    }
    return HCP_OK;
}

int hcp_event_copy(hcp_event *dst, const hcp_event *src)
{
    if (dst == NULL || src == NULL)
        return HCP_EINVAL;
    *dst = *src;
    memset(&dst->in, 0, sizeof(dst->in));
    if (hcp_intake_copy(&dst->in, &src->in) != HCP_OK) {
        memset(dst, 0, sizeof(*dst));
        return HCP_ENOMEM;
    }
    bool ok = dup_into(&dst->verifier.name, src->verifier.name);
    ok &= dup_into(&dst->verifier.phone, src->verifier.phone);
    ok &= dup_into(&dst->note, src->note);
    ok &= dup_into(&dst->by, src->by);
    ok &= dup_into(&dst->reason, src->reason);
    ok &= dup_into(&dst->unit.code, src->unit.code);
    ok &= dup_into(&dst->unit.name, src->unit.name);
    ok &= dup_into(&dst->result, src->result);
    ok &= dup_into(&dst->via, src->via);
    ok &= dup_into(&dst->text, src->text);
    ok &= dup_into(&dst->account, src->account);
    ok &= dup_into(&dst->document, src->document);
    ok &= dup_into(&dst->staff_explanation, src->staff_explanation);
    ok &= dup_into(&dst->unit_explanation, src->unit_explanation);
    ok &= dup_into(&dst->decision, src->decision);
    ok &= dup_into(&dst->dir_type, src->dir_type);
    ok &= dup_into(&dst->dir_hash, src->dir_hash);
    ok &= dup_into(&dst->dir_why, src->dir_why);
    ok &= dup_into(&dst->summary, src->summary);
    ok &= dup_into(&dst->caller_name, src->caller_name);
    ok &= dup_into(&dst->caller_phone, src->caller_phone);
    ok &= extra_copy(&dst->extra, &src->extra);
    if (!ok) {
        hcp_event_clear(dst);
        return HCP_ENOMEM;
    }
    return HCP_OK;
}

static bool nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

bool hcp_intake_real_name(const hcp_intake *in)
{
    if (in == NULL || !in->has_complainant)
        return false;
    const hcp_person *p = &in->complainant;
    return nonempty(p->name) && (nonempty(p->phone) || nonempty(p->id_number));
}

bool hcp_intake_reachable(const hcp_intake *in)
{
    return in != NULL && in->has_complainant && nonempty(in->complainant.phone);
}

int hcp_case_id_format(char *buf, size_t len, const char *county, hcp_day day, uint32_t n)
{
    if (buf == NULL || !hcp_county_str_ok(county) || n == 0)
        return HCP_EINVAL;
    int y, m, d;
    hcp_day dd;
    hcp_day_to_ymd(day, &y, &m, &d);
    if (hcp_day_from_ymd(y, m, d, &dd) != HCP_OK)
        return HCP_ERANGE; /* a year outside 1970..9999 would not parse back */
    int w = snprintf(buf, len, "%s-%04d%02d%02d-%04u", county, y, m, d, (unsigned)n);
    if (w < 0 || (size_t)w >= len)
        return HCP_ERANGE;
    return HCP_OK;
}

int hcp_case_id_parse(const char *id, char *county, hcp_day *day, uint32_t *n)
{
    if (id == NULL)
        return HCP_EINVAL;
    size_t len = strlen(id);
    /* CCCCCC-YYYYMMDD-NNNN… : at least 20 bytes, at most 10 digits of n
     * (UINT32_MAX has ten); only the canonical spelling that
     * hcp_case_id_format writes, so one case has one id: n is zero-padded
     * to four digits and never longer than it needs. */
    if (len < 20 || len > 26 || id[6] != '-' || id[15] != '-')
        return HCP_EFORMAT;
    if (len > 20 && id[16] == '0')
        return HCP_EFORMAT;
    for (size_t i = 0; i < len; i++) {
        if (i == 6 || i == 15)
            continue;
        if (id[i] < '0' || id[i] > '9')
            return HCP_EFORMAT;
    }
    int y = (id[7] - '0') * 1000 + (id[8] - '0') * 100 + (id[9] - '0') * 10 + (id[10] - '0');
    int m = (id[11] - '0') * 10 + (id[12] - '0');
    int d = (id[13] - '0') * 10 + (id[14] - '0');
    hcp_day dd;
    if (hcp_day_from_ymd(y, m, d, &dd) != HCP_OK)
        return HCP_EFORMAT;
    uint64_t v = 0;
    for (size_t i = 16; i < len; i++)
        v = v * 10 + (uint64_t)(id[i] - '0');
    if (v == 0 || v > UINT32_MAX)
        return HCP_EFORMAT;
    if (county != NULL) {
        memcpy(county, id, HCP_COUNTY_LEN);
        county[HCP_COUNTY_LEN] = '\0';
    }
    if (day != NULL)
        *day = dd;
    if (n != NULL)
        *n = (uint32_t)v;
    return HCP_OK;
}
