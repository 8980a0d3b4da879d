/* calver.c — the federation calendar's {version, tsv} form and the recount
 * of open deadlines both daemons share (calver.h, docs/calendar.md). */
#include "calver.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "rules.h"

/* Append the raw bytes the packer writes to the hcp_buf behind data. */
static int calver_write(void *data, const char *buf, size_t len)
{
    return hcp_buf_append(data, buf, len) == HCP_OK ? 0 : -1;
}

/* {version, tsv} as a two-entry msgpack map. */
int hcp_calver_encode(uint32_t version, const char *tsv, size_t len, hcp_buf *out)
{
    if (out == NULL || (tsv == NULL && len > 0))
        return HCP_EINVAL;
    if (len > HCP_CALVER_MAX)
        return HCP_ERANGE;
    hcp_buf_reset(out);
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, calver_write);
    int bad = msgpack_pack_map(&pk, 2);
    bad = bad || msgpack_pack_str_with_body(&pk, "version", 7);
    bad = bad || msgpack_pack_uint32(&pk, version);
    bad = bad || msgpack_pack_str_with_body(&pk, "tsv", 3);
    bad = bad || msgpack_pack_str_with_body(&pk, len > 0 ? tsv : "", len);
    return bad ? HCP_ENOMEM : HCP_OK;
}

/* Whether key object k is the string name. */
static bool key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n &&
           memcmp(k->via.str.ptr, name, n) == 0;
}

/* Take "version" and "tsv" from the map; the tsv must point into mp (the
 * unpacker does not copy strings), which is checked, not assumed. */
static int calver_pairs(const msgpack_object_map *m, const char *base, size_t len, hcp_calver *out)
{
    bool have_v = false, have_t = false;
    for (uint32_t i = 0; i < m->size; i++) {
        const msgpack_object *k = &m->ptr[i].key, *v = &m->ptr[i].val;
        if (key_is(k, "version")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > UINT32_MAX)
                return HCP_EFORMAT;
            out->version = (uint32_t)v->via.u64;
            have_v = true;
        } else if (key_is(k, "tsv")) {
            const char *p;
            size_t n;
            if (v->type == MSGPACK_OBJECT_STR) {
                p = v->via.str.ptr;
                n = v->via.str.size;
            } else if (v->type == MSGPACK_OBJECT_BIN) {
                p = v->via.bin.ptr;
                n = v->via.bin.size;
            } else
                return HCP_EFORMAT;
            if (n > HCP_CALVER_MAX || (n > 0 && (p < base || (size_t)(p - base) + n > len)))
                return HCP_EFORMAT;
            out->tsv = n > 0 ? p : "";
            out->tsv_len = n;
            have_t = true;
        }
    }
    return have_v && have_t ? HCP_OK : HCP_EFORMAT;
}

/* Bounded first (hcp_mp_check), then unpacked without copying strings. */
int hcp_calver_decode(const void *mp, size_t len, hcp_calver *out)
{
    if (mp == NULL || out == NULL)
        return HCP_EINVAL;
    memset(out, 0, sizeof(*out));
    if (len == 0 || len > HCP_CALVER_ENCMAX || hcp_mp_check(mp, len, 4) != HCP_OK)
        return HCP_EFORMAT;
    msgpack_unpacked u;
    size_t off = 0;
    msgpack_unpacked_init(&u);
    msgpack_unpack_return r = msgpack_unpack_next(&u, mp, len, &off);
    int rc;
    if (r == MSGPACK_UNPACK_NOMEM_ERROR)
        rc = HCP_ENOMEM;
    else if (r != MSGPACK_UNPACK_SUCCESS || off != len || u.data.type != MSGPACK_OBJECT_MAP)
        rc = HCP_EFORMAT;
    else
        rc = calver_pairs(&u.data.via.map, mp, len, out);
    msgpack_unpacked_destroy(&u);
    if (rc != HCP_OK)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* The build embeds data/calendar.tsv (cmake/embed.cmake, core/calendar.c). */
extern const unsigned char hcp_data_calendar[];
extern const size_t hcp_data_calendar_len;

/* Read at most HCP_CALVER_MAX bytes of path into a new buffer. */
static int seed_read(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "cannot read the calendar file");
        return HCP_EIO;
    }
    char *buf = malloc(HCP_CALVER_MAX + 1);
    size_t n = buf != NULL ? fread(buf, 1, HCP_CALVER_MAX + 1, f) : 0;
    int rc = buf == NULL          ? HCP_ENOMEM
             : ferror(f)          ? HCP_EIO
             : n > HCP_CALVER_MAX ? HCP_ERANGE
                                  : HCP_OK;
    if (fclose(f) != 0 && rc == HCP_OK)
        rc = HCP_EIO;
    if (rc == HCP_EIO)
        snprintf(err, errlen, "cannot read the calendar file");
    else if (rc == HCP_ERANGE)
        snprintf(err, errlen, "calendar file larger than 1 MiB");
    if (rc != HCP_OK) {
        free(buf);
        return rc;
    }
    *text = buf;
    *len = n;
    return HCP_OK;
}

