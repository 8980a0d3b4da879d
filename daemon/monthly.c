/*
 * monthly.c — the monthly statistics form (monthly.h, docs/reports.md).
 *
 * The rows are built once from the cases (hcpd_monthly_add) into strings,
 * then written as JSON (jansson), CSV (RFC 4180 quoting, a BOM) or XLSX
 * (libxlsxwriter), so the three formats always say the same thing. A cell
 * is encoded (jansson, CSV quoting) once, when its row is rendered, and
 * only when it needs it; the others are their own JSON string's content
 * and their own CSV field.
 */
#include "monthly.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <xlsxwriter.h>
#include <zlib.h>

#include "codec.h"
#include "division.h"

const char hcpd_monthly_title[] = "青海省政务服务差评投诉核实整改情况统计表";
const char *const hcpd_monthly_columns[HCPD_MONTHLY_COLS] = {"序号",
                                                             "差评投诉时间",
                                                             "差评投诉人及联系方式",
                                                             "差评投诉内容",
                                                             "被差评投诉单位及工作人员联系方式",
                                                             "整改处理结果",
                                                             "核实人及联系方式",
                                                             "结果运用",
                                                             "备注"};

/* The header lines' labels, as printed on the form. */
#define L_REGION "填报地区(单位盖章)"
#define L_DATE   "填表日期"
#define L_FILLER "填表人"
#define L_PHONE  "填表人联系电话"
/* The form's closing note, as printed. */
static const char form_note[] =
    "说明：本表请于每月 10 "
    "日前由市（州）政务监督管理局汇总本行政区内差评、投诉情况报至省政务服务监督"
    "管理局，无差评、投诉无须填报。";

#define XLSX_MAX (64u << 20) /* bytes of a workbook read back */

/* The status of a case as the form's remarks name it. */
static const char *const status_zh[HCP_ST_COUNT_] = {
    NULL, "已受理", "核实中", "复核中", "整改中", "待反馈", "待回访", "已办结", "已关闭"};

/* A rating's words (Art. 2), for the content column. */
static const char *const rating_zh[6] = {NULL,       "非常不满意", "不满意",
                                         "基本满意", "满意",       "非常满意"};

/* ---- strings ---- */

/*
 * The cells of one row are written one after another, each ended by a NUL,
 * into one growable buffer with plain copies (no printf: formatting was most
 * of a row's cost), then copied into one allocation per row.
 */
typedef struct sb {
    char *p;
    size_t len, cap;
    size_t cell; /* where the current cell starts */
    bool failed;
} sb;

