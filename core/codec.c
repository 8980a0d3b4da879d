/*
 * codec.c — msgpack records of events and cases (docs/codec.md).
 *
 * Layout is table-driven: each record kind is a table of fields (key, kind,
 * offset in the struct, ceiling, event types that use it). One encoder and
 * one decoder walk the tables, so the key order, the omission rule and the
 * checks are the same for every field. Untrusted bytes pass hcp_mp_check
 * before msgpack-c sees them (msgpack-c trusts declared counts: docs/codec.md).
 */
#include "codec.h"

#include <msgpack.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "redact.h"
#include "be.h"
#include "division.h"

#define MP_DEPTH_MAX 32 /* ceiling of hcp_mp_check's max_depth (fixed stack) */
#define REC_DEPTH    8  /* nesting a record may have, extras included */

/* ---------------------------------------------------------------------- */
/* The validating walk                                                     */
/* ---------------------------------------------------------------------- */

/* What one msgpack header says: its size, the bytes of payload after it,
 * and for a container the number of objects inside (2 per map entry). */
struct mp_head {
    size_t hdr;
    uint64_t body;
    uint64_t kids;
    bool container;
};

/* Big-endian unsigned of w (1, 2, 4 or 8; msgpack knows no other width)
 * bytes at p. */
static uint64_t mp_be(const uint8_t *p, size_t w)
{
    switch (w) {
    case 2:
        return hcp_be16_get(p);
    case 4:
        return hcp_be32_get(p);
    case 8:
        return hcp_be64_get(p);
    default:
        return p[0];
    }
}

/* Headers of fixed total size: payload bytes after the type byte, or -1. */
static int mp_fixed_body(uint8_t b)
{
    switch (b) {
    case 0xc0:
    case 0xc2:
    case 0xc3:
        return 0;
    case 0xcc:
    case 0xd0:
        return 1;
    case 0xcd:
    case 0xd1:
    case 0xd4:
        return 2;
    case 0xd5:
        return 3;
    case 0xca:
    case 0xce:
    case 0xd2:
        return 4;
    case 0xd6:
        return 5;
    case 0xcb:
    case 0xcf:
    case 0xd3:
        return 8;
    case 0xd7:
        return 9;
    case 0xd8:
        return 17;
    default:
        return -1;
    }
}

/* Width of the length field of a str/bin/ext/array/map header, 0 if b has
 * none; *ext is 1 when a type byte follows the length (ext), *cont is 1 for
 * arrays and 2 for maps. */
static size_t mp_len_width(uint8_t b, size_t *ext, unsigned *cont)
{
    *ext = 0;
    *cont = 0;
    switch (b) {
    case 0xc4:
    case 0xd9:
        return 1;
    case 0xc5:
    case 0xda:
        return 2;
    case 0xc6:
    case 0xdb:
        return 4;
    case 0xc7:
        *ext = 1;
        return 1;
    case 0xc8:
        *ext = 1;
        return 2;
    case 0xc9:
        *ext = 1;
        return 4;
    case 0xdc:
        *cont = 1;
        return 2;
    case 0xdd:
        *cont = 1;
        return 4;
    case 0xde:
        *cont = 2;
        return 2;
    case 0xdf:
        *cont = 2;
        return 4;
    default:
        return 0;
    }
}

/* Read the header at p (avail > 0 bytes readable). False for the reserved
 * byte 0xc1 or a header cut short; the payload is not checked here. */
static bool mp_head_read(const uint8_t *p, size_t avail, struct mp_head *h)
{
    uint8_t b = p[0];
    memset(h, 0, sizeof(*h));
    h->hdr = 1;
    if (b <= 0x7f || b >= 0xe0)
        return true;
    if (b <= 0x9f) {
        h->container = true;
        h->kids = (uint64_t)(b & 0x0f) * (b <= 0x8f ? 2 : 1);
        return true;
    }
    if (b <= 0xbf) {
        h->body = b & 0x1f;
        return true;
    }
    int fixed = mp_fixed_body(b);
    if (fixed >= 0) {
        h->body = (uint64_t)fixed;
        return true;
    }
    size_t ext;
    unsigned cont;
    size_t w = mp_len_width(b, &ext, &cont);
    if (w == 0 || avail < 1 + w + ext)
        return false; /* 0xc1, or the length is cut */
    uint64_t v = mp_be(p + 1, w);
    h->hdr = 1 + w + ext;
    h->container = cont != 0;
    if (cont != 0)
        h->kids = v * cont;
    else
        h->body = v;
    return true;
}

/*
 * Walk exactly one object starting at *pos, advancing *pos past it. Every
 * container's declared count must fit in the bytes that remain, and nesting
 * must stay within max_depth (<= MP_DEPTH_MAX). Allocation-free.
 */
static int mp_walk(const uint8_t *p, size_t n, size_t *pos, int max_depth)
{
    uint64_t left[MP_DEPTH_MAX + 1];
    int d = 0;
    size_t at = *pos;
    left[0] = 1;
    for (;;) {
        while (d > 0 && left[d] == 0)
            d--;
        if (left[d] == 0)
            break;
        left[d]--;
        struct mp_head h;
        if (at >= n || !mp_head_read(p + at, n - at, &h))
            return HCP_EFORMAT;
        at += h.hdr;
        if (h.body > n - at)
            return HCP_EFORMAT;
        at += (size_t)h.body;
        if (!h.container)
            continue;
        if (d + 1 > max_depth || h.kids > n - at)
            return HCP_EFORMAT;
        left[++d] = h.kids;
    }
    *pos = at;
    return HCP_OK;
}

/* Public guard: exactly one well-formed object filling [p, p+n). */
int hcp_mp_check(const void *p, size_t n, int max_depth)
{
    if (p == NULL || max_depth < 0 || max_depth > MP_DEPTH_MAX)
        return HCP_EINVAL;
    size_t pos = 0;
    int rc = mp_walk(p, n, &pos, max_depth);
    if (rc != HCP_OK)
        return rc;
    return pos == n ? HCP_OK : HCP_EFORMAT;
}

/* If the object at p (validated, avail bytes) is a str, borrow its bytes. */
static bool mp_str_at(const uint8_t *p, size_t avail, const char **s, size_t *len)
{
    struct mp_head h;
    uint8_t b = p[0];
    bool is_str = (b >= 0xa0 && b <= 0xbf) || b == 0xd9 || b == 0xda || b == 0xdb;
    if (!is_str || !mp_head_read(p, avail, &h) || h.body > avail - h.hdr)
        return false;
    *s = (const char *)p + h.hdr;
    *len = (size_t)h.body;
    return true;
}

/* If the object at p (validated, avail bytes) is a non-negative integer
 * (positive fixint, uint8..64, or a non-negative int8..64, which msgpack-c
 * also reads as positive), its value. */
static bool mp_uint_at(const uint8_t *p, size_t avail, uint64_t *v)
{
    size_t w;
    if (avail == 0)
        return false;
    if (p[0] <= 0x7f) {
        *v = p[0];
        return true;
    }
    bool sign = p[0] >= 0xd0 && p[0] <= 0xd3; /* int8..int64, as msgpack-c reads them */
    if ((p[0] < 0xcc || p[0] > 0xcf) && !sign)
        return false;
    w = (size_t)1 << (p[0] - (sign ? 0xd0 : 0xcc));
    if (avail < 1 + w)
        return false;
    if (sign && (p[1] & 0x80))
        return false; /* negative */
    *v = mp_be(p + 1, w);
    return true;
}

/* ---------------------------------------------------------------------- */
/* Field tables                                                            */
/* ---------------------------------------------------------------------- */

enum fkind {
    FK_STR,    /* char *, NULL = absent; max = byte ceiling */
    FK_U64,    /* uint64_t */
    FK_U32,    /* uint32_t */
    FK_I64,    /* int64_t (hcp_time) */
    FK_DAY,    /* hcp_day (int32_t) */
    FK_ENUM,   /* uint8_t in 1..max-1 */
    FK_BOOL,   /* bool, written only when true */
    FK_BITS8,  /* uint8_t, only the bits of max */
    FK_BITS32, /* uint32_t, only the bits of max */
    FK_COUNTY, /* char[HCP_COUNTY_LEN + 1], six digits */
    FK_ID,     /* char[HCP_CASE_ID_MAX] */
    FK_MAP,    /* nested struct, table sub; omitted when all its fields are */
    FK_SALT,   /* uint8_t[HCP_SALT_LEN] as bin 16; always written */
};

struct table;

struct field {
    const char *key;
    uint8_t kind;
    size_t off;
    uint32_t max;
    uint32_t types; /* event types (bit 1 << type) that may carry it */
    const struct table *sub;
};

