/*
 * report.h — the province's view of Art. 14's register and the monthly
 * form per prefecture (docs/reports.md):
 *
 *   GET /v1/reports/monthly?month=YYYY-MM&prefecture=CODE&format=json|csv|xlsx&phone=
 *   GET /v1/contacts?month=YYYY-MM&county=CODE|prefecture=CODE
 *
 * Both are for supervisors. The form's contact columns come from the sealed
 * personal data: each download is a personal read in the access log. The
 * register's aggregate carries no personal data.
 *
 * The database `rp_contacts` indexes the counties' register entries by
 * month: key "YYYYMM" | county | be64 seq of the contact; value the case it
 * is linked to ("" none yet). It is written by gw_report_contact in the
 * transaction that stores the event.
 *
 * The database `rp_form` keeps each case's row of the form, rendered
 * (hcpd_monthly_render, personal parts included) under the case id: the
 * layout byte, be32 the length of the public part, the public part plain,
 * then the personal part (the complainant, the staff and verifier phones,
 * the free texts) sealed with the store's key, the associated data "rp:",
 * the case id and everything before it (so a row moved to another case, or
 * whose public part was altered, does not unseal). Written by
 * gw_report_case from gws_case_put after every step: in the transaction
 * that writes the case, or (a transaction writing many cases: a catch-up)
 * behind it. A row written behind is marked in `rp_dirty` (key the case
 * id, empty value) in the case's transaction; the drain (gw_report_start)
 * writes it later in a transaction of its own, while the writer is not
 * busy, and a download renders a marked case from the case itself, so a
 * form always shows its snapshot's cases. HCP_GW_FORM_ROWS=auto (default:
 * the first RP_SYNC_MAX rows of a transaction at once, the rest behind),
 * sync (all at once) or deferred (all behind). Rows of another layout (the
 * key "layout" of `rp_ver` records it) are made again at open. A case id begins with
 * county-YYYYMMDD of its receipt (Asia/Shanghai), so the rows of a county
 * and month are one key range: the form is a scan, without decoding a case.
 *
 * The database `rp_ver` holds a version of each prefecture's rows of each
 * month: key prefecture code | "YYYYMM", value be64, raised by
 * gw_report_case in the same transaction as the row it changes. The
 * rendered rows of a form (JSON, CSV) and whole workbooks (XLSX) are kept
 * in memory under the version they were read at (bounded, least recently
 * used out first; HCP_GW_FORM_CACHE_MB, 0 turns it off): a download reads
 * the version in its transaction and uses the kept bytes only when it is
 * the same, so a form never shows a row older than its own snapshot.
 * HCP_GW_FORM_ROWS=off (benchmarks: the price of the rows) keeps no rows
 * (the form then answers 503) and empties them; the next start with them
 * on rebuilds them.
 */
#ifndef GW_REPORT_H
#define GW_REPORT_H

#include "case.h"
#include "gw.h"
#include "gwstore.h"
#include "monthly.h"

/* Open (create) the databases `rp_contacts`, `rp_form` and `rp_ver` into s
 * in txn (a write transaction at start-up) and the form's cache; a store
 * with cases and no rows yet gets the row of each (logged
 * report.rows_rebuilt). LMDB's errors as gws_err maps them, the sealer's,
 * HCP_ENOMEM. Release with gw_report_close, also after an error. */
HCP_NODISCARD int gw_report_open(gw_store *s, MDB_txn *txn);

/* Index contact event ev (borrowed; type HCP_EV_CONTACT) of county, in the
 * writer's transaction txn: a new entry, or, for a later link, the linked
 * case of the entry it names (an unknown one is logged and skipped: the
 * event is still the county's word). LMDB's errors. */
HCP_NODISCARD int gw_report_contact(gw_store *s, MDB_txn *txn, const char *county,
                                    const hcp_event *ev);

/* Keep case c's row of the form (borrowed; its personal record decoded) in
 * txn, replacing the one it had. Called by gws_case_put for every case it
 * writes. HCP_EINVAL, HCP_ENOMEM, HCP_ERANGE, HCP_ECRYPTO, LMDB's errors. */
HCP_NODISCARD int gw_report_case(gw_store *s, MDB_txn *txn, const hcp_case *c);

/* Write up to max waiting rows (rp_dirty) in one write transaction of its
 * own, each from its case as stored, and unmark them: *done how many,
 * *more whether any still wait. A case not stored or unreadable gets no row
 * (logged report.rows_skipped), as at open. HCP_EINVAL, the row's errors,
 * LMDB's (a full map is not grown here: the gateway's drain goes through
 * the writer, gw_writer_exec, which grows it). */
HCP_NODISCARD int gw_report_drain(gw_store *s, size_t max, size_t *done, bool *more);

/* The cases whose row waits for the drain (rp_dirty) in txn, any
 * transaction: *n (0 with the rows off). HCP_EINVAL, LMDB's errors. */
HCP_NODISCARD int gw_report_pending(gw_store *s, MDB_txn *txn, uint64_t *n);

/* Start the drain's timer on g->loop (loop thread, after gw_writer_start):
 * it writes waiting rows while the writer is not catching up. HCP_EIO
 * (libuv); without it the rows wait, and downloads render them. */
HCP_NODISCARD int gw_report_start(gw *g);
/* Stop and close it (loop thread; before gw_writer_stop). Safe twice. */
void gw_report_stop(gw *g);

/* Release what gw_report_open allocated in s (the form's cache). Safe
 * twice and after a failed open. */
void gw_report_close(gw_store *s);

/* The version of prefecture pref's rows of month year-month in txn: 0 when
 * no row of it was written since `rp_ver` exists (a valid version too). LMDB's errors, HCP_EINVAL.
 */
HCP_NODISCARD int gw_report_version(gw_store *s, MDB_txn *txn, const char *pref, int year,
                                    int month, uint64_t *ver);

/*
 * The form `form` (made by hcpd_monthly_init with personal = true for the
 * prefecture form->region_code, month form->year-form->month, no rows
 * added) written in format f and appended to out, from the rows kept in
 * txn (a read transaction) or, when their version in txn is the one they
 * were kept at, from the cache (XLSX: only for the same header lines too).
 * gz (JSON and CSV only): the form as one gzip member instead
 * (hcpd_monthly_gzip_wrap), its rows kept deflated beside the plain ones.
 * *rows: the number of rows (0: nothing appended, the month has no case);
 * *cached: whether the cache answered. HCP_ENOMEM, HCP_ERANGE, HCP_EIO
 * (XLSX), HCP_ECRYPTO (a row that does not unseal), HCP_EINVAL, LMDB's.
 */
HCP_NODISCARD int gw_report_form(gw_store *s, MDB_txn *txn, hcpd_monthly *form, hcpd_mformat f,
                                 bool gz, hcp_buf *out, size_t *rows, bool *cached);

/* Whether path is one of the routes above. */
bool gw_report_is_route(const char *path);
/* Answer one of the routes (on the worker pool: they scan and commit). */
void gw_report_route(void *g, hcpd_req *r);

#endif
