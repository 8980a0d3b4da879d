/*
 * monthly.h — the monthly statistics form (统计表) printed at the end of the
 * regulation, shared by hcp-node (a county's own rows) and hcp-gateway (a
 * prefecture's): its title, header lines and nine columns in Chinese as
 * printed, one row per case received in the month, written as JSON, CSV
 * (UTF-8 with a BOM, for Excel) or XLSX (libxlsxwriter). docs/reports.md
 * fixes the columns, the mapping of 结果运用 and where each line comes from.
 *
 * Prefix hcpd_monthly_. Uses core only (case.h, hcp.h) and jansson.
 */
#ifndef HCPD_MONTHLY_H
#define HCPD_MONTHLY_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "case.h"
#include "hcp.h"
#include "hcpd.h"

#define HCPD_MONTHLY_COLS 9

/* The form's title and its nine column names, exactly as printed. */
extern const char hcpd_monthly_title[];
extern const char *const hcpd_monthly_columns[HCPD_MONTHLY_COLS];

typedef enum hcpd_mformat { HCPD_MF_JSON = 1, HCPD_MF_CSV, HCPD_MF_XLSX } hcpd_mformat;

/* One row: the case it comes from and columns 2..9 (序号 is its position). */
typedef struct hcpd_monthly_row {
    char case_id[HCP_CASE_ID_MAX];
    char *cell[HCPD_MONTHLY_COLS - 1]; /* the cell's text; never NULL once added */
    char *json[HCPD_MONTHLY_COLS - 1]; /* the cell as a JSON string (jansson's) when it needs
                                        * escaping; NULL when it needs none (then the JSON string
                                        * is the text in double quotes) */
    char *csv[HCPD_MONTHLY_COLS - 1];  /* the cell as a quoted CSV field when it needs quoting;
                                        * NULL when the text is the field */
    char *block;                       /* the one allocation all of them point into, owned */
} hcpd_monthly_row;

/*
 * The layout of a rendered row (hcpd_monthly_render); raised whenever it
 * changes, so a store keeping rendered rows renders them again (the
 * gateway's rows_rebuild). 2: the row in a public and a personal part, each
 * cell once (1 was the whole row with every cell twice).
 */
#define HCPD_MONTHLY_ROW_LAYOUT 2

/* A form being filled: the header lines and the rows. Every string owned. */
typedef struct hcpd_monthly {
    int year, month;
    char region_code[HCP_COUNTY_LEN + 1]; /* the prefecture's or the county's code */
    char *region;                         /* 填报地区: its name */
    char *filled_on;                      /* 填表日期: "2026年12月03日" */
    char *filler;                         /* 填表人: the account that downloads it */
    char *filler_phone;                   /* 填表人联系电话: "" when not given */
    bool personal; /* contact columns filled from personal data (a logged read) */
    hcpd_monthly_row *rows;
    size_t n, cap;
    struct hcpd_mscratch *scratch; /* the row builder's buffers, reused (monthly.c) */
} hcpd_monthly;

/* Start a form for year-month (2000..9999, 1..12) of the region (code and
 * name borrowed), filled in at `now` by account filler with phone (NULL:
 * none). personal: the rows will carry the contact columns (the cases
 * added must then be read with their personal records). m is zeroed first;
 * hcpd_monthly_free releases it also after an error. HCP_EINVAL, HCP_ENOMEM. */
HCP_NODISCARD int hcpd_monthly_init(hcpd_monthly *m, int year, int month, const char *region_code,
                                    const char *region, hcp_time now, const char *filler,
                                    const char *filler_phone, bool personal);
/* Append case c's row (c borrowed). Rows come out in the order added.
 * HCP_ENOMEM; HCP_EINVAL for NULL arguments. */
HCP_NODISCARD int hcpd_monthly_add(hcpd_monthly *m, const hcp_case *c);
/*
 * The row of case c (borrowed) as hcpd_monthly_add would make it, with the
 * personal parts when personal, in two parts appended to pub and prv:
 * prv holds every personal part of a cell (the complainant's name, phone
 * and organization, the staff member's and the verifier's phones) and
 * every free text (the content, the window, the rectification result: the
 * original may carry personal data, docs/codec.md "Free text"), and the
 * cells after one within the same cell; pub holds the rest. A cell is
 * written once; only a cell that needs JSON escaping or CSV quoting (a
 * quote, a backslash, a comma, a control character) carries its JSON
 * string (encoded by jansson) and its quoted CSV field too, in the part
 * that holds its personal text. The gateway keeps pub plain and prv sealed
 * (report.h), so a form is a scan. HCP_ENOMEM, HCP_ERANGE (a ceiling),
 * HCP_EINVAL.
 */