/* Append n bytes of s; remembers an allocation failure. */
static void sb_mem(sb *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = (b->len + n + 1) * 2;
        char *q = realloc(b->p, cap);
        if (q == NULL) {
            b->failed = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

/* Make room for n bytes in b (empty); remembers an allocation failure. */
static void sb_reserve(sb *b, size_t n)
{
    if (b->cap >= n || b->failed)
        return;
    char *q = realloc(b->p, n);
    if (q == NULL)
        b->failed = true;
    else {
        b->p = q;
        b->cap = n;
    }
}

/* Append the string s (NULL: nothing). */
static void sb_str(sb *b, const char *s)
{
    if (s != NULL)
        sb_mem(b, s, strlen(s));
}

/* End the current cell (its NUL) and start the next. */
static void sb_end(sb *b)
{
    sb_mem(b, "", 0);
    if (!b->failed)
        b->p[b->len++] = '\0'; /* room kept by sb_mem's + 1 */
    b->cell = b->len;
}

/* ---- the rows ---- */

struct hcpd_mscratch;
static void rb_free(struct hcpd_mscratch *r);

int hcpd_monthly_init(hcpd_monthly *m, int year, int month, const char *region_code,
                      const char *region, hcp_time now, const char *filler,
                      const char *filler_phone, bool personal)
{
    if (m == NULL)
        return HCP_EINVAL;
    memset(m, 0, sizeof(*m));
    if (year < 2000 || year > 9999 || month < 1 || month > 12 || region_code == NULL ||
        strlen(region_code) != HCP_COUNTY_LEN || region == NULL || filler == NULL)
        return HCP_EINVAL;
    m->year = year;
    m->month = month;
    m->personal = personal;
    memcpy(m->region_code, region_code, HCP_COUNTY_LEN + 1);
    int y, mo, d;
    hcp_day_to_ymd(hcp_day_of(now), &y, &mo, &d);
    char date[32];
    snprintf(date, sizeof(date), "%04d年%02d月%02d日", y, mo, d);
    const char *phone = filler_phone != NULL ? filler_phone : "";
    m->region = hcp_strndup(region, strlen(region));
    m->filled_on = hcp_strndup(date, strlen(date));
    m->filler = hcp_strndup(filler, strlen(filler));
    m->filler_phone = hcp_strndup(phone, strlen(phone));
    if (m->region == NULL || m->filled_on == NULL || m->filler == NULL || m->filler_phone == NULL)
        return HCP_ENOMEM;
    return HCP_OK;
}

void hcpd_monthly_free(hcpd_monthly *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++)
        free(m->rows[i].block);
    free(m->rows);
    rb_free(m->scratch);
    free(m->region);
    free(m->filled_on);
    free(m->filler);
    free(m->filler_phone);
    memset(m, 0, sizeof(*m));
}

const char *hcpd_monthly_use(const hcp_case *c)
{
    if (c->status == HCP_ST_DISPUTED)
        return "复核中";
    if (c->outcome == HCP_OUT_MISTAKEN || c->outcome == HCP_OUT_MALICIOUS)
        return "不予采纳";
    if (c->outcome == HCP_OUT_SUBSTANTIATED)
        return "纳入年度考核";
    if (c->outcome == HCP_OUT_UNSUBSTANTIATED)
        return "不纳入考核";
    return "处理中";
}

/* 整改处理结果 when no rectification result was recorded: where the case
 * stands, in words. */
static const char *result_words(const hcp_case *c)
{
    if (c->outcome == HCP_OUT_MISTAKEN)
        return "经复核为误评，不予采纳";
    if (c->outcome == HCP_OUT_MALICIOUS)
        return "经复核为恶意差评，不予采纳";
    if (c->outcome == HCP_OUT_UNSUBSTANTIATED)
        return "经核实不属实";
    if (c->status == HCP_ST_DISPUTED)
        return "复核中";
    if (c->outcome == HCP_OUT_SUBSTANTIATED)
        return "经核实属实，整改中";
    return "核实中";
}

/* The n decimal digits of v (zero-padded) at p. */
static void put_digits(char *p, int v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
}

/* "2026-11-27 10:03" (Asia/Shanghai) of t into buf (>= 20 bytes). Written
 * digit by digit: two printf calls were most of a kept row's own cost. */
static void time_cell(hcp_time t, char *buf, size_t len)
{
    hcp_day day = hcp_day_of(t);
    int y, mo, d;
    hcp_day_to_ymd(day, &y, &mo, &d);
    long secs = (long)(t - hcp_day_start(day));
    if (len >= 17 && y >= 1970 && y <= 9999 && secs >= 0 && secs < 86400) {
        memcpy(buf, "0000-00-00 00:00", 17);
        put_digits(buf, y, 4);
        put_digits(buf + 5, mo, 2);
        put_digits(buf + 8, d, 2);
        put_digits(buf + 11, (int)(secs / 3600), 2);
        put_digits(buf + 14, (int)(secs / 60 % 60), 2);
        return;
    }
    char iso[HCP_TIME_STRLEN];
    if (hcp_time_format(t, iso, sizeof(iso)) != HCP_OK) {
        snprintf(buf, len, "%s", "");
        return;
    }
    snprintf(buf, len, "%.10s %.5s", iso, iso + 11);
}

/* Whether the cell text s[0..n) needs encoding: JSON escapes a quote, a
 * backslash and a control character (jansson: nothing else without
 * JSON_ENSURE_ASCII / JSON_ESCAPE_SLASH); CSV quotes a field with a comma, a
 * quote or a line break. Otherwise the JSON string is the text in quotes
 * and the CSV field is the text. */
static bool needs_encoding(const char *s, size_t n)
{
#define C4(x) [x] = 1, [(x) + 1] = 1, [(x) + 2] = 1, [(x) + 3] = 1
    static const unsigned char special[256] = {
        C4(0),  C4(4),  C4(8),     C4(12),     C4(16),   C4(20),
        C4(24), C4(28), ['"'] = 1, ['\\'] = 1, [','] = 1};
#undef C4
    const unsigned char *p = (const unsigned char *)s;
    unsigned char any = 0;
    for (size_t i = 0; i < n; i++) /* no branch per byte: cells are short */
        any |= special[p[i]];
    return any != 0;
}

/* Append s as a JSON string, as jansson writes it, to b; ends the cell. */
static void sb_json(sb *b, const char *s, size_t n)
{
    json_t *j = b->failed ? NULL : json_stringn(s, n);
    char *enc = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    if (enc != NULL)
        sb_str(b, enc);
    else
        b->failed = true;
    free(enc);
    json_decref(j);
    sb_end(b);
}

/* Append s as a CSV field (RFC 4180: in quotes, a quote doubled) to b; ends
 * the cell. Only for a cell that needs_encoding. */
static void sb_csv(sb *b, const char *s)
{
    sb_mem(b, "\"", 1);
    for (const char *p = s; *p != '\0';) { /* runs up to each quote, the quote doubled */
        const char *q = strchr(p, '"');
        size_t run = q != NULL ? (size_t)(q - p) : strlen(p);
        sb_mem(b, p, run);
        if (q != NULL)
            sb_mem(b, "\"\"", 2);
        p += run + (q != NULL ? 1 : 0);
    }
    sb_mem(b, "\"", 1);
    sb_end(b);
}

/*
 * A row being rendered: each cell's text goes to pub until its first
 * personal part, from there to prv (so a cell is pub's part then prv's);
 * the encodings of the cells that need them go to epub / eprv, after all
 * cells. pers and esc: a bit per cell (hcpd_monthly.h: the layout).
 */
typedef struct hcpd_mscratch {
    sb pub, prv, epub, eprv, joined;
    bool in_prv;   /* the current cell has a personal part already */
    size_t pstart; /* where the current cell starts in pub, prv */
    size_t sstart;
    int k; /* the current cell */
    uint8_t pers, esc;
} rowb;

/* Append s to the current cell, as a personal part when pers. */
static void rb_put(rowb *r, bool pers, const char *s)
{
    if (s == NULL)
        return;
    if (pers)
        r->in_prv = true;
    sb_str(r->in_prv ? &r->prv : &r->pub, s);
}

/* Whether the current cell has text yet. */
static bool rb_any(const rowb *r)
{
    return r->pub.len > r->pstart || r->prv.len > r->sstart;
}

/* Append s after sep when the current cell already has text; NULL or ""
 * adds nothing. */
static void rb_part(rowb *r, bool pers, const char *sep, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return;
    if (rb_any(r))
        rb_put(r, pers, sep);
    rb_put(r, pers, s);
}

/* End the current cell: its NULs, its bits, and its encodings when it
 * needs them. */
static void rb_end(rowb *r)
{
    const char *pp = r->pub.p + r->pstart, *sp = r->prv.p + r->sstart;
    size_t pn = r->pub.len - r->pstart, sn = r->prv.len - r->sstart;
    if (!r->pub.failed && !r->prv.failed &&
        (needs_encoding(pp, pn) || (r->in_prv && needs_encoding(sp, sn)))) {
        sb *e = r->in_prv ? &r->eprv : &r->epub;
        r->joined.len = r->joined.cell = 0;
        sb_mem(&r->joined, pp, pn);
        if (r->in_prv)
            sb_mem(&r->joined, sp, sn);
        sb_end(&r->joined);
        if (r->joined.failed)
            e->failed = true;
        else {
            sb_json(e, r->joined.p, pn + (r->in_prv ? sn : 0));
            sb_csv(e, r->joined.p);
        }
        r->esc |= (uint8_t)(1u << r->k);
    }
    sb_end(&r->pub);
    if (r->in_prv) {
        sb_end(&r->prv);
        r->pers |= (uint8_t)(1u << r->k);
    }
    r->k++;
    r->in_prv = false;
    r->pstart = r->pub.len;
    r->sstart = r->prv.len;
}

/* Empty r for a new row (its buffers kept). */
static void rb_reset(rowb *r)
{
    sb *all[] = {&r->pub, &r->prv, &r->epub, &r->eprv, &r->joined};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        all[i]->len = all[i]->cell = 0;
        all[i]->failed = false;
    }
    sb_reserve(&r->pub, 2048); /* a row's size at once, not a doubling series per row */
    sb_reserve(&r->prv, 2048);
    sb_mem(&r->pub, "\0\0", 2); /* the two masks, set when the row is done */
    r->pub.len = r->pstart = 2;
    r->sstart = 0;
    r->in_prv = false;
    r->k = 0;
    r->pers = r->esc = 0;
}

/* Release r's buffers. */
static void rb_free(rowb *r)
{
    if (r == NULL)
        return;
    free(r->pub.p);
    free(r->prv.p);
    free(r->epub.p);
    free(r->eprv.p);
    free(r->joined.p);
    free(r);
}

/* The columns 2..9 of case c, with the personal parts when personal, into
 * r (reset first) as the layout says: r->pub and r->prv complete. False on
 * allocation failure. */
