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

/* A growable string for one cell. */
typedef struct sb {
    char *p;
    size_t len, cap;
    bool failed;
} sb;

/* Append printf-formatted text; remembers an allocation failure. */
static void sb_add(sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_add(sb *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = true;
        return;
    }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = (b->len + (size_t)n + 1) * 2;
        char *q = realloc(b->p, cap);
        if (q == NULL) {
            b->failed = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    va_start(ap, fmt);
    (void)vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap); /* sized just above */
    va_end(ap);
    b->len += (size_t)n;
}

/* Append s after a separator when the cell already has text; NULL or ""
 * adds nothing. */
static void sb_part(sb *b, const char *sep, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return;
    sb_add(b, "%s%s", b->len > 0 ? sep : "", s);
}

/* The cell as an owned string ("" when empty); NULL on failure (freed). */
static char *sb_take(sb *b)
{
    if (!b->failed && b->p == NULL)
        return hcp_strndup("", 0);
    if (b->failed) {
        free(b->p);
        return NULL;
    }
    return b->p;
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
        for (int k = 0; k < HCPD_MONTHLY_COLS - 1; k++)
            free(m->rows[i].cell[k]);
    free(m->rows);
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

/* The columns 2..9 of case c into cells (owned); false on allocation failure. */
static bool row_cells(const hcpd_monthly *m, const hcp_case *c, char *cell[HCPD_MONTHLY_COLS - 1])
{
    const hcp_intake *in = &c->in;
    sb b[HCPD_MONTHLY_COLS - 1];
    memset(b, 0, sizeof(b));
    char t[32];
    time_cell(c->received_at, t, sizeof(t));
    sb_add(&b[0], "%s", t);
    /* 差评投诉人及联系方式 */
    if (!in->has_complainant)
        sb_add(&b[1], "%s", "匿名");
    else if (!m->personal)
        sb_add(&b[1], "%s", "（个人信息，仅监管账户可见）");
    else {
        sb_part(&b[1], " ", in->complainant.name);
        sb_part(&b[1], " ", in->complainant.phone);
        sb_part(&b[1], " ", in->complainant.organization);
        if (b[1].len == 0)
            sb_add(&b[1], "%s", "未留姓名及联系方式");
    }
    /* 差评投诉内容: the kind, the rating's words, the item, the text */
    if (in->kind == HCP_KIND_REVIEW && in->rating >= 1 && in->rating <= 5)
        sb_add(&b[2], "差评（%s）", rating_zh[in->rating]);
    else
        sb_add(&b[2], "%s", in->kind == HCP_KIND_REVIEW ? "差评" : "投诉");
    if (in->service_item.name != NULL)
        sb_add(&b[2], "，事项：%s", in->service_item.name);
    if (in->content != NULL && in->content[0] != '\0')
        sb_add(&b[2], "：%s", in->content);
    /* 被差评投诉单位及工作人员联系方式 */
    sb_part(&b[3], " ", in->unit.name);
    sb_part(&b[3], " ", in->window);
    sb_part(&b[3], " ", in->staff.name);
    if (m->personal)
        sb_part(&b[3], " ", in->staff.phone);
    /* 整改处理结果 */
    if (c->rectification_result != NULL && c->rectification_result[0] != '\0')
        sb_add(&b[4], "%s", c->rectification_result);
    else
        sb_add(&b[4], "%s", result_words(c));
    /* 核实人及联系方式 */
    sb_part(&b[5], " ", c->verifier.name);
    if (m->personal)
        sb_part(&b[5], " ", c->verifier.phone);
    sb_add(&b[6], "%s", hcpd_monthly_use(c));
    /* 备注: the case number, the county, where it stands */
    const hcp_division *d = hcp_division_find(c->county);
    sb_add(&b[7], "案件编号 %s", c->id);
    if (d != NULL && d->name != NULL)
        sb_add(&b[7], "；%s", d->name);
    if (c->status > HCP_ST_NONE && c->status < HCP_ST_COUNT_)
        sb_add(&b[7], "；%s", status_zh[c->status]);
    if (c->overdue_marked != 0)
        sb_add(&b[7], "%s", "；有逾期");
    if (c->revisited_at != 0)
        sb_add(&b[7], "；回访%s", c->revisit_satisfied ? "满意" : "不满意");
    bool ok = true;
    for (int k = 0; k < HCPD_MONTHLY_COLS - 1; k++) {
        cell[k] = sb_take(&b[k]);
        ok = ok && cell[k] != NULL;
    }
    if (!ok)
        for (int k = 0; k < HCPD_MONTHLY_COLS - 1; k++) {
            free(cell[k]);
            cell[k] = NULL;
        }
    return ok;
}

int hcpd_monthly_add(hcpd_monthly *m, const hcp_case *c)
{
    if (m == NULL || c == NULL)
        return HCP_EINVAL;
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        hcpd_monthly_row *rows = realloc(m->rows, cap * sizeof(*rows));
        if (rows == NULL)
            return HCP_ENOMEM;
        m->rows = rows;
        m->cap = cap;
    }
    hcpd_monthly_row *r = &m->rows[m->n];
    memset(r, 0, sizeof(*r));
    snprintf(r->case_id, sizeof(r->case_id), "%s", c->id);
    if (!row_cells(m, c, r->cell))
        return HCP_ENOMEM;
    m->n++;
    return HCP_OK;
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

int hcpd_monthly_csv(const hcpd_monthly *m, hcp_buf *out)
{
    if (m == NULL || out == NULL)
        return HCP_EINVAL;
    char region[1024], date[128], filler[1024], phone[256], no[24];
    labelled(region, sizeof(region), L_REGION, m->region);
    labelled(date, sizeof(date), L_DATE, m->filled_on);
    labelled(filler, sizeof(filler), L_FILLER, m->filler);
    labelled(phone, sizeof(phone), L_PHONE, m->filler_phone);
    const char *title[] = {hcpd_monthly_title};
    const char *head[] = {region, date};
    const char *foot[] = {filler, phone};
    const char *note[] = {form_note};
    int rc = hcp_buf_append(out, "\xEF\xBB\xBF", 3); /* the BOM: Excel then reads UTF-8 */
    if (rc == HCP_OK)
        rc = csv_line(out, title, 1);
    if (rc == HCP_OK)
        rc = csv_line(out, head, 2);
    if (rc == HCP_OK)
        rc = csv_line(out, hcpd_monthly_columns, HCPD_MONTHLY_COLS);
    for (size_t i = 0; rc == HCP_OK && i < m->n; i++) {
        const char *f[HCPD_MONTHLY_COLS];
        snprintf(no, sizeof(no), "%zu", i + 1);
        f[0] = no;
        for (int k = 1; k < HCPD_MONTHLY_COLS; k++)
            f[k] = m->rows[i].cell[k - 1];
        rc = csv_line(out, f, HCPD_MONTHLY_COLS);
    }
    if (rc == HCP_OK)
        rc = csv_line(out, foot, 2);
    if (rc == HCP_OK)
        rc = csv_line(out, note, 1);
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
    lxw_workbook_options opt = {.constant_memory = LXW_FALSE, .tmpdir = NULL, .use_zip64 = 0};
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

void hcpd_monthly_reply(hcpd_req *r, const hcpd_monthly *m, hcpd_mformat f, const char *stem)
{
    if (m->n == 0) { /* 无差评、投诉无须填报 */
        hcpd_req_reply_raw(r, 204, "text/plain; charset=utf-8", "", 0);
        return;
    }
    static const char *const ext[] = {NULL, "json", "csv", "xlsx"};
    static const char *const type[] = {
        NULL, "application/json; charset=utf-8", "text/csv; charset=utf-8",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"};
    hcp_buf out;
    hcp_buf_init(&out, XLSX_MAX);
    int rc = HCP_OK;
    if (f == HCPD_MF_JSON) {
        json_t *j = hcpd_monthly_json(m);
        char *s = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
        rc = s != NULL ? hcp_buf_append(&out, s, strlen(s)) : HCP_ENOMEM;
        free(s);
        json_decref(j);
    } else if (f == HCPD_MF_CSV)
        rc = hcpd_monthly_csv(m, &out);
    else
        rc = hcpd_monthly_xlsx(m, &out);
    if (rc != HCP_OK) {
        hcp_buf_free(&out);
        hcpd_req_reply_error(r, rc == HCP_ENOMEM ? 503 : 500, "form_failed", hcp_strerror(rc));
        return;
    }
    char disp[256];
    snprintf(disp, sizeof(disp), "attachment; filename=\"%s.%s\"", stem, ext[f]);
    hcpd_hdr h[] = {{"Content-Disposition", disp}, {"Cache-Control", "no-store"}};
    hcpd_req_reply_hdrs(r, 200, type[f], out.data, out.len, h, 2);
    hcp_buf_free(&out);
}
