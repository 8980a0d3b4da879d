/* division.c — the county-level divisions in use: the compiled-in
 * data/divisions.tsv, parsed once on first use, or a list loaded from a file
 * at start-up (hcp_divisions_load). Every list is parsed into its own heap
 * storage (the names point into its copy of the text) and is never freed,
 * so what a reader got stays valid while another list is published. */
#include "division.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lock.h"

/* The build embeds data/divisions.tsv here (cmake/embed.cmake). */
extern const unsigned char hcp_data_divisions[];
extern const size_t hcp_data_divisions_len;

#define DIV_HEADER  "code\tname\tprefecture_code\tprefecture_name"
#define DIV_FIELDS  4
#define DIV_BUILTIN "data/divisions.tsv (compiled in)"

/* One parsed list. */
typedef struct div_list {
    struct div_list *prev;  /* the loaded list this one replaced: kept reachable, never freed */
    char *text;             /* the text, cut into fields in place; names point into it */
    hcp_division *rows;     /* n rows, in file order */
    hcp_division **by_code; /* the same rows sorted by code, for bsearch */
    size_t n;
} div_list;

/* State of one parse: the list being filled and where to say what is wrong. */
typedef struct div_parse {
    div_list *l;
    size_t cap;      /* rows allocated */
    uint32_t *lines; /* the line of each row (duplicate messages) */
    const char *origin;
    char *err;
    size_t errlen;
} div_parse;

static pthread_once_t div_once = PTHREAD_ONCE_INIT;
static div_list div_builtin;           /* filled once by div_builtin_parse */
static _Atomic(div_list *) div_active; /* NULL: the compiled-in list is in use */
static pthread_mutex_t div_load_mu = PTHREAD_MUTEX_INITIALIZER; /* orders loads */
static const div_list div_empty;       /* answered if pthread_once itself fails */
static const hcp_division div_none[1]; /* rows of an empty list: never NULL */

/* Put "ORIGIN:LINE: message" (LINE left out when 0) into the caller's
 * buffer, if any. */