struct table {
    const struct field *f;
    size_t n;
};

#define ALL  0xffffffffu
#define T(x) (1u << (x))
#define TAB(a)                                                                                     \
    {                                                                                              \
        (a), sizeof(a) / sizeof((a)[0])                                                            \
    }
#define F(k, kind, type, m, max, types)                                                            \
    {                                                                                              \
        k, kind, offsetof(type, m), max, types, NULL                                               \
    }
#define M(k, type, m, types, sub)                                                                  \
    {                                                                                              \
        k, FK_MAP, offsetof(type, m), 0, types, sub                                                \
    }
#define OVERDUE_BITS ((1u << HCP_DL_FEEDBACK) | (1u << HCP_DL_DISPUTE) | (1u << HCP_DL_REREVIEW))

static const struct field coded_f[] = {
    F("c", FK_STR, hcp_coded, code, HCP_SHORT_MAX, ALL),
    F("n", FK_STR, hcp_coded, name, HCP_SHORT_MAX, ALL),
};
static const struct table coded_t = TAB(coded_f);

static const struct field staff_f[] = {
    F("i", FK_STR, hcp_staff, id, HCP_SHORT_MAX, ALL),
    F("n", FK_STR, hcp_staff, name, HCP_SHORT_MAX, ALL),
};
static const struct table staff_t = TAB(staff_f);

static const struct field contact_f[] = {
    F("n", FK_STR, hcp_contact, name, HCP_SHORT_MAX, ALL),
};
static const struct table contact_t = TAB(contact_f);

static const struct field due_f[] = {
    F("a", FK_I64, hcp_due, at, 0, ALL),
    F("p", FK_BOOL, hcp_due, provisional, 0, ALL),
};
static const struct table due_t = TAB(due_f);

static const struct field intake_f[] = {
    F("k", FK_ENUM, hcp_intake, kind, HCP_KIND_COUNT_, ALL),
    F("ch", FK_ENUM, hcp_intake, channel, HCP_CH_COUNT_, ALL),
    F("rt", FK_ENUM, hcp_intake, rating, 6, ALL),
    F("dm", FK_BITS32, hcp_intake, dimensions, HCP_DIM_ALL, ALL),
    M("u", hcp_intake, unit, ALL, &coded_t),
    F("w", FK_STR, hcp_intake, window, HCP_SHORT_MAX, ALL),
    M("sf", hcp_intake, staff, ALL, &staff_t),
    M("si", hcp_intake, service_item, ALL, &coded_t),
    F("cp", FK_BOOL, hcp_intake, has_complainant, 0, ALL),
    F("ct", FK_STR, hcp_intake, content, HCP_TEXT_MAX, ALL),
};
static const struct table intake_t = TAB(intake_f);

#define T_IN (T(HCP_EV_EVALUATION) | T(HCP_EV_CASE_OPEN))
/* The "type" of a case record in the personal record's table: a bit no
 * event type uses, so that a case's personal record takes only case keys. */
#define T_CASE (1u << 31)

static const struct field event_f[] = {
    F("s", FK_U64, hcp_event, seq, 0, ALL),
    F("c", FK_COUNTY, hcp_event, county, 0, ALL),
    F("t", FK_ENUM, hcp_event, type, HCP_EV_COUNT_, ALL),
    F("at", FK_I64, hcp_event, at, 0, ALL),
    F("ra", FK_I64, hcp_event, recorded_at, 0, ALL),
    F("id", FK_ID, hcp_event, case_id, 0, ALL),
    F("en", FK_U64, hcp_event, evaluation_no, 0, T_IN),
    M("in", hcp_event, in, T_IN, &intake_t),
    M("vf", hcp_event, verifier, T(HCP_EV_VERIFY_START), &contact_t),
    F("o", FK_ENUM, hcp_event, outcome, HCP_OUT_COUNT_, T(HCP_EV_VERIFY_CONCLUDE)),
    F("vd", FK_ENUM, hcp_event, verdict, HCP_VD_COUNT_, T(HCP_EV_DISPUTE_DECIDE)),
    F("nt", FK_STR, hcp_event, note, HCP_TEXT_MAX,
      T(HCP_EV_VERIFY_CONCLUDE) | T(HCP_EV_DISPUTE_DECIDE) | T(HCP_EV_REVISIT) |
          T(HCP_EV_DIRECTIVE)),
    F("by", FK_STR, hcp_event, by, HCP_SHORT_MAX, T(HCP_EV_DISPUTE_FILE) | T(HCP_EV_REVISIT)),
    F("rs", FK_STR, hcp_event, reason, HCP_TEXT_MAX,
      T(HCP_EV_DISPUTE_FILE) | T(HCP_EV_RECTIFY_EXTEND)),
    M("u", hcp_event, unit, T(HCP_EV_RECTIFY_ASSIGN), &coded_t),
    F("m", FK_ENUM, hcp_event, mode, HCP_RM_COUNT_, T(HCP_EV_RECTIFY_ASSIGN)),
    F("nd", FK_DAY, hcp_event, new_due, 0, T(HCP_EV_RECTIFY_EXTEND)),
    F("r", FK_STR, hcp_event, result, HCP_TEXT_MAX, T(HCP_EV_RECTIFY_DONE)),
    F("vi", FK_STR, hcp_event, via, HCP_SHORT_MAX, T(HCP_EV_FEEDBACK)),
    F("tx", FK_STR, hcp_event, text, HCP_TEXT_MAX,
      T(HCP_EV_FEEDBACK) | T(HCP_EV_CORRECTION_ANSWER)),
    F("ok", FK_BOOL, hcp_event, satisfied, 0, T(HCP_EV_REVISIT)),
    F("dl", FK_ENUM, hcp_event, deadline, HCP_DL_COUNT_, T(HCP_EV_OVERDUE)),
    /* added after every older key (docs/codec.md, "Versioning"): old readers keep it as an extra */
    F("ac", FK_STR, hcp_event, account, HCP_SHORT_MAX, ALL),
    /* schema version 3 (docs/rules.md: the written dispute, the written close) */
    F("dr", FK_STR, hcp_event, document, HCP_SHORT_MAX, T(HCP_EV_DISPUTE_FILE)),
    F("se", FK_STR, hcp_event, staff_explanation, HCP_TEXT_MAX, T(HCP_EV_DISPUTE_FILE)),
    F("ue", FK_STR, hcp_event, unit_explanation, HCP_TEXT_MAX, T(HCP_EV_DISPUTE_DECIDE)),
    F("dn", FK_STR, hcp_event, decision, HCP_TEXT_MAX, T(HCP_EV_CLOSE)),
    /* directives (docs/directives.md), after "ac" by the same rule */
    F("ds", FK_U64, hcp_event, directive, 0, T(HCP_EV_DIRECTIVE) | T(HCP_EV_CORRECTION_ANSWER)),
    F("dt", FK_STR, hcp_event, dir_type, HCP_SHORT_MAX, T(HCP_EV_DIRECTIVE)),
    F("dh", FK_STR, hcp_event, dir_hash, HCP_SHORT_MAX, T(HCP_EV_DIRECTIVE)),
    F("dx", FK_ENUM, hcp_event, dir_result, HCP_DR_COUNT_, T(HCP_EV_DIRECTIVE)),
    F("dw", FK_STR, hcp_event, dir_why, HCP_SHORT_MAX, T(HCP_EV_DIRECTIVE)),
    /* schema version 4: Art. 14's register (docs/reports.md), after every older key */
    F("kc", FK_ENUM, hcp_event, contact_channel, HCP_CH_COUNT_, T(HCP_EV_CONTACT)),
    F("ks", FK_STR, hcp_event, summary, HCP_TEXT_MAX, T(HCP_EV_CONTACT)),
    F("kl", FK_ID, hcp_event, linked_case, 0, T(HCP_EV_CONTACT)),
    F("kr", FK_U64, hcp_event, contact_ref, 0, T(HCP_EV_CONTACT)),
    /* spot checks (docs/spotchecks.md), keys "q…", after every older key */
    F("qr", FK_BOOL, hcp_event, reopen, 0, T(HCP_EV_DIRECTIVE)),
};
static const struct table event_t = TAB(event_f);

