/*
 * feed_entry.c — the feed's entries from a case (feed_entry.h): the pure
 * half of the disclosure feed. Built once per change of a case, when the
 * writer commits it; rendered (JSON or Atom) from the stored bytes.
 */
#include "feed_entry.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "calver.h"
#include "division.h"
#include "json.h"
#include "redact.h"
#include "be.h"
#include "rules.h"

#define FEED_KNOWN_MAX 12

/* ---- building an entry ---- */

/* The phrase of a resolved or closed case: the outcome decides it. */
static const char *closed_note(const hcp_case *c)
{
    if (c->outcome == HCP_OUT_UNSUBSTANTIATED)
        return "经核实不属实，已反馈核实结果";
    if (c->outcome == HCP_OUT_SUBSTANTIATED)
        return c->revisited_at != 0 ? "已反馈整改结果，已回访" : "已反馈整改结果";
    return "已办结";
}

/* One fixed phrase per status, so the public sees where a case stands
 * without any free text. */
const char *gw_feed_entry_status_note(const hcp_case *c)
{
    if (c->outcome == HCP_OUT_MISTAKEN)
        return "经复核为误评，不予采纳";
    if (c->outcome == HCP_OUT_MALICIOUS)
        return "经复核为恶意差评，不予采纳";
    bool subst = c->outcome == HCP_OUT_SUBSTANTIATED;
    switch (c->status) {
    case HCP_ST_RECEIVED:
        return "已受理，等待核实";
    case HCP_ST_VERIFYING:
        return "已受理，正在核实";
    case HCP_ST_DISPUTED:
        return "工作人员申请复核，正在复核";
    case HCP_ST_RECTIFYING:
        return "经核实属实，正在整改";
    case HCP_ST_FEEDBACK_PENDING:
        return subst ? "整改完成，正在反馈整改结果" : "经核实不属实，正在反馈核实结果";
    case HCP_ST_AWAITING_REVISIT:
        return "已反馈整改结果，等待回访";
    case HCP_ST_RESOLVED:
    case HCP_ST_CLOSED:
        return closed_note(c);
    default:
        return "已受理";
    }
}

/* deadline_met is stored as of the build; this is when it would turn
 * false by time alone, so the routes can show it right without a rebuild. */
hcp_time gw_feed_entry_flip_at(const hcp_case *c)
{
    hcp_time t = 0;
    if (!c->adopted)
        return 0;
    if (c->feedback_at == 0 && c->feedback_due.at != 0)
        t = c->feedback_due.at;
    if (c->disputed_at != 0 && c->decided_at == 0 && (t == 0 || c->rereview_due.at < t))
        t = c->rereview_due.at;
    return t;
}

/* The personal strings of c (borrowed from it) to mask wherever they
 * appear in the entry's free texts. */
static size_t known_of(const hcp_case *c, const char *k[FEED_KNOWN_MAX])
{
    const char *all[] = {c->in.complainant.name,
                         c->in.complainant.phone,
                         c->in.complainant.id_number,
                         c->in.complainant.organization,
                         c->in.staff.name,
                         c->in.staff.phone,
                         c->in.staff.id,
                         c->verifier.name,
                         c->verifier.phone};
    size_t n = 0;
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]) && n < FEED_KNOWN_MAX; i++)
        if (all[i] != NULL && all[i][0] != '\0')
            k[n++] = all[i];
    return n;
}

/* A redacted copy of free text s as JSON (null for NULL); NULL on failure
 * (json_pack then fails as a whole). */
static json_t *red(const char *s, const char *const *known, size_t nk)
{
    if (s == NULL)
        return json_null();
    char *r = hcp_redact_dup(s, known, nk);
    json_t *j = r != NULL ? json_string(r) : NULL;
    free(r);
    return j;
}

/* A name of an enum table as JSON (null for 0 or out of range). */
static json_t *name_of(const char *const *names, int count, int v)
{
    return v > 0 && v < count && names[v] != NULL ? json_string(names[v]) : json_null();
}