static bool row_render(bool personal, const hcp_case *c, rowb *r)
{
    const hcp_intake *in = &c->in;
    rb_reset(r);
    char t[32];
    time_cell(c->received_at, t, sizeof(t));
    rb_put(r, false, t);
    rb_end(r);
    /* 差评投诉人及联系方式 */
    if (!in->has_complainant)
        rb_put(r, false, "匿名");
    else if (!personal)
        rb_put(r, false, "（个人信息，仅监管账户可见）");
    else {
        rb_part(r, true, " ", in->complainant.name);
        rb_part(r, true, " ", in->complainant.phone);
        rb_part(r, true, " ", in->complainant.organization);
        if (!rb_any(r))
            rb_put(r, false, "未留姓名及联系方式");
    }
    rb_end(r);
    /* 差评投诉内容: the kind, the rating's words, the item, the text */
    if (in->kind == HCP_KIND_REVIEW && in->rating >= 1 && in->rating <= 5) {
        rb_put(r, false, "差评（");
        rb_put(r, false, rating_zh[in->rating]);
        rb_put(r, false, "）");
    } else
        rb_put(r, false, in->kind == HCP_KIND_REVIEW ? "差评" : "投诉");
    if (in->service_item.name != NULL) {
        rb_put(r, false, "，事项：");
        rb_put(r, false, in->service_item.name);
    }
    if (in->content != NULL && in->content[0] != '\0') {
        rb_put(r, false, "：");
        rb_put(r, true, in->content); /* free text */
    }
    rb_end(r);
    /* 被差评投诉单位及工作人员联系方式 */
    rb_part(r, false, " ", in->unit.name);
    rb_part(r, true, " ", in->window); /* free text */
    rb_part(r, false, " ", in->staff.name);
    if (personal)
        rb_part(r, true, " ", in->staff.phone);
    rb_end(r);
    /* 整改处理结果 */
    if (c->rectification_result != NULL && c->rectification_result[0] != '\0')
        rb_put(r, true, c->rectification_result); /* free text */
    else
        rb_put(r, false, result_words(c));
    rb_end(r);
    /* 核实人及联系方式 */
    rb_part(r, false, " ", c->verifier.name);
    if (personal)
        rb_part(r, true, " ", c->verifier.phone);
    rb_end(r);
    rb_put(r, false, hcpd_monthly_use(c));
    rb_end(r);
    /* 备注: the case number, the county, where it stands */
    const hcp_division *d = hcp_division_find(c->county);
    rb_put(r, false, "案件编号 ");
    rb_put(r, false, c->id);
    if (d != NULL && d->name != NULL) {
        rb_put(r, false, "；");
        rb_put(r, false, d->name);
    }
    if (c->status > HCP_ST_NONE && c->status < HCP_ST_COUNT_) {
        rb_put(r, false, "；");
        rb_put(r, false, status_zh[c->status]);
    }
    if (c->overdue_marked != 0)
        rb_put(r, false, "；有逾期");
    if (c->revisited_at != 0)
        rb_put(r, false, c->revisit_satisfied ? "；回访满意" : "；回访不满意");
    rb_end(r);
    sb_mem(&r->pub, r->epub.p != NULL ? r->epub.p : "", r->epub.len);
    sb_mem(&r->prv, r->eprv.p != NULL ? r->eprv.p : "", r->eprv.len);
    if (r->pub.failed || r->prv.failed || r->epub.failed || r->eprv.failed || r->joined.failed)
        return false;
    r->pub.p[0] = (char)r->pers;
    r->pub.p[1] = (char)r->esc;
    return true;
}

/* The next NUL-terminated string of [*at, n) of p into *out; false when
 * there is none. */
static bool next_str(const char *p, size_t n, size_t *at, const char **out, size_t *len)
{
    if (*at >= n)
        return false;
    const char *e = memchr(p + *at, '\0', n - *at);
    if (e == NULL)
        return false;
    *out = p + *at;
    *len = (size_t)(e - *out);
    *at += *len + 1;
    return true;
}

/* Row r of m from a rendered row (pub, prv: the layout above): each cell's
 * text joined from its parts, and the encodings of those that need them,
 * copied into one allocation. HCP_EFORMAT when they are not a row of this
 * layout, HCP_ENOMEM. */
static int row_take(hcpd_monthly_row *r, const char *pub, size_t pn, const char *prv, size_t sn)
{
    enum { K = HCPD_MONTHLY_COLS - 1 };
    if (pn < 2)
        return HCP_EFORMAT;
    uint8_t pers = (uint8_t)pub[0], esc = (uint8_t)pub[1];
    const char *pp[K], *sp[K], *je[K], *ce[K];
    size_t pl[K], sl[K], jl[K], cl[K];
    size_t pat = 2, sat = 0, total = 0;
    for (int k = 0; k < K; k++) {
        sp[k] = "";
        sl[k] = 0;
        if (!next_str(pub, pn, &pat, &pp[k], &pl[k]) ||
            ((pers >> k & 1) && !next_str(prv, sn, &sat, &sp[k], &sl[k])))
            return HCP_EFORMAT;
        total += pl[k] + sl[k] + 1;
    }
    for (int k = 0; k < K; k++) {
        je[k] = ce[k] = NULL;
        jl[k] = cl[k] = 0;
        if (!(esc >> k & 1))
            continue;
        const char *src = (pers >> k & 1) ? prv : pub;
        size_t n = (pers >> k & 1) ? sn : pn, *at = (pers >> k & 1) ? &sat : &pat;
        if (!next_str(src, n, at, &je[k], &jl[k]) || !next_str(src, n, at, &ce[k], &cl[k]))
            return HCP_EFORMAT;
        total += jl[k] + cl[k] + 2;
    }
    if (pat != pn || sat != sn)
        return HCP_EFORMAT;
    char *p = malloc(total), *w = p;
    if (p == NULL)
        return HCP_ENOMEM;
    r->block = p;
    for (int k = 0; k < K; k++) {
        r->cell[k] = w;
        memcpy(w, pp[k], pl[k]);
        memcpy(w + pl[k], sp[k], sl[k]);
        w += pl[k] + sl[k];
        *w++ = '\0';
        r->json[k] = r->csv[k] = NULL;
        if (je[k] == NULL)
            continue;
        r->json[k] = w;
        memcpy(w, je[k], jl[k] + 1);
        w += jl[k] + 1;
        r->csv[k] = w;
        memcpy(w, ce[k], cl[k] + 1);
        w += cl[k] + 1;
    }
    return HCP_OK;
}

/* Wipe what r's buffers hold of personal text: a kept scratch outlives
 * the row it rendered. */
static void rb_wipe(rowb *r)
{
    sb *pers[] = {&r->prv, &r->eprv, &r->joined};
    for (size_t i = 0; i < sizeof(pers) / sizeof(pers[0]); i++)
        if (pers[i]->p != NULL)
            memset(pers[i]->p, 0, pers[i]->len);
}

int hcpd_monthly_render_with(hcpd_mscratch **scratch, const hcp_case *c, bool personal,
                             hcp_buf *pub, hcp_buf *prv)
{
    if (scratch == NULL || c == NULL || pub == NULL || prv == NULL)
        return HCP_EINVAL;
    if (*scratch == NULL && (*scratch = calloc(1, sizeof(**scratch))) == NULL)
        return HCP_ENOMEM;
    rowb *r = *scratch;
    size_t p0 = pub->len;
    int rc = row_render(personal, c, r) ? hcp_buf_append(pub, r->pub.p, r->pub.len) : HCP_ENOMEM;
    if (rc == HCP_OK && r->prv.len > 0)
        rc = hcp_buf_append(prv, r->prv.p, r->prv.len);
    if (rc != HCP_OK)
        pub->len = p0;
    rb_wipe(r);
    return rc;
}

