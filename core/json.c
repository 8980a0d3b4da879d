/*
 * json.c — the HTTP API's JSON to and from the model,
 * with jansson. Reading is strict: every field is checked for type, length
 * and enum membership, and unknown keys are refused, so a misspelt field is
 * never silently dropped. Writing builds jansson values; nothing here prints
 * JSON by hand.
 *
 * Error convention: 400 malformed JSON / invalid UTF-8 (HCP_EFORMAT /
 * HCP_EUTF8), 413 oversize body (HCP_ERANGE), 422 a missing, mistyped,
 * out-of-range, unknown-enum or unknown field (HCP_EINVAL), 500 allocation
 * failure (HCP_ENOMEM). err->field is the JSON path, err->detail an English
 * sentence; both are always valid UTF-8 so they can go back in a JSON answer.
 */
#include "json.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "redact.h"
#include "rules.h"

#define NAMES(t) (t), (int)(sizeof(t) / sizeof((t)[0]))
#define ECHO_MAX 48 /* bytes of a client's value or key echoed in a detail */

/* o when every field went in, else NULL (o released): the end of each
 * object builder below. */
static json_t *finish(json_t *o, bool ok)
{
    if (ok)
        return o;
    json_decref(o);
    return NULL;
}

/* ---------------------------------------------------------------- errors */

/* Cut s back so that it does not end in a partial UTF-8 sequence (after a
 * truncating snprintf). s is NUL-terminated and otherwise valid. */
static void utf8_trim_tail(char *s)
{
    size_t len = strlen(s);
    size_t p = len;
    while (p > 0 && len - p < 4 && ((unsigned char)s[p - 1] & 0xC0) == 0x80)
        p--;
    if (p == 0)
        return;
    unsigned char lead = (unsigned char)s[p - 1];
    size_t need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (len - (p - 1) < need)
        s[p - 1] = '\0';
}

/* How many bytes of s (at most max) to echo without splitting a UTF-8
 * sequence; s is valid UTF-8 (jansson guarantees it for keys and strings). */
static int echo_len(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n <= max)
        return (int)n;
    n = max; /* s[n] is the first byte left out: back up to a lead byte */
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return (int)n;
}

/* Fill *err (status, field, printf-style detail) and return code. The
 * texts are trimmed to whole UTF-8 sequences; a text that is still not
 * valid UTF-8 is replaced by a neutral one. */
static int fail(hcp_json_err *err, int status, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int fail(hcp_json_err *err, int status, int code, const char *field, const char *fmt, ...)
{
    err->status = status;
    snprintf(err->field, sizeof(err->field), "%s", field != NULL ? field : "");
    utf8_trim_tail(err->field);
    if (!hcp_utf8_valid(err->field, strlen(err->field)))
        err->field[0] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof(err->detail), fmt, ap);
    va_end(ap);
    utf8_trim_tail(err->detail);
    if (!hcp_utf8_valid(err->detail, strlen(err->detail)))
        snprintf(err->detail, sizeof(err->detail), "the request is not valid");
    return code;
}

/* A 422 for the field at path. */
#define INVALID(err, path, ...) fail(err, 422, HCP_EINVAL, path, __VA_ARGS__)

/* Allocation failure while reading: 500, nothing to name. */
static int no_memory(hcp_json_err *err)
{
    return fail(err, 500, HCP_ENOMEM, "", "out of memory");
}

/* Reset *err to "no error". */
static void err_clear(hcp_json_err *err)
{
    memset(err, 0, sizeof(*err));
    err->status = 200;
}

/* Append s to the used bytes of path (n bytes with the NUL), cut at the
 * buffer's end as snprintf would; the new length. */
static size_t path_put(char *path, size_t n, size_t used, const char *s)
{
    size_t len = strlen(s), room = n - 1 - used;
    if (len > room)
        len = room;
    memcpy(path + used, s, len);
    return used + len;
}

/* path = prefix "." key (or key alone at the top), trimmed to the buffer.
 * Every field read builds its path (the messages name it), so this is on
 * the path of every request: plain copies, not snprintf. */
static void path_key(char *path, size_t n, const char *prefix, const char *key)
{
    if (n == 0)
        return;
    size_t used = 0;
    if (prefix[0] != '\0') {
        used = path_put(path, n, used, prefix);
        used = path_put(path, n, used, ".");
    }
    used = path_put(path, n, used, key);
    path[used] = '\0';
    utf8_trim_tail(path);
}

/* path = prefix "[" i "]" */
static void path_index(char *path, size_t n, const char *prefix, size_t i)
{
    snprintf(path, n, "%s[%zu]", prefix, i);
    utf8_trim_tail(path);
}

/* ---------------------------------------------------------------- load */

/* The jansson parse error as a 400 (HCP_EUTF8 for bad UTF-8, else
 * HCP_EFORMAT), with jansson's text and position. */
static int load_error(const json_error_t *je, hcp_json_err *err)
{
    enum json_error_code jc = json_error_code(je);
    if (jc == json_error_out_of_memory)
        return no_memory(err);
    int code = jc == json_error_invalid_utf8 ? HCP_EUTF8 : HCP_EFORMAT;
    return fail(err, 400, code, "", "%s (line %d, column %d, byte %d)", je->text, je->line,
                je->column, je->position);
}

/* Body bytes are borrowed for the call; *out is a new reference the caller
 * decrefs, set only on success. Any JSON value parses (so that a scalar
 * body gets the 422 "must be an object" rather than a parse error). */
