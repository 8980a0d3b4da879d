/*
 * test_session.c — the console sessions' table (daemon/session.h) with a
 * made-up clock: sign-in gives distinct random ids and CSRF tokens; a
 * session is found by its id only (a one-digit change, a wrong length or a
 * non-hex id is not); the idle limit restarts on use and the absolute one
 * does not; sign-out forgets it; a full table drops an expired session,
 * then the least recently used; the CSRF compare and the Cookie parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "session.h"

/* Sign in and find: the copy carries account, roles and the CSRF token. */
static void test_open_find(void **state)
{
    (void)state;
    hcpd_sessions *s = NULL;
    assert_int_equal(hcpd_sessions_new(8, 100, 1000, &s), HCP_OK);
    char a[HCPD_SESSION_HEX], b[HCPD_SESSION_HEX];
    hcpd_session sa, sb, got;
    assert_int_equal(hcpd_session_open(s, 10, "clerk1", HCPD_ROLE_CLERK, a, &sa), HCP_OK);
    assert_int_equal(hcpd_session_open(s, 10, "sup1", HCPD_ROLE_SUPERVISOR, b, &sb), HCP_OK);
    assert_int_equal(strlen(a), 64);
    assert_int_equal(strlen(sa.csrf), 64);
    assert_string_not_equal(a, b);
    assert_string_not_equal(sa.csrf, sb.csrf);
    assert_string_not_equal(a, sa.csrf);
    assert_int_equal(sa.expires, 110);
    assert_int_equal(hcpd_session_find(s, 20, a, 64, &got), HCP_OK);
    assert_string_equal(got.account, "clerk1");
    assert_int_equal(got.roles, HCPD_ROLE_CLERK);
    assert_string_equal(got.csrf, sa.csrf);
    assert_int_equal(got.expires, 120);
    assert_int_equal(hcpd_session_find(s, 20, b, 64, &got), HCP_OK);
    assert_string_equal(got.account, "sup1");
    /* one digit changed, cut short, not hex */
    char c[HCPD_SESSION_HEX];
    memcpy(c, a, sizeof(c));
    c[63] = c[63] == '0' ? '1' : '0';
    assert_int_equal(hcpd_session_find(s, 20, c, 64, NULL), HCP_ENOTFOUND);
    assert_int_equal(hcpd_session_find(s, 20, a, 63, NULL), HCP_EINVAL);
    c[5] = 'g';
    assert_int_equal(hcpd_session_find(s, 20, c, 64, NULL), HCP_EINVAL);
    assert_int_equal(hcpd_session_find(s, 20, NULL, 0, NULL), HCP_EINVAL);
    /* upper-case hex is the same id */
    for (size_t i = 0; i < 64; i++)
        c[i] = (a[i] >= 'a' && a[i] <= 'f') ? (char)(a[i] - 'a' + 'A') : a[i];
    assert_int_equal(hcpd_session_find(s, 20, c, 64, NULL), HCP_OK);
    /* bad arguments */
    assert_int_equal(hcpd_session_open(s, 10, "", 0, c, NULL), HCP_EINVAL);
    char longname[HCPD_ACCOUNT_MAX + 1];
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(hcpd_session_open(s, 10, longname, 0, c, NULL), HCP_EINVAL);
    hcpd_sessions_free(s);
    assert_int_equal(hcpd_sessions_new(0, 1, 1, &s), HCP_EINVAL);
    assert_int_equal(hcpd_sessions_new(4, 10, 5, &s), HCP_EINVAL);
    assert_int_equal(hcpd_sessions_new(4, 0, 5, &s), HCP_EINVAL);
}

/* Idle: restarted by each use; absolute: counted from the sign-in. */
static void test_limits(void **state)
{
    (void)state;
    hcpd_sessions *s = NULL;
    assert_int_equal(hcpd_sessions_new(4, 30, 100, &s), HCP_OK);
    char id[HCPD_SESSION_HEX];
    assert_int_equal(hcpd_session_open(s, 0, "clerk1", HCPD_ROLE_CLERK, id, NULL), HCP_OK);
    hcpd_session got;
    for (int64_t t = 29; t < 100; t += 29) {
        assert_int_equal(hcpd_session_find(s, t, id, 64, &got), HCP_OK);
        assert_true(got.expires <= 100);
    }
    assert_int_equal(got.expires, 100); /* 87 + 30 > 100: the absolute limit */
    assert_int_equal(hcpd_session_find(s, 100, id, 64, NULL), HCP_ENOTFOUND);
    assert_int_equal(hcpd_sessions_count(s), 0); /* an expired one is dropped */
    /* idle */
    assert_int_equal(hcpd_session_open(s, 200, "clerk1", HCPD_ROLE_CLERK, id, NULL), HCP_OK);
    assert_int_equal(hcpd_session_find(s, 229, id, 64, NULL), HCP_OK);
    assert_int_equal(hcpd_session_find(s, 259, id, 64, NULL), HCP_ENOTFOUND);
    /* a clock that went back does not shorten the idle limit */
    assert_int_equal(hcpd_session_open(s, 300, "clerk1", HCPD_ROLE_CLERK, id, NULL), HCP_OK);
    assert_int_equal(hcpd_session_find(s, 320, id, 64, NULL), HCP_OK);
    assert_int_equal(hcpd_session_find(s, 310, id, 64, &got), HCP_OK);
    assert_int_equal(got.expires, 350);
    hcpd_sessions_free(s);
}