int hcpd_monthly_render(const hcp_case *c, bool personal, hcp_buf *pub, hcp_buf *prv)
{
    hcpd_mscratch *r = NULL;
    int rc = hcpd_monthly_render_with(&r, c, personal, pub, prv);
    rb_free(r);
    return rc;
}

void hcpd_mscratch_free(hcpd_mscratch *scratch)
{
    rb_free(scratch);
}

/* Room for one more row in m. */
static int row_room(hcpd_monthly *m)
{
    if (m->n < m->cap)
        return HCP_OK;
    size_t cap = m->cap ? m->cap * 2 : 16;
    hcpd_monthly_row *rows = realloc(m->rows, cap * sizeof(*rows));
    if (rows == NULL)
        return HCP_ENOMEM;
    m->rows = rows;
    m->cap = cap;
    return HCP_OK;
}

int hcpd_monthly_add_rendered(hcpd_monthly *m, const char *case_id, const void *pub, size_t publen,
                              const void *prv, size_t prvlen)
{
    if (m == NULL || case_id == NULL || pub == NULL || (prv == NULL && prvlen > 0) ||
        strlen(case_id) >= HCP_CASE_ID_MAX)
        return HCP_EINVAL;
    int rc = row_room(m);
    if (rc != HCP_OK)
        return rc;
    hcpd_monthly_row *r = &m->rows[m->n];
    memset(r, 0, sizeof(*r));
    snprintf(r->case_id, sizeof(r->case_id), "%s", case_id);
    rc = row_take(r, pub, publen, prv != NULL ? prv : "", prvlen);
    if (rc == HCP_OK)
        m->n++;
    return rc;
}

int hcpd_monthly_add(hcpd_monthly *m, const hcp_case *c)
{
    if (m == NULL || c == NULL)
        return HCP_EINVAL;
    rowb *r = m->scratch;
    if (r == NULL && (r = m->scratch = calloc(1, sizeof(rowb))) == NULL)
        return HCP_ENOMEM;
    if (!row_render(m->personal, c, r))
        return HCP_ENOMEM;
    return hcpd_monthly_add_rendered(m, c->id, r->pub.p, r->pub.len, r->prv.p, r->prv.len);
}

/* ---- JSON ---- */

json_t *hcpd_monthly_json(const hcpd_monthly *m)
{
    char month[8];
    snprintf(month, sizeof(month), "%04d-%02d", m->year, m->month);
    json_t *cols = json_array(), *rows = json_array();
    bool ok = cols != NULL && rows != NULL;
    for (int k = 0; ok && k < HCPD_MONTHLY_COLS; k++)
        ok = json_array_append_new(cols, json_string(hcpd_monthly_columns[k])) == 0;
    for (size_t i = 0; ok && i < m->n; i++) {
        json_t *row = json_object();
        ok = row != NULL && json_object_set_new(row, hcpd_monthly_columns[0],
                                                json_integer((json_int_t)i + 1)) == 0;
        for (int k = 1; ok && k < HCPD_MONTHLY_COLS; k++)
            ok = json_object_set_new(row, hcpd_monthly_columns[k],
                                     json_string(m->rows[i].cell[k - 1])) == 0;
        ok = ok && json_object_set_new(row, "case_id", json_string(m->rows[i].case_id)) == 0;
        if (!ok)
            json_decref(row); /* NULL-safe */
        else
            ok = json_array_append_new(rows, row) == 0; /* takes row, also on failure */
    }
    if (!ok) {
        json_decref(cols);
        json_decref(rows);
        return NULL;
    }
    return json_pack("{ss,ss,s{ss,ss},ss,ss,ss,ss,sb,so,so,ss}", "title", hcpd_monthly_title,
                     "month", month, "region", "code", m->region_code, "name", m->region, L_REGION,
                     m->region, L_DATE, m->filled_on, L_FILLER, m->filler, L_PHONE, m->filler_phone,
                     "personal", m->personal, "columns", cols, "rows", rows, "note", form_note);
}

/* Append the JSON string of a cell: its encoding when it has one, else the
 * text in quotes (it needs no escaping: needs_encoding). */
static int json_cell(hcp_buf *out, const char *text, const char *enc)
{
    if (enc != NULL)
        return hcp_buf_append(out, enc, strlen(enc));
    size_t n = strlen(text);
    int rc = hcp_buf_append(out, "\"", 1);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, text, n);
    return rc == HCP_OK ? hcp_buf_append(out, "\"", 1) : rc;
}

/* Append row r, number no, as the JSON object jansson would write for it
 * (JSON_COMPACT): key[] the encoded column names, kid the encoded
 * "case_id"; a comma before it unless it is the first. */
static int json_row(hcp_buf *out, const char *const *key, const char *kid,
                    const hcpd_monthly_row *r, size_t no)
{
    char num[32];
    int nl = snprintf(num, sizeof(num), ":%zu", no); /* as jansson writes an integer */
    int rc = hcp_buf_append(out, no > 1 ? ",{" : "{", no > 1 ? 2 : 1);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, key[0], strlen(key[0]));
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, num, (size_t)nl);
    for (int k = 1; rc == HCP_OK && k < HCPD_MONTHLY_COLS; k++) {
        rc = hcp_buf_append(out, ",", 1);
        if (rc == HCP_OK)
            rc = hcp_buf_append(out, key[k], strlen(key[k]));
        if (rc == HCP_OK)
            rc = hcp_buf_append(out, ":", 1);
        if (rc == HCP_OK)
            rc = json_cell(out, r->cell[k - 1], r->json[k - 1]);
    }
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, ",", 1);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, kid, strlen(kid));
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, ":", 1);
    if (rc == HCP_OK && needs_encoding(r->case_id, strlen(r->case_id))) { /* never: digits, '-' */
        json_t *j = json_string(r->case_id);
        char *enc = j != NULL ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        rc = enc != NULL ? json_cell(out, r->case_id, enc) : HCP_ENOMEM;
        free(enc);
        json_decref(j);
    } else if (rc == HCP_OK)
        rc = json_cell(out, r->case_id, NULL);
    return rc == HCP_OK ? hcp_buf_append(out, "}", 1) : rc;
}

/* The encoded names a JSON row is written with: the column names and
 * "case_id", each as jansson encodes a string. */
typedef struct json_keys {
    char *key[HCPD_MONTHLY_COLS];
    char *kid;
} json_keys;

static void json_keys_free(json_keys *jk)
{
    for (int k = 0; k < HCPD_MONTHLY_COLS; k++)
        free(jk->key[k]);
    free(jk->kid);
}

/* Encode the names once per form; false on allocation failure (jk then
 * holds what was made: json_keys_free it). */
