/* record.c — the stored records of cases and log entries (record.h). */
#include "record.h"

#include <string.h>

#include "be.h"
#include "codec.h"

#define STORED_FMT 1
#define EVENT_HDR  (1 + HCP_HASH_LEN + 4)

/* "log" county(6) be64(seq): the associated data of a log entry's seal. */
static size_t log_aad(uint8_t aad[3 + HCP_COUNTY_LEN + 8], const char *county, uint64_t seq)
{
    memcpy(aad, "log", 3);
    memcpy(aad + 3, county, HCP_COUNTY_LEN);
    hcp_be64_put(aad + 3 + HCP_COUNTY_LEN, seq);
    return 3 + HCP_COUNTY_LEN + 8;
}

int hcp_stored_case_pack(hcp_sealer *s, const hcp_case *c, hcp_buf *out)
{
    if (s == NULL || c == NULL || out == NULL)
        return HCP_EINVAL;
    hcp_buf rec, pii;
    hcp_buf_init(&rec, HCP_RECORD_MAX);
    hcp_buf_init(&pii, HCP_RECORD_MAX);
    uint8_t salt[HCP_SALT_LEN], hdr[5] = {STORED_FMT};
    size_t start = out->len;
    int rc = hcp_random(salt, sizeof(salt));
    if (rc == HCP_OK)
        rc = hcp_case_encode(c, salt, &rec, &pii);
    hcp_be32_put(hdr + 1, (uint32_t)rec.len);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, hdr, sizeof(hdr));
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, rec.data, rec.len);
    if (rc == HCP_OK && pii.len > 0)
        rc = hcp_seal(s, c->id, strlen(c->id), pii.data, pii.len, out);
    if (rc != HCP_OK)
        out->len = start;
    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
    return rc;
}

int hcp_stored_case_unpack(hcp_sealer *s, const char *id, const void *v, size_t n, bool personal,
                           hcp_case *c)
{
    if (id == NULL || v == NULL || c == NULL || (personal && s == NULL))
        return HCP_EINVAL;
    const uint8_t *p = v;
    if (n < 5 || p[0] != STORED_FMT)
        return HCP_EFORMAT;
    uint32_t len = hcp_be32_get(p + 1);
    if (len > n - 5)
        return HCP_EFORMAT;
    int rc = hcp_case_decode(p + 5, len, c);
    size_t rest = n - 5 - len;
    if (rc != HCP_OK || !personal || rest == 0)
        return rc;
    hcp_buf pt;
    hcp_buf_init(&pt, HCP_RECORD_MAX);
    rc = hcp_unseal(s, id, strlen(id), p + 5 + len, rest, &pt);
    if (rc == HCP_OK)
        rc = hcp_case_decode_pii(pt.data, pt.len, c);
    hcp_buf_free(&pt);
    return rc;
}

int hcp_stored_event_pack(hcp_sealer *s, const char *county, uint64_t seq,
                          const uint8_t hash[HCP_HASH_LEN], const void *rec, size_t rec_len,
                          const void *pii, size_t pii_len, hcp_buf *out)
{
    if (county == NULL || strlen(county) != HCP_COUNTY_LEN || hash == NULL || rec == NULL ||
        out == NULL || rec_len > HCP_RECORD_MAX || (pii_len > 0 && (pii == NULL || s == NULL)))
        return HCP_EINVAL;
    uint8_t hdr[EVENT_HDR] = {STORED_FMT};
    memcpy(hdr + 1, hash, HCP_HASH_LEN);
    hcp_be32_put(hdr + 1 + HCP_HASH_LEN, (uint32_t)rec_len);
    size_t start = out->len;
    int rc = hcp_buf_append(out, hdr, sizeof(hdr));
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, rec, rec_len);
    if (rc == HCP_OK && pii_len > 0) {
        uint8_t aad[3 + HCP_COUNTY_LEN + 8];
        rc = hcp_seal(s, aad, log_aad(aad, county, seq), pii, pii_len, out);
    }
    if (rc != HCP_OK)
        out->len = start;
    return rc;
}

/* Unseal the personal record of a stored entry into pt. */
static int event_unseal(hcp_sealer *s, const char *county, uint64_t seq, const uint8_t *blob,
                        size_t n, hcp_buf *pt)
{
    if (s == NULL)
        return HCP_EINVAL;
    uint8_t aad[3 + HCP_COUNTY_LEN + 8];
    return hcp_unseal(s, aad, log_aad(aad, county, seq), blob, n, pt);
}

int hcp_stored_event_unpack(hcp_sealer *s, const char *county, uint64_t seq, const void *v,
                            size_t n, bool personal, uint8_t hash[HCP_HASH_LEN], hcp_buf *rec,
                            hcp_buf *pii, hcp_event *ev)
{
    if (county == NULL || strlen(county) != HCP_COUNTY_LEN || v == NULL)
        return HCP_EINVAL;
    const uint8_t *p = v;
    if (n < EVENT_HDR || p[0] != STORED_FMT)
        return HCP_EFORMAT;
    uint32_t len = hcp_be32_get(p + 1 + HCP_HASH_LEN);
    if (len > n - EVENT_HDR)
        return HCP_EFORMAT;
    const uint8_t *body = p + EVENT_HDR, *sealed = body + len;
    size_t rest = n - EVENT_HDR - len;
    if (hash != NULL)
        memcpy(hash, p + 1, HCP_HASH_LEN);
    int rc = rec != NULL ? hcp_buf_append(rec, body, len) : HCP_OK;
    if (rc == HCP_OK && ev != NULL)
        rc = hcp_event_decode(body, len, ev);
    bool want_pii = pii != NULL || (ev != NULL && personal);
    if (rc != HCP_OK || !want_pii || rest == 0)
        return rc;
    hcp_buf pt;
    hcp_buf_init(&pt, HCP_RECORD_MAX);
    rc = event_unseal(s, county, seq, sealed, rest, &pt);
    if (rc == HCP_OK && ev != NULL && personal)
        rc = hcp_event_decode_pii(pt.data, pt.len, ev);
    if (rc == HCP_OK && pii != NULL)
        rc = hcp_buf_append(pii, pt.data, pt.len);
    hcp_buf_free(&pt);
    return rc;
}
