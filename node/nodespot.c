/*
 * nodespot.c — spot-check directives at the county (nodespot.h).
 */
#include "nodespot.h"

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

/* The fields a spot-check body may carry (the gateway's gateway/spot.c). */
typedef struct spot_body {
    int64_t spotcheck;
    char id[HCP_CASE_ID_MAX];
    char period[8];
    int reached, rectified, satisfied; /* -1 absent, else 0/1 */
    char *note;                        /* owned, NULL when absent */
} spot_body;

/* Whether msgpack object o is the string key. */
static bool key_is(const msgpack_object *o, const char *key)
{
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(key) &&
           memcmp(o->via.str.ptr, key, o->via.str.size) == 0;
}

/* Copy string object o into out (cap bytes, NUL-terminated): false when
 * it is not a string of 1..cap-1 valid UTF-8 bytes. */
static bool str_into(const msgpack_object *o, char *out, size_t cap)
{
    if (o->type != MSGPACK_OBJECT_STR || o->via.str.size == 0 || o->via.str.size >= cap ||
        !hcp_utf8_valid(o->via.str.ptr, o->via.str.size))
        return false;
    memcpy(out, o->via.str.ptr, o->via.str.size);
    out[o->via.str.size] = '\0';
    return true;
}

/* One key/value pair of the body into b; false when a known key is
 * malformed (unknown keys are skipped: a later gateway may add some). */
static bool take_kv(const msgpack_object_kv *kv, spot_body *b)
{
    const msgpack_object *v = &kv->val;
    int *flag = key_is(&kv->key, "reached")     ? &b->reached
                : key_is(&kv->key, "rectified") ? &b->rectified
                : key_is(&kv->key, "satisfied") ? &b->satisfied
                                                : NULL;
    if (flag != NULL) {
        if (v->type != MSGPACK_OBJECT_BOOLEAN)
            return false;
        *flag = v->via.boolean ? 1 : 0;
        return true;
    }
    if (key_is(&kv->key, "spotcheck")) {
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 > INT64_MAX)
            return false;
        b->spotcheck = (int64_t)v->via.u64;
        return true;
    }
    if (key_is(&kv->key, "case"))
        return str_into(v, b->id, sizeof(b->id));
    if (key_is(&kv->key, "period"))
        return str_into(v, b->period, sizeof(b->period));
    if (key_is(&kv->key, "note") && v->type == MSGPACK_OBJECT_STR) {
        char *s = malloc((size_t)v->via.str.size + 1);
        if (s == NULL || v->via.str.size > HCP_TEXT_MAX || !str_into(v, s, v->via.str.size + 1)) {
            free(s);
            return v->via.str.size == 0; /* an empty note is no note */
        }
        free(b->note);
        b->note = s;
    }
    return true;
}

/* Parse the body: HCP_OK, HCP_EINVAL (malformed), HCP_ENOMEM. */
static int body_parse(const void *body, size_t len, spot_body *b)
{
    memset(b, 0, sizeof(*b));
    b->reached = b->rectified = b->satisfied = -1;
    if (hcp_mp_check(body, len, 8) != HCP_OK)
        return HCP_EINVAL;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    int rc = HCP_EINVAL;
    if (msgpack_unpack_next(&up, body, len, &off) == MSGPACK_UNPACK_SUCCESS &&
        up.data.type == MSGPACK_OBJECT_MAP) {
        rc = HCP_OK;
        for (uint32_t i = 0; rc == HCP_OK && i < up.data.via.map.size; i++)
            if (!take_kv(&up.data.via.map.ptr[i], b))
                rc = HCP_EINVAL;
    }
    msgpack_unpacked_destroy(&up);
    if (rc == HCP_OK && (b->spotcheck <= 0 || b->id[0] == '\0'))
        rc = HCP_EINVAL;
    return rc;
}

bool node_spot_is_type(const char *type)
{
    return strcmp(type, "spotcheck") == 0 || strcmp(type, "spotcheck_result") == 0;
}

static const char *yes_no(int v)
{
    return v ? "是" : "否";
}

/* The note the county reads on the case (user-facing: Chinese). */
static char *note_of(bool result, const spot_body *b, bool reopen)
{
    size_t cap = 512 + (b->note != NULL ? strlen(b->note) : 0);
    char *s = malloc(cap);
    if (s == NULL)
        return NULL;
    if (!result)
        snprintf(s, cap, "省级抽查：本案被第%lld号抽查（%s）抽中，省里将回访核查。",
                 (long long)b->spotcheck, b->period[0] ? b->period : "-");
    else
        snprintf(
            s, cap, "省级抽查结果（第%lld号抽查）：联系到投诉人：%s；已整改：%s；满意：%s。%s%s%s",
            (long long)b->spotcheck, yes_no(b->reached), yes_no(b->rectified), yes_no(b->satisfied),
            b->note != NULL ? "说明：" : "", b->note != NULL ? b->note : "",
            reopen ? "核查未通过，本案重新打开，退回整改。" : "");
    return s;
}

int node_spot_decide(node *n, MDB_txn *txn, const repl_dir_entry *d, hcp_event *ev, hcp_case *old,
                     hcp_case *c, bool *has_case, char *why, size_t whylen)
{
    *has_case = false;
    bool result = strcmp(d->type, "spotcheck_result") == 0;
    spot_body b;
    int rc = body_parse(d->body, d->body_len, &b);
    if (rc == HCP_OK && result && (b.reached < 0 || b.rectified < 0 || b.satisfied < 0))
        rc = HCP_EINVAL;
    char county[HCP_COUNTY_LEN + 1];
    if (rc == HCP_OK && (hcp_case_id_parse(b.id, county, NULL, NULL) != HCP_OK ||
                         strcmp(county, n->cfg.county) != 0))
        rc = HCP_EINVAL;
    if (rc == HCP_OK)
        rc = store_case_get(n->store, txn, b.id, true, old);
    if (rc == HCP_EINVAL || rc == HCP_ENOTFOUND) {
        snprintf(why, whylen, rc == HCP_EINVAL ? "malformed_body" : "case_not_found");
        free(b.note);
        return HCP_OK;
    }
    if (rc == HCP_OK) {
        bool failed = result && !(b.reached && b.rectified && b.satisfied);
        ev->reopen = failed && (old->status == HCP_ST_RESOLVED || old->status == HCP_ST_CLOSED);
        snprintf(ev->case_id, sizeof(ev->case_id), "%s", b.id);
        ev->note = note_of(result, &b, ev->reopen);
        rc = ev->note != NULL ? hcp_case_copy(c, old) : HCP_ENOMEM;
        if (rc == HCP_OK)
            *has_case = true;
    }
    free(b.note);
    return rc;
}