static bool json_keys_make(json_keys *jk)
{
    const size_t flags = JSON_COMPACT | JSON_ENCODE_ANY;
    memset(jk, 0, sizeof(*jk));
    json_t *jid = json_string("case_id");
    jk->kid = jid != NULL ? json_dumps(jid, flags) : NULL;
    json_decref(jid);
    bool ok = jk->kid != NULL;
    for (int k = 0; ok && k < HCPD_MONTHLY_COLS; k++) {
        json_t *j = json_string(hcpd_monthly_columns[k]);
        jk->key[k] = j != NULL ? json_dumps(j, flags) : NULL;
        json_decref(j);
        ok = jk->key[k] != NULL;
    }
    return ok;
}

/* The form's JSON up to and including the rows array's opening bracket:
 * the header object (the members before "rows", encoded by jansson as one
 * object) without its closing brace, then ,"rows":[ . */
static int json_head(const hcpd_monthly *m, hcp_buf *out)
{
    char month[8];
    snprintf(month, sizeof(month), "%04d-%02d", m->year, m->month);
    json_t *cols = json_array();
    bool ok = cols != NULL;
    for (int k = 0; ok && k < HCPD_MONTHLY_COLS; k++)
        ok = json_array_append_new(cols, json_string(hcpd_monthly_columns[k])) == 0;
    json_t *head =
        ok ? json_pack("{ss,ss,s{ss,ss},ss,ss,ss,ss,sb,sO}", "title", hcpd_monthly_title, "month",
                       month, "region", "code", m->region_code, "name", m->region, L_REGION,
                       m->region, L_DATE, m->filled_on, L_FILLER, m->filler, L_PHONE,
                       m->filler_phone, "personal", m->personal, "columns", cols)
           : NULL;
    char *hs = head != NULL ? json_dumps(head, JSON_COMPACT) : NULL;
    int rc = hs != NULL && strlen(hs) >= 2 ? HCP_OK : HCP_ENOMEM;
    if (rc == HCP_OK) /* the header without its closing brace */
        rc = hcp_buf_append(out, hs, strlen(hs) - 1);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, ",\"rows\":[", 9);
    free(hs);
    json_decref(head);
    json_decref(cols);
    return rc;
}

/* The form's JSON after the rows: the array's closing bracket, the note,
 * the closing brace. */
static int json_tail(hcp_buf *out)
{
    json_t *jn = json_string(form_note);
    char *note = jn != NULL ? json_dumps(jn, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    int rc = note != NULL ? hcp_buf_append(out, "],\"note\":", 9) : HCP_ENOMEM;
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, note, strlen(note));
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, "}", 1);
    free(note);
    json_decref(jn);
    return rc;
}

/* The rows' objects, comma-separated, without the brackets around them. */
static int json_rows(const hcpd_monthly *m, hcp_buf *out)
{
    json_keys jk;
    int rc = json_keys_make(&jk) ? HCP_OK : HCP_ENOMEM;
    for (size_t i = 0; rc == HCP_OK && i < m->n; i++)
        rc = json_row(out, (const char *const *)jk.key, jk.kid, &m->rows[i], i + 1);
    json_keys_free(&jk);
    return rc;
}

int hcpd_monthly_json_rows(const hcpd_monthly *m, hcp_buf *out)
{
    if (m == NULL || out == NULL)
        return HCP_EINVAL;
    size_t start = out->len;
    int rc = json_rows(m, out);
    if (rc != HCP_OK)
        out->len = start;
    return rc;
}

int hcpd_monthly_json_wrap(const hcpd_monthly *m, const void *rows, size_t len, hcp_buf *out)
{
    if (m == NULL || out == NULL || (rows == NULL && len > 0))
        return HCP_EINVAL;
    size_t start = out->len;
    int rc = json_head(m, out);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, rows, len);
    if (rc == HCP_OK)
        rc = json_tail(out);
    if (rc != HCP_OK)
        out->len = start;
    return rc;
}

/*
 * The same bytes as json_dumps(hcpd_monthly_json(m), JSON_COMPACT), written
 * row by row: a whole tree of a large month (ten objects a row) cost more
 * than reading the rows. Every value is encoded by jansson: the header as
 * one object (the members before "rows"), the column names and the note
 * once each, a row's cells that need escaping when the row was rendered
 * (the others need none: they are their text in quotes); only the brackets, commas, colons and the
 * row numbers are written here, as JSON_COMPACT writes them.
 */
int hcpd_monthly_json_stream(const hcpd_monthly *m, hcp_buf *out)
{
    if (m == NULL || out == NULL)
        return HCP_EINVAL;
    size_t start = out->len;
    int rc = json_head(m, out);
    if (rc == HCP_OK)
        rc = json_rows(m, out);
    if (rc == HCP_OK)
        rc = json_tail(out);
    if (rc != HCP_OK)
        out->len = start;
    return rc;
}

/* ---- CSV ---- */

/* Append one CSV field, quoted when it holds a comma, a quote or a line
 * break (RFC 4180: a quote is doubled). */
static int csv_field(hcp_buf *out, const char *s, bool first)
{
    int rc = first ? HCP_OK : hcp_buf_append(out, ",", 1);
    bool quote = strpbrk(s, ",\"\r\n") != NULL;
    if (rc == HCP_OK && quote)
        rc = hcp_buf_append(out, "\"", 1);
    const char *p = s;
    while (rc == HCP_OK && *p != '\0') { /* runs up to each quote, the quote doubled */
        const char *q = strchr(p, '"');
        size_t run = q != NULL ? (size_t)(q - p) : strlen(p);
        rc = hcp_buf_append(out, p, run);
        if (rc == HCP_OK && q != NULL)
            rc = hcp_buf_append(out, "\"\"", 2); /* only in a quoted field: q implies quote */
        p += run + (q != NULL ? 1 : 0);
    }
    if (rc == HCP_OK && quote)
        rc = hcp_buf_append(out, "\"", 1);
    return rc;
}

/* Append a CSV line of n fields. */
static int csv_line(hcp_buf *out, const char *const *f, int n)
{
    int rc = HCP_OK;
    for (int i = 0; rc == HCP_OK && i < n; i++)
        rc = csv_field(out, f[i], i == 0);
    return rc == HCP_OK ? hcp_buf_append(out, "\r\n", 2) : rc;
}

/* "label：value" into buf. */
static void labelled(char *buf, size_t len, const char *label, const char *value)
{
    snprintf(buf, len, "%s：%s", label, value);
}

/* The CSV up to the rows: the BOM, the title, the header cells, the
 * column names. */
static int csv_head(const hcpd_monthly *m, hcp_buf *out)
{
    char region[1024], date[128];
    labelled(region, sizeof(region), L_REGION, m->region);
    labelled(date, sizeof(date), L_DATE, m->filled_on);
    const char *title[] = {hcpd_monthly_title};
    const char *head[] = {region, date};
    int rc = hcp_buf_append(out, "\xEF\xBB\xBF", 3); /* the BOM: Excel then reads UTF-8 */
    if (rc == HCP_OK)
        rc = csv_line(out, title, 1);
    if (rc == HCP_OK)
        rc = csv_line(out, head, 2);
    if (rc == HCP_OK)
        rc = csv_line(out, hcpd_monthly_columns, HCPD_MONTHLY_COLS);
    return rc;
}