/* The dimension names of a bit set, in table order; NULL on failure. */
static json_t *dimensions_json(uint32_t dims)
{
    json_t *a = json_array();
    for (int d = 1; a != NULL && d < HCP_DIM_COUNT_; d++)
        if ((dims & HCP_DIM_BIT(d)) != 0 &&
            json_array_append_new(a, json_string(hcp_dimension_names[d])) != 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

/* Whether c is done with (the feed's "closed"). */
static bool is_closed(const hcp_case *c)
{
    return c->status == HCP_ST_RESOLVED || c->status == HCP_ST_CLOSED;
}

/* The GeoReport v2 members hcp has no value for, always present as null
 * so that an Open311 client finds every member it knows. */
static const char *const geo_nulls[] = {
    "service_notice", "address", "address_id", "zipcode", "lat", "long", "media_url"};

/* Add GeoReport v2's "description" (desc, stolen: the masked content) and
 * the members of geo_nulls to entry o (stolen); the entry, or NULL when
 * either is NULL or memory ran out (both freed). */
static json_t *geo_fields(json_t *o, json_t *desc)
{
    if (o == NULL || desc == NULL) {
        json_decref(o);
        json_decref(desc);
        return NULL;
    }
    /* json_object_set_new takes its value even when it fails */
    bool ok = json_object_set_new(o, "description", desc) == 0;
    for (size_t i = 0; ok && i < sizeof(geo_nulls) / sizeof(geo_nulls[0]); i++)
        ok = json_object_set_new(o, geo_nulls[i], json_null()) == 0;
    if (!ok) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *gw_feed_entry_json(const hcp_case *c)
{
    if (c == NULL)
        return NULL;
    const char *known[FEED_KNOWN_MAX];
    size_t nk = known_of(c, known);
    const hcp_coded *agency = c->rectify_unit.name != NULL ? &c->rectify_unit : &c->in.unit;
    const hcp_division *d = hcp_division_find(c->county);
    /* "o" members are stolen by json_pack even when it fails: nothing leaks */
    json_t *o = json_pack(
        "{ss ss ss so so so so so so so so ss so so so so so so sb sb so}", "service_request_id",
        c->id, "status", is_closed(c) ? "closed" : "open", "status_notes",
        gw_feed_entry_status_note(c), "service_code", red(c->in.service_item.code, known, nk),
        "service_name", red(c->in.service_item.name, known, nk), "agency_responsible",
        red(agency->name, known, nk), "requested_datetime", hcp_json_time(c->received_at),
        "updated_datetime", hcp_json_time(hcp_case_updated_at(c)), "step_datetime",
        hcp_json_time(c->last_at), "recorded_datetime", hcp_json_time(c->last_recorded_at),
        "expected_datetime", hcp_json_time(c->feedback_due.at), "county", c->county, "county_name",
        d != NULL ? json_string(d->name) : json_null(), "kind",
        name_of(hcp_kind_names, HCP_KIND_COUNT_, c->in.kind), "channel",
        name_of(hcp_channel_names, HCP_CH_COUNT_, c->in.channel), "dimensions",
        dimensions_json(c->in.dimensions), "outcome",
        name_of(hcp_outcome_names, HCP_OUT_COUNT_, c->outcome), "rectification_result",
        red(c->rectification_result, known, nk), "revisited", c->revisited_at != 0,
        "deadline_provisional", hcp_case_provisional(c), "deadline_note",
        hcp_case_provisional(c) ? json_string(GW_FEED_PROVISIONAL_NOTE) : json_null());
    return geo_fields(o, red(c->in.content, known, nk));
}

int gw_feed_entry_value(const hcp_case *c, hcp_time now, hcp_buf *out)
{
    if (c == NULL || out == NULL)
        return HCP_EINVAL;
    json_t *j = gw_feed_entry_json(c);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (text == NULL)
        return HCP_ENOMEM;
    uint8_t hdr[GW_FEED_HDR] = {GW_FEED_FORMAT, 0};
    hdr[1] = (uint8_t)((is_closed(c) ? GW_FEED_CLOSED : 0) |
                       (hcp_case_deadline_met(c, now) ? GW_FEED_MET : 0));
    hcp_be64_put(hdr + 2, (uint64_t)c->received_at);
    hcp_be64_put(hdr + 10, (uint64_t)gw_feed_entry_flip_at(c));
    hcp_buf_reset(out);
    int rc = hcp_buf_append(out, hdr, sizeof(hdr));
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, text, strlen(text));
    free(text);
    return rc;
}

/* ---- reading a stored value ---- */

int gw_feed_value_parse(const void *v, size_t len, gw_feed_meta *out)
{
    if (v == NULL || out == NULL)
        return HCP_EINVAL;
    const uint8_t *p = v;
    if (len < GW_FEED_HDR + 2)
        return HCP_EFORMAT;
    out->closed = (p[1] & GW_FEED_CLOSED) != 0;
    out->met = (p[1] & GW_FEED_MET) != 0;
    out->received_at = (hcp_time)hcp_be64_get(p + 2);
    out->flip_at = (hcp_time)hcp_be64_get(p + 10);
    if (p[0] == GW_FEED_FORMAT_LEAF) {
        if (len != GW_FEED_HDR + 8)
            return HCP_EFORMAT;
        out->is_leaf = true;
        out->leaf = hcp_be64_get(p + GW_FEED_HDR);
        out->json = NULL;
        out->json_len = 0;
        return HCP_OK;
    }
    const char *json = (const char *)p + GW_FEED_HDR;
    size_t n = len - GW_FEED_HDR;
    if (p[0] != GW_FEED_FORMAT || json[0] != '{' || json[n - 1] != '}')
        return HCP_EFORMAT;
    out->is_leaf = false;
    out->leaf = 0;
    out->json = json;
    out->json_len = n;
    return HCP_OK;
}

int gw_feed_value_to_leaf(hcp_buf *v, uint64_t leaf)
{
    if (v == NULL || v->len < GW_FEED_HDR + 2 || v->data[0] != GW_FEED_FORMAT)
        return HCP_EFORMAT;
    uint8_t lb[8];
    hcp_be64_put(lb, leaf);
    v->data[0] = GW_FEED_FORMAT_LEAF;
    v->len = GW_FEED_HDR;
    return hcp_buf_append(v, lb, sizeof(lb));
}

bool gw_feed_meta_met_at(const gw_feed_meta *m, hcp_time now)
{
    return m->met && !(m->flip_at != 0 && now > m->flip_at);
}

/* ---- rendering a stored entry ---- */

/* Append a NUL-terminated string. */
static int put_s(hcp_buf *b, const char *s)
{
    return hcp_buf_append(b, s, strlen(s));
}

int gw_feed_entry_json_append(hcp_buf *out, const char *json, size_t len, bool met)
{
    if (out == NULL || json == NULL || len < 2 || json[len - 1] != '}')
        return HCP_EFORMAT;
    int rc = hcp_buf_append(out, json, len - 1); /* without its '}' */
    if (rc == HCP_OK)
        rc = put_s(out, met ? ",\"deadline_met\":true}" : ",\"deadline_met\":false}");
    return rc;
}

/* The entity of an XML special character, or NULL. */
static const char *xml_entity(uint32_t cp)
{
    switch (cp) {
    case '&':
        return "&amp;";
    case '<':
        return "&lt;";
    case '>':
        return "&gt;";
    case '"':
        return "&quot;";
    case '\'':
        return "&apos;";
    default:
        return NULL;
    }
}

/* Entries built since the redaction cleans its text hold nothing XML
 * cannot carry, but an entry stored before that must not make the whole
 * document ill-formed either: so the Atom drops such characters again. */
int gw_feed_xml_append(hcp_buf *out, const char *s)
{
    int rc = HCP_OK;
    size_t n = s != NULL ? strlen(s) : 0, k;
    for (size_t i = 0; i < n && rc == HCP_OK; i += k) {
        uint32_t cp;
        k = hcp_text_next(s + i, n - i, &cp);
        const char *ent = xml_entity(cp);
        if (ent != NULL)
            rc = put_s(out, ent);
        else if (cp != HCP_TEXT_BAD && hcp_text_publishable(cp))
            rc = hcp_buf_append(out, s + i, k);
    }
    return rc;
}

/* A string member of o, or dflt. */
static const char *str_of(const json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s != NULL ? s : dflt;
}

/* The text content of an Atom entry: labelled lines, then whether the
 * deadlines were kept. */
static int atom_content(hcp_buf *b, const json_t *o, bool met)
{
    static const char *const rows[][2] = {
        {"地区", "county_name"},
        {"事项", "service_name"},
        {"责任单位", "agency_responsible"},
        {"受理时间", "requested_datetime"},
        {"办理期限", "expected_datetime"},
        {"期限说明", "deadline_note"},
        {"办理状态", "status_notes"},
        {"整改结果", "rectification_result"},
    };
    int rc = HCP_OK;
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]) && rc == HCP_OK; i++) {
        const char *v = str_of(o, rows[i][1], NULL);
        if (v == NULL)
            continue;
        rc = gw_feed_xml_append(b, rows[i][0]);
        if (rc == HCP_OK)
            rc = put_s(b, "：");
        if (rc == HCP_OK)
            rc = gw_feed_xml_append(b, v);
        if (rc == HCP_OK)
            rc = put_s(b, "\n");
    }
    if (rc == HCP_OK)
        rc = put_s(b, met ? "按期办理：是" : "按期办理：否");
    return rc;
}