int hcp_json_load(const char *body, size_t n, json_t **out, hcp_json_err *err)
{
    if (out == NULL || err == NULL || (body == NULL && n > 0))
        return HCP_EINVAL;
    *out = NULL;
    err_clear(err);
    if (n > HCP_BODY_MAX)
        return fail(err, 413, HCP_ERANGE, "", "the body is %zu bytes, more than the %d allowed", n,
                    HCP_BODY_MAX);
    json_error_t je;
    json_t *v =
        json_loadb(body != NULL ? body : "", n, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (v == NULL)
        return load_error(&je, err);
    if (!json_is_object(v)) {
        json_decref(v);
        return INVALID(err, "", "body must be a JSON object");
    }
    *out = v;
    return HCP_OK;
}

/* ---------------------------------------------------------------- readers */

/* Refuse any key of obj not in allowed (NULL-terminated). prefix is the
 * path of obj ("" at the top). */
static int check_keys(const json_t *obj, const char *prefix, const char *const *allowed,
                      hcp_json_err *err)
{
    const char *key;
    json_t *v;
    /* jansson's iterator API takes a non-const object; nothing is changed */
    json_object_foreach((json_t *)obj, key, v)
    {
        bool known = false;
        for (size_t i = 0; allowed[i] != NULL && !known; i++)
            known = strcmp(key, allowed[i]) == 0;
        if (!known) {
            char path[sizeof(err->field)];
            path_key(path, sizeof(path), prefix, key);
            return INVALID(err, path, "unknown field \"%.*s\"", echo_len(key, ECHO_MAX), key);
        }
    }
    return HCP_OK;
}

/* The value at prefix.key: NULL when absent or JSON null. *path receives
 * the field's path for messages. */
static const json_t *field(const json_t *obj, const char *prefix, const char *key, char *path,
                           size_t n)
{
    path_key(path, n, prefix, key);
    const json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

/* Whether a short field (a name, code, phone: one line) holds only
 * characters that can be published and no tab or line break: such a
 * character is never meant there, and refusing it here keeps it out of
 * the feed's XML from the start (the feed drops it from older data too). */
static bool short_text_ok(const char *s, size_t len)
{
    uint32_t cp;
    for (size_t i = 0, k; i < len; i += k) {
        k = hcp_text_next(s + i, len - i, &cp);
        if (cp == HCP_TEXT_BAD || cp < 0x20 || !hcp_text_publishable(cp))
            return false;
    }
    return true;
}

/* A string field: *out becomes a heap copy (NULL when absent and not
 * required). Required strings must not be empty; max is in bytes. */
static int get_str(const json_t *obj, const char *prefix, const char *key, bool required,
                   size_t max, char **out, hcp_json_err *err)
{
    char path[sizeof(err->field)];
    const json_t *v = field(obj, prefix, key, path, sizeof(path));
    *out = NULL;
    if (v == NULL)
        return required ? INVALID(err, path, "%s is required", path) : HCP_OK;
    if (!json_is_string(v))
        return INVALID(err, path, "%s must be a string", path);
    const char *s = json_string_value(v);
    size_t len = json_string_length(v);
    if (!hcp_utf8_valid(s, len))
        return INVALID(err, path, "%s must be UTF-8 text without NUL characters", path);
    if (len > max)
        return INVALID(err, path, "%s is %zu bytes long, more than the %zu allowed", path, len,
                       max);
    if (max <= HCP_SHORT_MAX && !short_text_ok(s, len))
        return INVALID(err, path,
                       "%s must not hold control characters (tab and line breaks included) "
                       "or Unicode non-characters",
                       path);
    if (required && len == 0)
        return INVALID(err, path, "%s must not be empty", path);
    *out = hcp_strndup(s, len);
    return *out != NULL ? HCP_OK : no_memory(err);
}

/* A sub-object field with its allowed keys checked: *out is NULL when
 * absent or null (an error if required). Borrowed from obj. */
static int get_obj(const json_t *obj, const char *prefix, const char *key, bool required,
                   const char *const *allowed, const json_t **out, hcp_json_err *err)
{
    char path[sizeof(err->field)];
    const json_t *v = field(obj, prefix, key, path, sizeof(path));
    *out = NULL;
    if (v == NULL)
        return required ? INVALID(err, path, "%s is required", path) : HCP_OK;
    if (!json_is_object(v))
        return INVALID(err, path, "%s must be an object%s", path, required ? "" : " or null");
    *out = v;
    return check_keys(v, path, allowed, err);
}

/* Append "a, b, c" (the names of table) to buf. */
static void names_list(char *buf, size_t n, const char *const *names, int count)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int i = 1; i < count && used < n; i++) {
        int w = snprintf(buf + used, n - used, "%s%s", i > 1 ? ", " : "", names[i]);
        if (w < 0)
            return;
        used += (size_t)w;
    }
}

/* An enum field named by table: *out is its value, 0 when absent and not
 * required. */
static int get_enum(const json_t *obj, const char *prefix, const char *key, bool required,
                    const char *const *names, int count, int *out, hcp_json_err *err)
{
    char path[sizeof(err->field)];
    const json_t *v = field(obj, prefix, key, path, sizeof(path));
    *out = 0;
    if (v == NULL)
        return required ? INVALID(err, path, "%s is required", path) : HCP_OK;
    if (!json_is_string(v))
        return INVALID(err, path, "%s must be a string", path);
    const char *s = json_string_value(v);
    *out = hcp_name_lookup(names, count, s, json_string_length(v));
    if (*out != 0)
        return HCP_OK;
    char list[160];
    names_list(list, sizeof(list), names, count);
    return INVALID(err, path, "%s \"%.*s\" is not one of: %s", path, echo_len(s, ECHO_MAX), s,
                   list);
}

/* A required boolean field. */
static int get_bool(const json_t *obj, const char *prefix, const char *key, bool *out,
                    hcp_json_err *err)
{
    char path[sizeof(err->field)];
    const json_t *v = field(obj, prefix, key, path, sizeof(path));
    if (v == NULL)
        return INVALID(err, path, "%s is required", path);
    if (!json_is_boolean(v))
        return INVALID(err, path, "%s must be true or false", path);
    *out = json_is_true(v);
    return HCP_OK;
}

/* The optional "at": an RFC 3339 date-time with offset, not before the
 * regulation took effect (HCP_AT_MIN): an older date would make a case
 * disclosed and overdue for ever; 0 when absent. */