static const struct field case_f[] = {
    F("id", FK_ID, hcp_case, id, 0, ALL),
    F("c", FK_COUNTY, hcp_case, county, 0, ALL),
    M("in", hcp_case, in, ALL, &intake_t),
    F("rn", FK_BOOL, hcp_case, real_name, 0, ALL),
    F("rc", FK_I64, hcp_case, received_at, 0, ALL),
    F("st", FK_ENUM, hcp_case, status, HCP_ST_COUNT_, ALL),
    F("o", FK_ENUM, hcp_case, outcome, HCP_OUT_COUNT_, ALL),
    F("ad", FK_BOOL, hcp_case, adopted, 0, ALL),
    M("fd", hcp_case, feedback_due, ALL, &due_t),
    M("dd", hcp_case, dispute_due, ALL, &due_t),
    M("rd", hcp_case, rereview_due, ALL, &due_t),
    F("fx", FK_BOOL, hcp_case, feedback_extended, 0, ALL),
    F("la", FK_I64, hcp_case, last_at, 0, ALL),
    F("na", FK_I64, hcp_case, notified_at, 0, ALL),
    F("da", FK_I64, hcp_case, disputed_at, 0, ALL),
    F("dc", FK_I64, hcp_case, decided_at, 0, ALL),
    F("fa", FK_I64, hcp_case, feedback_at, 0, ALL),
    F("va", FK_I64, hcp_case, revisited_at, 0, ALL),
    F("ca", FK_I64, hcp_case, closed_at, 0, ALL),
    F("sb", FK_ENUM, hcp_case, status_before_dispute, HCP_ST_COUNT_, ALL),
    M("vf", hcp_case, verifier, ALL, &contact_t),
    M("ru", hcp_case, rectify_unit, ALL, &coded_t),
    F("rm", FK_ENUM, hcp_case, rectify_mode, HCP_RM_COUNT_, ALL),
    F("rr", FK_STR, hcp_case, rectification_result, HCP_TEXT_MAX, ALL),
    F("ok", FK_BOOL, hcp_case, revisit_satisfied, 0, ALL),
    F("om", FK_BITS8, hcp_case, overdue_marked, OVERDUE_BITS, ALL),
    F("ne", FK_U32, hcp_case, nevents, 0, ALL),
    F("ls", FK_U64, hcp_case, last_seq, 0, ALL),
    /* schema version 3 */
    F("rh", FK_BOOL, hcp_case, reachable, 0, ALL),
    F("lr", FK_I64, hcp_case, last_recorded_at, 0, ALL),
    /* spot checks (docs/spotchecks.md) */
    F("qa", FK_I64, hcp_case, reopened_at, 0, ALL),
};
static const struct table case_t = TAB(case_f);

/*
 * Free text (docs/codec.md "Free text"): the fields a person types, which
 * may hold a phone, an ID number or an e-mail address. The main record
 * carries each masked (hcp_text_mask); the personal record carries the
 * original, under its own key, when masking changed it.
 */
enum text_field {
    TX_WINDOW,   /* in.window */
    TX_CONTENT,  /* in.content */
    TX_NOTE,     /* note */
    TX_BY,       /* by */
    TX_REASON,   /* reason */
    TX_RESULT,   /* result */
    TX_VIA,      /* via */
    TX_TEXT,     /* text */
    TX_RR,       /* a case's rectification_result */
    TX_DOC,      /* document (v3) */
    TX_SEXPL,    /* staff_explanation (v3) */
    TX_UEXPL,    /* unit_explanation (v3) */
    TX_DECISION, /* decision (v3) */
    TX_SUMMARY,  /* a register contact's summary (v4) */
    TX_COUNT
};

/* The personal record's fields, gathered from (encode: borrowed) or for
 * (decode: owned until moved) an event or a case. */
struct pii {
    uint8_t salt[HCP_SALT_LEN];
    char *staff_phone;
    char *name;
    char *phone;
    char *id_number;
    char *organization;
    char *verifier_phone;
    /* originals of the free text whose main-record form is masked */
    char *o_window;
    char *o_content;
    char *o_note;
    char *o_by;
    char *o_reason;
    char *o_result;
    char *o_via;
    char *o_text;
    char *o_rr;
    char *o_doc;
    char *o_sexpl;
    char *o_uexpl;
    char *o_decision;
    /* schema version 4: a register contact's caller, and its summary's original */
    char *caller_name;
    char *caller_phone;
    char *o_summary;
};

#define T_NOTE                                                                                     \
    (T(HCP_EV_VERIFY_CONCLUDE) | T(HCP_EV_DISPUTE_DECIDE) | T(HCP_EV_REVISIT) | T(HCP_EV_DIRECTIVE))
#define T_BY     (T(HCP_EV_DISPUTE_FILE) | T(HCP_EV_REVISIT))
#define T_REASON (T(HCP_EV_DISPUTE_FILE) | T(HCP_EV_RECTIFY_EXTEND))

static const struct field pii_f[] = {
    F("sa", FK_SALT, struct pii, salt, 0, ALL),
    F("sp", FK_STR, struct pii, staff_phone, HCP_SHORT_MAX, T_IN | T_CASE),
    F("cn", FK_STR, struct pii, name, HCP_SHORT_MAX, T_IN | T_CASE),
    F("cp", FK_STR, struct pii, phone, HCP_SHORT_MAX, T_IN | T_CASE),
    F("ci", FK_STR, struct pii, id_number, HCP_SHORT_MAX, T_IN | T_CASE),
    F("co", FK_STR, struct pii, organization, HCP_SHORT_MAX, T_IN | T_CASE),
    F("vp", FK_STR, struct pii, verifier_phone, HCP_SHORT_MAX, T(HCP_EV_VERIFY_START) | T_CASE),
    /* schema version 2: original free text */
    F("ow", FK_STR, struct pii, o_window, HCP_SHORT_MAX, T_IN | T_CASE),
    F("oct", FK_STR, struct pii, o_content, HCP_TEXT_MAX, T_IN | T_CASE),
    F("ont", FK_STR, struct pii, o_note, HCP_TEXT_MAX, T_NOTE),
    F("oby", FK_STR, struct pii, o_by, HCP_SHORT_MAX, T_BY),
    F("ors", FK_STR, struct pii, o_reason, HCP_TEXT_MAX, T_REASON),
    F("or", FK_STR, struct pii, o_result, HCP_TEXT_MAX, T(HCP_EV_RECTIFY_DONE)),
    F("ovi", FK_STR, struct pii, o_via, HCP_SHORT_MAX, T(HCP_EV_FEEDBACK)),
    F("otx", FK_STR, struct pii, o_text, HCP_TEXT_MAX,
      T(HCP_EV_FEEDBACK) | T(HCP_EV_CORRECTION_ANSWER)),
    F("orr", FK_STR, struct pii, o_rr, HCP_TEXT_MAX, T_CASE),
    /* schema version 3 */
    F("odr", FK_STR, struct pii, o_doc, HCP_SHORT_MAX, T(HCP_EV_DISPUTE_FILE)),
    F("ose", FK_STR, struct pii, o_sexpl, HCP_TEXT_MAX, T(HCP_EV_DISPUTE_FILE)),
    F("oue", FK_STR, struct pii, o_uexpl, HCP_TEXT_MAX, T(HCP_EV_DISPUTE_DECIDE)),
    F("odn", FK_STR, struct pii, o_decision, HCP_TEXT_MAX, T(HCP_EV_CLOSE)),
    /* schema version 4 */
    F("okn", FK_STR, struct pii, caller_name, HCP_SHORT_MAX, T(HCP_EV_CONTACT)),
    F("okp", FK_STR, struct pii, caller_phone, HCP_SHORT_MAX, T(HCP_EV_CONTACT)),
    F("oks", FK_STR, struct pii, o_summary, HCP_TEXT_MAX, T(HCP_EV_CONTACT)),
};
static const struct table pii_t = TAB(pii_f);

/* ---------------------------------------------------------------------- */
/* Value checks shared by encoder and decoder                              */
/* ---------------------------------------------------------------------- */

/* A string of n bytes fits max and is valid UTF-8 without NUL. */
static int str_check(const char *s, size_t n, size_t max)
{
    if (n > max)
        return HCP_ERANGE;
    return hcp_utf8_valid(s, n) ? HCP_OK : HCP_EUTF8;
}

/* Whether the field at base holds a non-zero (so: written) value. */
static bool fld_present(const struct field *f, const char *base);

/* Number of fields of t present at base. */
static uint32_t tab_count(const struct table *t, const char *base)
{
    uint32_t k = 0;
    for (size_t i = 0; i < t->n; i++)
        k += fld_present(&t->f[i], base) ? 1 : 0;
    return k;
}