/* The file's or the compiled-in text, then parsed. */
int hcp_calver_seed(const char *path, char **text, size_t *len, hcp_cal **cal, char *err,
                    size_t errlen)
{
    char dummy[8];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (text == NULL || len == NULL || cal == NULL)
        return HCP_EINVAL;
    char *t = NULL;
    size_t n = 0;
    int rc = HCP_OK;
    if (path != NULL && path[0] != '\0')
        rc = seed_read(path, &t, &n, err, errlen);
    else if ((t = malloc(hcp_data_calendar_len + 1)) == NULL)
        rc = HCP_ENOMEM;
    else {
        memcpy(t, hcp_data_calendar, hcp_data_calendar_len);
        n = hcp_data_calendar_len;
    }
    if (rc == HCP_OK && (rc = hcp_cal_parse(t, n, cal, err, errlen)) != HCP_OK) {
        free(t);
        return rc;
    }
    if (rc != HCP_OK)
        return rc;
    *text = t;
    *len = n;
    return HCP_OK;
}

/* The statuses before feedback: the same set as the node's status index
 * scan (node/store.c store_open_case_ids). */
int hcp_calver_start(const hcp_calver *cur, const hcp_cal *seed, bool seed_given,
                     enum hcp_calver_start *decision, hcp_cal **fed, char *err, size_t errlen)
{
    if (seed == NULL || decision == NULL || fed == NULL)
        return HCP_EINVAL;
    *fed = NULL;
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    hcp_cal *stored = NULL;
    if (cur == NULL || cur->version == 0) {
        /* an unreadable seed is replaced by this one */
        bool same = cur != NULL &&
                    hcp_cal_parse(cur->tsv, cur->tsv_len, &stored, NULL, 0) == HCP_OK &&
                    hcp_cal_same(stored, seed);
        hcp_cal_free(stored);
        *decision = same ? HCP_CALSTART_KEEP : HCP_CALSTART_SEED;
        return HCP_OK;
    }
    int rc = hcp_cal_parse(cur->tsv, cur->tsv_len, &stored, err, errlen);
    if (rc != HCP_OK)
        return rc;
    if (seed_given && !hcp_cal_same(stored, seed)) {
        hcp_cal_free(stored);
        return HCP_EVERSION;
    }
    *decision = HCP_CALSTART_FEDERATION;
    *fed = stored;
    return HCP_OK;
}

bool hcp_case_deadlines_open(const hcp_case *c)
{
    if (c == NULL)
        return false;
    switch (c->status) {
    case HCP_ST_RECEIVED:
    case HCP_ST_VERIFYING:
    case HCP_ST_DISPUTED:
    case HCP_ST_RECTIFYING:
    case HCP_ST_FEEDBACK_PENDING:
        return true;
    default:
        return false;
    }
}

/* A deadline that is set and provisional. */
bool hcp_case_provisional(const hcp_case *c)
{
    return c != NULL && ((c->feedback_due.at != 0 && c->feedback_due.provisional) ||
                         (c->dispute_due.at != 0 && c->dispute_due.provisional) ||
                         (c->rereview_due.at != 0 && c->rereview_due.provisional));
}

/* Whether two deadlines differ in date or flag. */
static bool due_differs(const hcp_due *a, const hcp_due *b)
{
    return a->at != b->at || a->provisional != b->provisional;
}

/* Recount, then compare with the deadlines before. */
int hcp_calver_recount(hcp_case *c, const hcp_cal *cal, bool *changed)
{
    if (c == NULL || cal == NULL || changed == NULL)
        return HCP_EINVAL;
    hcp_due fb = c->feedback_due, dd = c->dispute_due, rr = c->rereview_due;
    int rc = hcp_case_recompute_deadlines(c, cal);
    if (rc != HCP_OK)
        return rc;
    *changed = due_differs(&fb, &c->feedback_due) || due_differs(&dd, &c->dispute_due) ||
               due_differs(&rr, &c->rereview_due);
    return HCP_OK;
}