HCP_NODISCARD int hcpd_monthly_render(const hcp_case *c, bool personal, hcp_buf *pub, hcp_buf *prv);
/* A renderer's buffers, kept between rows by a caller that renders many
 * (a writer: one case write after another); owned by that caller. */
typedef struct hcpd_mscratch hcpd_mscratch;
/* hcpd_monthly_render with *scratch's buffers (made at the first call,
 * kept; one thread at a time): no allocation per row once they have grown.
 * Personal text left in them is wiped before the call returns. */
HCP_NODISCARD int hcpd_monthly_render_with(hcpd_mscratch **scratch, const hcp_case *c,
                                           bool personal, hcp_buf *pub, hcp_buf *prv);
/* Release a scratch (NULL: nothing). */
void hcpd_mscratch_free(hcpd_mscratch *scratch);
/* Append a row rendered by hcpd_monthly_render (pub[0..publen) and
 * prv[0..prvlen) borrowed, copied) for case_id. HCP_EFORMAT when they are
 * not such a row, HCP_ENOMEM, HCP_EINVAL. */
HCP_NODISCARD int hcpd_monthly_add_rendered(hcpd_monthly *m, const char *case_id, const void *pub,
                                            size_t publen, const void *prv, size_t prvlen);
/* Release everything m owns and zero it. NULL-safe. */
void hcpd_monthly_free(hcpd_monthly *m);

/* 结果运用 of a case in words (docs/reports.md): 纳入年度考核, 不纳入考核,
 * 不予采纳, 复核中 or 处理中. A static string. */
const char *hcpd_monthly_use(const hcp_case *c);

/* The form as JSON (a new reference; NULL on allocation failure). */
json_t *hcpd_monthly_json(const hcpd_monthly *m);
/* The form as JSON appended to out: the same bytes as
 * json_dumps(hcpd_monthly_json(m), JSON_COMPACT), written row by row
 * without the whole tree. On error out is as it was. HCP_ERANGE (out's
 * ceiling), HCP_ENOMEM, HCP_EINVAL (NULL). */
HCP_NODISCARD int hcpd_monthly_json_stream(const hcpd_monthly *m, hcp_buf *out);
/* The form as CSV, UTF-8 with a BOM, CRLF lines, RFC 4180 quoting,
 * appended to out. HCP_ERANGE when out's ceiling is reached, HCP_ENOMEM. */
HCP_NODISCARD int hcpd_monthly_csv(const hcpd_monthly *m, hcp_buf *out);

/*
 * The same two forms in parts, for a writer that keeps the rows' bytes of
 * a month (the gateway's form cache, gateway/report.h): _rows appends only
 * the rows (JSON: the row objects with their commas, without the array's
 * brackets; CSV: the row lines), numbered from 1; _wrap appends the whole
 * form around rows[0..len) (borrowed) made by _rows of the same rows, with
 * m's header and footer (m's own rows are not read). _wrap(m, _rows(m))
 * is byte for byte hcpd_monthly_json_stream(m) / hcpd_monthly_csv(m). On
 * error out is as it was. HCP_ERANGE (out's ceiling), HCP_ENOMEM,
 * HCP_EINVAL (NULL).
 */
HCP_NODISCARD int hcpd_monthly_json_rows(const hcpd_monthly *m, hcp_buf *out);
HCP_NODISCARD int hcpd_monthly_json_wrap(const hcpd_monthly *m, const void *rows, size_t len,
                                         hcp_buf *out);
HCP_NODISCARD int hcpd_monthly_csv_rows(const hcpd_monthly *m, hcp_buf *out);
HCP_NODISCARD int hcpd_monthly_csv_wrap(const hcpd_monthly *m, const void *rows, size_t len,
                                        hcp_buf *out);
/* The form as an XLSX workbook appended to out. libxlsxwriter writes to a
 * file: a private temporary file in $TMPDIR (or /tmp), removed before
 * returning. HCP_EIO when it cannot be written or read back, HCP_ERANGE
 * (out's ceiling), HCP_ENOMEM. */
HCP_NODISCARD int hcpd_monthly_xlsx(const hcpd_monthly *m, hcp_buf *out);

/* Parse a `format` query value (json, csv, xlsx; NULL or "" is json).
 * False for anything else. */