/* (See the declaration above.) Reads the member at f->off by its real type. */
static bool fld_present(const struct field *f, const char *base)
{
    const void *p = base + f->off;
    switch (f->kind) {
    case FK_STR:
        return *(char *const *)p != NULL;
    case FK_U64:
        return *(const uint64_t *)p != 0;
    case FK_U32:
    case FK_BITS32:
        return *(const uint32_t *)p != 0;
    case FK_I64:
        return *(const int64_t *)p != 0;
    case FK_DAY:
        return *(const int32_t *)p != 0;
    case FK_ENUM:
    case FK_BITS8:
        return *(const uint8_t *)p != 0;
    case FK_BOOL:
        return *(const bool *)p;
    case FK_COUNTY:
    case FK_ID:
        return *(const char *)p != '\0';
    case FK_MAP:
        return tab_count(f->sub, p) > 0;
    case FK_SALT:
        return true;
    default:
        return false;
    }
}

/* ---------------------------------------------------------------------- */
/* Encoding                                                                */
/* ---------------------------------------------------------------------- */

/* The packer's sink: appends to a bounded hcp_buf, remembers the first
 * error so it can be returned as an hcp_err. */
struct enc {
    msgpack_packer pk;
    hcp_buf *b;
    int err;
};

/* msgpack_packer_write callback. */
static int enc_write(void *data, const char *buf, size_t len)
{
    struct enc *e = data;
    int rc = hcp_buf_append(e->b, buf, len);
    if (rc != HCP_OK) {
        if (e->err == HCP_OK)
            e->err = rc;
        return -1;
    }
    return 0;
}

/* Turn a packer return code into an hcp_err. */
static int enc_rc(const struct enc *e, int r)
{
    if (r == 0)
        return HCP_OK;
    return e->err != HCP_OK ? e->err : HCP_ENOMEM;
}

/* Pack a string of n bytes. */
static int enc_str(struct enc *e, const char *s, size_t n)
{
    int r = msgpack_pack_str(&e->pk, n);
    if (r == 0)
        r = msgpack_pack_str_body(&e->pk, s, n);
    return enc_rc(e, r);
}

static int enc_map(struct enc *e, const struct table *t, const char *base, uint32_t tbit);

/* Check and pack an unsigned value that must be in 1..max-1 (enum) or
 * within the bits of max (bit set). */
static int enc_small(struct enc *e, const struct field *f, uint32_t v)
{
    if (f->kind == FK_ENUM && v >= f->max)
        return HCP_ERANGE;
    if ((f->kind == FK_BITS8 || f->kind == FK_BITS32) && (v & ~f->max) != 0)
        return HCP_ERANGE;
    return enc_rc(e, msgpack_pack_uint32(&e->pk, v));
}

/* Check and pack the fixed char arrays (county, case id). */
static int enc_chars(struct enc *e, const struct field *f, const char *s)
{
    if (f->kind == FK_COUNTY) {
        size_t n = strnlen(s, HCP_COUNTY_LEN + 1);
        return hcp_county_code_ok(s, n) ? enc_str(e, s, n) : HCP_EINVAL;
    }
    size_t n = strnlen(s, HCP_CASE_ID_MAX);
    if (n >= HCP_CASE_ID_MAX)
        return HCP_ERANGE;
    int rc = str_check(s, n, HCP_CASE_ID_MAX - 1);
    return rc != HCP_OK ? rc : enc_str(e, s, n);
}

/* Check and pack one present field's value. */
static int enc_value(struct enc *e, const struct field *f, const char *base)
{
    const void *p = base + f->off;
    switch (f->kind) {
    case FK_STR: {
        const char *s = *(char *const *)p;
        size_t n = strnlen(s, (size_t)f->max + 1);
        int rc = str_check(s, n, f->max);
        return rc != HCP_OK ? rc : enc_str(e, s, n);
    }
    case FK_U64:
        return enc_rc(e, msgpack_pack_uint64(&e->pk, *(const uint64_t *)p));
    case FK_U32:
        return enc_rc(e, msgpack_pack_uint32(&e->pk, *(const uint32_t *)p));
    case FK_I64:
        return enc_rc(e, msgpack_pack_int64(&e->pk, *(const int64_t *)p));
    case FK_DAY:
        return enc_rc(e, msgpack_pack_int64(&e->pk, *(const int32_t *)p));
    case FK_ENUM:
    case FK_BITS8:
        return enc_small(e, f, *(const uint8_t *)p);
    case FK_BITS32:
        return enc_small(e, f, *(const uint32_t *)p);
    case FK_BOOL:
        return enc_rc(e, msgpack_pack_true(&e->pk));
    case FK_COUNTY:
    case FK_ID:
        return enc_chars(e, f, p);
    case FK_MAP:
        return enc_map(e, f->sub, p, ALL);
    case FK_SALT: {
        int r = msgpack_pack_bin(&e->pk, HCP_SALT_LEN);
        if (r == 0)
            r = msgpack_pack_bin_body(&e->pk, p, HCP_SALT_LEN);
        return enc_rc(e, r);
    }
    default:
        return HCP_EINVAL;
    }
}

/* Pack the present fields of t in table order; a field the event type
 * tbit may not carry is refused (HCP_EINVAL). */
static int enc_fields(struct enc *e, const struct table *t, const char *base, uint32_t tbit)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct field *f = &t->f[i];
        if (!fld_present(f, base))
            continue;
        if ((f->types & tbit) == 0)
            return HCP_EINVAL;
        int rc = enc_str(e, f->key, strlen(f->key));
        if (rc == HCP_OK)
            rc = enc_value(e, f, base);
        if (rc != HCP_OK)
            return rc;
    }
    return HCP_OK;
}

/* A nested map: header, then its fields. */
static int enc_map(struct enc *e, const struct table *t, const char *base, uint32_t tbit)
{
    int rc = enc_rc(e, msgpack_pack_map(&e->pk, tab_count(t, base)));
    return rc != HCP_OK ? rc : enc_fields(e, t, base, tbit);
}

/* Pack key "v" with the given version. */
static int enc_version(struct enc *e, uint64_t v)
{
    int rc = enc_str(e, "v", 1);
    return rc != HCP_OK ? rc : enc_rc(e, msgpack_pack_uint64(&e->pk, v));
}

/* Whether [s, s+n) is a key of t, or one of the record keys "v" / "pd". */
static bool key_known(const struct table *t, const char *s, size_t n)
{
    if ((n == 1 && s[0] == 'v') || (n == 2 && memcmp(s, "pd", 2) == 0))
        return true;
    for (size_t i = 0; i < t->n; i++)
        if (strlen(t->f[i].key) == n && memcmp(t->f[i].key, s, n) == 0)
            return true;
    return false;
}

/*
 * Check a caller's extras: exactly `count` pairs of well-formed objects
 * with string keys unknown to t, except that the first pair may be a "v"
 * kept from a newer record (its value then replaces ours). *newer_v is set
 * when it is.
 */
static int extra_check(const hcp_extra *x, const struct table *t, bool *newer_v)
{
    *newer_v = false;
    if (x->count == 0)
        return x->len == 0 ? HCP_OK : HCP_EINVAL;
    if (x->data == NULL || x->len > HCP_RECORD_MAX || x->count > x->len)
        return HCP_EINVAL;
    size_t pos = 0;
    for (uint32_t i = 0; i < x->count; i++) {
        const char *k;
        size_t kn, start = pos;
        if (pos >= x->len || mp_walk(x->data, x->len, &pos, REC_DEPTH) != HCP_OK ||
            mp_walk(x->data, x->len, &pos, REC_DEPTH) != HCP_OK ||
            !mp_str_at(x->data + start, pos - start, &k, &kn))
            return HCP_EINVAL;
        bool is_v = kn == 1 && k[0] == 'v';
        if (i == 0 && is_v) {
            uint64_t v;
            size_t kend = (size_t)(k + kn - (const char *)x->data);
            if (!mp_uint_at(x->data + kend, pos - kend, &v) || v <= HCP_SCHEMA_VERSION)
                return HCP_EINVAL;
            *newer_v = true;
            continue;
        }
        if (key_known(t, k, kn))
            return HCP_EINVAL;
    }
    return pos == x->len ? HCP_OK : HCP_EINVAL;
}

/*
 * Append one top-level record to b: "v", the fields of t, "pd" when digest
 * is not NULL, then the extras verbatim. A "v" pair leading the extras
 * (kept from a newer record) is written instead of ours.
 */