/* Whether id may go into the markup as it is (it always is a case id the
 * store keyed: this guards the document against a damaged key). */
static bool id_plain(const char *id)
{
    size_t n = strnlen(id, HCP_CASE_ID_MAX);
    if (n == 0 || n >= HCP_CASE_ID_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (id[i] <= ' ' || id[i] > '~' || xml_entity((unsigned char)id[i]) != NULL)
            return false;
    return true;
}

/* The entry's head up to the content: id, title, updated, the JSON link,
 * then the readable case page (docs/page.md), last so that readers taking
 * the last alternate link open the page; relative to the feed's URL (the
 * page sits one level up, at a gateway or a published copy alike). */
static int atom_head(hcp_buf *b, const char *id, hcp_time updated, const json_t *o)
{
    char head[384];
    snprintf(head, sizeof(head), "<entry><id>urn:hcp:case:%s:%lld</id><title>", id,
             (long long)updated);
    int rc = put_s(b, head);
    if (rc == HCP_OK)
        rc = gw_feed_xml_append(b, id);
    if (rc == HCP_OK)
        rc = put_s(b, " ");
    if (rc == HCP_OK)
        rc = gw_feed_xml_append(b, str_of(o, "status_notes", ""));
    if (rc == HCP_OK)
        rc = put_s(b, "</title><updated>");
    if (rc == HCP_OK)
        rc = gw_feed_xml_append(b, str_of(o, "updated_datetime", ""));
    snprintf(head, sizeof(head),
             "</updated><link rel=\"alternate\" type=\"application/json\" "
             "href=\"/feed/requests.json?service_request_id=%s\"/><link rel=\"alternate\" "
             "type=\"text/html\" href=\"../case.html?id=%s\"/><content type=\"text\">",
             id, id);
    if (rc == HCP_OK)
        rc = put_s(b, head);
    return rc;
}

int gw_feed_entry_atom_append(hcp_buf *out, const char *id, hcp_time updated, const char *json,
                              size_t len, bool met)
{
    if (out == NULL || id == NULL || json == NULL || !id_plain(id))
        return HCP_EFORMAT;
    json_t *o = json_loadb(json, len, 0, NULL);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        return HCP_EFORMAT;
    }
    int rc = atom_head(out, id, updated, o);
    if (rc == HCP_OK)
        rc = atom_content(out, o, met);
    if (rc == HCP_OK)
        rc = put_s(out, "</content></entry>\n");
    json_decref(o);
    return rc;
}