/* The CSV after the rows: the 填表人 line and the note. */
static int csv_tail(const hcpd_monthly *m, hcp_buf *out)
{
    char filler[1024], phone[256];
    labelled(filler, sizeof(filler), L_FILLER, m->filler);
    labelled(phone, sizeof(phone), L_PHONE, m->filler_phone);
    const char *foot[] = {filler, phone};
    const char *note[] = {form_note};
    int rc = csv_line(out, foot, 2);
    return rc == HCP_OK ? csv_line(out, note, 1) : rc;
}

/* The rows' lines, numbered from 1: each cell its quoted field when it
 * needs quoting (made when the row was rendered), else its text. */
static int csv_rows(const hcpd_monthly *m, hcp_buf *out)
{
    int rc = HCP_OK;
    char no[24];
    for (size_t i = 0; rc == HCP_OK && i < m->n; i++) {
        const hcpd_monthly_row *r = &m->rows[i];
        int nl = snprintf(no, sizeof(no), "%zu", i + 1);
        rc = hcp_buf_append(out, no, (size_t)nl);
        for (int k = 0; rc == HCP_OK && k < HCPD_MONTHLY_COLS - 1; k++) {
            const char *f = r->csv[k] != NULL ? r->csv[k] : r->cell[k];
            rc = hcp_buf_append(out, ",", 1);
            if (rc == HCP_OK)
                rc = hcp_buf_append(out, f, strlen(f));
        }
        if (rc == HCP_OK)
            rc = hcp_buf_append(out, "\r\n", 2);
    }
    return rc;
}

int hcpd_monthly_csv(const hcpd_monthly *m, hcp_buf *out)
{
    if (m == NULL || out == NULL)
        return HCP_EINVAL;
    int rc = csv_head(m, out);
    if (rc == HCP_OK)
        rc = csv_rows(m, out);
    if (rc == HCP_OK)
        rc = csv_tail(m, out);
    return rc;
}

int hcpd_monthly_csv_rows(const hcpd_monthly *m, hcp_buf *out)
{
    if (m == NULL || out == NULL)
        return HCP_EINVAL;
    size_t start = out->len;
    int rc = csv_rows(m, out);
    if (rc != HCP_OK)
        out->len = start;
    return rc;
}

int hcpd_monthly_csv_wrap(const hcpd_monthly *m, const void *rows, size_t len, hcp_buf *out)
{
    if (m == NULL || out == NULL || (rows == NULL && len > 0))
        return HCP_EINVAL;
    size_t start = out->len;
    int rc = csv_head(m, out);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, rows, len);
    if (rc == HCP_OK)
        rc = csv_tail(m, out);
    if (rc != HCP_OK)
        out->len = start;
    return rc;
}

/* ---- XLSX ---- */

/* Write the sheet of the form into wb; false when libxlsxwriter refused. */
static bool xlsx_sheet(lxw_workbook *wb, const hcpd_monthly *m)
{
    lxw_worksheet *ws = workbook_add_worksheet(wb, "统计表");
    lxw_format *title = workbook_add_format(wb), *head = workbook_add_format(wb),
               *cell = workbook_add_format(wb);
    if (ws == NULL || title == NULL || head == NULL || cell == NULL)
        return false;
    format_set_bold(title);
    format_set_font_size(title, 16);
    format_set_align(title, LXW_ALIGN_CENTER);
    format_set_bold(head);
    format_set_border(head, LXW_BORDER_THIN);
    format_set_text_wrap(head);
    format_set_align(head, LXW_ALIGN_CENTER);
    format_set_border(cell, LXW_BORDER_THIN);
    format_set_text_wrap(cell);
    format_set_align(cell, LXW_ALIGN_VERTICAL_TOP);
    static const double widths[HCPD_MONTHLY_COLS] = {6, 18, 24, 40, 30, 30, 18, 14, 30};
    lxw_error e = LXW_NO_ERROR;
    for (int k = 0; e == LXW_NO_ERROR && k < HCPD_MONTHLY_COLS; k++)
        e = worksheet_set_column(ws, (lxw_col_t)k, (lxw_col_t)k, widths[k], NULL);
    char region[1024], date[128], filler[1024], phone[256];
    labelled(region, sizeof(region), L_REGION, m->region);
    labelled(date, sizeof(date), L_DATE, m->filled_on);
    labelled(filler, sizeof(filler), L_FILLER, m->filler);
    labelled(phone, sizeof(phone), L_PHONE, m->filler_phone);
    if (e == LXW_NO_ERROR)
        e = worksheet_merge_range(ws, 0, 0, 0, HCPD_MONTHLY_COLS - 1, hcpd_monthly_title, title);
    if (e == LXW_NO_ERROR)
        e = worksheet_merge_range(ws, 1, 0, 1, 4, region, NULL);
    if (e == LXW_NO_ERROR)
        e = worksheet_merge_range(ws, 1, 5, 1, HCPD_MONTHLY_COLS - 1, date, NULL);
    for (int k = 0; e == LXW_NO_ERROR && k < HCPD_MONTHLY_COLS; k++)
        e = worksheet_write_string(ws, 2, (lxw_col_t)k, hcpd_monthly_columns[k], head);
    lxw_row_t row = 3;
    for (size_t i = 0; e == LXW_NO_ERROR && i < m->n; i++, row++) {
        e = worksheet_write_number(ws, row, 0, (double)(i + 1), cell);
        for (int k = 1; e == LXW_NO_ERROR && k < HCPD_MONTHLY_COLS; k++)
            e = worksheet_write_string(ws, row, (lxw_col_t)k, m->rows[i].cell[k - 1], cell);
    }
    if (e == LXW_NO_ERROR)
        e = worksheet_merge_range(ws, row, 0, row, 4, filler, NULL);
    if (e == LXW_NO_ERROR)
        e = worksheet_merge_range(ws, row, 5, row, HCPD_MONTHLY_COLS - 1, phone, NULL);
    if (e == LXW_NO_ERROR)
        e = worksheet_merge_range(ws, row + 1, 0, row + 1, HCPD_MONTHLY_COLS - 1, form_note, NULL);
    return e == LXW_NO_ERROR;
}

/* Append the whole file at fd (at most XLSX_MAX bytes) to out. */
static int read_back(int fd, hcp_buf *out)
{
    if (lseek(fd, 0, SEEK_SET) != 0)
        return HCP_EIO;
    uint8_t buf[65536];
    size_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < 0)
            return HCP_EIO;
        if (n == 0)
            return HCP_OK;
        total += (size_t)n;
        if (total > XLSX_MAX)
            return HCP_ERANGE;
        int rc = hcp_buf_append(out, buf, (size_t)n);
        if (rc != HCP_OK)
            return rc;
    }
}