static int get_at(const json_t *obj, hcp_time *out, hcp_json_err *err)
{
    char path[sizeof(err->field)];
    const json_t *v = field(obj, "", "at", path, sizeof(path));
    *out = 0;
    if (v == NULL)
        return HCP_OK;
    if (!json_is_string(v) ||
        hcp_time_parse(json_string_value(v), json_string_length(v), out) != HCP_OK) {
        *out = 0;
        return INVALID(err, path,
                       "at must be an RFC 3339 date-time with an offset, "
                       "e.g. 2026-11-27T10:03:00+08:00");
    }
    if (*out < HCP_AT_MIN) {
        *out = 0;
        return INVALID(err, path,
                       "at must not be before 2022-05-01T00:00:00+08:00, when the "
                       "regulation took effect");
    }
    return HCP_OK;
}

static const char *const coded_keys[] = {"code", "name", NULL};

/* A {code, name} object, both required; strings are heap copies in *out. */
static int get_coded(const json_t *obj, const char *prefix, const char *key, hcp_coded *out,
                     hcp_json_err *err)
{
    const json_t *v;
    int rc = get_obj(obj, prefix, key, true, coded_keys, &v, err);
    if (rc != HCP_OK)
        return rc;
    char path[sizeof(err->field)];
    path_key(path, sizeof(path), prefix, key);
    rc = get_str(v, path, "code", true, HCP_SHORT_MAX, &out->code, err);
    if (rc != HCP_OK)
        return rc;
    return get_str(v, path, "name", true, HCP_SHORT_MAX, &out->name, err);
}

/* ---------------------------------------------------------------- intake */

static const char *const eval_keys[] = {"unit",    "window", "staff",      "service_item",
                                        "channel", "rating", "dimensions", "complainant",
                                        "content", "at",     NULL};
static const char *const case_keys[] = {"unit",    "window", "staff",      "service_item",
                                        "channel", "rating", "dimensions", "complainant",
                                        "content", "at",     "kind",       NULL};
static const char *const staff_keys[] = {"id", "name", "phone", NULL};
static const char *const person_keys[] = {"name", "phone", "id_number", "organization", NULL};

/* staff: optional {id, name, phone?}; id and name required when given. */
static int read_staff(const json_t *obj, hcp_staff *st, hcp_json_err *err)
{
    const json_t *v;
    int rc = get_obj(obj, "", "staff", false, staff_keys, &v, err);
    if (rc != HCP_OK || v == NULL)
        return rc;
    rc = get_str(v, "staff", "id", true, HCP_SHORT_MAX, &st->id, err);
    if (rc == HCP_OK)
        rc = get_str(v, "staff", "name", true, HCP_SHORT_MAX, &st->name, err);
    if (rc == HCP_OK)
        rc = get_str(v, "staff", "phone", false, HCP_SHORT_MAX, &st->phone, err);
    return rc;
}

/* complainant: {name, phone, id_number, organization} (each optional) or
 * null / absent for an anonymous one. */
static int read_complainant(const json_t *obj, hcp_intake *in, hcp_json_err *err)
{
    const json_t *v;
    int rc = get_obj(obj, "", "complainant", false, person_keys, &v, err);
    if (rc != HCP_OK || v == NULL)
        return rc;
    in->has_complainant = true;
    hcp_person *p = &in->complainant;
    rc = get_str(v, "complainant", "name", false, HCP_SHORT_MAX, &p->name, err);
    if (rc == HCP_OK)
        rc = get_str(v, "complainant", "phone", false, HCP_SHORT_MAX, &p->phone, err);
    if (rc == HCP_OK)
        rc = get_str(v, "complainant", "id_number", false, HCP_SHORT_MAX, &p->id_number, err);
    if (rc == HCP_OK)
        rc = get_str(v, "complainant", "organization", false, HCP_SHORT_MAX, &p->organization, err);
    return rc;
}

/* dimensions: an optional array of distinct dimension names (may be
 * empty) into the bit set in->dimensions. */
static int read_dimensions(const json_t *obj, hcp_intake *in, hcp_json_err *err)
{
    char path[sizeof(err->field)];
    const json_t *arr = field(obj, "", "dimensions", path, sizeof(path));
    if (arr == NULL)
        return HCP_OK;
    if (!json_is_array(arr))
        return INVALID(err, path, "dimensions must be an array of dimension names");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        const json_t *v = json_array_get(arr, i);
        path_index(path, sizeof(path), "dimensions", i);
        if (!json_is_string(v))
            return INVALID(err, path, "%s must be a string", path);
        const char *s = json_string_value(v);
        int d = HCP_LOOKUP(hcp_dimension_names, s, json_string_length(v));
        if (d == 0) {
            char list[160];
            names_list(list, sizeof(list), NAMES(hcp_dimension_names));
            return INVALID(err, path, "%s \"%.*s\" is not one of: %s", path, echo_len(s, ECHO_MAX),
                           s, list);
        }
        if (in->dimensions & HCP_DIM_BIT(d))
            return INVALID(err, path, "%s repeats \"%s\"", path, hcp_dimension_names[d]);
        in->dimensions |= HCP_DIM_BIT(d);
    }
    return HCP_OK;
}

/* rating: an integer 1..5, required for an evaluation and a review,
 * refused for a complaint (null is taken as absent). */
static int read_rating(const json_t *obj, hcp_intake *in, hcp_json_err *err)
{
    char path[sizeof(err->field)];
    const json_t *v = field(obj, "", "rating", path, sizeof(path));
    if (in->kind == HCP_KIND_COMPLAINT)
        return v == NULL ? HCP_OK
                         : INVALID(err, path, "rating is given only for a review, not a complaint");
    if (v == NULL)
        return INVALID(err, path, "rating is required");
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > 5)
        return INVALID(err, path, "rating must be an integer from 1 to 5");
    in->rating = (uint8_t)json_integer_value(v);
    return HCP_OK;
}