/* Sign-out forgets the session and names its account. */
static void test_close(void **state)
{
    (void)state;
    hcpd_sessions *s = NULL;
    assert_int_equal(hcpd_sessions_new(4, 30, 100, &s), HCP_OK);
    char id[HCPD_SESSION_HEX], account[HCPD_ACCOUNT_MAX] = "";
    assert_int_equal(hcpd_session_open(s, 0, "sup1", HCPD_ROLE_SUPERVISOR, id, NULL), HCP_OK);
    assert_int_equal(hcpd_session_close(s, id, 64, account), HCP_OK);
    assert_string_equal(account, "sup1");
    assert_int_equal(hcpd_session_find(s, 1, id, 64, NULL), HCP_ENOTFOUND);
    assert_int_equal(hcpd_session_close(s, id, 64, NULL), HCP_ENOTFOUND);
    assert_int_equal(hcpd_session_close(s, "zz", 2, NULL), HCP_EINVAL);
    hcpd_sessions_free(s);
    hcpd_sessions_free(NULL);
}

/* A full table: an expired session goes first, else the least recently used. */
static void test_full(void **state)
{
    (void)state;
    hcpd_sessions *s = NULL;
    assert_int_equal(hcpd_sessions_new(3, 30, 100, &s), HCP_OK);
    char a[HCPD_SESSION_HEX], b[HCPD_SESSION_HEX], c[HCPD_SESSION_HEX], d[HCPD_SESSION_HEX],
        e[HCPD_SESSION_HEX];
    assert_int_equal(hcpd_session_open(s, 0, "a", 0, a, NULL), HCP_OK);
    assert_int_equal(hcpd_session_open(s, 20, "b", 0, b, NULL), HCP_OK);
    assert_int_equal(hcpd_session_open(s, 20, "c", 0, c, NULL), HCP_OK);
    assert_int_equal(hcpd_sessions_count(s), 3);
    /* at 35, a (idle since 0) has expired: its slot is taken */
    assert_int_equal(hcpd_session_find(s, 35, c, 64, NULL), HCP_OK);
    assert_int_equal(hcpd_session_open(s, 35, "d", 0, d, NULL), HCP_OK);
    assert_int_equal(hcpd_sessions_count(s), 3);
    assert_int_equal(hcpd_session_find(s, 36, b, 64, NULL), HCP_OK);
    assert_int_equal(hcpd_session_find(s, 37, c, 64, NULL), HCP_OK);
    /* none expired: d (last used at 35) is the least recently used */
    assert_int_equal(hcpd_session_open(s, 38, "e", 0, e, NULL), HCP_OK);
    assert_int_equal(hcpd_sessions_count(s), 3);
    assert_int_equal(hcpd_session_find(s, 39, d, 64, NULL), HCP_ENOTFOUND);
    assert_int_equal(hcpd_session_find(s, 39, b, 64, NULL), HCP_OK);
    assert_int_equal(hcpd_session_find(s, 39, c, 64, NULL), HCP_OK);
    assert_int_equal(hcpd_session_find(s, 39, e, 64, NULL), HCP_OK);
    assert_int_equal(hcpd_session_find(s, 39, a, 64, NULL), HCP_ENOTFOUND);
    hcpd_sessions_free(s);
}

/* The CSRF compare: equal only when every byte and the length match. */
static void test_secret_equal(void **state)
{
    (void)state;
    assert_true(hcpd_session_secret_equal("abcd", "abcd", 4));
    assert_false(hcpd_session_secret_equal("abcd", "abce", 4));
    assert_false(hcpd_session_secret_equal("abcd", "abc", 3));
    assert_false(hcpd_session_secret_equal("abcd", "abcde", 5));
    assert_false(hcpd_session_secret_equal("", "", 0));
    assert_false(hcpd_session_secret_equal(NULL, "a", 1));
    assert_false(hcpd_session_secret_equal("a", NULL, 0));
}

/* The Cookie header: ours among others, quoted, twice, too long, absent. */
static void test_cookie(void **state)
{
    (void)state;
    char id[HCPD_SESSION_HEX + 1];
    assert_int_equal(hcpd_session_cookie("hcp_session=abc", id, sizeof(id)), HCPD_Q_OK);
    assert_string_equal(id, "abc");
    assert_int_equal(hcpd_session_cookie("a=1; hcp_session=def ;b=2", id, sizeof(id)), HCPD_Q_OK);
    assert_string_equal(id, "def");
    assert_int_equal(hcpd_session_cookie("hcp_session=\"q\"", id, sizeof(id)), HCPD_Q_OK);
    assert_string_equal(id, "q");
    assert_int_equal(hcpd_session_cookie("xhcp_session=1; hcp_sessionx=2", id, sizeof(id)),
                     HCPD_Q_ABSENT);
    assert_int_equal(hcpd_session_cookie("", id, sizeof(id)), HCPD_Q_ABSENT);
    assert_int_equal(hcpd_session_cookie("hcp_session=1; hcp_session=1", id, sizeof(id)),
                     HCPD_Q_BAD);
    char longv[200] = "hcp_session=";
    memset(longv + 12, 'a', 100);
    longv[112] = '\0';
    assert_int_equal(hcpd_session_cookie(longv, id, sizeof(id)), HCPD_Q_BAD);
    assert_int_equal(hcpd_session_cookie("hcp_session=", id, sizeof(id)), HCPD_Q_ABSENT);
    assert_int_equal(hcpd_session_cookie(NULL, id, sizeof(id)), HCPD_Q_BAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_find),    cmocka_unit_test(test_limits),
        cmocka_unit_test(test_close),        cmocka_unit_test(test_full),
        cmocka_unit_test(test_secret_equal), cmocka_unit_test(test_cookie),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
