/*
 * test_redact.c — hcp_redact (core/redact.h): phones, landlines, ID
 * numbers, e-mail addresses and known names are masked; Chinese text,
 * dates and short numbers survive byte for byte; bounds and bad arguments.
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
}

static void test_landline(void **state)
{
    (void)state;
    expect("电话0971-8123456", "电话097*-*****56");
    expect("电话09718123456", "电话097******56");
    expect("（0971）8123456", "（0971）81****6");
    expect("本地8123456号", "本地81****6号");
    expect("0971-812-3456", "097*-***-**56"); /* 11 digits from 0 in groups */
}

static void test_id_number(void **state)
{
    (void)state;
    expect("身份证号630102199001011234", "身份证号630*************34");
    expect("身份证63010219900101123X。", "身份证630*************3X。");
    expect("身份证63010219900101123x", "身份证630*************3x");
    expect("老证630102900101123", "老证630**********23"); /* 15 digits */
}

static void test_fullwidth(void **state)
{
    (void)state;
    expect("电话１３８１２３４５６７８止", "电话１３８******７８止");
}

static void test_email(void **state)
{
    (void)state;
    expect("邮箱zhang.san@qq.com，请回复", "邮箱z********@**.com，请回复");
    expect("mail: a_b@mail.example.cn.", "mail: a**@****.*******.cn.");
    expect("13812345678@163.com", "1**********@***.com");
    expect("not an address: a@b, x@y.", "not an address: a@b, x@y.");
}

static void test_survives(void **state)
{
    (void)state;
    const char *keep[] = {
        "2026年11月27日已整改完毕",
        "2026-11-27 10:03 完成",
        "窗口12号，等候30分钟，材料5份",
        "编号 1 2 3 4 5 6 7",
        "金额123456元",
        "",
        "纯中文：经核实属实，已对相关工作人员进行批评教育。",
    };
    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
        expect(keep[i], keep[i]);
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
}

/* Output never longer than input, and every ASCII digit run of 7 or more
 * in a generated text comes out masked. */
static void test_random(void **state)
{
    (void)state;
    static const char *const parts[] = {"审批", "0", "1", "7", "-", " ", "@", ".", "a", "X", "号"};
    srand(7);
    for (int t = 0; t < 2000; t++) {
        char in[128] = "", out[128];
        for (int k = 0; k < 30; k++)
            strcat(in, parts[rand() % (int)(sizeof(parts) / sizeof(parts[0]))]);
        assert_int_equal(hcp_redact(in, out, strlen(in) + 1), HCP_OK);
        assert_true(strlen(out) <= strlen(in));
        size_t run = 0;
        for (const char *p = out; *p; p++) {
            run = (*p >= '0' && *p <= '9') ? run + 1 : 0;
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
        cmocka_unit_test(test_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
