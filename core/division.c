/* division.c — Qinghai's county-level divisions, parsed once from the
 * compiled-in data/divisions.tsv into static storage. The names point into a
 * static copy of the text, so they live as long as the process. */
#include "division.h"

#include <pthread.h>
#include <string.h>

/* The build embeds data/divisions.tsv here (cmake/embed.cmake). */
extern const unsigned char hcp_data_divisions[];
extern const size_t hcp_data_divisions_len;

#define DIV_MAX_BYTES (64 * 1024) /* ceiling for the embedded text */
#define DIV_MAX       128         /* ceiling for the number of divisions */
#define DIV_HEADER    "code\tname\tprefecture_code\tprefecture_name"
#define DIV_FIELDS    4

static pthread_once_t div_once = PTHREAD_ONCE_INIT;
static char div_text[DIV_MAX_BYTES + 1];
static hcp_division div_table[DIV_MAX];
static size_t div_count;

/* Whether s[0..n) is exactly six ASCII digits. */
static bool six_digits(const char *s, size_t n)
{
    if (n != 6)
        return false;
    for (size_t i = 0; i < 6; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Cut a line (inside div_text, writable) at its tabs into exactly four
 * NUL-terminated fields; false if it has another number of fields. */
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

/* Check one row and append it: six-digit codes, the prefecture is the
 * county's code with its last two digits zeroed, names valid non-empty
 * UTF-8, no code twice. */
static bool div_add(char *line)
{
    char *f[DIV_FIELDS];
    if (div_count == DIV_MAX || !div_split(line, f))
        return false;
    if (!six_digits(f[0], strlen(f[0])) || !six_digits(f[2], strlen(f[2])) ||
        memcmp(f[0], f[2], 4) != 0 || strcmp(f[2] + 4, "00") != 0 || strcmp(f[0], f[2]) == 0)
        return false;
    for (int i = 1; i < DIV_FIELDS; i += 2)
        if (f[i][0] == '\0' || !hcp_utf8_valid(f[i], strlen(f[i])))
            return false;
    for (size_t i = 0; i < div_count; i++)
        if (strcmp(div_table[i].code, f[0]) == 0)
            return false;
    hcp_division *d = &div_table[div_count];
    memcpy(d->code, f[0], 7);
    memcpy(d->prefecture, f[2], 7);
    d->name = f[1];
    d->prefecture_name = f[3];
    div_count++;
    return true;
}

/* Handle one NUL-terminated line: drop a '\r', skip blanks and comments,
 * expect the header first. */
static bool div_line(char *line, bool *header_seen)
{
    size_t len = strlen(line);
    if (len > 0 && line[len - 1] == '\r')
        line[--len] = '\0';
    if (len == 0 || line[0] == '#')
        return true;
    if (!*header_seen) {
        *header_seen = true;
        return strcmp(line, DIV_HEADER) == 0;
    }
    return div_add(line);
}

/* Parse the embedded text once (pthread_once). Malformed data, which the
 * unit test would catch, leaves the table empty rather than half-filled. */
static void div_parse(void)
{
    bool header_seen = false;
    size_t len = hcp_data_divisions_len;
    if (len > DIV_MAX_BYTES || memchr(hcp_data_divisions, '\0', len) != NULL)
        return;
    memcpy(div_text, hcp_data_divisions, len);
    div_text[len] = '\0';
    for (char *line = div_text; line != NULL && *line != '\0';) {
        char *nl = strchr(line, '\n');
        if (nl != NULL)
            *nl = '\0';
        if (!div_line(line, &header_seen)) {
            div_count = 0;
            return;
        }
        line = nl != NULL ? nl + 1 : NULL;
    }
    if (!header_seen)
        div_count = 0;
}

/* The static table, in file order; *n (if not NULL) gets its length. */
const hcp_division *hcp_divisions(size_t *n)
{
    if (pthread_once(&div_once, div_parse) != 0)
        div_count = 0;
    if (n != NULL)
        *n = div_count;
    return div_table;
}

/* Linear search: 44 entries, called rarely (certificate checks, forms).
 * code is borrowed and must be NUL-terminated. */
const hcp_division *hcp_division_find(const char *code)
{
    size_t n;
    const hcp_division *t = hcp_divisions(&n);
    if (code == NULL || !six_digits(code, strnlen(code, 7)))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].code, code) == 0)
            return &t[i];
    return NULL;
}

/* Whether code is the prefecture of some listed county; code is borrowed. */
bool hcp_prefecture_known(const char *code)
{
    size_t n;
    const hcp_division *t = hcp_divisions(&n);
    if (code == NULL || !six_digits(code, strnlen(code, 7)))
        return false;
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].prefecture, code) == 0)
            return true;
    return false;
}