static void div_note(const div_parse *p, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void div_note(const div_parse *p, size_t line, const char *fmt, ...)
{
    if (p->err == NULL || p->errlen == 0)
        return;
    int k = line > 0 ? snprintf(p->err, p->errlen, "%s:%zu: ", p->origin, line)
                     : snprintf(p->err, p->errlen, "%s: ", p->origin);
    if (k < 0 || (size_t)k >= p->errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + k, p->errlen - (size_t)k, fmt, ap);
    va_end(ap);
}

/* div_note, then rc, so that a check can `return div_fail(...)`. A macro,
 * not a variadic function, so that the static analyser sees the code
 * returned (it does not follow variadic calls). */
#define div_fail(p, line, rc, ...) (div_note((p), (line), __VA_ARGS__), (rc))

/* Cut a line (writable) at its tabs into exactly four NUL-terminated
 * fields; false if it has another number of fields. */
static bool div_split(char *line, char **f)
{
    size_t count = 0;
    f[count++] = line;
    for (char *c = line; *c != '\0'; c++) {
        if (*c != '\t')
            continue;
        if (count == DIV_FIELDS)
            return false;
        *c = '\0';
        f[count++] = c + 1;
    }
    return count == DIV_FIELDS;
}

/* A name field: non-empty, valid UTF-8, no control character. */
static int div_name_check(const div_parse *p, size_t line, const char *what, const char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return div_fail(p, line, HCP_EFORMAT, "the %s is empty", what);
    if (!hcp_utf8_valid(s, n))
        return div_fail(p, line, HCP_EUTF8, "the %s is not valid UTF-8", what);
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return div_fail(p, line, HCP_EFORMAT, "the %s holds a control character", what);
    return HCP_OK;
}

/* Check one row and append it: six-digit codes, the county's not ending in
 * "00", its prefecture its first four digits then "00", names per
 * div_name_check. Duplicates are found after the sort. */
static int div_row(div_parse *p, char *text, size_t line)
{
    char *f[DIV_FIELDS];
    if (!div_split(text, f))
        return div_fail(p, line, HCP_EFORMAT,
                        "expected 4 tab-separated fields: code, name, prefecture_code, "
                        "prefecture_name");
    if (!hcp_county_code_ok(f[0], strlen(f[0])))
        return div_fail(p, line, HCP_EFORMAT, "code \"%.16s\" is not six digits", f[0]);
    if (strcmp(f[0] + 4, "00") == 0)
        return div_fail(p, line, HCP_EFORMAT,
                        "code %s ends in 00: that is a prefecture's or province's code, not a "
                        "county's",
                        f[0]);
    if (!hcp_county_code_ok(f[2], strlen(f[2])))
        return div_fail(p, line, HCP_EFORMAT, "prefecture_code \"%.16s\" is not six digits", f[2]);
    if (memcmp(f[0], f[2], 4) != 0 || strcmp(f[2] + 4, "00") != 0)
        return div_fail(p, line, HCP_EFORMAT,
                        "prefecture_code %s does not fit code %s: expected %.4s00", f[2], f[0],
                        f[0]);
    int rc = div_name_check(p, line, "name", f[1]);
    if (rc == HCP_OK)
        rc = div_name_check(p, line, "prefecture_name", f[3]);
    if (rc != HCP_OK)
        return rc;
    if (p->l->n == HCP_DIVISIONS_MAX || p->l->n == p->cap)
        return div_fail(p, line, HCP_ERANGE, "more than %d divisions", HCP_DIVISIONS_MAX);
    hcp_division *d = &p->l->rows[p->l->n];
    memcpy(d->code, f[0], 7);
    memcpy(d->prefecture, f[2], 7);
    d->name = f[1];
    d->prefecture_name = f[3];
    p->lines[p->l->n++] = (uint32_t)line;
    return HCP_OK;
}

/* Order rows by code (qsort and duplicate detection). */
static int div_cmp(const void *a, const void *b)
{
    return strcmp((*(hcp_division *const *)a)->code, (*(hcp_division *const *)b)->code);
}

/* Sort the rows into by_code; HCP_EFORMAT if a code is listed twice. */
static int div_index(div_parse *p)
{
    div_list *l = p->l;
    /* an array of pointers, as meant */
    l->by_code = malloc(l->n * sizeof(*l->by_code)); // NOLINT(bugprone-sizeof-expression)
    if (l->by_code == NULL)
        return div_fail(p, 0, HCP_ENOMEM, "out of memory");
    for (size_t i = 0; i < l->n; i++)
        l->by_code[i] = &l->rows[i];
    /* n >= 1 here; an array of pointers, as meant */
    qsort(l->by_code, l->n, sizeof(*l->by_code), div_cmp); // NOLINT(bugprone-sizeof-expression)
    for (size_t i = 1; i < l->n; i++) {
        if (div_cmp(&l->by_code[i - 1], &l->by_code[i]) != 0)
            continue;
        size_t a = p->lines[l->by_code[i - 1] - l->rows], b = p->lines[l->by_code[i] - l->rows];
        return div_fail(p, a > b ? a : b, HCP_EFORMAT, "code %s listed twice (also line %zu)",
                        l->by_code[i]->code, a < b ? a : b);
    }
    return HCP_OK;
}

/* Walk the lines of p->l->text (len bytes, NUL-terminated, no NUL inside):
 * '\r' before '\n' dropped, blanks and '#' comments skipped, the header
 * first, then rows. */
static int div_lines(div_parse *p, size_t len)
{
    bool header_seen = false;
    size_t line = 0;
    char *s = p->l->text, *end = s + len;
    while (s < end) {
        line++;
        char *nl = memchr(s, '\n', (size_t)(end - s));
        char *next = nl != NULL ? nl + 1 : end;
        size_t n = (size_t)((nl != NULL ? nl : end) - s);
        s[n] = '\0';
        if (n > 0 && s[n - 1] == '\r')
            s[--n] = '\0';
        if (n > HCP_DIVISIONS_LINE_MAX)
            return div_fail(p, line, HCP_ERANGE, "line longer than %d bytes",
                            HCP_DIVISIONS_LINE_MAX);
        int rc = HCP_OK;
        if (n == 0 || s[0] == '#')
            rc = HCP_OK;
        else if (!header_seen) {
            header_seen = true;
            if (strcmp(s, DIV_HEADER) != 0)
                rc = div_fail(p, line, HCP_EFORMAT,
                              "expected the header line "
                              "code<TAB>name<TAB>prefecture_code<TAB>prefecture_name");
        } else
            rc = div_row(p, s, line);
        if (rc != HCP_OK)
            return rc;
        s = next;
    }
    if (!header_seen || p->l->n == 0)
        return div_fail(p, 0, HCP_EFORMAT, "%s",
                        header_seen ? "no divisions" : "empty: no header line");
    return HCP_OK;
}

/* Free what a list owns (not the list itself); for a list never published. */
static void div_list_clear(div_list *l)
{
    free(l->text);
    free(l->rows);
    free(l->by_code);
    memset(l, 0, sizeof(*l));
}

/* Parse text (len bytes; taken over: l->text owns it, with one byte more
 * for a NUL) into l, which must be zeroed. On error l is cleared and err
 * says why, from origin. */
static int div_parse_text(div_list *l, char *text, size_t len, const char *origin, char *err,
                          size_t errlen)
{
    div_parse p = {.l = l, .origin = origin, .err = err, .errlen = errlen};
    l->text = text;
    text[len] = '\0';
    int rc = HCP_OK;
    const char *nul = memchr(text, '\0', len);
    if (nul != NULL) {
        size_t line = 1;
        for (const char *c = text; c < nul; c++)
            line += *c == '\n';
        rc = div_fail(&p, line, HCP_EFORMAT, "holds a NUL byte");
    }
    if (rc == HCP_OK) { /* at most one row a line: bound the rows by the lines */
        size_t lines = 1;
        for (size_t i = 0; i < len; i++)
            lines += text[i] == '\n';
        p.cap = lines < HCP_DIVISIONS_MAX ? lines : HCP_DIVISIONS_MAX;
        l->rows = calloc(p.cap, sizeof(*l->rows));
        p.lines = calloc(p.cap, sizeof(*p.lines));
        if (l->rows == NULL || p.lines == NULL)
            rc = div_fail(&p, 0, HCP_ENOMEM, "out of memory");
    }
    if (rc == HCP_OK)
        rc = div_lines(&p, len);
    if (rc == HCP_OK)
        rc = div_index(&p);
    free(p.lines);
    if (rc != HCP_OK)
        div_list_clear(l);
    return rc;
}

/* pthread_once: parse the compiled-in text. Malformed data, which the unit
 * test would catch, or no memory leaves the list empty. */
static void div_builtin_parse(void)
{
    size_t len = hcp_data_divisions_len;
    char *text = len <= HCP_DIVISIONS_FILE_MAX ? malloc(len + 1) : NULL;
    if (text == NULL)
        return;
    memcpy(text, hcp_data_divisions, len);
    (void)div_parse_text(&div_builtin, text, len, DIV_BUILTIN, NULL, 0);
}

/* The list in use: the last one loaded, else the compiled-in one. */
static const div_list *div_current(void)
{
    const div_list *l = atomic_load_explicit(&div_active, memory_order_acquire);
    if (l != NULL)
        return l;
    if (pthread_once(&div_once, div_builtin_parse) != 0)
        return &div_empty;
    return &div_builtin;
}

/* Read at most HCP_DIVISIONS_FILE_MAX bytes of path into a new buffer
 * (one byte spare for a NUL) the caller frees. */
static int div_read(const char *path, char **out, size_t *len, char *err, size_t errlen)
{
    div_parse p = {.origin = path, .err = err, .errlen = errlen};
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return div_fail(&p, 0, HCP_EIO, "cannot open: %s", strerror(errno));
    char *buf = malloc(HCP_DIVISIONS_FILE_MAX + 2);
    if (buf == NULL) {
        fclose(f);
        return div_fail(&p, 0, HCP_ENOMEM, "out of memory");
    }
    size_t n = fread(buf, 1, HCP_DIVISIONS_FILE_MAX + 1, f);
    int rc = HCP_OK;
    if (ferror(f))
        rc = div_fail(&p, 0, HCP_EIO, "cannot read: %s", strerror(errno));
    else if (n > HCP_DIVISIONS_FILE_MAX)
        rc = div_fail(&p, 0, HCP_ERANGE, "larger than %u bytes", HCP_DIVISIONS_FILE_MAX);
    if (fclose(f) != 0 && rc == HCP_OK)
        rc = div_fail(&p, 0, HCP_EIO, "cannot read: %s", strerror(errno));
    if (rc != HCP_OK) {
        free(buf);
        return rc;
    }
    *out = buf;
    *len = n;
    return HCP_OK;
}

/* Load path, check it whole, then publish it (see division.h). */
int hcp_divisions_load(const char *path, char *err, size_t errlen)
{
    if (err != NULL && errlen > 0)
        err[0] = '\0';
    if (path == NULL || path[0] == '\0') {
        if (err != NULL && errlen > 0)
            snprintf(err, errlen, "no file of divisions named");
        return HCP_EINVAL;
    }
    char *text = NULL;
    size_t len = 0;
    int rc = div_read(path, &text, &len, err, errlen);
    if (rc != HCP_OK)
        return rc;
    div_list *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        free(text);
        div_parse p = {.origin = path, .err = err, .errlen = errlen};
        return div_fail(&p, 0, HCP_ENOMEM, "out of memory");
    }
    rc = div_parse_text(l, text, len, path, err, errlen);
    if (rc != HCP_OK) {
        free(l);
        return rc;
    }
    hcp_mutex_lock(&div_load_mu);
    l->prev = atomic_load_explicit(&div_active, memory_order_relaxed);
    atomic_store_explicit(&div_active, l, memory_order_release);
    hcp_mutex_unlock(&div_load_mu);
    return HCP_OK;
}