static int enc_record(hcp_buf *b, const struct table *t, const char *base, uint32_t tbit,
                      const uint8_t *digest, const hcp_extra *x)
{
    static const hcp_extra none = {NULL, 0, 0};
    bool newer_v;
    if (x == NULL)
        x = &none;
    int rc = extra_check(x, t, &newer_v);
    if (rc != HCP_OK)
        return rc;
    struct enc e = {.b = b, .err = HCP_OK};
    msgpack_packer_init(&e.pk, &e, enc_write);
    uint64_t count = (uint64_t)(newer_v ? 0 : 1) + tab_count(t, base) + (digest ? 1 : 0) + x->count;
    rc = enc_rc(&e, msgpack_pack_map(&e.pk, (size_t)count));
    size_t skip = 0; /* bytes of the leading "v" pair taken from the extras */
    if (rc == HCP_OK && newer_v) {
        rc = mp_walk(x->data, x->len, &skip, REC_DEPTH);
        if (rc == HCP_OK)
            rc = mp_walk(x->data, x->len, &skip, REC_DEPTH);
        if (rc == HCP_OK)
            rc = hcp_buf_append(b, x->data, skip);
    } else if (rc == HCP_OK) {
        rc = enc_version(&e, HCP_SCHEMA_VERSION);
    }
    if (rc == HCP_OK)
        rc = enc_fields(&e, t, base, tbit);
    if (rc == HCP_OK && digest != NULL) {
        rc = enc_str(&e, "pd", 2);
        if (rc == HCP_OK)
            rc = enc_rc(&e, msgpack_pack_bin(&e.pk, HCP_HASH_LEN));
        if (rc == HCP_OK)
            rc = enc_rc(&e, msgpack_pack_bin_body(&e.pk, digest, HCP_HASH_LEN));
    }
    if (rc == HCP_OK && x->len > skip)
        rc = hcp_buf_append(b, x->data + skip, x->len - skip);
    return rc;
}

/* SHA-256(salt || p[0..n)) into out. */
static int pii_digest(const uint8_t salt[HCP_SALT_LEN], const uint8_t *p, size_t n,
                      uint8_t out[HCP_HASH_LEN])
{
    const void *parts[2] = {salt, p};
    size_t lens[2] = {HCP_SALT_LEN, n};
    return hcp_sha256(parts, lens, 2, out);
}

/* Append the personal record of v to b and compute its digest. */
static int enc_pii(const struct pii *v, uint32_t tbit, hcp_buf *b, uint8_t digest[HCP_HASH_LEN])
{
    size_t start = b->len;
    int rc = enc_record(b, &pii_t, (const char *)v, tbit, NULL, NULL);
    if (rc != HCP_OK)
        return rc;
    return pii_digest(v->salt, b->data + start, b->len - start, digest);
}

/* Borrow the personal fields of an intake and a verifier into v. */
static void pii_view(struct pii *v, const hcp_intake *in, const hcp_contact *verifier,
                     const uint8_t salt[HCP_SALT_LEN])
{
    memset(v, 0, sizeof(*v));
    memcpy(v->salt, salt, HCP_SALT_LEN);
    v->staff_phone = in->staff.phone;
    v->name = in->complainant.name;
    v->phone = in->complainant.phone;
    v->id_number = in->complainant.id_number;
    v->organization = in->complainant.organization;
    v->verifier_phone = verifier->phone;
}

/* Any personal field set (the same rule as hcp_event_has_personal). */
static bool pii_any(const struct pii *v)
{
    return v->staff_phone || v->name || v->phone || v->id_number || v->organization ||
           v->verifier_phone || v->o_window || v->o_content || v->o_note || v->o_by ||
           v->o_reason || v->o_result || v->o_via || v->o_text || v->o_rr || v->o_doc ||
           v->o_sexpl || v->o_uexpl || v->o_decision || v->caller_name || v->caller_phone ||
           v->o_summary;
}

/* Where the personal record keeps the original of each free-text field. */
static void pii_orig_slots(struct pii *v, char **o[TX_COUNT])
{
    o[TX_WINDOW] = &v->o_window;
    o[TX_CONTENT] = &v->o_content;
    o[TX_NOTE] = &v->o_note;
    o[TX_BY] = &v->o_by;
    o[TX_REASON] = &v->o_reason;
    o[TX_RESULT] = &v->o_result;
    o[TX_VIA] = &v->o_via;
    o[TX_TEXT] = &v->o_text;
    o[TX_RR] = &v->o_rr;
    o[TX_DOC] = &v->o_doc;
    o[TX_SEXPL] = &v->o_sexpl;
    o[TX_UEXPL] = &v->o_uexpl;
    o[TX_DECISION] = &v->o_decision;
    o[TX_SUMMARY] = &v->o_summary;
}

/* The free-text fields of an event (NULL: the kind has no such field). */
static void event_text_slots(hcp_event *ev, char **t[TX_COUNT])
{
    t[TX_WINDOW] = &ev->in.window;
    t[TX_CONTENT] = &ev->in.content;
    t[TX_NOTE] = &ev->note;
    t[TX_BY] = &ev->by;
    t[TX_REASON] = &ev->reason;
    t[TX_RESULT] = &ev->result;
    t[TX_VIA] = &ev->via;
    t[TX_TEXT] = &ev->text;
    t[TX_RR] = NULL;
    t[TX_DOC] = &ev->document;
    t[TX_SEXPL] = &ev->staff_explanation;
    t[TX_UEXPL] = &ev->unit_explanation;
    t[TX_DECISION] = &ev->decision;
    t[TX_SUMMARY] = &ev->summary;
}

/* The free-text fields of a case. */
static void case_text_slots(hcp_case *c, char **t[TX_COUNT])
{
    memset(t, 0, TX_COUNT * sizeof(t[0]));
    t[TX_WINDOW] = &c->in.window;
    t[TX_CONTENT] = &c->in.content;
    t[TX_RR] = &c->rectification_result;
}

/* See codec.h: hcp_redact_known with the record's own personal strings. */
char *hcp_text_mask(const char *s, const hcp_intake *in, const hcp_contact *verifier)
{
    const char *known[7];
    size_t nk = 0;
    if (s == NULL)
        return NULL;
    if (in != NULL) {
        known[nk++] = in->complainant.name;
        known[nk++] = in->complainant.phone;
        known[nk++] = in->complainant.id_number;
        known[nk++] = in->complainant.organization;
        known[nk++] = in->staff.phone;
    }
    if (verifier != NULL)
        known[nk++] = verifier->phone;
    return hcp_redact_dup(s, known, nk); /* NULL entries are ignored */
}

/*
 * Mask the free text of a shallow copy being encoded: each slot t[i] whose
 * masked form differs is pointed at a new masked string (kept in owned[i]
 * for the caller to free) and its original is borrowed into o[i].
 */
static int texts_mask(char **t[TX_COUNT], char **o[TX_COUNT], const hcp_intake *in,
                      const hcp_contact *verifier, char *owned[TX_COUNT])
{
    for (int i = 0; i < TX_COUNT; i++)
        owned[i] = NULL; /* all of them: texts_free runs after an early return */
    for (int i = 0; i < TX_COUNT; i++) {
        if (t[i] == NULL || *t[i] == NULL)
            continue;
        char *m = hcp_text_mask(*t[i], in, verifier);
        if (m == NULL)
            return HCP_ENOMEM;
        if (strcmp(m, *t[i]) == 0) {
            free(m);
            continue;
        }
        *o[i] = *t[i];
        *t[i] = m;
        owned[i] = m;
    }
    return HCP_OK;
}

/* Free what texts_mask allocated. */
static void texts_free(char *owned[TX_COUNT])
{
    for (int i = 0; i < TX_COUNT; i++)
        free(owned[i]);
}

/* Complainant fields need has_complainant (complainant: null has none). */
static bool complainant_consistent(const hcp_intake *in, const struct pii *v)
{
    return in->has_complainant || (!v->name && !v->phone && !v->id_number && !v->organization);
}

/*
 * Shared body of the two encoders: the personal record first (its digest
 * goes into the main one), then the main record. On error both buffers are
 * put back to their length at entry.
 */
static int enc_both(const struct table *t, const char *base, uint32_t tbit, const struct pii *v,
                    const hcp_extra *x, hcp_buf *rec, hcp_buf *pii, uint8_t digest[HCP_HASH_LEN])
{
    size_t rec0 = rec->len, pii0 = pii->len;
    bool personal = pii_any(v);
    int rc = HCP_OK;
    memset(digest, 0, HCP_HASH_LEN);
    if (personal)
        rc = enc_pii(v, tbit, pii, digest);
    if (rc == HCP_OK)
        rc = enc_record(rec, t, base, tbit, personal ? digest : NULL, x);
    if (rc != HCP_OK) {
        rec->len = rec0;
        pii->len = pii0;
    }
    return rc;
}

/* The intake whose personal strings mask ev's free text: its own, or for a
 * register contact (which has none) one borrowing the caller's name and
 * phone into tmp, so that a summary naming its caller is masked too. */
static const hcp_intake *mask_intake(const hcp_event *ev, hcp_intake *tmp)
{
    if (ev->type != HCP_EV_CONTACT)
        return &ev->in;
    memset(tmp, 0, sizeof(*tmp));
    tmp->has_complainant = true;
    tmp->complainant.name = ev->caller_name;
    tmp->complainant.phone = ev->caller_phone;
    return tmp;
}