/* kind (cases only): "review" or "complaint", required. */
static int read_kind(const json_t *obj, hcp_intake *in, hcp_json_err *err)
{
    int kind;
    int rc = get_enum(obj, "", "kind", true, NAMES(hcp_kind_names), &kind, err);
    in->kind = (uint8_t)kind;
    return rc;
}

/* The where/who of an intake: unit, window, staff, service_item, channel. */
static int read_where(const json_t *obj, hcp_intake *in, hcp_json_err *err)
{
    int rc = get_coded(obj, "", "unit", &in->unit, err);
    if (rc == HCP_OK)
        rc = get_str(obj, "", "window", false, HCP_SHORT_MAX, &in->window, err);
    if (rc == HCP_OK)
        rc = read_staff(obj, &in->staff, err);
    if (rc == HCP_OK)
        rc = get_coded(obj, "", "service_item", &in->service_item, err);
    int channel = 0;
    if (rc == HCP_OK)
        rc = get_enum(obj, "", "channel", true, NAMES(hcp_channel_names), &channel, err);
    in->channel = (uint8_t)channel;
    return rc;
}

/* obj is borrowed; *in and *at are the caller's (strings in *in are heap
 * copies the caller releases with hcp_intake_clear, also after an error). */
int hcp_json_read_intake(const json_t *obj, bool is_case, hcp_intake *in, hcp_time *at,
                         hcp_json_err *err)
{
    if (in == NULL || at == NULL || err == NULL)
        return HCP_EINVAL;
    memset(in, 0, sizeof(*in));
    *at = 0;
    err_clear(err);
    if (!json_is_object(obj))
        return INVALID(err, "", "body must be a JSON object");
    int rc = check_keys(obj, "", is_case ? case_keys : eval_keys, err);
    if (rc == HCP_OK && is_case)
        rc = read_kind(obj, in, err);
    if (rc == HCP_OK)
        rc = read_where(obj, in, err);
    if (rc == HCP_OK)
        rc = read_rating(obj, in, err);
    if (rc == HCP_OK)
        rc = read_dimensions(obj, in, err);
    if (rc == HCP_OK)
        rc = read_complainant(obj, in, err);
    if (rc == HCP_OK)
        rc = get_str(obj, "", "content", true, HCP_TEXT_MAX, &in->content, err);
    if (rc == HCP_OK)
        rc = get_at(obj, at, err);
    return rc;
}

/* ---------------------------------------------------------------- steps */

/* The keys each step type may carry beside "type" and "at"; index is the
 * type, NULL for the types a client may not post. */
static const char *const step_keys[HCP_EV_COUNT_][7] = {
    [HCP_EV_VERIFY_START] = {"type", "at", "verifier", NULL},
    [HCP_EV_NOTIFY_STAFF] = {"type", "at", NULL},
    [HCP_EV_VERIFY_CONCLUDE] = {"type", "at", "outcome", "note", NULL},
    [HCP_EV_DISPUTE_FILE] = {"type", "at", "by", "reason", "document", "staff_explanation", NULL},
    [HCP_EV_DISPUTE_DECIDE] = {"type", "at", "outcome", "note", "unit_explanation", NULL},
    [HCP_EV_RECTIFY_ASSIGN] = {"type", "at", "unit", "mode", NULL},
    [HCP_EV_RECTIFY_EXTEND] = {"type", "at", "reason", "new_due", NULL},
    [HCP_EV_RECTIFY_DONE] = {"type", "at", "result", NULL},
    [HCP_EV_FEEDBACK] = {"type", "at", "via", "text", NULL},
    [HCP_EV_REVISIT] = {"type", "at", "by", "satisfied", "note", NULL},
    [HCP_EV_CLOSE] = {"type", "at", "decision", NULL},
    [HCP_EV_CORRECTION_ANSWER] = {"type", "at", "directive", "text", NULL},
};

static const char *const contact_keys[] = {"name", "phone", NULL};

/* verify_start {verifier: {name, phone}} */
static int read_verify_start(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    const json_t *v;
    int rc = get_obj(obj, "", "verifier", true, contact_keys, &v, err);
    if (rc == HCP_OK)
        rc = get_str(v, "verifier", "name", true, HCP_SHORT_MAX, &ev->verifier.name, err);
    if (rc == HCP_OK)
        rc = get_str(v, "verifier", "phone", true, HCP_SHORT_MAX, &ev->verifier.phone, err);
    return rc;
}

/* verify_conclude {outcome: substantiated|unsubstantiated, note?} */
static int read_verify_conclude(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    /* the first two of enum hcp_outcome: a verification concludes only these */
    _Static_assert(HCP_OUT_SUBSTANTIATED == 1 && HCP_OUT_UNSUBSTANTIATED == 2, "outcome order");
    static const char *const names[] = {NULL, "substantiated", "unsubstantiated"};
    int out = 0;
    int rc = get_enum(obj, "", "outcome", true, NAMES(names), &out, err);
    ev->outcome = (uint8_t)out;
    if (rc == HCP_OK)
        rc = get_str(obj, "", "note", false, HCP_TEXT_MAX, &ev->note, err);
    return rc;
}

/* dispute_file {by, reason, document?, staff_explanation?}: the written
 * application (Art. 9): who applied, why, its reference, and what the staff
 * member gave in evidence */
static int read_dispute_file(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    int rc = get_str(obj, "", "by", true, HCP_SHORT_MAX, &ev->by, err);
    if (rc == HCP_OK)
        rc = get_str(obj, "", "reason", true, HCP_TEXT_MAX, &ev->reason, err);
    if (rc == HCP_OK)
        rc = get_str(obj, "", "document", false, HCP_SHORT_MAX, &ev->document, err);
    if (rc == HCP_OK)
        rc =
            get_str(obj, "", "staff_explanation", false, HCP_TEXT_MAX, &ev->staff_explanation, err);
    return rc;
}

/* dispute_decide {outcome: upheld|mistaken|malicious, note?, unit_explanation?}:
 * the unit's right to explain (Art. 9) is recorded beside the decision */