int hcpd_monthly_xlsx(const hcpd_monthly *m, hcp_buf *out)
{
    if (m == NULL || out == NULL)
        return HCP_EINVAL;
    const char *dir = getenv("TMPDIR");
    char path[4096];
    int w = snprintf(path, sizeof(path), "%s/hcp-form-XXXXXX",
                     dir != NULL && dir[0] != '\0' ? dir : "/tmp");
    if (w < 0 || (size_t)w >= sizeof(path))
        return HCP_ERANGE;
    int fd = mkstemp(path); /* private (0600), a fresh name: libxlsxwriter then writes it */
    if (fd < 0)
        return HCP_EIO;
    lxw_workbook_options opt = {.constant_memory = LXW_TRUE, .tmpdir = NULL, .use_zip64 = 0};
    lxw_workbook *wb = workbook_new_opt(path, &opt);
    int rc = wb != NULL ? HCP_OK : HCP_ENOMEM;
    if (rc == HCP_OK && !xlsx_sheet(wb, m))
        rc = HCP_EIO;
    if (wb != NULL && workbook_close(wb) != LXW_NO_ERROR && rc == HCP_OK) /* frees wb */
        rc = HCP_EIO;
    size_t start = out->len;
    if (rc == HCP_OK)
        rc = read_back(fd, out);
    if (rc != HCP_OK)
        out->len = start;
    (void)close(fd);    /* read-only use: nothing to flush */
    (void)unlink(path); /* ours, made above */
    return rc;
}

/* ---- queries and the reply ---- */

bool hcpd_monthly_format_parse(const char *s, hcpd_mformat *out)
{
    if (s == NULL || s[0] == '\0' || strcmp(s, "json") == 0)
        *out = HCPD_MF_JSON;
    else if (strcmp(s, "csv") == 0)
        *out = HCPD_MF_CSV;
    else if (strcmp(s, "xlsx") == 0)
        *out = HCPD_MF_XLSX;
    else
        return false;
    return true;
}

bool hcpd_monthly_month_parse(const char *s, int *year, int *month)
{
    if (s == NULL || strlen(s) != 7 || s[4] != '-')
        return false;
    for (int i = 0; i < 7; i++)
        if (i != 4 && (s[i] < '0' || s[i] > '9'))
            return false;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int mo = (s[5] - '0') * 10 + (s[6] - '0');
    if (y < 2000 || mo < 1 || mo > 12)
        return false;
    *year = y;
    *month = mo;
    return true;
}

bool hcpd_monthly_phone_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    return s != NULL && n <= 32 && strspn(s, "0123456789 +-()") == n;
}

/* ---- gzip ---- */

#define GZ_LEVEL 6            /* zlib's default: a kept form is deflated once, sent many times */
#define GZ_MAX   (512u << 20) /* bytes given to deflate at once (a form is tens of MB) */

/* Deflate src[0..n) with z (initialized) into out, ending with flush
 * (Z_SYNC_FLUSH: byte-aligned, not final; Z_FINISH: the final block and,
 * for a gzip stream, its trailer). */
static int gz_run(z_stream *z, const void *src, size_t n, int flush, hcp_buf *out)
{
    if (n > GZ_MAX)
        return HCP_ERANGE;
    uint8_t chunk[16384];
    z->next_in = (Bytef *)(uintptr_t)src; /* zlib reads it only (its next_in is not const) */
    z->avail_in = (uInt)n;
    int rc = HCP_OK, zr;
    do {
        z->next_out = chunk;
        z->avail_out = sizeof(chunk);
        zr = deflate(z, flush);
        if (zr == Z_STREAM_ERROR)
            return HCP_EINVAL;
        rc = hcp_buf_append(out, chunk, sizeof(chunk) - z->avail_out);
    } while (rc == HCP_OK && z->avail_out == 0);
    if (rc == HCP_OK && (z->avail_in != 0 || (flush == Z_FINISH && zr != Z_STREAM_END)))
        rc = HCP_ENOMEM; /* cannot happen: deflate consumed everything and had room */
    return rc;
}

/* Deflate src[0..n) into out as one run of a new stream at zlib level
 * `level`: wbits 31 for a gzip member (its header first), -15 for raw
 * blocks; flush as gz_run. */
static int gz_level(const void *src, size_t n, int level, int wbits, int flush, hcp_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, level, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return HCP_ENOMEM;
    size_t start = out->len;
    int rc = gz_run(&z, src, n, flush, out);
    (void)deflateEnd(&z); /* Z_DATA_ERROR after a sync flush only says the stream is unfinished */
    if (rc != HCP_OK)
        out->len = start;
    return rc;
}

/* gz_level at GZ_LEVEL (the forms'). */
static int gz_once(const void *src, size_t n, int wbits, int flush, hcp_buf *out)
{
    return gz_level(src, n, GZ_LEVEL, wbits, flush, out);
}

/* A q value (RFC 9110 12.4.2: 0[.ddd] or 1[.000]) in thousandths; -1 when
 * malformed. */
static int parse_q(const char *v, size_t n)
{
    if (n == 0 || (v[0] != '0' && v[0] != '1') || n > 5 || (n > 1 && v[1] != '.'))
        return -1;
    int q = (v[0] - '0') * 1000;
    for (size_t i = 2, scale = 100; i < n; i++, scale /= 10) {
        if (v[i] < '0' || v[i] > '9')
            return -1;
        q += (v[i] - '0') * (int)scale;
    }
    return q > 1000 ? -1 : q;
}

/* Whether c is optional white space. */
static bool ows(char c)
{
    return c == ' ' || c == '\t';
}

bool hcpd_accepts_gzip(const char *ae)
{
    if (ae == NULL)
        return false;
    int gz = -1, star = -1; /* the best q of each in thousandths; -1: not named */
    const char *p = ae;
    while (*p != '\0') {
        while (ows(*p) || *p == ',')
            p++;
        const char *tok = p;
        while (*p != '\0' && *p != ',' && *p != ';' && !ows(*p))
            p++;
        size_t tn = (size_t)(p - tok);
        int q = 1000;
        while (*p != '\0' && *p != ',') { /* parameters: only q counts */
            while (ows(*p) || *p == ';')
                p++;
            const char *name = p;
            while (*p != '\0' && *p != '=' && *p != ';' && *p != ',' && !ows(*p))
                p++;
            size_t nn = (size_t)(p - name);
            while (ows(*p))
                p++;
            if (*p != '=') {
                if (nn > 0 && *p != ';' && *p != ',' && *p != '\0')
                    p++; /* stray character: skipped */
                continue;
            }
            p++;
            while (ows(*p))
                p++;
            const char *val = p;
            while (*p != '\0' && *p != ';' && *p != ',' && !ows(*p))
                p++;
            if (nn == 1 && (name[0] == 'q' || name[0] == 'Q'))
                q = parse_q(val, (size_t)(p - val)) < 0 ? 0 : parse_q(val, (size_t)(p - val));
        }
        if ((tn == 4 && strncasecmp(tok, "gzip", 4) == 0) ||
            (tn == 6 && strncasecmp(tok, "x-gzip", 6) == 0))
            gz = q > gz ? q : gz;
        else if (tn == 1 && tok[0] == '*')
            star = q > star ? q : star;
    }
    return gz > 0 || (gz < 0 && star > 0);
}