/* See codec.h. ev is borrowed; rec and pii are appended to. The main
 * record is written from a shallow copy whose free text is masked. */
int hcp_event_encode(const hcp_event *ev, hcp_buf *rec, hcp_buf *pii,
                     uint8_t digest_out[HCP_HASH_LEN])
{
    if (ev == NULL || rec == NULL || pii == NULL)
        return HCP_EINVAL;
    if (ev->type == HCP_EV_NONE || ev->type >= HCP_EV_COUNT_ || !hcp_county_str_ok(ev->county))
        return HCP_EINVAL;
    struct pii v;
    pii_view(&v, &ev->in, &ev->verifier, ev->pii_salt);
    v.caller_name = ev->caller_name;
    v.caller_phone = ev->caller_phone;
    if (!complainant_consistent(&ev->in, &v))
        return HCP_EINVAL;
    hcp_event m = *ev; /* shallow: nothing of it is freed but `owned` */
    char **t[TX_COUNT], **o[TX_COUNT], *owned[TX_COUNT];
    event_text_slots(&m, t);
    pii_orig_slots(&v, o);
    uint8_t digest[HCP_HASH_LEN];
    hcp_intake kin;
    int rc = texts_mask(t, o, mask_intake(ev, &kin), &ev->verifier, owned);
    if (rc == HCP_OK)
        rc = enc_both(&event_t, (const char *)&m, T(ev->type), &v, &ev->extra, rec, pii, digest);
    texts_free(owned);
    if (rc == HCP_OK && digest_out != NULL)
        memcpy(digest_out, digest, HCP_HASH_LEN);
    return rc;
}

/* See codec.h. c and salt are borrowed; salt may be NULL only when the
 * case holds no personal data (masked free text included). */
int hcp_case_encode(const hcp_case *c, const uint8_t salt[HCP_SALT_LEN], hcp_buf *rec, hcp_buf *pii)
{
    static const uint8_t nosalt[HCP_SALT_LEN];
    if (c == NULL || rec == NULL || pii == NULL)
        return HCP_EINVAL;
    if (c->id[0] == '\0' || !hcp_county_str_ok(c->county))
        return HCP_EINVAL;
    struct pii v;
    pii_view(&v, &c->in, &c->verifier, salt ? salt : nosalt);
    if (!complainant_consistent(&c->in, &v))
        return HCP_EINVAL;
    hcp_case m = *c; /* shallow, as for events */
    char **t[TX_COUNT], **o[TX_COUNT], *owned[TX_COUNT];
    case_text_slots(&m, t);
    pii_orig_slots(&v, o);
    uint8_t digest[HCP_HASH_LEN];
    int rc = texts_mask(t, o, &c->in, &c->verifier, owned);
    if (rc == HCP_OK && salt == NULL && pii_any(&v))
        rc = HCP_EINVAL;
    if (rc == HCP_OK)
        rc = enc_both(&case_t, (const char *)&m, T_CASE, &v, &c->extra, rec, pii, digest);
    texts_free(owned);
    return rc;
}

/* See case.h: personal fields, or free text that masking changes. An
 * allocation failure counts as personal (the caller then makes a salt). */
bool hcp_event_has_personal(const hcp_event *ev)
{
    if (ev == NULL)
        return false;
    const hcp_person *p = &ev->in.complainant;
    if (ev->in.staff.phone != NULL || p->name != NULL || p->phone != NULL || p->id_number != NULL ||
        p->organization != NULL || ev->verifier.phone != NULL || ev->caller_name != NULL ||
        ev->caller_phone != NULL)
        return true;
    char **t[TX_COUNT];
    event_text_slots((hcp_event *)ev, t); /* only read */
    hcp_intake kin;
    const hcp_intake *in = mask_intake(ev, &kin);
    for (int i = 0; i < TX_COUNT; i++) {
        if (t[i] == NULL || *t[i] == NULL)
            continue;
        char *m = hcp_text_mask(*t[i], in, &ev->verifier);
        bool differs = m == NULL || strcmp(m, *t[i]) != 0;
        free(m);
        if (differs)
            return true;
    }
    return false;
}

/* ---------------------------------------------------------------------- */
/* Decoding                                                                */
/* ---------------------------------------------------------------------- */

/* A msgpack positive integer; anything else is HCP_EFORMAT. */
static int obj_uint(const msgpack_object *o, uint64_t *v)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return HCP_EFORMAT;
    *v = o->via.u64;
    return HCP_OK;
}

/* A msgpack integer that fits int64. */
static int obj_int(const msgpack_object *o, int64_t *v)
{
    if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *v = o->via.i64;
        return HCP_OK;
    }
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return HCP_EFORMAT;
    if (o->via.u64 > (uint64_t)INT64_MAX)
        return HCP_ERANGE;
    *v = (int64_t)o->via.u64;
    return HCP_OK;
}

/* A string within max bytes and valid UTF-8, copied into *dst (owned). */
static int dec_str(const msgpack_object *o, size_t max, char **dst)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return HCP_EFORMAT;
    int rc = str_check(o->via.str.ptr, o->via.str.size, max);
    if (rc != HCP_OK)
        return rc;
    *dst = hcp_strndup(o->via.str.ptr, o->via.str.size);
    return *dst != NULL ? HCP_OK : HCP_ENOMEM;
}

/* Into a fixed char array: a county (six digits) or a case id. */
static int dec_chars(const struct field *f, const msgpack_object *o, char *dst)
{
    if (o->type != MSGPACK_OBJECT_STR)
        return HCP_EFORMAT;
    const char *s = o->via.str.ptr;
    size_t n = o->via.str.size;
    if (f->kind == FK_COUNTY) {
        if (!hcp_county_code_ok(s, n))
            return HCP_EFORMAT;
    } else {
        if (n == 0)
            return HCP_EFORMAT; /* "" is written by omission */
        int rc = str_check(s, n, HCP_CASE_ID_MAX - 1);
        if (rc != HCP_OK)
            return rc;
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
    return HCP_OK;
}

/* An enum (1..max-1) or a bit set (non-zero, only the bits of max). */
static int dec_small(const struct field *f, const msgpack_object *o, uint32_t *v)
{
    uint64_t u;
    int rc = obj_uint(o, &u);
    if (rc != HCP_OK)
        return rc;
    if (u == 0)
        return HCP_EFORMAT; /* zero is written by omission */
    if (f->kind == FK_ENUM ? u >= f->max : (u & ~(uint64_t)f->max) != 0)
        return HCP_ERANGE;
    *v = (uint32_t)u;
    return HCP_OK;
}

static int dec_map(const struct table *t, const msgpack_object *o, char *base, uint64_t *seen);

/* Integers: non-zero (zero is written by omission) and within the type. */
static int dec_number(const struct field *f, const msgpack_object *o, void *p)
{
    int64_t i;
    uint64_t u;
    int rc = f->kind == FK_I64 || f->kind == FK_DAY ? obj_int(o, &i) : obj_uint(o, &u);
    if (rc != HCP_OK)
        return rc;
    if (f->kind == FK_I64 || f->kind == FK_DAY) {
        if (i == 0)
            return HCP_EFORMAT;
        if (f->kind == FK_DAY && (i < INT32_MIN || i > INT32_MAX))
            return HCP_ERANGE;
        if (f->kind == FK_DAY)
            *(int32_t *)p = (int32_t)i;
        else
            *(int64_t *)p = i;
        return HCP_OK;
    }
    if (u == 0)
        return HCP_EFORMAT;
    if (f->kind == FK_U32 && u > UINT32_MAX)
        return HCP_ERANGE;
    if (f->kind == FK_U32)
        *(uint32_t *)p = (uint32_t)u;
    else
        *(uint64_t *)p = u;
    return HCP_OK;
}

/* Check and store one field's value into base (strings owned by base). */
static int dec_value(const struct field *f, const msgpack_object *o, char *base)
{
    void *p = base + f->off;
    uint32_t v = 0;
    int rc;
    switch (f->kind) {
    case FK_STR:
        return dec_str(o, f->max, (char **)p);
    case FK_U64:
    case FK_U32:
    case FK_I64:
    case FK_DAY:
        return dec_number(f, o, p);
    case FK_ENUM:
    case FK_BITS8:
    case FK_BITS32:
        rc = dec_small(f, o, &v);
        if (rc == HCP_OK && f->kind == FK_BITS32)
            *(uint32_t *)p = v;
        else if (rc == HCP_OK)
            *(uint8_t *)p = (uint8_t)v;
        return rc;
    case FK_BOOL:
        if (o->type != MSGPACK_OBJECT_BOOLEAN || !o->via.boolean)
            return HCP_EFORMAT; /* false is written by omission */
        *(bool *)p = true;
        return HCP_OK;
    case FK_COUNTY:
    case FK_ID:
        return dec_chars(f, o, p);
    case FK_MAP: {
        uint64_t seen = 0;
        if (o->type != MSGPACK_OBJECT_MAP || o->via.map.size == 0)
            return HCP_EFORMAT; /* an empty map is written by omission */
        return dec_map(f->sub, o, p, &seen);
    }
    case FK_SALT:
        if (o->type != MSGPACK_OBJECT_BIN || o->via.bin.size != HCP_SALT_LEN)
            return HCP_EFORMAT;
        memcpy(p, o->via.bin.ptr, HCP_SALT_LEN);
        return HCP_OK;
    default:
        return HCP_EFORMAT;
    }
}

/* The string key k equals the NUL-terminated s (no strlen: keys are 1-3
 * bytes and this runs for every pair of every record decoded). */
static bool key_eq(const msgpack_object *k, const char *s)
{
    const char *p = k->via.str.ptr;
    uint32_t n = k->via.str.size;
    uint32_t i = 0;
    while (i < n && s[i] != '\0' && s[i] == p[i])
        i++;
    return i == n && s[i] == '\0';
}

/* Index of the field of t named by the string key k, or -1. The search
 * starts at *hint, the field after the last one found (records are written
 * in table order, so that is usually the one), and wraps around. */
static int tab_find(const struct table *t, const msgpack_object *k, size_t *hint)
{
    if (k->type != MSGPACK_OBJECT_STR || t->n == 0)
        return -1;
    size_t start = *hint < t->n ? *hint : 0;
    for (size_t j = 0; j < t->n; j++) {
        size_t i = start + j < t->n ? start + j : start + j - t->n;
        if (key_eq(k, t->f[i].key)) {
            *hint = i + 1;
            return (int)i;
        }
    }
    return -1;
}

/* One known pair: no duplicate (bit i of *seen), then the value. */
static int dec_known(const struct table *t, int i, const msgpack_object *val, char *base,
                     uint64_t *seen)
{
    if (*seen & (1ull << i))
        return HCP_EFORMAT;
    *seen |= 1ull << i;
    return dec_value(&t->f[i], val, base);
}

/* A nested map: closed (every key known), no duplicates. */
static int dec_map(const struct table *t, const msgpack_object *o, char *base, uint64_t *seen)
{
    size_t hint = 0;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        int fi = tab_find(t, &kv->key, &hint);
        if (fi < 0)
            return HCP_EFORMAT;
        int rc = dec_known(t, fi, &kv->val, base, seen);
        if (rc != HCP_OK)
            return rc;
    }
    return HCP_OK;
}

