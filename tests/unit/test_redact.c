/*
 * test_redact.c — hcp_redact (core/redact.h): phones, landlines, ID
 * numbers, however they are written, e-mail addresses and known names are
 * masked; Chinese text, dates, case ids and short numbers survive byte for
 * byte; what XML cannot carry is dropped; bounds and bad arguments.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "redact.h"

/* Assert that in redacts to want (known strings none). */
static void expect(const char *in, const char *want)
{
    char out[512];
    assert_int_equal(hcp_redact(in, out, sizeof(out)), HCP_OK);
    assert_string_equal(out, want);
}

static void test_mobile(void **state)
{
    (void)state;
    expect("13812345678", "138******78");
    expect("联系电话13812345678，谢谢", "联系电话138******78，谢谢");
    expect("手机：138-1234-5678。", "手机：138-****-**78。");
    expect("手机 138 1234 5678 已核实", "手机 138 **** **78 已核实");
    expect("+86 13812345678", "+86 1********78"); /* 86 joins the run */
    /* issue #10: the ways people write a mobile number */
    expect("+86 139 1234 5678", "+86 1** **** **78");
    expect("+86-139-1234-5678", "+86-1**-****-**78");
    expect("139.1234.5678", "139.****.**78");
    expect("139/1234/5678", "139/****/**78");
    expect("139 - 1234 - 5678", "139 - **** - **78");
    expect("(139)12345678", "(139)******78");
    expect("139\xe2\x80\x8b"
           "1234\xe2\x80\x8b"
           "5678", /* zero-width spaces */
           "139\xe2\x80\x8b****\xe2\x80\x8b**78");
    expect("请拨 139 1234 5678 转 8001", "请拨 139 **** **78 转 8001");
}

static void test_landline(void **state)
{
    (void)state;
    expect("电话0971-8123456", "电话097*-*****56");
    expect("电话0971-1234567", "电话097*-*****67");
    expect("电话09718123456", "电话097******56");
    expect("（0971）8123456", "（097*）*****56");
    expect("本地8123456号", "本地81****6号");
    expect("0971-812-3456", "097*-***-**56");
    expect("0971-1234567转8001", "097*-*****67转8001"); /* 转 ends the run */
    expect("0971-1234567 ext. 12", "097*-*****67 ext. 12");
    expect("0971-1234567-8001", "097*-*******-**01"); /* joined: all one run */
}

static void test_id_number(void **state)
{
    (void)state;
    expect("身份证号630102199001011234", "身份证号630*************34");
    expect("身份证63010219900101123X。", "身份证630*************3X。");
    expect("身份证63010219900101123x", "身份证630*************3x");
    expect("老证630102900101123", "老证630**********23"); /* 15 digits */
    expect("6301 0219 8503 1742 3X", "630* **** **** **** 3X");
    expect("630102-19900101-1234", "630***-********-**34"); /* not a case id */
}

static void test_fullwidth(void **state)
{
    (void)state;
    expect("电话１３８１２３４５６７８止", "电话１３８******７８止");
    expect("１３９1234５６７８", "１３９******７８");
    expect("１３９－１２３４－５６７８", "１３９－****－**７８");
    expect("１２３４５６７", "１２****７");
}

static void test_email(void **state)
{
    (void)state;
    expect("邮箱zhang.san@qq.com，请回复", "邮箱*****.***@**.***，请回复");
    expect("mail: a_b@mail.example.cn.", "mail: *_*@****.*******.**.");
    expect("13812345678@163.com", "***********@***.***");
    expect("name＠example.org", "****＠*******.***");
    expect("ｎａｍｅ＠ｅｘａｍｐｌｅ．ｏｒｇ", "****＠*******．***");
    expect("a@b, x@y.", "*@*, *@*.");
    expect("139 1234 5678a@qq.com", "13* ***4 *****@**.***"); /* e-mail first */
    expect("联系@张三", "联系@张三");                         /* no address run beside the @ */
}

/* Dates, times, case ids and short numbers are no personal data. */
static void test_survives(void **state)
{
    (void)state;
    const char *keep[] = {
        "2026年11月27日已整改完毕",
        "2026-11-27 10:03 完成",
        "2026-11-27 10:03:00至2026-11-28",
        "2026/11/27、2026.1.5",
        "生日1990-01-01",
        "已与630102-20261127-0042合并处理",
        "630102-20220501-123456789",
        "窗口12号，等候30分钟，材料5份",
        "金额123456元",
        "金额1,234,567元",
        "",
        "纯中文：经核实属实，已对相关工作人员进行批评教育。",
    };
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        expect(keep[i], keep[i]);
    expect("编号 1 2 3 4 5 6 7", "编号 1 2 * * * * 7");     /* 7 digits joined by spaces */
    expect("630102-20220430-0001", "630***-********-**01"); /* before the regulation */
    expect("12026-11-27", "12***-**-*7");                   /* no year of 5 digits */
    expect("2026-11-27-1234567", "2026-11-27-12****7");     /* a run after the date */
    expect("2026-11-27 139 1234 5678", "2026-11-27 139 **** **78");
}