static int read_dispute_decide(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    int verdict = 0;
    int rc = get_enum(obj, "", "outcome", true, NAMES(hcp_verdict_names), &verdict, err);
    ev->verdict = (uint8_t)verdict;
    if (rc == HCP_OK)
        rc = get_str(obj, "", "note", false, HCP_TEXT_MAX, &ev->note, err);
    if (rc == HCP_OK)
        rc = get_str(obj, "", "unit_explanation", false, HCP_TEXT_MAX, &ev->unit_explanation, err);
    return rc;
}

/* close {decision?}: a supervisor's written decision to close a case whose
 * complainant was not satisfied at the revisit */
static int read_close(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    return get_str(obj, "", "decision", false, HCP_TEXT_MAX, &ev->decision, err);
}

/* rectify_assign {unit: {code, name}, mode: immediate|deferred} */
static int read_rectify_assign(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    int mode = 0;
    int rc = get_coded(obj, "", "unit", &ev->unit, err);
    if (rc == HCP_OK)
        rc = get_enum(obj, "", "mode", true, NAMES(hcp_rectify_mode_names), &mode, err);
    ev->mode = (uint8_t)mode;
    return rc;
}

/* new_due: "YYYY-MM-DD", or an RFC 3339 date-time whose civil day
 * (Asia/Shanghai) is taken. */
static int read_new_due(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    char path[sizeof(err->field)];
    const json_t *v = field(obj, "", "new_due", path, sizeof(path));
    if (v == NULL)
        return INVALID(err, path, "new_due is required");
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    hcp_time t;
    if (s != NULL && hcp_date_parse(s, n, &ev->new_due) == HCP_OK)
        return HCP_OK;
    if (s != NULL && hcp_time_parse(s, n, &t) == HCP_OK && t > 0) {
        ev->new_due = hcp_day_of(t);
        return HCP_OK;
    }
    return INVALID(err, path, "new_due must be a date YYYY-MM-DD (or an RFC 3339 date-time)");
}

/* rectify_extend {reason, new_due} */
static int read_rectify_extend(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    int rc = get_str(obj, "", "reason", true, HCP_TEXT_MAX, &ev->reason, err);
    if (rc == HCP_OK)
        rc = read_new_due(obj, ev, err);
    return rc;
}

/* rectify_done {result} */
static int read_rectify_done(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    return get_str(obj, "", "result", true, HCP_TEXT_MAX, &ev->result, err);
}

/* feedback {via, text} */
static int read_feedback(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    int rc = get_str(obj, "", "via", true, HCP_SHORT_MAX, &ev->via, err);
    if (rc == HCP_OK)
        rc = get_str(obj, "", "text", true, HCP_TEXT_MAX, &ev->text, err);
    return rc;
}

/* revisit {by, satisfied, note?} */
static int read_revisit(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    int rc = get_str(obj, "", "by", true, HCP_SHORT_MAX, &ev->by, err);
    if (rc == HCP_OK)
        rc = get_bool(obj, "", "satisfied", &ev->satisfied, err);
    if (rc == HCP_OK)
        rc = get_str(obj, "", "note", false, HCP_TEXT_MAX, &ev->note, err);
    return rc;
}

/* The fields of ev->type (already checked to be a client step). */
/* correction_answer {directive: the correction's province seq, text}
 * (docs/directives.md) */
static int read_correction_answer(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    char path[sizeof(err->field)];
    const json_t *v = field(obj, "", "directive", path, sizeof(path));
    if (v == NULL)
        return INVALID(err, path, "directive is required");
    if (!json_is_integer(v) || json_integer_value(v) < 1)
        return INVALID(err, path, "directive must be a positive integer (the correction's seq)");
    ev->directive = (uint64_t)json_integer_value(v);
    return get_str(obj, "", "text", true, HCP_TEXT_MAX, &ev->text, err);
}

static int read_step_fields(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    switch (ev->type) {
    case HCP_EV_VERIFY_START:
        return read_verify_start(obj, ev, err);
    case HCP_EV_VERIFY_CONCLUDE:
        return read_verify_conclude(obj, ev, err);
    case HCP_EV_DISPUTE_FILE:
        return read_dispute_file(obj, ev, err);
    case HCP_EV_DISPUTE_DECIDE:
        return read_dispute_decide(obj, ev, err);
    case HCP_EV_RECTIFY_ASSIGN:
        return read_rectify_assign(obj, ev, err);
    case HCP_EV_RECTIFY_EXTEND:
        return read_rectify_extend(obj, ev, err);
    case HCP_EV_RECTIFY_DONE:
        return read_rectify_done(obj, ev, err);
    case HCP_EV_FEEDBACK:
        return read_feedback(obj, ev, err);
    case HCP_EV_REVISIT:
        return read_revisit(obj, ev, err);
    case HCP_EV_CLOSE:
        return read_close(obj, ev, err);
    case HCP_EV_CORRECTION_ANSWER:
        return read_correction_answer(obj, ev, err);
    default: /* notify_staff: no fields */
        return HCP_OK;
    }
}

/* The "type" of a step: a known type a client may post (not evaluation,
 * case_open or overdue, which only the node itself records). */
static int read_step_type(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    char path[sizeof(err->field)];
    const json_t *v = field(obj, "", "type", path, sizeof(path));
    if (v == NULL)
        return INVALID(err, path, "type is required");
    if (!json_is_string(v))
        return INVALID(err, path, "type must be a string");
    const char *s = json_string_value(v);
    int type = HCP_LOOKUP(hcp_ev_type_names, s, json_string_length(v));
    if (type == 0 || step_keys[type][0] == NULL) {
        const char *steps[HCP_EV_COUNT_] = {NULL}; /* the types with step keys */
        int nsteps = 1;
        for (int t = 1; t < HCP_EV_COUNT_; t++)
            if (step_keys[t][0] != NULL)
                steps[nsteps++] = hcp_ev_type_names[t];
        char list[200];
        names_list(list, sizeof(list), steps, nsteps);
        return INVALID(err, path, "type \"%.*s\" is not a step a client may post; steps are: %s",
                       echo_len(s, ECHO_MAX), s, list);
    }
    ev->type = (uint8_t)type;
    return HCP_OK;
}