/* What decoding a top-level record found besides the table's fields. */
struct top {
    uint64_t v;       /* schema version; 0 if absent */
    uint64_t seen;    /* bit i: field i of the table */
    bool has_pd;      /* "pd" present */
    bool allow_pd;    /* the record kind may carry "pd" */
    bool open;        /* unknown keys kept (else counted in unknown) */
    uint32_t unknown; /* unknown keys of a closed record */
    uint8_t pd[HCP_HASH_LEN];
    hcp_buf xb; /* raw unknown pairs, in order */
    uint32_t xcount;
    size_t hint; /* where tab_find starts looking for the next key */
};

/* Key k equals the literal s. */
static bool key_is(const msgpack_object *k, const char *s)
{
    return k->type == MSGPACK_OBJECT_STR && key_eq(k, s);
}

/* "v": a positive integer, once. A newer one is kept in the extras so that
 * re-encoding writes it back. */
static int dec_version(const msgpack_object *val, const uint8_t *raw, size_t rawn, struct top *top)
{
    uint64_t v;
    if (top->v != 0 || obj_uint(val, &v) != HCP_OK || v == 0)
        return HCP_EFORMAT;
    top->v = v;
    if (v <= HCP_SCHEMA_VERSION || !top->open)
        return HCP_OK;
    if (top->xcount != 0)
        return HCP_EFORMAT; /* a newer "v" must lead the record */
    top->xcount++;
    return hcp_buf_append(&top->xb, raw, rawn);
}

/* One top-level pair; raw is its bytes (key and value) in the record. */
static int dec_pair(const struct table *t, const msgpack_object_kv *kv, const uint8_t *raw,
                    size_t rawn, char *base, struct top *top)
{
    if (kv->key.type != MSGPACK_OBJECT_STR)
        return HCP_EFORMAT;
    if (key_is(&kv->key, "v"))
        return dec_version(&kv->val, raw, rawn, top);
    if (top->allow_pd && key_is(&kv->key, "pd")) {
        if (top->has_pd || kv->val.type != MSGPACK_OBJECT_BIN ||
            kv->val.via.bin.size != HCP_HASH_LEN)
            return HCP_EFORMAT;
        top->has_pd = true;
        memcpy(top->pd, kv->val.via.bin.ptr, HCP_HASH_LEN);
        return HCP_OK;
    }
    int fi = tab_find(t, &kv->key, &top->hint);
    if (fi >= 0)
        return dec_known(t, fi, &kv->val, base, &top->seen);
    if (!top->open) {
        top->unknown++;
        return HCP_OK;
    }
    top->xcount++;
    return hcp_buf_append(&top->xb, raw, rawn);
}

/* Where a record's first REC_MARKS top-level pairs start, found by the bounds
 * walk and reused to cut each pair's raw bytes: one walk, not two. */
#define REC_MARKS 64

struct marks {
    size_t at[REC_MARKS]; /* at[i]: pair i's first byte */
    size_t n;             /* pairs marked */
    bool all;             /* every pair is marked (the last one ends the record) */
};

/*
 * The bounds check of hcp_mp_check(rec, n, REC_DEPTH) for a record that is
 * a map, walking it pair by pair to note where each starts (m). The same
 * rules: every declared count fits in the bytes left, nesting within
 * REC_DEPTH (the map is level 1, so each key and value may nest
 * REC_DEPTH - 1 deeper), and the map fills [p, p + n) exactly.
 */
static int rec_check(const uint8_t *p, size_t n, struct marks *m)
{
    struct mp_head h;
    m->n = 0;
    m->all = false;
    if (n == 0 || !mp_head_read(p, n, &h) || !h.container || h.hdr > n || h.kids > n - h.hdr)
        return HCP_EFORMAT;
    if (!((p[0] >= 0x80 && p[0] <= 0x8f) || p[0] == 0xde || p[0] == 0xdf))
        return HCP_EFORMAT; /* a record is a map */
    size_t pos = h.hdr;
    for (uint64_t i = 0; i < h.kids; i++) {
        if ((i & 1u) == 0 && m->n < REC_MARKS)
            m->at[m->n++] = pos;
        int rc = mp_walk(p, n, &pos, REC_DEPTH - 1);
        if (rc != HCP_OK)
            return rc;
    }
    if (pos != n)
        return HCP_EFORMAT;
    m->all = h.kids / 2 == m->n;
    return HCP_OK;
}

/* Walk the top map's pairs in step with msgpack-c's objects, so that each
 * unknown pair's raw bytes can be kept. p[0..n) passed rec_check, which
 * marked where the first pairs start (m). */
static int dec_pairs(const struct table *t, const uint8_t *p, size_t n, const msgpack_object *o,
                     char *base, struct top *top, const struct marks *m)
{
    struct mp_head h;
    if (!mp_head_read(p, n, &h) || !h.container || h.kids / 2 != o->via.map.size)
        return HCP_EFORMAT;
    size_t pos = h.hdr;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        size_t start = pos;
        int rc = HCP_OK;
        if (i + 1 < m->n)
            pos = m->at[i + 1]; /* marked: no second walk */
        else if (m->all && i + 1 == m->n)
            pos = n;
        else {
            rc = mp_walk(p, n, &pos, REC_DEPTH);
            if (rc == HCP_OK)
                rc = mp_walk(p, n, &pos, REC_DEPTH);
        }
        if (rc == HCP_OK)
            rc = dec_pair(t, &o->via.map.ptr[i], p + start, pos - start, base, top);
        if (rc != HCP_OK)
            return rc;
    }
    return top->v == 0 ? HCP_EFORMAT : HCP_OK;
}

/*
 * Decode a top-level record of table t into base: bound it, check it (as
 * hcp_mp_check does), unpack it with msgpack-c, then map the objects.
 * top->xb receives unknown pairs (the caller owns it, also on error).
 */
