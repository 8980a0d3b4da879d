/*
 * monthly.c — the monthly statistics form (monthly.h, docs/reports.md).
 *
 * The rows are built once from the cases (hcpd_monthly_add) into strings,
 * then written as JSON (jansson), CSV (RFC 4180 quoting, a BOM) or XLSX
 * (libxlsxwriter), so the three formats always say the same thing.
 */
#include "monthly.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

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

/* Append the string s (NULL: nothing). */
static void sb_str(sb *b, const char *s)
{
    if (s != NULL)
        sb_mem(b, s, strlen(s));
}

/* Append s after sep when the current cell already has text; NULL or ""
 * adds nothing. */
static void sb_part(sb *b, const char *sep, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return;
    if (b->len > b->cell)
        sb_str(b, sep);
    sb_str(b, s);
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
        free(m->rows[i].cell[0]); /* the row's block */
    free(m->rows);
    sb *b = m->scratch;
    if (b != NULL)
        free(b->p);
    free(b);
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

/* "2026-11-27 10:03" (Asia/Shanghai) of t into buf (>= 20 bytes). */
static void time_cell(hcp_time t, char *buf, size_t len)
{
    char iso[HCP_TIME_STRLEN];
    if (hcp_time_format(t, iso, sizeof(iso)) != HCP_OK) {
        snprintf(buf, len, "%s", "");
        return;
    }
    snprintf(buf, len, "%.10s %.5s", iso, iso + 11);
}

/* Append a JSON string of s (n bytes), as jansson writes it, to b as a cell. */
static void sb_json(sb *b, const char *s, size_t n)
{
    json_t *j = b->failed ? NULL : json_stringn(s, n);
    char tmp[512];
    size_t len = j != NULL ? json_dumpb(j, tmp, sizeof(tmp), JSON_COMPACT | JSON_ENCODE_ANY) : 0;
    if (len > sizeof(tmp)) { /* a long cell */
        char *big = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        if (big != NULL)
            sb_str(b, big);
        else
            b->failed = true;
        free(big);
    } else if (len > 0)
        sb_mem(b, tmp, len);
    else
        b->failed = true;
    json_decref(j);
    sb_end(b);
}

/* After the eight cells in b: each of them, then case id, as JSON strings
 * (encoded by jansson), so a form is written as JSON without encoding
 * anything again (hcpd_monthly_json_stream). False on failure. */
static bool row_encoded(sb *b, const char *id)
{
    sb e; /* the encodings, apart: their source must not move while read */
    memset(&e, 0, sizeof(e));
    size_t at = 0;
    for (int k = 0; !b->failed && !e.failed && k < HCPD_MONTHLY_COLS - 1; k++) {
        size_t n = strlen(b->p + at);
        sb_json(&e, b->p + at, n);
        at += n + 1;
    }
    sb_json(&e, id, strlen(id));
    if (e.failed)
        b->failed = true;
    else
        sb_mem(b, e.p, e.len);
    b->cell = b->len;
    free(e.p);
    return !b->failed;
}

/* The columns 2..9 of case c, with the personal parts when personal, into
 * b (emptied first) as eight NUL-terminated cells one after another; false
 * on allocation failure. */
static bool row_render(bool personal, const hcp_case *c, sb *b)
{
    const hcp_intake *in = &c->in;
    b->len = b->cell = 0;
    b->failed = false;
    char t[32];
    time_cell(c->received_at, t, sizeof(t));
    sb_str(b, t);
    sb_end(b);
    /* 差评投诉人及联系方式 */
    if (!in->has_complainant)
        sb_str(b, "匿名");
    else if (!personal)
        sb_str(b, "（个人信息，仅监管账户可见）");
    else {
        sb_part(b, " ", in->complainant.name);
        sb_part(b, " ", in->complainant.phone);
        sb_part(b, " ", in->complainant.organization);
        if (b->len == b->cell)
            sb_str(b, "未留姓名及联系方式");
    }
    sb_end(b);
    /* 差评投诉内容: the kind, the rating's words, the item, the text */
    if (in->kind == HCP_KIND_REVIEW && in->rating >= 1 && in->rating <= 5) {
        sb_str(b, "差评（");
        sb_str(b, rating_zh[in->rating]);
        sb_str(b, "）");
    } else
        sb_str(b, in->kind == HCP_KIND_REVIEW ? "差评" : "投诉");
    if (in->service_item.name != NULL) {
        sb_str(b, "，事项：");
        sb_str(b, in->service_item.name);
    }
    if (in->content != NULL && in->content[0] != '\0') {
        sb_str(b, "：");
        sb_str(b, in->content);
    }
    sb_end(b);
    /* 被差评投诉单位及工作人员联系方式 */
    sb_part(b, " ", in->unit.name);
    sb_part(b, " ", in->window);
    sb_part(b, " ", in->staff.name);
    if (personal)
        sb_part(b, " ", in->staff.phone);
    sb_end(b);
    /* 整改处理结果 */
    if (c->rectification_result != NULL && c->rectification_result[0] != '\0')
        sb_str(b, c->rectification_result);
    else
        sb_str(b, result_words(c));
    sb_end(b);
    /* 核实人及联系方式 */
    sb_part(b, " ", c->verifier.name);
    if (personal)
        sb_part(b, " ", c->verifier.phone);
    sb_end(b);
    sb_str(b, hcpd_monthly_use(c));
    sb_end(b);
    /* 备注: the case number, the county, where it stands */
    const hcp_division *d = hcp_division_find(c->county);
    sb_str(b, "案件编号 ");
    sb_str(b, c->id);
    if (d != NULL && d->name != NULL) {
        sb_str(b, "；");
        sb_str(b, d->name);
    }
    if (c->status > HCP_ST_NONE && c->status < HCP_ST_COUNT_) {
        sb_str(b, "；");
        sb_str(b, status_zh[c->status]);
    }
    if (c->overdue_marked != 0)
        sb_str(b, "；有逾期");
    if (c->revisited_at != 0)
        sb_str(b, c->revisit_satisfied ? "；回访满意" : "；回访不满意");
    sb_end(b);
    return row_encoded(b, c->id);
}

/* Row r of m from block[0..n): the eight cells, their eight JSON
 * encodings and that of the case id, each NUL-terminated, copied into one
 * allocation owned by cell[0]. HCP_EFORMAT when it is not that, HCP_ENOMEM. */
static int row_take(hcpd_monthly_row *r, const char *block, size_t n)
{
    if (n == 0 || block[n - 1] != '\0')
        return HCP_EFORMAT;
    char *p = malloc(n);
    if (p == NULL)
        return HCP_ENOMEM;
    memcpy(p, block, n);
    char *part[2 * (HCPD_MONTHLY_COLS - 1) + 1];
    size_t k = 0, at = 0, want = sizeof(part) / sizeof(part[0]);
    while (at < n && k < want) {
        part[k++] = p + at;
        at += strlen(p + at) + 1;
    }
    if (k != want || at != n) {
        free(p);
        return HCP_EFORMAT;
    }
    for (k = 0; k < HCPD_MONTHLY_COLS - 1; k++) {
        r->cell[k] = part[k];
        r->json[k] = part[HCPD_MONTHLY_COLS - 1 + k];
    }
    r->json_id = part[want - 1];
    return HCP_OK;
}

int hcpd_monthly_render(const hcp_case *c, bool personal, hcp_buf *out)
{
    if (c == NULL || out == NULL)
        return HCP_EINVAL;
    sb b;
    memset(&b, 0, sizeof(b));
    int rc = row_render(personal, c, &b) ? hcp_buf_append(out, b.p, b.len) : HCP_ENOMEM;
    free(b.p);
    return rc;
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

int hcpd_monthly_add_rendered(hcpd_monthly *m, const char *case_id, const void *block, size_t n)
{
    if (m == NULL || case_id == NULL || block == NULL || strlen(case_id) >= HCP_CASE_ID_MAX)
        return HCP_EINVAL;
    int rc = row_room(m);
    if (rc != HCP_OK)
        return rc;
    hcpd_monthly_row *r = &m->rows[m->n];
    memset(r, 0, sizeof(*r));
    snprintf(r->case_id, sizeof(r->case_id), "%s", case_id);
    rc = row_take(r, block, n);
    if (rc == HCP_OK)
        m->n++;
    return rc;
}

int hcpd_monthly_add(hcpd_monthly *m, const hcp_case *c)
{
    if (m == NULL || c == NULL)
        return HCP_EINVAL;
    sb *b = m->scratch;
    if (b == NULL && (b = m->scratch = calloc(1, sizeof(sb))) == NULL)
        return HCP_ENOMEM;
    if (!row_render(m->personal, c, b))
        return HCP_ENOMEM;
    return hcpd_monthly_add_rendered(m, c->id, b->p, b->len);
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
            rc = hcp_buf_append(out, r->json[k - 1], strlen(r->json[k - 1]));
    }
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, ",", 1);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, kid, strlen(kid));
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, ":", 1);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, r->json_id, strlen(r->json_id));
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
 * once each, a row's cells and case id when the row was rendered
 * (row_encoded); only the brackets, commas, colons and the row numbers are
 * written here, as JSON_COMPACT writes them.
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