/* obj is borrowed; strings in *ev are heap copies the caller releases with
 * hcp_event_clear, also after an error. */
int hcp_json_read_step(const json_t *obj, hcp_event *ev, hcp_json_err *err)
{
    if (ev == NULL || err == NULL)
        return HCP_EINVAL;
    memset(ev, 0, sizeof(*ev));
    err_clear(err);
    if (!json_is_object(obj))
        return INVALID(err, "", "body must be a JSON object");
    int rc = read_step_type(obj, ev, err);
    if (rc == HCP_OK)
        rc = check_keys(obj, "", step_keys[ev->type], err);
    if (rc == HCP_OK)
        rc = read_step_fields(obj, ev, err);
    if (rc == HCP_OK)
        rc = get_at(obj, &ev->at, err);
    return rc;
}

/* ---------------------------------------------------------------- writers */

/*
 * Writers build a new object and return it (caller owns the reference) or
 * NULL when any allocation failed. json_object_set_new takes ownership of
 * the value even on failure, and fails on a NULL value, so one `ok` flag
 * per object collects every failure.
 */

/* Set o[k] = v (v stolen); false on failure. */
static bool put(json_t *o, const char *k, json_t *v)
{
    return json_object_set_new(o, k, v) == 0;
}

/* A string or JSON null. */
static json_t *str_or_null(const char *s)
{
    return s != NULL ? json_string(s) : json_null();
}

/* Set o[k] to the string s; when s is NULL set null if `nulls`, else leave
 * the key out. */
static bool put_str(json_t *o, const char *k, const char *s, bool nulls)
{
    if (s == NULL && !nulls)
        return true;
    return put(o, k, str_or_null(s));
}

/* The name of enum value v in names (count entries), or JSON null. */
static json_t *name_or_null(const char *const *names, int count, unsigned v)
{
    if (v == 0 || v >= (unsigned)count || names[v] == NULL)
        return json_null();
    return json_string(names[v]);
}

/* Set o[k] to an enum name; absent values are null if `nulls`, else left
 * out. */
static bool put_name(json_t *o, const char *k, const char *const *names, int count, unsigned v,
                     bool nulls)
{
    if ((v == 0 || v >= (unsigned)count) && !nulls)
        return true;
    return put(o, k, name_or_null(names, count, v));
}

/* {code, name}, or null when neither is set. */
static json_t *coded_json(const hcp_coded *c)
{
    if (c->code == NULL && c->name == NULL)
        return json_null();
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    bool ok = put(o, "code", str_or_null(c->code));
    ok = ok && put(o, "name", str_or_null(c->name));
    return finish(o, ok);
}

/* Set o[k] to a coded object; absent left out unless `nulls`. */
static bool put_coded(json_t *o, const char *k, const hcp_coded *c, bool nulls)
{
    if (c->code == NULL && c->name == NULL && !nulls)
        return true;
    return put(o, k, coded_json(c));
}

/* The dimension names of a bit set, in enum order. */
static json_t *dimensions_json(uint32_t dims)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    for (int d = 1; d < HCP_DIM_COUNT_; d++) {
        if ((dims & HCP_DIM_BIT(d)) &&
            json_array_append_new(a, json_string(hcp_dimension_names[d]))) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* {id, name[, phone]}: the phone only when personal (null when absent). */
static json_t *staff_json(const hcp_staff *st, bool personal, bool nulls)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    bool ok = put_str(o, "id", st->id, nulls);
    ok = ok && put_str(o, "name", st->name, nulls);
    if (personal)
        ok = ok && put_str(o, "phone", st->phone, nulls);
    return finish(o, ok);
}

/* {name, phone, id_number, organization}: personal data; callers decide
 * whether it may be shown. */
static json_t *person_json(const hcp_person *p, bool nulls)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    bool ok = put_str(o, "name", p->name, nulls);
    ok = ok && put_str(o, "phone", p->phone, nulls);
    ok = ok && put_str(o, "id_number", p->id_number, nulls);
    ok = ok && put_str(o, "organization", p->organization, nulls);
    return finish(o, ok);
}

/*
 * The intake fields into o, in the order docs/api.md lists them, up to and including the
 * complainant (content is the caller's: the case puts real_name before
 * it). nulls: the case JSON lists every key (null when absent); events
 * leave absent ones out. Personal data only when `personal`.
 */
static bool put_intake(json_t *o, const hcp_intake *in, bool personal, bool nulls)
{
    bool ok = put_name(o, "kind", NAMES(hcp_kind_names), in->kind, nulls);
    if (in->rating != 0 || nulls)
        ok = ok && put(o, "rating", in->rating != 0 ? json_integer(in->rating) : json_null());
    ok = ok && put_name(o, "channel", NAMES(hcp_channel_names), in->channel, nulls);
    ok = ok && put(o, "dimensions", dimensions_json(in->dimensions));
    ok = ok && put_coded(o, "service_item", &in->service_item, nulls);
    ok = ok && put_coded(o, "unit", &in->unit, nulls);
    ok = ok && put_str(o, "window", in->window, nulls);
    bool has_staff = in->staff.id != NULL || in->staff.name != NULL;
    if (has_staff)
        ok = ok && put(o, "staff", staff_json(&in->staff, personal, nulls));
    else if (nulls)
        ok = ok && put(o, "staff", json_null());
    bool show = personal && in->has_complainant;
    if (show)
        ok = ok && put(o, "complainant", person_json(&in->complainant, nulls));
    else if (nulls)
        ok = ok && put(o, "complainant", json_null());
    return ok;
}

/* ---------------------------------------------------------------- events */