bool hcpd_monthly_format_parse(const char *s, hcpd_mformat *out);
/* Parse a `month` query value "YYYY-MM" (2000..9999). False when malformed. */
bool hcpd_monthly_month_parse(const char *s, int *year, int *month);
/* Whether a `phone` query value may stand as 填表人联系电话: at most 32
 * bytes of digits, spaces and + - ( ). */
bool hcpd_monthly_phone_ok(const char *s);

/*
 * gzip (RFC 1952, zlib) for a client that accepts it. The gateway keeps the
 * rows of a form deflated (hcpd_gz_part) and wraps each download's own
 * header and footer lines around them (hcpd_monthly_gzip_wrap): one gzip
 * member whose deflate stream is the header's blocks, the kept blocks and
 * the footer's, each part compressed on its own (no reference across
 * parts), the CRC-32 combined by zlib. What it decompresses to is byte for
 * byte the plain answer.
 */
typedef struct hcpd_gz {
    uint8_t *data; /* raw deflate blocks, byte-aligned, none final; owned */
    size_t len;
    uint32_t crc; /* CRC-32 of the bytes they decompress to */
    uint64_t raw; /* how many bytes that is */
} hcpd_gz;

/* Whether an Accept-Encoding value (NULL: the header is absent) admits gzip
 * (RFC 9110 12.5.3): "gzip" or "x-gzip" with a q above 0, or "*" above 0
 * when gzip is not named; case-insensitive; an element with a malformed q
 * counts as refused. identity is always acceptable, so the plain answer is
 * the answer to anything else. */
bool hcpd_accepts_gzip(const char *accept_encoding);
/* Deflate src[0..n) (borrowed) into *out as non-final blocks ended by a
 * sync flush, to be joined with others by hcpd_monthly_gzip_wrap. *out is
 * zeroed first; release with hcpd_gz_free. HCP_ENOMEM, HCP_ERANGE (more
 * than 512 MB), HCP_EINVAL. */
HCP_NODISCARD int hcpd_gz_part(const void *src, size_t n, hcpd_gz *out);
/* Release what g owns and zero it. NULL-safe. */
void hcpd_gz_free(hcpd_gz *g);
/* The form in format f (JSON or CSV) as one gzip member appended to out:
 * m's header and footer lines (m's rows are not read) around rows, deflated
 * by hcpd_gz_part from what hcpd_monthly_json_rows / _csv_rows wrote. It
 * decompresses to hcpd_monthly_json_wrap / _csv_wrap of those rows. On
 * error out is as it was. HCP_ENOMEM, HCP_ERANGE, HCP_EINVAL. */
HCP_NODISCARD int hcpd_monthly_gzip_wrap(const hcpd_monthly *m, hcpd_mformat f, const hcpd_gz *rows,
                                         hcp_buf *out);
/* src[0..n) (borrowed) as one gzip member appended to out. HCP_ENOMEM,
 * HCP_ERANGE, HCP_EINVAL. */
HCP_NODISCARD int hcpd_gzip(const void *src, size_t n, hcp_buf *out);
/* As hcpd_gzip at zlib level `level` (1 fastest .. 9 smallest; hcpd_gzip's
 * is 6): for answers compressed once per change and sent many times at a
 * cost that matters, e.g. the public feed's pages (gateway/feed_cache.c).
 * HCP_EINVAL also for a level outside 1..9. */
HCP_NODISCARD int hcpd_gzip_level(const void *src, size_t n, int level, hcp_buf *out);

/* Answer r with the form in format f: 200 with the body (JSON and CSV
 * gzipped when r's Accept-Encoding admits it) and a
 * Content-Disposition naming `stem`.json/.csv/.xlsx, or 204 when it has no
 * rows (the regulation: a month without cases is not reported), or 500/503
 * when it cannot be rendered. */
void hcpd_monthly_reply(hcpd_req *r, const hcpd_monthly *m, hcpd_mformat f, const char *stem);
/* Answer r 200 with a form already written in format f (data[0..len),
 * borrowed, copied), with the headers hcpd_monthly_reply sets; gz: data is
 * gzipped (Content-Encoding: gzip). JSON and CSV answers carry Vary:
 * Accept-Encoding either way. */
void hcpd_monthly_reply_body(hcpd_req *r, hcpd_mformat f, const char *stem, const void *data,
                             size_t len, bool gz);
/* As hcpd_monthly_reply_body, the bytes lent instead of copied
 * (hcpd_req_reply_lent: valid until done(ctx), called exactly once);
 * done NULL: copied. */
void hcpd_monthly_reply_lent(hcpd_req *r, hcpd_mformat f, const char *stem, const void *data,
                             size_t len, bool gz, void (*done)(void *ctx), void *ctx);

#endif