/* The rows' lines, numbered from 1. */
static int csv_rows(const hcpd_monthly *m, hcp_buf *out)
{
    int rc = HCP_OK;
    char no[24];
    for (size_t i = 0; rc == HCP_OK && i < m->n; i++) {
        const char *f[HCPD_MONTHLY_COLS];
        snprintf(no, sizeof(no), "%zu", i + 1);
        f[0] = no;
        for (int k = 1; k < HCPD_MONTHLY_COLS; k++)
            f[k] = m->rows[i].cell[k - 1];
        rc = csv_line(out, f, HCPD_MONTHLY_COLS);
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

void hcpd_monthly_reply_body(hcpd_req *r, hcpd_mformat f, const char *stem, const void *data,
                             size_t len)
{
    static const char *const ext[] = {NULL, "json", "csv", "xlsx"};
    static const char *const type[] = {
        NULL, "application/json; charset=utf-8", "text/csv; charset=utf-8",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"};
    if (f < HCPD_MF_JSON || f > HCPD_MF_XLSX) {
        hcpd_req_reply_error(r, 500, "form_failed", "unknown format");
        return;
    }
    char disp[256];
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s.%s\"", stem, ext[f]);
    hcpd_hdr h[] = {{"Content-Disposition", disp}, {"Cache-Control", "no-store"}};
    hcpd_req_reply_hdrs(r, 200, type[f], data, len, h, 2);
}

void hcpd_monthly_reply(hcpd_req *r, const hcpd_monthly *m, hcpd_mformat f, const char *stem)
{
    if (m->n == 0) { /* 无差评、投诉无须填报 */
        hcpd_req_reply_raw(r, 204, "text/plain; charset=utf-8", "", 0);
        return;
    }
    hcp_buf out;
    hcp_buf_init(&out, XLSX_MAX);
    int rc = HCP_OK;
    if (f == HCPD_MF_JSON)
        rc = hcpd_monthly_json_stream(m, &out);
    else if (f == HCPD_MF_CSV)
        rc = hcpd_monthly_csv(m, &out);
    else
        rc = hcpd_monthly_xlsx(m, &out);
    if (rc != HCP_OK) {
        hcp_buf_free(&out);
        hcpd_req_reply_error(r, rc == HCP_ENOMEM ? 503 : 500, "form_failed", hcp_strerror(rc));
        return;
    }
    hcpd_monthly_reply_body(r, f, stem, out.data, out.len);
    hcp_buf_free(&out);
}