/* verifier {name[, phone if personal]} */
static json_t *contact_json(const hcp_contact *ct, bool personal)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    bool ok = put_str(o, "name", ct->name, false);
    if (personal)
        ok = ok && put_str(o, "phone", ct->phone, false);
    return finish(o, ok);
}

/* A civil day as "YYYY-MM-DD", or null. */
static json_t *date_json(hcp_day d)
{
    char buf[HCP_DATE_STRLEN];
    if (hcp_date_format(d, buf, sizeof(buf)) != HCP_OK)
        return NULL;
    return json_string(buf);
}

/* evaluation / case_open: the intake, and the evaluation's number. */
static bool put_event_intake(json_t *o, const hcp_event *ev, bool personal)
{
    bool ok = put_intake(o, &ev->in, personal, false);
    ok = ok && put_str(o, "content", ev->in.content, false);
    if (ev->type == HCP_EV_EVALUATION)
        ok = ok && put(o, "evaluation_no", json_integer((json_int_t)ev->evaluation_no));
    return ok;
}

/* The first half of the step types' fields (verification, dispute). */
static bool put_event_verify(json_t *o, const hcp_event *ev, bool personal)
{
    switch (ev->type) {
    case HCP_EV_VERIFY_START:
        return put(o, "verifier", contact_json(&ev->verifier, personal));
    case HCP_EV_VERIFY_CONCLUDE:
        return put_name(o, "outcome", NAMES(hcp_outcome_names), ev->outcome, true) &&
               put_str(o, "note", ev->note, false);
    case HCP_EV_DISPUTE_FILE:
        return put_str(o, "by", ev->by, false) && put_str(o, "reason", ev->reason, false) &&
               put_str(o, "document", ev->document, false) &&
               put_str(o, "staff_explanation", ev->staff_explanation, false);
    case HCP_EV_DISPUTE_DECIDE:
        return put_name(o, "outcome", NAMES(hcp_verdict_names), ev->verdict, true) &&
               put_str(o, "note", ev->note, false) &&
               put_str(o, "unit_explanation", ev->unit_explanation, false);
    default:
        return true;
    }
}

/* The second half (rectification, feedback, revisit, overdue). */
static bool put_event_rectify(json_t *o, const hcp_event *ev)
{
    switch (ev->type) {
    case HCP_EV_RECTIFY_ASSIGN:
        return put_coded(o, "unit", &ev->unit, true) &&
               put_name(o, "mode", NAMES(hcp_rectify_mode_names), ev->mode, true);
    case HCP_EV_RECTIFY_EXTEND:
        return put_str(o, "reason", ev->reason, false) && put(o, "new_due", date_json(ev->new_due));
    case HCP_EV_RECTIFY_DONE:
        return put_str(o, "result", ev->result, false);
    case HCP_EV_FEEDBACK:
        return put_str(o, "via", ev->via, false) && put_str(o, "text", ev->text, false);
    case HCP_EV_REVISIT:
        return put_str(o, "by", ev->by, false) &&
               put(o, "satisfied", json_boolean(ev->satisfied)) &&
               put_str(o, "note", ev->note, false);
    case HCP_EV_OVERDUE:
        return put_name(o, "deadline", NAMES(hcp_deadline_names), ev->deadline, true);
    case HCP_EV_CLOSE:
        return put_str(o, "decision", ev->decision, false);
    case HCP_EV_DIRECTIVE:
        return put(o, "directive", json_integer((json_int_t)ev->directive)) &&
               put_str(o, "directive_type", ev->dir_type, false) &&
               put_str(o, "directive_hash", ev->dir_hash, false) &&
               put_name(o, "result", NAMES(hcp_dir_result_names), ev->dir_result, true) &&
               put_str(o, "why", ev->dir_why, false) && put_str(o, "note", ev->note, false) &&
               (!ev->reopen || put(o, "reopen", json_true()));
    case HCP_EV_CORRECTION_ANSWER:
        return put(o, "directive", json_integer((json_int_t)ev->directive)) &&
               put_str(o, "text", ev->text, false);
    default:
        return true;
    }
}

/* ev is borrowed; the result is a new reference (NULL on allocation
 * failure or a NULL ev). Absent optional fields are left out. */
json_t *hcp_json_event(const hcp_event *ev, bool personal)
{
    if (ev == NULL)
        return NULL;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    bool ok = put(o, "seq", json_integer((json_int_t)ev->seq));
    ok = ok && put_name(o, "type", NAMES(hcp_ev_type_names), ev->type, true);
    ok = ok && put(o, "at", hcp_json_time(ev->at));
    ok = ok && put(o, "recorded_at", hcp_json_time(ev->recorded_at));
    if (ev->type == HCP_EV_EVALUATION || ev->type == HCP_EV_CASE_OPEN)
        ok = ok && put_event_intake(o, ev, personal);
    ok = ok && put_event_verify(o, ev, personal);
    ok = ok && put_event_rectify(o, ev);
    if (ev->account != NULL) /* who recorded it (docs/access.md); absent on older events */
        ok = ok && put_str(o, "account", ev->account, false);
    return finish(o, ok);
}

/* ---------------------------------------------------------------- case */

/* deadlines {feedback_due, dispute_due, rereview_due, provisional}:
 * provisional (an extra) is true when any deadline was counted past the
 * known calendar years. */
static json_t *deadlines_json(const hcp_case *c)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    bool prov = (c->feedback_due.at != 0 && c->feedback_due.provisional) ||
                (c->dispute_due.at != 0 && c->dispute_due.provisional) ||
                (c->rereview_due.at != 0 && c->rereview_due.provisional);
    bool ok = put(o, "feedback_due", hcp_json_time(c->feedback_due.at));
    ok = ok && put(o, "dispute_due", hcp_json_time(c->dispute_due.at));
    ok = ok && put(o, "rereview_due", hcp_json_time(c->rereview_due.at));
    ok = ok && put(o, "provisional", json_boolean(prov));
    return finish(o, ok);
}

/* rectification {unit, mode, result, extended} (an extra): null fields
 * until rectification is assigned. */