/* What XML 1.0 cannot carry, and what is not UTF-8, is dropped. */
static void test_clean(void **state)
{
    (void)state;
    expect("a\x01"
           "b\x7f"
           "c\t\n\r",
           "abc\t\n\r");
    expect("事项\xef\xbf\xbe\xef\xbf\xbf名", "事项名");                         /* U+FFFE, U+FFFF */
    expect("x\xc2\x85y\xc2\x9fz\xc2\xa0", "xyz\xc2\xa0");                       /* C1; NBSP stays */
    expect("\xef\xb7\x90\xef\xb7\xaf|\xf0\x9f\xbf\xbe|\xf4\x8f\xbf\xbf", "||"); /* non-chars */
    expect("\xff\xc0\xaf\xed\xa0\x80ok\xe4\xb8", "ok"); /* invalid, overlong, surrogate, cut */
    expect("139\x01"
           "1234\xc2\x85"
           "5678",
           "139******78"); /* dropped first, then masked */
    uint32_t cp;
    assert_int_equal(hcp_text_next("\xe4\xb8\xad", 3, &cp), 3);
    assert_int_equal(cp, 0x4E2D);
    assert_int_equal(hcp_text_next("\xe4\xb8", 2, &cp), 1);
    assert_int_equal(cp, HCP_TEXT_BAD);
    assert_int_equal(hcp_text_next("", 0, &cp), 0);
    assert_true(hcp_text_publishable(0xFFFD));
    assert_true(hcp_text_publishable(0x10FFFD));
    assert_false(hcp_text_publishable(0x10FFFE));
    assert_false(hcp_text_publishable(0x0B));
    assert_false(hcp_text_publishable(0x85));
    assert_false(hcp_text_publishable(0));
}

static void test_known(void **state)
{
    (void)state;
    const char *known[] = {"张三", "李", NULL, "王小明"};
    char out[256];
    assert_int_equal(hcp_redact_known("张三投诉王小明，李老师已处理，电话13812345678", known, 4,
                                      out, sizeof(out)),
                     HCP_OK);
    assert_string_equal(out, "**投诉***，李老师已处理，电话138******78");
    char *d = hcp_redact_dup("请张三回电", known, 4);
    assert_non_null(d);
    assert_string_equal(d, "请**回电");
    free(d);
    /* known strings and the text are cleaned alike before they are compared */
    const char *odd[] = {"\xef\xbf\xbe张\x01三", "\x01x\x02"};
    d = hcp_redact_dup("请张\xc2\x85三和x回电", odd, 2);
    assert_non_null(d);
    assert_string_equal(d, "请**和x回电");
    free(d);
}

static void test_bounds(void **state)
{
    (void)state;
    char out[8];
    assert_int_equal(hcp_redact("0123456789abc", out, sizeof(out)), HCP_ERANGE);
    assert_string_equal(out, "");
    assert_int_equal(hcp_redact("1234567", out, sizeof(out)), HCP_OK); /* exactly fits */
    assert_string_equal(out, "12****7");
    assert_int_equal(hcp_redact(NULL, out, sizeof(out)), HCP_EINVAL);
    assert_int_equal(hcp_redact("x", NULL, 4), HCP_EINVAL);
    assert_int_equal(hcp_redact("x", out, 0), HCP_EINVAL);
    assert_int_equal(hcp_redact_known("x", NULL, 2, out, sizeof(out)), HCP_EINVAL);
    assert_null(hcp_redact_dup(NULL, NULL, 0));
    /* the length is the output's: dropped characters make room */
    assert_int_equal(hcp_redact("ab\x01\x01\x01\x01\x01\x01\x01\x01\x01", out, 3), HCP_OK);
    assert_string_equal(out, "ab");
}

/* Output never longer than input, idempotent, and no run of 7 ASCII
 * digits joined by separators survives in a generated text (the parts
 * hold no date or case id). tests/fuzz/fuzz_redact.c checks the whole
 * invariant on arbitrary bytes. */
static void test_random(void **state)
{
    (void)state;
    static const char *const parts[] = {"审批", "0", "1", "7",  "-",  " ",    "@",
                                        ".",    "a", "X", "号", "／", "\x01", "\xef\xbf\xbe"};
    srand(7);
    for (int t = 0; t < 2000; t++) {
        char in[256] = "", out[256], again[256];
        for (int k = 0; k < 30; k++)
            strcat(in, parts[rand() % (int)(sizeof(parts) / sizeof(parts[0]))]);
        assert_int_equal(hcp_redact(in, out, strlen(in) + 1), HCP_OK);
        assert_true(strlen(out) <= strlen(in));
        assert_int_equal(hcp_redact(out, again, sizeof(again)), HCP_OK);
        assert_string_equal(out, again);
        size_t run = 0;
        for (const char *p = out; *p; p++) {
            if (*p >= '0' && *p <= '9')
                run++;
            else if (*p != '-' && *p != ' ' && *p != '.' && strncmp(p, "／", 3) != 0)
                run = 0;
            assert_true(run < 7);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mobile),    cmocka_unit_test(test_landline),
        cmocka_unit_test(test_id_number), cmocka_unit_test(test_fullwidth),
        cmocka_unit_test(test_email),     cmocka_unit_test(test_survives),
        cmocka_unit_test(test_known),     cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_random),    cmocka_unit_test(test_clean),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