/* The rows of the list in use, in file order; *n (if not NULL) gets their number. */
const hcp_division *hcp_divisions(size_t *n)
{
    const div_list *l = div_current();
    if (n != NULL)
        *n = l->n;
    return l->rows != NULL ? l->rows : div_none;
}

/* Compare a code (the key) with a row of by_code, for bsearch. */
static int div_key_cmp(const void *key, const void *elem)
{
    return strcmp(key, (*(hcp_division *const *)elem)->code);
}

/* Binary search in the list in use; code is borrowed and must be
 * NUL-terminated (at most seven bytes are read before it is refused). */
const hcp_division *hcp_division_find(const char *code)
{
    const div_list *l = div_current();
    if (code == NULL || !hcp_county_code_ok(code, strnlen(code, 7)) || l->n == 0)
        return NULL;
    size_t width = sizeof(*l->by_code); // NOLINT(bugprone-sizeof-expression): pointers, as meant
    hcp_division *const *hit = bsearch(code, l->by_code, l->n, width, div_key_cmp);
    return hit != NULL ? *hit : NULL;
}

/* Whether code is the prefecture of some listed county; code is borrowed.
 * Linear: called once per feed query that names a code. */
bool hcp_prefecture_known(const char *code)
{
    size_t n;
    const hcp_division *t = hcp_divisions(&n);
    if (code == NULL || !hcp_county_code_ok(code, strnlen(code, 7)))
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].prefecture, code) == 0)
            return true;
    return false;
}