static json_t *rectification_json(const hcp_case *c)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    bool ok = put(o, "unit", coded_json(&c->rectify_unit));
    ok = ok && put(o, "mode", name_or_null(NAMES(hcp_rectify_mode_names), c->rectify_mode));
    ok = ok && put(o, "result", str_or_null(c->rectification_result));
    ok = ok && put(o, "extended", json_boolean(c->feedback_extended));
    return finish(o, ok);
}

/* revisit {at, satisfied} (an extra): both null until the revisit. */
static json_t *revisit_json(const hcp_case *c)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    bool done = c->revisited_at != 0;
    bool ok = put(o, "at", hcp_json_time(c->revisited_at));
    ok = ok && put(o, "satisfied", done ? json_boolean(c->revisit_satisfied) : json_null());
    return finish(o, ok);
}

/* The events array; each event borrowed from events[0..n). */
static json_t *events_json(const hcp_event *events, size_t n, bool personal)
{
    json_t *a = json_array();
    if (a == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (json_array_append_new(a, hcp_json_event(&events[i], personal)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

/* The province's corrections of a case (docs/directives.md), from its
 * events: each applied `correction` directive {seq, at, note}, with
 * answered_at and answer once a correction_answer names it. */
static json_t *corrections_json(const hcp_event *events, size_t n)
{
    json_t *a = json_array();
    bool ok = a != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        const hcp_event *e = &events[i];
        if (e->type != HCP_EV_DIRECTIVE || e->dir_result != HCP_DR_APPLIED ||
            (e->dir_type != NULL && strcmp(e->dir_type, "correction") != 0))
            continue;
        json_t *c = json_object();
        ok = c != NULL && json_array_append_new(a, c) == 0;
        ok = ok && put(c, "seq", json_integer((json_int_t)e->directive));
        ok = ok && put(c, "at", hcp_json_time(e->at));
        ok = ok && put(c, "note", str_or_null(e->note));
        const hcp_event *ans = NULL;
        for (size_t j = i + 1; j < n; j++)
            if (events[j].type == HCP_EV_CORRECTION_ANSWER && events[j].directive == e->directive)
                ans = &events[j];
        ok = ok && put(c, "answered_at", ans != NULL ? hcp_json_time(ans->at) : json_null());
        ok = ok && put(c, "answer", str_or_null(ans != NULL ? ans->text : NULL));
    }
    if (!ok) {
        json_decref(a);
        return NULL;
    }
    return a;
}

/* The case's own state after its intake: received_at … overdue, and the
 * extras (adopted, rectification, revisit). */
static bool put_case_state(json_t *o, const hcp_case *c, hcp_time now)
{
    bool ok = put(o, "received_at", hcp_json_time(c->received_at));
    ok = ok && put(o, "status", name_or_null(NAMES(hcp_status_names), c->status));
    ok = ok && put(o, "outcome", name_or_null(NAMES(hcp_outcome_names), c->outcome));
    ok = ok && put(o, "adopted", json_boolean(c->adopted));
    ok = ok && put(o, "deadlines", deadlines_json(c));
    ok = ok && put(o, "overdue", json_boolean(hcp_case_overdue(c, now) != 0));
    ok = ok && put(o, "deadline_met", json_boolean(hcp_case_deadline_met(c, now)));
    ok = ok && put(o, "last_at", hcp_json_time(c->last_at));
    ok = ok && put(o, "last_recorded_at", hcp_json_time(c->last_recorded_at));
    ok = ok && put(o, "rectification", rectification_json(c));
    ok = ok && put(o, "revisit", revisit_json(c));
    if (c->reopened_at != 0) /* a failed spot check re-opened it (docs/spotchecks.md) */
        ok = ok && put(o, "reopened_at", hcp_json_time(c->reopened_at));
    return ok;
}

/*
 * c and events are borrowed; the result is a new reference (NULL on
 * allocation failure or bad arguments). Every key docs/api.md lists is present
 * (null when absent); extras beyond the first contract: adopted, deadlines.provisional,
 * rectification {unit, mode, result, extended}, revisit {at, satisfied}.
 */
json_t *hcp_json_case(const hcp_case *c, const hcp_event *events, size_t nevents, hcp_time now,
                      bool personal)
{
    if (c == NULL || (events == NULL && nevents > 0))
        return NULL;
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    bool ok = put(o, "id", json_string(c->id));
    ok = ok && put(o, "county", json_string(c->county));
    ok = ok && put_intake(o, &c->in, personal, true);
    ok = ok && put(o, "real_name", json_boolean(c->real_name));
    ok = ok && put(o, "reachable", json_boolean(c->reachable));
    ok = ok && put_str(o, "content", c->in.content, true);
    ok = ok && put_case_state(o, c, now);
    ok = ok && put(o, "events", events_json(events, nevents, personal));
    if (events != NULL) /* the province's corrections, from the events */
        ok = ok && put(o, "corrections", corrections_json(events, nevents));
    return finish(o, ok);
}

/* A new reference: an RFC 3339 string (+08:00), JSON null for 0, NULL on
 * allocation failure or a time that cannot be formatted. */
json_t *hcp_json_time(hcp_time t)
{
    if (t == 0)
        return json_null();
    char buf[HCP_TIME_STRLEN];
    if (hcp_time_format(t, buf, sizeof(buf)) != HCP_OK)
        return NULL;
    return json_string(buf);
}

/* {"error": error, "detail": detail}; strings are copied, the result is a
 * new reference (NULL when error is NULL or on allocation failure). A
 * detail that is NULL or not valid UTF-8 becomes "". */
json_t *hcp_json_error(const char *error, const char *detail)
{
    if (error == NULL || !hcp_utf8_valid(error, strlen(error)))
        return NULL;
    if (detail == NULL || !hcp_utf8_valid(detail, strlen(detail)))
        detail = "";
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    if (!put(o, "error", json_string(error)) || !put(o, "detail", json_string(detail))) {
        json_decref(o);
        return NULL;
    }
    return o;
}