int hcpd_gz_part(const void *src, size_t n, hcpd_gz *out)
{
    if (out == NULL || (src == NULL && n > 0))
        return HCP_EINVAL;
    memset(out, 0, sizeof(*out));
    if (n > GZ_MAX)
        return HCP_ERANGE;
    hcp_buf b;
    hcp_buf_init(&b, GZ_MAX);
    int rc = gz_once(src, n, -15, Z_SYNC_FLUSH, &b);
    if (rc != HCP_OK) {
        hcp_buf_free(&b);
        return rc;
    }
    out->data = b.data;
    out->len = b.len;
    out->crc = (uint32_t)crc32_z(0, src, n);
    out->raw = n;
    return HCP_OK;
}

void hcpd_gz_free(hcpd_gz *g)
{
    if (g == NULL)
        return;
    free(g->data);
    memset(g, 0, sizeof(*g));
}

/* Append v little-endian (the gzip trailer's byte order). */
static int put_le32(hcp_buf *out, uint32_t v)
{
    uint8_t b[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    return hcp_buf_append(out, b, sizeof(b));
}

int hcpd_monthly_gzip_wrap(const hcpd_monthly *m, hcpd_mformat f, const hcpd_gz *rows, hcp_buf *out)
{
    if (m == NULL || rows == NULL || out == NULL || (rows->data == NULL && rows->len > 0) ||
        (f != HCPD_MF_JSON && f != HCPD_MF_CSV))
        return HCP_EINVAL;
    hcp_buf head, tail;
    hcp_buf_init(&head, 1u << 20);
    hcp_buf_init(&tail, 1u << 20);
    int rc = f == HCPD_MF_JSON ? json_head(m, &head) : csv_head(m, &head);
    if (rc == HCP_OK)
        rc = f == HCPD_MF_JSON ? json_tail(&tail) : csv_tail(m, &tail);
    size_t start = out->len;
    if (rc == HCP_OK) /* the member's header and the head's blocks, not final */
        rc = gz_once(head.data, head.len, 31, Z_SYNC_FLUSH, out);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, rows->data, rows->len);
    if (rc == HCP_OK) /* the tail's blocks, the last one final */
        rc = gz_once(tail.data, tail.len, -15, Z_FINISH, out);
    if (rc == HCP_OK) {
        uLong crc = crc32_z(0, head.data, head.len);
        crc = crc32_combine(crc, rows->crc, (z_off_t)rows->raw);
        crc = crc32_combine(crc, crc32_z(0, tail.data, tail.len), (z_off_t)tail.len);
        uint64_t total = head.len + rows->raw + tail.len;
        rc = put_le32(out, (uint32_t)crc);
        if (rc == HCP_OK)
            rc = put_le32(out, (uint32_t)total); /* ISIZE: the length mod 2^32 */
    }
    if (rc != HCP_OK)
        out->len = start;
    hcp_buf_free(&head);
    hcp_buf_free(&tail);
    return rc;
}

int hcpd_gzip(const void *src, size_t n, hcp_buf *out)
{
    if (out == NULL || (src == NULL && n > 0))
        return HCP_EINVAL;
    return gz_once(src, n, 31, Z_FINISH, out);
}

int hcpd_gzip_level(const void *src, size_t n, int level, hcp_buf *out)
{
    if (out == NULL || (src == NULL && n > 0) || level < 1 || level > 9)
        return HCP_EINVAL;
    return gz_level(src, n, level, 31, Z_FINISH, out);
}

void hcpd_monthly_reply_body(hcpd_req *r, hcpd_mformat f, const char *stem, const void *data,
                             size_t len, bool gz)
{
    hcpd_monthly_reply_lent(r, f, stem, data, len, gz, NULL, NULL);
}

void hcpd_monthly_reply_lent(hcpd_req *r, hcpd_mformat f, const char *stem, const void *data,
                             size_t len, bool gz, void (*done)(void *ctx), void *ctx)
{
    static const char *const ext[] = {NULL, "json", "csv", "xlsx"};
    static const char *const type[] = {
        NULL, "application/json; charset=utf-8", "text/csv; charset=utf-8",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"};
    if (f < HCPD_MF_JSON || f > HCPD_MF_XLSX || (gz && f == HCPD_MF_XLSX)) {
        if (done != NULL)
            done(ctx);
        hcpd_req_reply_error(r, 500, "form_failed", "unknown format");
        return;
    }
    char disp[256];
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s.%s\"", stem, ext[f]);
    hcpd_hdr h[] = {{"Content-Disposition", disp},
                    {"Cache-Control", "no-store"},
                    {"Vary", "Accept-Encoding"}, /* JSON and CSV: gzipped when accepted */
                    {"Content-Encoding", "gzip"}};
    size_t nh = f == HCPD_MF_XLSX ? 2 : gz ? 4 : 3;
    if (done != NULL)
        hcpd_req_reply_lent(r, 200, type[f], data, len, h, nh, done, ctx);
    else
        hcpd_req_reply_hdrs(r, 200, type[f], data, len, h, nh);
}

void hcpd_monthly_reply(hcpd_req *r, const hcpd_monthly *m, hcpd_mformat f, const char *stem)
{
    if (m->n == 0) { /* 无差评、投诉无须填报 */
        hcpd_req_reply_raw(r, 204, "text/plain; charset=utf-8", "", 0);
        return;
    }
    hcp_buf out, gz;
    hcp_buf_init(&out, XLSX_MAX);
    hcp_buf_init(&gz, XLSX_MAX);
    int rc = HCP_OK;
    if (f == HCPD_MF_JSON)
        rc = hcpd_monthly_json_stream(m, &out);
    else if (f == HCPD_MF_CSV)
        rc = hcpd_monthly_csv(m, &out);
    else
        rc = hcpd_monthly_xlsx(m, &out);
    bool zip = rc == HCP_OK && f != HCPD_MF_XLSX &&
               hcpd_accepts_gzip(hcpd_req_header(r, "Accept-Encoding"));
    if (zip)
        rc = hcpd_gzip(out.data, out.len, &gz);
    if (rc != HCP_OK) {
        hcp_buf_free(&out);
        hcp_buf_free(&gz);
        hcpd_req_reply_error(r, rc == HCP_ENOMEM ? 503 : 500, "form_failed", hcp_strerror(rc));
        return;
    }
    if (zip)
        hcpd_monthly_reply_body(r, f, stem, gz.data, gz.len, true);
    else
        hcpd_monthly_reply_body(r, f, stem, out.data, out.len, false);
    hcp_buf_free(&out);
    hcp_buf_free(&gz);
}