static int dec_record(const struct table *t, const void *rec, size_t n, char *base, struct top *top)
{
    if (n > HCP_RECORD_MAX)
        return HCP_ERANGE;
    if (rec == NULL)
        return HCP_EINVAL;
    struct marks m;
    int rc = rec_check(rec, n, &m);
    if (rc != HCP_OK)
        return rc;
    const uint8_t *p = rec;
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    msgpack_unpack_return r = msgpack_unpack_next(&u, rec, n, &off);
    if (r == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = HCP_ENOMEM;
    else if (r != MSGPACK_UNPACK_SUCCESS || off != n || u.data.type != MSGPACK_OBJECT_MAP)
        rc = HCP_EFORMAT;
    else
        rc = dec_pairs(t, p, n, &u.data, base, top, &m);
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* Hand the kept unknown pairs to x (which takes ownership of the bytes). */
static void extra_take(hcp_extra *x, struct top *top)
{
    x->data = top->xb.data;
    x->len = top->xb.len;
    x->count = top->xcount;
    hcp_buf_init(&top->xb, 0);
}

/* Index of a field key in a table (for the required-field checks). */
static int key_index(const struct table *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++)
        if (strcmp(t->f[i].key, key) == 0)
            return (int)i;
    return -1;
}

/* Every field seen must be one the event type carries. */
static bool types_ok(const struct table *t, uint64_t seen, uint32_t tbit)
{
    for (size_t i = 0; i < t->n; i++)
        if ((seen & (1ull << i)) && (t->f[i].types & tbit) == 0)
            return false;
    return true;
}

/* See codec.h. rec is borrowed; ev receives owned copies. */
int hcp_event_decode(const void *rec, size_t n, hcp_event *ev)
{
    if (rec == NULL || ev == NULL)
        return HCP_EINVAL;
    memset(ev, 0, sizeof(*ev));
    struct top top = {.allow_pd = true, .open = true};
    hcp_buf_init(&top.xb, HCP_RECORD_MAX);
    int rc = dec_record(&event_t, rec, n, (char *)ev, &top);
    uint64_t need = (1ull << key_index(&event_t, "c")) | (1ull << key_index(&event_t, "t"));
    if (rc == HCP_OK && ((top.seen & need) != need || !types_ok(&event_t, top.seen, T(ev->type))))
        rc = HCP_EFORMAT;
    if (rc == HCP_OK) {
        ev->has_pii = top.has_pd;
        memcpy(ev->pii_digest, top.pd, HCP_HASH_LEN);
        extra_take(&ev->extra, &top);
    }
    hcp_buf_free(&top.xb);
    return rc;
}

/* See codec.h. rec is borrowed; c receives owned copies. */
int hcp_case_decode(const void *rec, size_t n, hcp_case *c)
{
    if (rec == NULL || c == NULL)
        return HCP_EINVAL;
    memset(c, 0, sizeof(*c));
    struct top top = {.allow_pd = true, .open = true};
    hcp_buf_init(&top.xb, HCP_RECORD_MAX);
    int rc = dec_record(&case_t, rec, n, (char *)c, &top);
    uint64_t need = (1ull << key_index(&case_t, "id")) | (1ull << key_index(&case_t, "c"));
    if (rc == HCP_OK && (top.seen & need) != need)
        rc = HCP_EFORMAT;
    if (rc == HCP_OK) {
        c->has_pii = top.has_pd;
        memcpy(c->pii_digest, top.pd, HCP_HASH_LEN);
        extra_take(&c->extra, &top);
    }
    hcp_buf_free(&top.xb);
    return rc;
}

/* Release the strings a decoded struct pii owns. */
static void pii_free(struct pii *v)
{
    free(v->staff_phone);
    free(v->name);
    free(v->phone);
    free(v->id_number);
    free(v->organization);
    free(v->verifier_phone);
    free(v->caller_name);
    free(v->caller_phone);
    char **o[TX_COUNT];
    pii_orig_slots(v, o);
    for (int i = 0; i < TX_COUNT; i++)
        free(*o[i]);
    memset(v, 0, sizeof(*v));
}

/* Replace *dst by src, taking ownership of src. */
static void str_move(char **dst, char **src)
{
    free(*dst);
    *dst = *src;
    *src = NULL;
}

/* Move decoded personal fields into an intake and a verifier, and each
 * original free text over its masked form (slots t). */
static void pii_move(struct pii *v, hcp_intake *in, hcp_contact *verifier, char **t[TX_COUNT])
{
    str_move(&in->staff.phone, &v->staff_phone);
    str_move(&in->complainant.name, &v->name);
    str_move(&in->complainant.phone, &v->phone);
    str_move(&in->complainant.id_number, &v->id_number);
    str_move(&in->complainant.organization, &v->organization);
    str_move(&verifier->phone, &v->verifier_phone);
    char **o[TX_COUNT];
    pii_orig_slots(v, o);
    for (int i = 0; i < TX_COUNT; i++)
        if (t[i] != NULL && *o[i] != NULL)
            str_move(t[i], o[i]);
}

/* An original free text needs its masked form in the main record, and
 * differs from it (an unchanged text has no original: one spelling). */
static bool texts_consistent(struct pii *v, char **t[TX_COUNT])
{
    char **o[TX_COUNT];
    pii_orig_slots(v, o);
    for (int i = 0; i < TX_COUNT; i++) {
        if (*o[i] == NULL)
            continue;
        if (t[i] == NULL || *t[i] == NULL || strcmp(*t[i], *o[i]) == 0)
            return false;
    }
    return true;
}

/* Constant-time comparison of two digests. */
static bool digest_equal(const uint8_t *a, const uint8_t *b)
{
    uint8_t d = 0;
    for (size_t i = 0; i < HCP_HASH_LEN; i++)
        d |= (uint8_t)(a[i] ^ b[i]);
    return d == 0;
}

/*
 * Decode a personal record into *v (owned by v, also on error) and check it
 * against expect. The personal record is closed: unknown keys are
 * HCP_EVERSION when it is newer than us, HCP_EFORMAT otherwise.
 */
static int dec_pii(const void *p, size_t n, uint32_t tbit, const hcp_intake *in, char **t[TX_COUNT],
                   const uint8_t expect[HCP_HASH_LEN], struct pii *v)
{
    struct top top = {.allow_pd = false, .open = false};
    hcp_buf_init(&top.xb, 0);
    int rc = dec_record(&pii_t, p, n, (char *)v, &top);
    hcp_buf_free(&top.xb);
    if (rc != HCP_OK)
        return rc;
    if (top.unknown > 0)
        return top.v > HCP_SCHEMA_VERSION ? HCP_EVERSION : HCP_EFORMAT;
    if ((top.seen & 1u) == 0 || !types_ok(&pii_t, top.seen, tbit) ||
        !complainant_consistent(in, v) || !texts_consistent(v, t))
        return HCP_EFORMAT; /* "sa" (field 0) is required */
    uint8_t d[HCP_HASH_LEN];
    rc = pii_digest(v->salt, p, n, d);
    if (rc != HCP_OK)
        return rc;
    return digest_equal(d, expect) ? HCP_OK : HCP_ECRYPTO;
}

/* See codec.h. pii is borrowed; ev receives owned copies. */
int hcp_event_decode_pii(const void *pii, size_t n, hcp_event *ev)
{
    if (pii == NULL || ev == NULL || !ev->has_pii)
        return HCP_EINVAL;
    struct pii v;
    memset(&v, 0, sizeof(v));
    char **t[TX_COUNT];
    event_text_slots(ev, t);
    int rc = dec_pii(pii, n, T(ev->type), &ev->in, t, ev->pii_digest, &v);
    if (rc == HCP_OK) {
        str_move(&ev->caller_name, &v.caller_name);
        str_move(&ev->caller_phone, &v.caller_phone);
        pii_move(&v, &ev->in, &ev->verifier, t);
        memcpy(ev->pii_salt, v.salt, HCP_SALT_LEN);
    }
    pii_free(&v);
    return rc;
}

/* See codec.h. pii is borrowed; c receives owned copies. */
int hcp_case_decode_pii(const void *pii, size_t n, hcp_case *c)
{
    if (pii == NULL || c == NULL || !c->has_pii)
        return HCP_EINVAL;
    struct pii v;
    memset(&v, 0, sizeof(v));
    char **t[TX_COUNT];
    case_text_slots(c, t);
    int rc = dec_pii(pii, n, T_CASE, &c->in, t, c->pii_digest, &v);
    if (rc == HCP_OK) {
        pii_move(&v, &c->in, &c->verifier, t);
        memcpy(c->pii_salt, v.salt, HCP_SALT_LEN);
    }
    pii_free(&v);
    return rc;
}
