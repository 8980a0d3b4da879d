/*
 * test_codec.c — the msgpack codec (core/codec.c, docs/codec.md).
 *
 * Covers: hcp_mp_check on every msgpack format and on hostile headers;
 * round trips of every event type and of a full case with Chinese text
 * (struct equality and byte-identical re-encoding); unknown fields and a
 * newer "v" kept verbatim; the personal-record split and its digest; and
 * every malformed class (truncation at each offset, bad types, huge counts,
 * invalid UTF-8, out-of-range enums, oversize strings, trailing bytes,
 * duplicates, fields foreign to the event type) returning an error.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <mbedtls/sha256.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"

/* ---- helpers -------------------------------------------------------- */

/* A heap copy the structs own. */
static char *S(const char *s)
{
    char *d = hcp_strndup(s, strlen(s));
    assert_non_null(d);
    return d;
}

/* Whether needle occurs in [hay, hay+n). */
static bool contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; k <= n && i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return true;
    return false;
}

/* Two optional strings: both absent, or equal bytes. */
static void str_eq(const char *a, const char *b)
{
    if (a == NULL || b == NULL) {
        assert_null(a);
        assert_null(b);
        return;
    }
    assert_string_equal(a, b);
}

/* Field-by-field equality of intakes (personal fields included). */
static void intake_eq(const hcp_intake *a, const hcp_intake *b)
{
    assert_int_equal(a->kind, b->kind);
    assert_int_equal(a->channel, b->channel);
    assert_int_equal(a->rating, b->rating);
    assert_int_equal(a->dimensions, b->dimensions);
    str_eq(a->unit.code, b->unit.code);
    str_eq(a->unit.name, b->unit.name);
    str_eq(a->window, b->window);
    str_eq(a->staff.id, b->staff.id);
    str_eq(a->staff.name, b->staff.name);
    str_eq(a->staff.phone, b->staff.phone);
    str_eq(a->service_item.code, b->service_item.code);
    str_eq(a->service_item.name, b->service_item.name);
    assert_int_equal(a->has_complainant, b->has_complainant);
    str_eq(a->complainant.name, b->complainant.name);
    str_eq(a->complainant.phone, b->complainant.phone);
    str_eq(a->complainant.id_number, b->complainant.id_number);
    str_eq(a->complainant.organization, b->complainant.organization);
    str_eq(a->content, b->content);
}

/* Same unknown pairs, same bytes. */
static void extra_eq(const hcp_extra *a, const hcp_extra *b)
{
    assert_int_equal(a->count, b->count);
    assert_int_equal(a->len, b->len);
    if (a->len > 0)
        assert_memory_equal(a->data, b->data, a->len);
}

/* Every field of an event (not the pii bookkeeping). */
static void event_eq(const hcp_event *a, const hcp_event *b)
{
    assert_int_equal(a->seq, b->seq);
    assert_string_equal(a->county, b->county);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->at, b->at);
    assert_int_equal(a->recorded_at, b->recorded_at);
    assert_string_equal(a->case_id, b->case_id);
    intake_eq(&a->in, &b->in);
    assert_int_equal(a->evaluation_no, b->evaluation_no);
    str_eq(a->verifier.name, b->verifier.name);
    str_eq(a->verifier.phone, b->verifier.phone);
    assert_int_equal(a->outcome, b->outcome);
    assert_int_equal(a->verdict, b->verdict);
    str_eq(a->note, b->note);
    str_eq(a->by, b->by);
    str_eq(a->reason, b->reason);
    str_eq(a->unit.code, b->unit.code);
    str_eq(a->unit.name, b->unit.name);
    assert_int_equal(a->mode, b->mode);
    assert_int_equal(a->new_due, b->new_due);
    str_eq(a->result, b->result);
    str_eq(a->via, b->via);
    str_eq(a->text, b->text);
    str_eq(a->document, b->document);
    str_eq(a->staff_explanation, b->staff_explanation);
    str_eq(a->unit_explanation, b->unit_explanation);
    str_eq(a->decision, b->decision);
    assert_int_equal(a->satisfied, b->satisfied);
    assert_int_equal(a->deadline, b->deadline);
    assert_int_equal(a->contact_channel, b->contact_channel);
    str_eq(a->summary, b->summary);
    str_eq(a->caller_name, b->caller_name);
    str_eq(a->caller_phone, b->caller_phone);
    assert_string_equal(a->linked_case, b->linked_case);
    assert_int_equal(a->contact_ref, b->contact_ref);
    extra_eq(&a->extra, &b->extra);
}

/* A deadline and its provisional flag. */
static void due_eq(const hcp_due *a, const hcp_due *b)
{
    assert_int_equal(a->at, b->at);
    assert_int_equal(a->provisional, b->provisional);
}

/* Every field of a case (not the pii bookkeeping). */
static void case_eq(const hcp_case *a, const hcp_case *b)
{
    assert_string_equal(a->id, b->id);
    assert_string_equal(a->county, b->county);
    intake_eq(&a->in, &b->in);
    assert_int_equal(a->real_name, b->real_name);
    assert_int_equal(a->received_at, b->received_at);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->outcome, b->outcome);
    assert_int_equal(a->adopted, b->adopted);
    due_eq(&a->feedback_due, &b->feedback_due);
    due_eq(&a->dispute_due, &b->dispute_due);
    due_eq(&a->rereview_due, &b->rereview_due);
    assert_int_equal(a->feedback_extended, b->feedback_extended);
    assert_int_equal(a->last_at, b->last_at);
    assert_int_equal(a->notified_at, b->notified_at);
    assert_int_equal(a->disputed_at, b->disputed_at);
    assert_int_equal(a->decided_at, b->decided_at);
    assert_int_equal(a->feedback_at, b->feedback_at);
    assert_int_equal(a->revisited_at, b->revisited_at);
    assert_int_equal(a->closed_at, b->closed_at);
    assert_int_equal(a->status_before_dispute, b->status_before_dispute);
    str_eq(a->verifier.name, b->verifier.name);
    str_eq(a->verifier.phone, b->verifier.phone);
    str_eq(a->rectify_unit.code, b->rectify_unit.code);
    str_eq(a->rectify_unit.name, b->rectify_unit.name);
    assert_int_equal(a->rectify_mode, b->rectify_mode);
    str_eq(a->rectification_result, b->rectification_result);
    assert_int_equal(a->revisit_satisfied, b->revisit_satisfied);
    assert_int_equal(a->overdue_marked, b->overdue_marked);
    assert_int_equal(a->nevents, b->nevents);
    assert_int_equal(a->last_seq, b->last_seq);
    assert_int_equal(a->reachable, b->reachable);
    assert_int_equal(a->last_recorded_at, b->last_recorded_at);
    extra_eq(&a->extra, &b->extra);
}

/* An intake with every field, personal ones included, in Chinese. */
static void fill_intake(hcp_intake *in, uint8_t kind)
{
    in->kind = kind;
    in->channel = HCP_CH_12345;
    in->rating = kind == HCP_KIND_COMPLAINT ? 0 : 1;
    in->dimensions = HCP_DIM_BIT(HCP_DIM_ATTITUDE) | HCP_DIM_BIT(HCP_DIM_MATERIALS);
    in->unit.code = S("11630102MB1234567X");
    in->unit.name = S("西宁市城中区政务服务中心");
    in->window = S("综合受理3号窗口");
    in->staff.id = S("CZ-0317");
    in->staff.name = S("李明");
    in->staff.phone = S("0971-8123456");
    in->service_item.code = S("630102-XK-0021");
    in->service_item.name = S("食品经营许可证核发");
    in->has_complainant = true;
    in->complainant.name = S("才让卓玛");
    in->complainant.phone = S("13897001234");
    in->complainant.id_number = S("630102199001011234");
    in->complainant.organization = S("青海高原牦牛乳业有限公司");
    in->content = S("办理许可证时要求补交材料三次，工作人员态度生硬。😠");
}

/* An event of the given type with every field that type carries. */
static void make_event(hcp_event *ev, uint8_t type)
{
    memset(ev, 0, sizeof(*ev));
    ev->seq = 42 + type;
    strcpy(ev->county, "630102");
    ev->type = type;
    ev->at = 1795752180 + type;
    ev->recorded_at = 1795752200 + type;
    strcpy(ev->case_id, "630102-20261127-0042");
    for (size_t i = 0; i < HCP_SALT_LEN; i++)
        ev->pii_salt[i] = (uint8_t)(0xa0 + i);
    switch (type) {
    case HCP_EV_EVALUATION:
        fill_intake(&ev->in, HCP_KIND_NONE);
        ev->evaluation_no = 900001;
        break;
    case HCP_EV_CASE_OPEN:
        fill_intake(&ev->in, HCP_KIND_COMPLAINT);
        ev->in.dimensions = HCP_DIM_BIT(HCP_DIM_RIGHTS);
        break;
    case HCP_EV_VERIFY_START:
        ev->verifier.name = S("王芳（监管局）");
        ev->verifier.phone = S("0971-6666666");
        break;
    case HCP_EV_VERIFY_CONCLUDE:
        ev->outcome = HCP_OUT_SUBSTANTIATED;
        ev->note = S("经调阅监控，情况属实。");
        break;
    case HCP_EV_DISPUTE_FILE:
        ev->by = S("李明");
        ev->reason = S("当事人材料不全，非本人原因。");
        ev->document = S("城东区复核申请〔2026〕3号");
        /* a phone typed into the explanation: masked, the original sealed */
        ev->staff_explanation = S("当日系统故障，可致电13912345678核实。");
        break;
    case HCP_EV_DISPUTE_DECIDE:
        ev->verdict = HCP_VD_UPHELD;
        ev->note = S("复核维持原结论。");
        ev->unit_explanation = S("中心说明：当日叫号系统停机两小时。");
        break;
    case HCP_EV_CLOSE:
        ev->decision = S("经督查组研究，群众诉求超出整改范围，决定办结。");
        break;
    case HCP_EV_RECTIFY_ASSIGN:
        ev->unit.code = S("11630102MB7654321Y");
        ev->unit.name = S("城中区市场监督管理局");
        ev->mode = HCP_RM_DEFERRED;
        break;
    case HCP_EV_RECTIFY_EXTEND:
        ev->reason = S("需跨部门协调。");
        ev->new_due = 20790;
        break;
    case HCP_EV_RECTIFY_DONE:
        ev->result = S("已一次性告知材料清单，并对窗口人员进行培训。");
        break;
    case HCP_EV_FEEDBACK:
        ev->via = S("电话");
        ev->text = S("已向您反馈整改结果。");
        break;
    case HCP_EV_REVISIT:
        ev->by = S("张伟");
        ev->satisfied = true;
        ev->note = S("群众表示满意。");
        break;
    case HCP_EV_OVERDUE:
        ev->deadline = HCP_DL_FEEDBACK;
        break;
    case HCP_EV_CONTACT: /* Art. 14's register: the case link in kl, not the envelope */
        ev->case_id[0] = '\0';
        ev->contact_channel = HCP_CH_PHONE;
        ev->summary = S("王芳来电咨询营业执照办理进度，电话13912345678。");
        ev->caller_name = S("王芳");
        ev->caller_phone = S("13912345678");
        snprintf(ev->linked_case, sizeof(ev->linked_case), "630102-20261127-0042");
        break;
    default: /* notify_staff: the envelope only */
        break;
    }
}

/* Encode ev, decode it (and its personal record), compare, re-encode and
 * compare bytes. */
static void event_roundtrip(const hcp_event *ev)
{
    hcp_buf rec, pii, rec2, pii2;
    hcp_buf_init(&rec, HCP_RECORD_MAX);
    hcp_buf_init(&pii, HCP_RECORD_MAX);
    hcp_buf_init(&rec2, HCP_RECORD_MAX);
    hcp_buf_init(&pii2, HCP_RECORD_MAX);
    uint8_t digest[HCP_HASH_LEN];
    assert_int_equal(hcp_event_encode(ev, &rec, &pii, digest), HCP_OK);
    assert_int_equal(pii.len > 0, hcp_event_has_personal(ev));

    hcp_event d;
    assert_int_equal(hcp_event_decode(rec.data, rec.len, &d), HCP_OK);
    assert_int_equal(d.has_pii, pii.len > 0);
    if (d.has_pii) {
        assert_memory_equal(d.pii_digest, digest, HCP_HASH_LEN);
        assert_int_equal(hcp_event_decode_pii(pii.data, pii.len, &d), HCP_OK);
        assert_memory_equal(d.pii_salt, ev->pii_salt, HCP_SALT_LEN);
    }
    event_eq(ev, &d);
    assert_int_equal(hcp_event_encode(&d, &rec2, &pii2, NULL), HCP_OK);
    assert_int_equal(rec.len, rec2.len);
    assert_memory_equal(rec.data, rec2.data, rec.len);
    assert_int_equal(pii.len, pii2.len);
    if (pii.len > 0)
        assert_memory_equal(pii.data, pii2.data, pii.len);
    hcp_event_clear(&d);
    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
    hcp_buf_free(&rec2);
    hcp_buf_free(&pii2);
}

/* A case with every field set. */
static void make_case(hcp_case *c)
{
    memset(c, 0, sizeof(*c));
    strcpy(c->id, "630102-20261127-0042");
    strcpy(c->county, "630102");
    fill_intake(&c->in, HCP_KIND_REVIEW);
    c->real_name = true;
    c->received_at = 1795752180;
    c->status = HCP_ST_AWAITING_REVISIT;
    c->outcome = HCP_OUT_SUBSTANTIATED;
    c->adopted = true;
    c->feedback_due = (hcp_due){1796227199, false};
    c->dispute_due = (hcp_due){1795967999, true};
    c->rereview_due = (hcp_due){1796399999, true};
    c->feedback_extended = true;
    c->last_at = 1796000000;
    c->notified_at = 1795760000;
    c->disputed_at = 1795770000;
    c->decided_at = 1795780000;
    c->feedback_at = 1795990000;
    c->revisited_at = -5; /* a negative time survives too */
    c->closed_at = 1796100000;
    c->status_before_dispute = HCP_ST_VERIFYING;
    c->verifier.name = S("王芳");
    c->verifier.phone = S("0971-6666666");
    c->rectify_unit.code = S("11630102MB7654321Y");
    c->rectify_unit.name = S("城中区市场监督管理局");
    c->rectify_mode = HCP_RM_IMMEDIATE;
    c->rectification_result = S("立行立改：当场补办。");
    c->revisit_satisfied = true;
    c->overdue_marked = (1u << HCP_DL_FEEDBACK) | (1u << HCP_DL_REREVIEW);
    c->nevents = 9;
    c->last_seq = 1234567890123ull;
    c->reachable = true;
    c->last_recorded_at = 1795800000;
}

/* Encode rec+pii of a case with salt 0x11.. */
static void case_encode(const hcp_case *c, hcp_buf *rec, hcp_buf *pii)
{
    uint8_t salt[HCP_SALT_LEN];
    memset(salt, 0x11, sizeof(salt));
    hcp_buf_init(rec, HCP_RECORD_MAX);
    hcp_buf_init(pii, HCP_RECORD_MAX);
    assert_int_equal(hcp_case_encode(c, salt, rec, pii), HCP_OK);
}

/* A msgpack-c sbuffer and packer for crafting records. */
typedef struct craft {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} craft;

/* An empty sbuffer with a packer writing into it; destroy c->sb after. */
static void cr_init(craft *c)
{
    msgpack_sbuffer_init(&c->sb);
    msgpack_packer_init(&c->pk, &c->sb, msgpack_sbuffer_write);
}

/* Pack a string key. */
static void cr_key(craft *c, const char *k)
{
    msgpack_pack_str_with_body(&c->pk, k, strlen(k));
}

/* Pack key k with a string value of n bytes (any bytes). */
static void cr_str(craft *c, const char *k, const char *v, size_t n)
{
    cr_key(c, k);
    msgpack_pack_str_with_body(&c->pk, v, n);
}

/* Pack key k with an unsigned value. */
static void cr_uint(craft *c, const char *k, uint64_t v)
{
    cr_key(c, k);
    msgpack_pack_uint64(&c->pk, v);
}

/* A map of n + 4 entries starting with v, s, c, t (type). */
static void cr_event(craft *c, uint32_t n, uint64_t type)
{
    cr_init(c);
    msgpack_pack_map(&c->pk, n + 4);
    cr_uint(c, "v", 1);
    cr_uint(c, "s", 7);
    cr_str(c, "c", "630102", 6);
    cr_uint(c, "t", type);
}

/* Decode the crafted bytes as an event, release everything, return rc. */
static int cr_decode_event(craft *c)
{
    hcp_event ev;
    int rc = hcp_event_decode(c->sb.data, c->sb.size, &ev);
    hcp_event_clear(&ev);
    msgpack_sbuffer_destroy(&c->sb);
    return rc;
}

/* ---- hcp_mp_check --------------------------------------------------- */

/* One array holding every msgpack format, each length class included. */
static void pack_every_format(craft *c)
{
    static char big[70000];
    memset(big, 'x', sizeof(big));
    cr_init(c);
    msgpack_pack_array(&c->pk, 34);
    msgpack_pack_nil(&c->pk);
    msgpack_pack_true(&c->pk);
    msgpack_pack_false(&c->pk);
    msgpack_pack_fix_uint8(&c->pk, 200);
    msgpack_pack_fix_uint16(&c->pk, 60000);
    msgpack_pack_fix_uint32(&c->pk, 4000000000u);
    msgpack_pack_fix_uint64(&c->pk, UINT64_MAX);
    msgpack_pack_fix_int8(&c->pk, -100);
    msgpack_pack_fix_int16(&c->pk, -30000);
    msgpack_pack_fix_int32(&c->pk, -2000000000);
    msgpack_pack_fix_int64(&c->pk, INT64_MIN);
    msgpack_pack_int(&c->pk, 5);
    msgpack_pack_int(&c->pk, -5);
    msgpack_pack_float(&c->pk, 1.5f);
    msgpack_pack_double(&c->pk, 2.5);
    msgpack_pack_str_with_body(&c->pk, big, 5);
    msgpack_pack_str_with_body(&c->pk, big, 40);
    msgpack_pack_str_with_body(&c->pk, big, 300);
    msgpack_pack_str_with_body(&c->pk, big, 70000);
    msgpack_pack_bin_with_body(&c->pk, big, 5);
    msgpack_pack_bin_with_body(&c->pk, big, 300);
    msgpack_pack_bin_with_body(&c->pk, big, 70000);
    static const size_t ext[] = {1, 2, 4, 8, 16, 3, 300, 70000};
    for (size_t i = 0; i < 8; i++)
        msgpack_pack_ext_with_body(&c->pk, big, ext[i], 7);
    msgpack_pack_array(&c->pk, 20);
    for (int i = 0; i < 20; i++)
        msgpack_pack_nil(&c->pk);
    msgpack_pack_map(&c->pk, 20);
    for (int i = 0; i < 20; i++) {
        msgpack_pack_int(&c->pk, i);
        msgpack_pack_nil(&c->pk);
    }
    msgpack_pack_array(&c->pk, 70000);
    for (int i = 0; i < 70000; i++)
        msgpack_pack_nil(&c->pk);
    /* map32 by hand: msgpack-c packs the smallest header */
    static const char map32[] = {(char)0xdf, 0, 0, 0, 1, (char)0xa1, 'a', 1};
    msgpack_sbuffer_write(&c->sb, map32, sizeof(map32));
}

/* Every format passes; depth is enforced; every prefix is refused. */
static void test_mp_check_formats(void **state)
{
    (void)state;
    craft c;
    pack_every_format(&c);
    assert_int_equal(hcp_mp_check(c.sb.data, c.sb.size, 2), HCP_OK);
    assert_int_equal(hcp_mp_check(c.sb.data, c.sb.size, 1), HCP_EFORMAT); /* depth */
    /* Every proper prefix is cut somewhere. Sample the long tail sparsely. */
    for (size_t n = 0; n < c.sb.size; n += n < 1000 ? 1 : 997)
        assert_int_equal(hcp_mp_check(c.sb.data, n, 2), HCP_EFORMAT);
    msgpack_sbuffer_destroy(&c.sb);
}

/* Hostile headers (msgpack-c's 4 GiB arrays, docs/codec.md) and edge cases. */
static void test_mp_check_hostile(void **state)
{
    (void)state;
    static const uint8_t a32[] = {0xdd, 0x0a, 0x29, 0x83, 0x29};
    static const uint8_t m32[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    static const uint8_t two[] = {0x29, 0xdd, 0x0a, 0x29, 0x83, 0x29};
    static const uint8_t m16[] = {0xde, 0x00, 0x02, 0xa1, 0x61, 0x01}; /* 2 entries, 3 bytes */
    static const uint8_t s32[] = {0xdb, 0x7f, 0xff, 0xff, 0xff, 'a'};
    static const uint8_t e32[] = {0xc9, 0x00, 0x00, 0x00, 0x02, 0x01, 'a'};
    static const uint8_t rsv[] = {0xc1};
    static const uint8_t trail[] = {0x01, 0x02};
    static const uint8_t cut_len[] = {0xda, 0x00};
    static const uint8_t fixext[] = {0xd8, 0x01, 0, 0, 0};
    static const uint8_t arr_c1[] = {0x91, 0xc1};
    assert_int_equal(hcp_mp_check(a32, sizeof(a32), 8), HCP_EFORMAT);
    assert_int_equal(hcp_mp_check(m32, sizeof(m32), 8), HCP_EFORMAT);
    assert_int_equal(hcp_mp_check(two, sizeof(two), 8), HCP_EFORMAT);
    assert_int_equal(hcp_mp_check(m16, sizeof(m16), 8), HCP_EFORMAT);
    assert_int_equal(hcp_mp_check(s32, sizeof(s32), 8), HCP_EFORMAT);
    assert_int_equal(hcp_mp_check(e32, sizeof(e32), 8), HCP_EFORMAT);
    assert_int_equal(hcp_mp_check(rsv, sizeof(rsv), 8), HCP_EFORMAT);
    assert_int_equal(hcp_mp_check(trail, sizeof(trail), 8), HCP_EFORMAT);
    assert_int_equal(hcp_mp_check(cut_len, sizeof(cut_len), 8), HCP_EFORMAT);
    assert_int_equal(hcp_mp_check(fixext, sizeof(fixext), 8), HCP_EFORMAT);
    assert_int_equal(hcp_mp_check(arr_c1, sizeof(arr_c1), 8), HCP_EFORMAT);
    assert_int_equal(hcp_mp_check(trail, 0, 8), HCP_EFORMAT);
    assert_int_equal(hcp_mp_check(trail, 1, 8), HCP_OK);
    assert_int_equal(hcp_mp_check(NULL, 1, 8), HCP_EINVAL);
    assert_int_equal(hcp_mp_check(trail, 1, -1), HCP_EINVAL);
    assert_int_equal(hcp_mp_check(trail, 1, 1000), HCP_EINVAL);
    /* depth: [[[[1]]]] */
    static const uint8_t deep[] = {0x91, 0x91, 0x91, 0x91, 0x01};
    assert_int_equal(hcp_mp_check(deep, sizeof(deep), 4), HCP_OK);
    assert_int_equal(hcp_mp_check(deep, sizeof(deep), 3), HCP_EFORMAT);
    /* 40 nested arrays: over any allowed depth, never a stack problem */
    uint8_t nest[41];
    memset(nest, 0x91, 40);
    nest[40] = 0;
    assert_int_equal(hcp_mp_check(nest, sizeof(nest), 32), HCP_EFORMAT);

    /* the decoders refuse them too, without asking msgpack-c for memory */
    hcp_event ev;
    hcp_case c;
    const uint8_t *bad[] = {a32, m32, two, rsv};
    size_t badn[] = {sizeof(a32), sizeof(m32), sizeof(two), sizeof(rsv)};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(hcp_event_decode(bad[i], badn[i], &ev), HCP_EFORMAT);
        hcp_event_clear(&ev);
        assert_int_equal(hcp_case_decode(bad[i], badn[i], &c), HCP_EFORMAT);
        hcp_case_clear(&c);
    }
}

/* ---- round trips ---------------------------------------------------- */

/* Every event type, full fields, Chinese text: equal and byte-identical. */
static void test_event_roundtrip_all_types(void **state)
{
    (void)state;
    for (uint8_t t = 1; t < HCP_EV_COUNT_; t++) {
        hcp_event ev;
        make_event(&ev, t);
        event_roundtrip(&ev);
        hcp_event_clear(&ev);
    }
    /* an anonymous evaluation with no personal data: no personal record */
    hcp_event ev;
    make_event(&ev, HCP_EV_EVALUATION);
    hcp_intake_clear(&ev.in);
    ev.in.channel = HCP_CH_QRCODE;
    ev.in.rating = 5;
    ev.case_id[0] = '\0';
    ev.in.window = S(""); /* empty, not absent */
    event_roundtrip(&ev);
    hcp_event_clear(&ev);
}

/* A case with every field set round-trips; a tampered personal record fails. */
static void test_case_roundtrip(void **state)
{
    (void)state;
    hcp_case c, d;
    hcp_buf rec, pii, rec2, pii2;
    make_case(&c);
    case_encode(&c, &rec, &pii);
    assert_true(pii.len > 0);
    assert_int_equal(hcp_case_decode(rec.data, rec.len, &d), HCP_OK);
    assert_true(d.has_pii);
    assert_int_equal(hcp_case_decode_pii(pii.data, pii.len, &d), HCP_OK);
    case_eq(&c, &d);
    case_encode(&d, &rec2, &pii2);
    assert_int_equal(rec.len, rec2.len);
    assert_memory_equal(rec.data, rec2.data, rec.len);
    assert_int_equal(pii.len, pii2.len);
    assert_memory_equal(pii.data, pii2.data, pii.len);
    /* a tampered personal record of a case is refused */
    pii.data[pii.len - 1] ^= 0x01;
    hcp_case_clear(&d);
    assert_int_equal(hcp_case_decode(rec.data, rec.len, &d), HCP_OK);
    assert_int_not_equal(hcp_case_decode_pii(pii.data, pii.len, &d), HCP_OK);
    hcp_case_clear(&d);
    hcp_case_clear(&c);
    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
    hcp_buf_free(&rec2);
    hcp_buf_free(&pii2);
}

/* ---- unknown fields and versions ------------------------------------ */

/* Start a map with `more` entries beyond those of rec (a fixmap); the
 * caller appends the body. */
static void cr_extend(craft *c, const hcp_buf *rec, uint32_t more)
{
    assert_true(rec->data[0] >= 0x80 && rec->data[0] <= 0x8f);
    cr_init(c);
    msgpack_pack_map(&c->pk, (rec->data[0] & 0x0f) + more);
}

/* Two unknown keys a newer writer might add. */
static void pack_extras(craft *c)
{
    cr_key(c, "zz");
    msgpack_pack_array(&c->pk, 2);
    msgpack_pack_int(&c->pk, -1);
    msgpack_pack_str_with_body(&c->pk, "未来", strlen("未来"));
    cr_key(c, "nw");
    msgpack_pack_map(&c->pk, 1);
    cr_key(c, "a");
    msgpack_pack_double(&c->pk, 0.25);
}

/* Unknown keys, and a newer "v", survive decode + encode byte for byte. */
static void test_unknown_fields_kept(void **state)
{
    (void)state;
    hcp_event ev, d;
    hcp_buf rec, pii, rec2, pii2;
    make_event(&ev, HCP_EV_VERIFY_CONCLUDE);
    hcp_buf_init(&rec, HCP_RECORD_MAX);
    hcp_buf_init(&pii, HCP_RECORD_MAX);
    assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_OK);

    /* same version, two extra keys at the end */
    craft c;
    cr_extend(&c, &rec, 2);
    msgpack_sbuffer_write(&c.sb, (const char *)rec.data + 1, rec.len - 1);
    pack_extras(&c);
    assert_int_equal(hcp_event_decode(c.sb.data, c.sb.size, &d), HCP_OK);
    assert_int_equal(d.extra.count, 2);
    assert_string_equal(d.note, ev.note);
    hcp_buf_init(&rec2, HCP_RECORD_MAX);
    hcp_buf_init(&pii2, HCP_RECORD_MAX);
    assert_int_equal(hcp_event_encode(&d, &rec2, &pii2, NULL), HCP_OK);
    assert_int_equal(rec2.len, c.sb.size);
    assert_memory_equal(rec2.data, c.sb.data, rec2.len);
    hcp_event_clear(&d);
    msgpack_sbuffer_destroy(&c.sb);

    /* a newer "v" (7) with extras: still decodes, written back unchanged */
    hcp_buf_reset(&rec2);
    cr_extend(&c, &rec, 2);
    cr_uint(&c, "v", 7);
    assert_int_equal(memcmp(rec.data + 1, "\xa1v", 2), 0);
    assert_int_equal(rec.data[3], HCP_SCHEMA_VERSION);
    msgpack_sbuffer_write(&c.sb, (const char *)rec.data + 4, rec.len - 4);
    pack_extras(&c);
    assert_int_equal(hcp_event_decode(c.sb.data, c.sb.size, &d), HCP_OK);
    assert_int_equal(d.extra.count, 3); /* the newer "v" travels with them */
    assert_int_equal(d.outcome, HCP_OUT_SUBSTANTIATED);
    assert_int_equal(hcp_event_encode(&d, &rec2, &pii2, NULL), HCP_OK);
    assert_int_equal(rec2.len, c.sb.size);
    assert_memory_equal(rec2.data, c.sb.data, rec2.len);
    hcp_event_clear(&d);
    msgpack_sbuffer_destroy(&c.sb);

    /* the same for a case */
    hcp_case cs, cd;
    hcp_buf crec, cpii;
    make_case(&cs);
    case_encode(&cs, &crec, &cpii);
    cr_init(&c);
    assert_int_equal(crec.data[0], 0xde); /* map16: many fields */
    size_t n = ((size_t)crec.data[1] << 8) | crec.data[2];
    msgpack_pack_map(&c.pk, n + 2);
    msgpack_sbuffer_write(&c.sb, (const char *)crec.data + 3, crec.len - 3);
    pack_extras(&c);
    assert_int_equal(hcp_case_decode(c.sb.data, c.sb.size, &cd), HCP_OK);
    assert_int_equal(cd.extra.count, 2);
    assert_int_equal(hcp_case_decode_pii(cpii.data, cpii.len, &cd), HCP_OK);
    hcp_buf_reset(&rec2);
    hcp_buf_reset(&pii2);
    assert_int_equal(hcp_case_encode(&cd, cd.pii_salt, &rec2, &pii2), HCP_OK);
    assert_int_equal(pii2.len, cpii.len);
    assert_memory_equal(pii2.data, cpii.data, cpii.len);
    assert_int_equal(rec2.len, c.sb.size);
    assert_memory_equal(rec2.data, c.sb.data, rec2.len);
    msgpack_sbuffer_destroy(&c.sb);
    hcp_case_clear(&cd);
    hcp_case_clear(&cs);
    hcp_buf_free(&crec);
    hcp_buf_free(&cpii);

    hcp_event_clear(&ev);
    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
    hcp_buf_free(&rec2);
    hcp_buf_free(&pii2);
}

/* The pairs of a record (a fixmap) as raw spans: at[i] is where object i
 * (keys and values alternately) starts, at[2 * pairs] its end. */
static size_t record_spans(const hcp_buf *rec, size_t at[64])
{
    assert_true(rec->data[0] >= 0x80 && rec->data[0] <= 0x8f);
    size_t objs = 2u * (rec->data[0] & 0x0f), off = 1;
    assert_true(objs < 64);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    for (size_t i = 0; i < objs; i++) {
        at[i] = off;
        assert_int_equal(msgpack_unpack_next(&u, (const char *)rec->data, rec->len, &off),
                         MSGPACK_UNPACK_SUCCESS);
    }
    at[objs] = off;
    assert_int_equal(off, rec->len);
    msgpack_unpacked_destroy(&u);
    return objs / 2;
}

/* An event with `extra` unknown pairs x000.. after its fields, nested
 * `depth` arrays deep in one more pair "zz" when depth > 0. */
static void cr_many(craft *c, const hcp_buf *rec, uint32_t extra, int depth)
{
    cr_extend(c, rec, extra + (depth > 0));
    msgpack_sbuffer_write(&c->sb, (const char *)rec->data + 1, rec->len - 1);
    for (uint32_t i = 0; i < extra; i++) {
        char k[16];
        snprintf(k, sizeof(k), "x%03u", i);
        cr_key(c, k);
        msgpack_pack_uint32(&c->pk, i);
    }
    if (depth > 0) {
        cr_key(c, "zz");
        for (int i = 0; i < depth; i++)
            msgpack_pack_array(&c->pk, 1);
        msgpack_pack_int(&c->pk, 1);
    }
}

/* The decoder walks a record's bounds once and cuts its pairs from that
 * walk: records of more pairs than it marks, known keys in any order, and
 * nesting at the limit decode as before (hcp_mp_check's rules, REC_DEPTH 8
 * counting the record's own map). */
static void test_pairs_walked_once(void **state)
{
    (void)state;
    hcp_event ev, d;
    hcp_buf rec, pii, rec2, pii2;
    make_event(&ev, HCP_EV_VERIFY_CONCLUDE);
    hcp_buf_init(&rec, HCP_RECORD_MAX);
    hcp_buf_init(&pii, HCP_RECORD_MAX);
    hcp_buf_init(&rec2, HCP_RECORD_MAX);
    hcp_buf_init(&pii2, HCP_RECORD_MAX);
    assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_OK);

    /* 0, a few, and more unknown pairs than the walk marks (64): each one's
     * raw bytes kept exactly, the record written back byte for byte */
    static const uint32_t counts[] = {0, 3, 63, 64, 65, 200};
    for (size_t k = 0; k < sizeof(counts) / sizeof(counts[0]); k++) {
        craft c;
        cr_many(&c, &rec, counts[k], 0);
        assert_int_equal(hcp_event_decode(c.sb.data, c.sb.size, &d), HCP_OK);
        assert_int_equal(d.extra.count, counts[k]);
        assert_string_equal(d.note, ev.note);
        hcp_buf_reset(&rec2);
        hcp_buf_reset(&pii2);
        assert_int_equal(hcp_event_encode(&d, &rec2, &pii2, NULL), HCP_OK);
        assert_int_equal(rec2.len, c.sb.size);
        assert_memory_equal(rec2.data, c.sb.data, rec2.len);
        hcp_event_clear(&d);
        msgpack_sbuffer_destroy(&c.sb);
    }

    /* the known pairs reversed, and rotated: the same event */
    size_t at[64];
    size_t pairs = record_spans(&rec, at);
    assert_true(pairs > 3);
    for (size_t rot = 0; rot <= pairs; rot++) {
        craft c;
        cr_init(&c);
        msgpack_pack_map(&c.pk, (uint32_t)pairs);
        for (size_t j = 0; j < pairs; j++) {
            size_t i = rot == pairs ? pairs - 1 - j : (j + rot) % pairs; /* last: reversed */
            msgpack_sbuffer_write(&c.sb, (const char *)rec.data + at[2 * i],
                                  at[2 * i + 2] - at[2 * i]);
        }
        assert_int_equal(hcp_event_decode(c.sb.data, c.sb.size, &d), HCP_OK);
        event_eq(&ev, &d);
        hcp_event_clear(&d);
        /* a key twice is still refused, wherever the search starts */
        craft dup;
        cr_init(&dup);
        msgpack_pack_map(&dup.pk, (uint32_t)pairs + 1);
        msgpack_sbuffer_write(&dup.sb, c.sb.data + 1, c.sb.size - 1);
        size_t i = rot % pairs;
        msgpack_sbuffer_write(&dup.sb, (const char *)rec.data + at[2 * i],
                              at[2 * i + 2] - at[2 * i]);
        assert_int_equal(hcp_event_decode(dup.sb.data, dup.sb.size, &d), HCP_EFORMAT);
        hcp_event_clear(&d);
        msgpack_sbuffer_destroy(&dup.sb);
        msgpack_sbuffer_destroy(&c.sb);
    }

    /* nesting: the record's map, then 7 arrays and an int = depth 8: kept;
     * one more array: refused, alone and behind 70 other pairs */
    for (uint32_t extra = 0; extra <= 70; extra += 70) {
        craft c;
        cr_many(&c, &rec, extra, 7);
        assert_int_equal(hcp_mp_check(c.sb.data, c.sb.size, 8), HCP_OK);
        assert_int_equal(hcp_event_decode(c.sb.data, c.sb.size, &d), HCP_OK);
        assert_int_equal(d.extra.count, extra + 1);
        hcp_event_clear(&d);
        msgpack_sbuffer_destroy(&c.sb);
        cr_many(&c, &rec, extra, 8);
        assert_int_equal(hcp_mp_check(c.sb.data, c.sb.size, 8), HCP_EFORMAT);
        assert_int_equal(hcp_event_decode(c.sb.data, c.sb.size, &d), HCP_EFORMAT);
        hcp_event_clear(&d);
        /* and every cut of it is refused */
        for (size_t n = 0; n < c.sb.size; n++) {
            assert_int_equal(hcp_event_decode(c.sb.data, n, &d), HCP_EFORMAT);
            hcp_event_clear(&d);
        }
        msgpack_sbuffer_destroy(&c.sb);
    }

    hcp_event_clear(&ev);
    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
    hcp_buf_free(&rec2);
    hcp_buf_free(&pii2);
}

/* Bad extras given to an encoder are refused and leave the buffers. */
static void test_bad_extras_refused(void **state)
{
    (void)state;
    hcp_event ev;
    hcp_buf rec, pii;
    make_event(&ev, HCP_EV_CLOSE);
    hcp_buf_init(&rec, HCP_RECORD_MAX);
    hcp_buf_init(&pii, HCP_RECORD_MAX);
    uint8_t known[] = {0xa1, 't', 0x01};         /* a known key */
    uint8_t notstr[] = {0x01, 0x02};             /* an integer key */
    uint8_t cut[] = {0xa2, 'z', 'z', 0xa5, 'x'}; /* value cut short */
    uint8_t *bad[] = {known, notstr, cut};
    size_t badn[] = {sizeof(known), sizeof(notstr), sizeof(cut)};
    for (size_t i = 0; i < 3; i++) {
        ev.extra = (hcp_extra){bad[i], badn[i], 1};
        assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_EINVAL);
        assert_int_equal(rec.len, 0);
    }
    ev.extra = (hcp_extra){NULL, 0, 0};
    hcp_event_clear(&ev);
    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
}

/* ---- personal data -------------------------------------------------- */

/* Personal data only in the personal record, bound by the digest. */
static void test_personal_split(void **state)
{
    (void)state;
    hcp_event ev, d;
    hcp_buf rec, pii;
    uint8_t digest[HCP_HASH_LEN];
    make_event(&ev, HCP_EV_CASE_OPEN);
    hcp_buf_init(&rec, HCP_RECORD_MAX);
    hcp_buf_init(&pii, HCP_RECORD_MAX);
    assert_int_equal(hcp_event_encode(&ev, &rec, &pii, digest), HCP_OK);
    const char *personal[] = {ev.in.complainant.name, ev.in.complainant.phone,
                              ev.in.complainant.id_number, ev.in.complainant.organization,
                              ev.in.staff.phone};
    for (size_t i = 0; i < 5; i++) {
        assert_false(contains(rec.data, rec.len, personal[i]));
        assert_true(contains(pii.data, pii.len, personal[i]));
    }
    assert_true(contains(rec.data, rec.len, ev.in.staff.name));
    assert_true(contains(rec.data, rec.len, ev.in.content));

    /* digest = SHA-256(salt || personal record) */
    uint8_t want[HCP_HASH_LEN];
    mbedtls_sha256_context sc;
    mbedtls_sha256_init(&sc);
    assert_int_equal(mbedtls_sha256_starts_ret(&sc, 0), 0);
    assert_int_equal(mbedtls_sha256_update_ret(&sc, ev.pii_salt, HCP_SALT_LEN), 0);
    assert_int_equal(mbedtls_sha256_update_ret(&sc, pii.data, pii.len), 0);
    assert_int_equal(mbedtls_sha256_finish_ret(&sc, want), 0);
    mbedtls_sha256_free(&sc);
    assert_memory_equal(digest, want, HCP_HASH_LEN);

    assert_int_equal(hcp_event_decode(rec.data, rec.len, &d), HCP_OK);
    assert_true(d.has_pii);
    assert_null(d.in.complainant.name);
    assert_null(d.in.staff.phone);
    assert_true(d.in.has_complainant);
    assert_int_equal(hcp_event_decode_pii(pii.data, pii.len, &d), HCP_OK);
    assert_string_equal(d.in.complainant.name, "才让卓玛");
    assert_string_equal(d.in.staff.phone, "0971-8123456");
    hcp_event_clear(&d);

    /* tampered personal record: one digit of the phone changed */
    uint8_t *p = pii.data;
    for (size_t i = 0; i + 11 <= pii.len; i++)
        if (memcmp(p + i, "13897001234", 11) == 0)
            p[i + 10] = '5';
    assert_int_equal(hcp_event_decode(rec.data, rec.len, &d), HCP_OK);
    assert_int_equal(hcp_event_decode_pii(pii.data, pii.len, &d), HCP_ECRYPTO);
    assert_null(d.in.complainant.phone);
    hcp_event_clear(&d);

    /* a personal record without a main record that has one */
    hcp_event plain;
    make_event(&plain, HCP_EV_CLOSE);
    assert_int_equal(hcp_event_decode_pii(pii.data, pii.len, &plain), HCP_EINVAL);
    hcp_event_clear(&plain);

    /* personal data on a type that does not carry it, or complainant
     * fields on an anonymous intake: refused, buffers untouched */
    size_t l0 = rec.len, p0 = pii.len;
    ev.in.has_complainant = false;
    assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_EINVAL);
    hcp_event_clear(&ev);
    make_event(&ev, HCP_EV_NOTIFY_STAFF);
    ev.verifier.phone = S("110");
    assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_EINVAL);
    assert_int_equal(rec.len, l0);
    assert_int_equal(pii.len, p0);

    hcp_event_clear(&ev);
    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
}

/* A personal record with an unknown key and a correct digest. */
static void test_personal_closed(void **state)
{
    (void)state;
    for (uint64_t v = HCP_SCHEMA_VERSION; v <= HCP_SCHEMA_VERSION + 1; v++) {
        craft c;
        uint8_t salt[HCP_SALT_LEN] = {1, 2, 3};
        cr_init(&c);
        msgpack_pack_map(&c.pk, 4);
        cr_uint(&c, "v", v);
        cr_key(&c, "sa");
        msgpack_pack_bin_with_body(&c.pk, salt, HCP_SALT_LEN);
        cr_str(&c, "cn", "卓玛", strlen("卓玛"));
        cr_str(&c, "qq", "x", 1);
        hcp_event ev;
        make_event(&ev, HCP_EV_EVALUATION);
        ev.has_pii = true;
        hcp_intake_clear(&ev.in);
        ev.in.has_complainant = true;
        mbedtls_sha256_context sc;
        mbedtls_sha256_init(&sc);
        assert_int_equal(mbedtls_sha256_starts_ret(&sc, 0), 0);
        assert_int_equal(mbedtls_sha256_update_ret(&sc, salt, HCP_SALT_LEN), 0);
        assert_int_equal(mbedtls_sha256_update_ret(&sc, (const uint8_t *)c.sb.data, c.sb.size), 0);
        assert_int_equal(mbedtls_sha256_finish_ret(&sc, ev.pii_digest), 0);
        mbedtls_sha256_free(&sc);
        assert_int_equal(hcp_event_decode_pii(c.sb.data, c.sb.size, &ev),
                         v == HCP_SCHEMA_VERSION ? HCP_EFORMAT : HCP_EVERSION);
        hcp_event_clear(&ev);
        msgpack_sbuffer_destroy(&c.sb);
    }
}

/* ---- malformed ------------------------------------------------------ */

/* Every prefix of a valid record is refused; every single-byte change
 * either is refused or decodes to something that re-encodes. */
static void test_truncation_and_flips(void **state)
{
    (void)state;
    hcp_event ev, d;
    hcp_buf rec, pii, out, outp;
    make_event(&ev, HCP_EV_EVALUATION);
    hcp_buf_init(&rec, HCP_RECORD_MAX);
    hcp_buf_init(&pii, HCP_RECORD_MAX);
    hcp_buf_init(&out, HCP_RECORD_MAX);
    hcp_buf_init(&outp, HCP_RECORD_MAX);
    assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_OK);
    for (size_t n = 0; n < rec.len; n++) {
        assert_int_not_equal(hcp_event_decode(rec.data, n, &d), HCP_OK);
        hcp_event_clear(&d);
    }
    assert_int_equal(hcp_event_decode(rec.data, rec.len, &d), HCP_OK);
    for (size_t n = 0; n < pii.len; n++)
        assert_int_not_equal(hcp_event_decode_pii(pii.data, n, &d), HCP_OK);
    hcp_event_clear(&d);

    hcp_case c, cd;
    hcp_buf crec, cpii;
    make_case(&c);
    case_encode(&c, &crec, &cpii);
    for (size_t n = 0; n < crec.len; n++) {
        assert_int_not_equal(hcp_case_decode(crec.data, n, &cd), HCP_OK);
        hcp_case_clear(&cd);
    }

    static const uint8_t flips[] = {0x01, 0x80, 0xff, 0x20};
    for (size_t i = 0; i < rec.len; i++) {
        for (size_t f = 0; f < sizeof(flips); f++) {
            rec.data[i] ^= flips[f];
            if (hcp_event_decode(rec.data, rec.len, &d) == HCP_OK) {
                hcp_buf_reset(&out);
                hcp_buf_reset(&outp);
                assert_int_equal(hcp_event_encode(&d, &out, &outp, NULL), HCP_OK);
            }
            hcp_event_clear(&d);
            rec.data[i] ^= flips[f];
        }
    }
    for (size_t i = 0; i < crec.len; i++) {
        crec.data[i] ^= 0x01;
        if (hcp_case_decode(crec.data, crec.len, &cd) == HCP_OK) {
            hcp_buf_reset(&out);
            hcp_buf_reset(&outp);
            assert_int_equal(hcp_case_encode(&cd, NULL, &out, &outp), HCP_OK);
        }
        hcp_case_clear(&cd);
        crec.data[i] ^= 0x01;
    }
    /* trailing bytes */
    assert_int_equal(hcp_buf_append(&rec, "\xc0", 1), HCP_OK);
    assert_int_equal(hcp_event_decode(rec.data, rec.len, &d), HCP_EFORMAT);
    hcp_event_clear(&d);

    hcp_case_clear(&c);
    hcp_buf_free(&crec);
    hcp_buf_free(&cpii);
    hcp_event_clear(&ev);
    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
    hcp_buf_free(&out);
    hcp_buf_free(&outp);
}

/* One crafted record per malformed class, each with its error code. */
static void test_malformed_fields(void **state)
{
    (void)state;
    craft c;
    static char big[HCP_TEXT_MAX + 2];
    memset(big, 'a', sizeof(big));

    cr_event(&c, 1, HCP_EV_VERIFY_CONCLUDE); /* sanity: valid */
    cr_uint(&c, "o", HCP_OUT_SUBSTANTIATED);
    assert_int_equal(cr_decode_event(&c), HCP_OK);

    cr_event(&c, 1, HCP_EV_VERIFY_CONCLUDE); /* enum out of range */
    cr_uint(&c, "o", HCP_OUT_COUNT_);
    assert_int_equal(cr_decode_event(&c), HCP_ERANGE);

    cr_event(&c, 0, 99); /* unknown event type */
    assert_int_equal(cr_decode_event(&c), HCP_ERANGE);

    cr_event(&c, 1, HCP_EV_VERIFY_CONCLUDE); /* invalid UTF-8 */
    cr_str(&c, "nt", "ok\xff\xfe", 4);
    assert_int_equal(cr_decode_event(&c), HCP_EUTF8);

    cr_event(&c, 1, HCP_EV_VERIFY_CONCLUDE); /* a NUL inside */
    cr_str(&c, "nt", "a\0b", 3);
    assert_int_equal(cr_decode_event(&c), HCP_EUTF8);

    cr_event(&c, 1, HCP_EV_VERIFY_CONCLUDE); /* text at its ceiling: fine */
    cr_str(&c, "nt", big, HCP_TEXT_MAX);
    assert_int_equal(cr_decode_event(&c), HCP_OK);

    cr_event(&c, 1, HCP_EV_VERIFY_CONCLUDE); /* oversize text */
    cr_str(&c, "nt", big, HCP_TEXT_MAX + 1);
    assert_int_equal(cr_decode_event(&c), HCP_ERANGE);

    cr_event(&c, 1, HCP_EV_DISPUTE_FILE); /* oversize short string */
    cr_str(&c, "by", big, HCP_SHORT_MAX + 1);
    assert_int_equal(cr_decode_event(&c), HCP_ERANGE);

    cr_event(&c, 1, HCP_EV_VERIFY_CONCLUDE); /* wrong type: int for a string */
    cr_uint(&c, "nt", 5);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_VERIFY_CONCLUDE); /* wrong type: string for an int */
    cr_str(&c, "at", "2026", 4);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_VERIFY_CONCLUDE); /* float for a time */
    cr_key(&c, "at");
    msgpack_pack_double(&c.pk, 1.0);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_VERIFY_CONCLUDE); /* bin for a string */
    cr_key(&c, "nt");
    msgpack_pack_bin_with_body(&c.pk, "ab", 2);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 2, HCP_EV_VERIFY_CONCLUDE); /* duplicate known key */
    cr_uint(&c, "o", 1);
    cr_uint(&c, "o", 2);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_VERIFY_CONCLUDE); /* duplicate envelope key */
    cr_uint(&c, "t", HCP_EV_VERIFY_CONCLUDE);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_VERIFY_CONCLUDE); /* duplicate "v" */
    cr_uint(&c, "v", 1);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_VERIFY_CONCLUDE); /* a field foreign to the type */
    cr_str(&c, "r", "x", 1);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_REVISIT); /* false is written by omission */
    cr_key(&c, "ok");
    msgpack_pack_false(&c.pk);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_CLOSE); /* county of 5 digits */
    cr_str(&c, "c", "63010", 5);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_init(&c); /* county not digits, no duplicate */
    msgpack_pack_map(&c.pk, 3);
    cr_uint(&c, "v", 1);
    cr_str(&c, "c", "63010a", 6);
    cr_uint(&c, "t", HCP_EV_CLOSE);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_CLOSE); /* case id too long */
    cr_str(&c, "id", big, HCP_CASE_ID_MAX);
    assert_int_equal(cr_decode_event(&c), HCP_ERANGE);

    cr_event(&c, 1, HCP_EV_CLOSE); /* digest of the wrong size */
    cr_key(&c, "pd");
    msgpack_pack_bin_with_body(&c.pk, big, HCP_HASH_LEN - 1);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_CLOSE); /* a non-string key */
    msgpack_pack_int(&c.pk, 1);
    msgpack_pack_int(&c.pk, 1);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_EVALUATION); /* intake: rating 6 */
    cr_key(&c, "in");
    msgpack_pack_map(&c.pk, 1);
    cr_uint(&c, "rt", 6);
    assert_int_equal(cr_decode_event(&c), HCP_ERANGE);

    cr_event(&c, 1, HCP_EV_EVALUATION); /* intake: unknown dimension bit */
    cr_key(&c, "in");
    msgpack_pack_map(&c.pk, 1);
    cr_uint(&c, "dm", (uint64_t)HCP_DIM_ALL + 1);
    assert_int_equal(cr_decode_event(&c), HCP_ERANGE);

    cr_event(&c, 1, HCP_EV_EVALUATION); /* nested maps are closed */
    cr_key(&c, "in");
    msgpack_pack_map(&c.pk, 1);
    cr_uint(&c, "zz", 1);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_EVALUATION); /* empty nested map */
    cr_key(&c, "in");
    msgpack_pack_map(&c.pk, 0);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_EVALUATION); /* a nested array, not a map */
    cr_key(&c, "in");
    msgpack_pack_array(&c.pk, 1);
    msgpack_pack_nil(&c.pk);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_event(&c, 1, HCP_EV_RECTIFY_EXTEND); /* day beyond int32 */
    cr_uint(&c, "nd", (uint64_t)INT32_MAX + 1);
    assert_int_equal(cr_decode_event(&c), HCP_ERANGE);

    cr_event(&c, 1, HCP_EV_CLOSE); /* time 0: zero is written by omission */
    cr_uint(&c, "at", 0);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_init(&c); /* no "v" */
    msgpack_pack_map(&c.pk, 2);
    cr_str(&c, "c", "630102", 6);
    cr_uint(&c, "t", HCP_EV_CLOSE);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_init(&c); /* "v" 0 */
    msgpack_pack_map(&c.pk, 3);
    cr_uint(&c, "v", 0);
    cr_str(&c, "c", "630102", 6);
    cr_uint(&c, "t", HCP_EV_CLOSE);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_init(&c); /* no type */
    msgpack_pack_map(&c.pk, 2);
    cr_uint(&c, "v", 1);
    cr_str(&c, "c", "630102", 6);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    cr_init(&c); /* not a map */
    msgpack_pack_array(&c.pk, 1);
    msgpack_pack_int(&c.pk, 1);
    assert_int_equal(cr_decode_event(&c), HCP_EFORMAT);

    /* a map header declaring far more entries than bytes follow */
    static const uint8_t huge[] = {0xdf, 0x7f, 0xff, 0xff, 0xff, 0xa1, 'v', 0x01};
    hcp_event ev;
    assert_int_equal(hcp_event_decode(huge, sizeof(huge), &ev), HCP_EFORMAT);
    hcp_event_clear(&ev);
    /* a record beyond the ceiling */
    uint8_t *over = calloc(HCP_RECORD_MAX + 1, 1);
    assert_non_null(over);
    assert_int_equal(hcp_event_decode(over, HCP_RECORD_MAX + 1, &ev), HCP_ERANGE);
    free(over);
    assert_int_equal(hcp_event_decode(NULL, 1, &ev), HCP_EINVAL);
}

/* The encoders check their input as the decoders do. */
static void test_encode_refuses(void **state)
{
    (void)state;
    hcp_event ev;
    hcp_buf rec, pii;
    hcp_buf_init(&rec, HCP_RECORD_MAX);
    hcp_buf_init(&pii, HCP_RECORD_MAX);

    make_event(&ev, HCP_EV_CLOSE);
    ev.note = S("not for close");
    assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_EINVAL);
    hcp_event_clear(&ev);

    make_event(&ev, HCP_EV_VERIFY_CONCLUDE);
    ev.outcome = HCP_OUT_COUNT_;
    assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_ERANGE);
    hcp_event_clear(&ev);

    make_event(&ev, HCP_EV_VERIFY_CONCLUDE);
    free(ev.note);
    ev.note = S("bad \xc3\x28");
    assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_EUTF8);
    hcp_event_clear(&ev);

    make_event(&ev, HCP_EV_FEEDBACK);
    free(ev.via);
    ev.via = calloc(HCP_SHORT_MAX + 2, 1);
    assert_non_null(ev.via);
    memset(ev.via, 'x', HCP_SHORT_MAX + 1);
    assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_ERANGE);
    hcp_event_clear(&ev);

    make_event(&ev, HCP_EV_CLOSE);
    strcpy(ev.county, "6301");
    assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_EINVAL);
    ev.type = HCP_EV_COUNT_;
    strcpy(ev.county, "630102");
    assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_EINVAL);
    hcp_event_clear(&ev);

    make_event(&ev, HCP_EV_EVALUATION);
    ev.in.dimensions = 0x100;
    assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_ERANGE);
    assert_int_equal(rec.len, 0);
    assert_int_equal(pii.len, 0);
    hcp_event_clear(&ev);

    hcp_case c;
    make_case(&c);
    assert_int_equal(hcp_case_encode(&c, NULL, &rec, &pii), HCP_EINVAL); /* needs a salt */
    c.id[0] = '\0';
    assert_int_equal(hcp_case_encode(&c, (const uint8_t *)"0123456789abcdef", &rec, &pii),
                     HCP_EINVAL);
    hcp_case_clear(&c);
    assert_int_equal(hcp_event_encode(NULL, &rec, &pii, NULL), HCP_EINVAL);

    /* the ceiling: a buffer too small fails with HCP_ERANGE, nothing left */
    hcp_buf small;
    hcp_buf_init(&small, 16);
    make_event(&ev, HCP_EV_RECTIFY_DONE);
    assert_int_equal(hcp_event_encode(&ev, &small, &pii, NULL), HCP_ERANGE);
    assert_int_equal(small.len, 0);
    hcp_event_clear(&ev);
    hcp_buf_free(&small);

    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
}

/* ---- free text ------------------------------------------------------ */

/* What people type into free text: a mobile, an 18-digit ID number and an
 * e-mail address, in Chinese. */
#define FT_PHONE "13912345678"
#define FT_ID    "630102198807071234"
#define FT_MAIL  "cairang.zhuoma@qq.com"
#define FT_TEXT  "请回电" FT_PHONE "，身份证" FT_ID "，邮箱" FT_MAIL "。"
static const char *const ft_secrets[] = {FT_PHONE, FT_ID, FT_MAIL};

/* Replace every free-text field an event of its type carries. */
static void ft_fill_event(hcp_event *ev)
{
    char **slots[] = {&ev->in.window, &ev->in.content, &ev->note, &ev->by,     &ev->reason,
                      &ev->result,    &ev->via,        &ev->text, &ev->summary};
    free(ev->caller_phone); /* a known phone is masked whole: the test wants the pattern's mask */
    ev->caller_phone = NULL;
    for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
        if (*slots[i] != NULL) {
            free(*slots[i]);
            *slots[i] = S(FT_TEXT);
        }
}

/* None of the typed secrets in [p, p+n). */
static void ft_clean(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < 3; i++)
        assert_false(contains(p, n, ft_secrets[i]));
}

/* Free text with a phone, an ID number and an e-mail: masked in the main
 * record, the original in the personal record, back on decode_pii; a round
 * trip gives the same bytes, for every event type and for a case. */
static void test_freetext_sealed(void **state)
{
    (void)state;
    char *masked = hcp_text_mask(FT_TEXT, NULL, NULL);
    assert_non_null(masked);
    ft_clean((const uint8_t *)masked, strlen(masked));
    for (uint8_t t = 1; t < HCP_EV_COUNT_; t++) {
        hcp_event ev, d;
        hcp_buf rec, pii;
        make_event(&ev, t);
        ft_fill_event(&ev);
        event_roundtrip(&ev);
        hcp_buf_init(&rec, HCP_RECORD_MAX);
        hcp_buf_init(&pii, HCP_RECORD_MAX);
        assert_int_equal(hcp_event_encode(&ev, &rec, &pii, NULL), HCP_OK);
        ft_clean(rec.data, rec.len);
        bool has_text = ev.in.content != NULL || ev.note != NULL || ev.reason != NULL ||
                        ev.result != NULL || ev.text != NULL || ev.summary != NULL;
        assert_int_equal(contains(pii.data, pii.len, FT_TEXT), has_text);
        assert_int_equal(contains(rec.data, rec.len, masked), has_text);
        /* the main record alone: the masked text */
        assert_int_equal(hcp_event_decode(rec.data, rec.len, &d), HCP_OK);
        if (has_text) {
            const char *got = d.in.content ? d.in.content
                              : d.note     ? d.note
                              : d.reason   ? d.reason
                              : d.result   ? d.result
                              : d.text     ? d.text
                                           : d.summary;
            assert_string_equal(got, masked);
            assert_true(d.has_pii);
        }
        hcp_event_clear(&d);
        /* an event whose only personal data is typed text has a record */
        if (has_text && t != HCP_EV_EVALUATION && t != HCP_EV_CASE_OPEN && t != HCP_EV_VERIFY_START)
            assert_true(hcp_event_has_personal(&ev));
        hcp_event_clear(&ev);
        hcp_buf_free(&rec);
        hcp_buf_free(&pii);
    }

    /* a case: content and rectification result */
    hcp_case c, d;
    hcp_buf rec, pii, rec2, pii2;
    make_case(&c);
    free(c.in.content);
    c.in.content = S(FT_TEXT);
    free(c.rectification_result);
    c.rectification_result = S(FT_TEXT);
    case_encode(&c, &rec, &pii);
    ft_clean(rec.data, rec.len);
    assert_true(contains(pii.data, pii.len, FT_TEXT));
    assert_int_equal(hcp_case_decode(rec.data, rec.len, &d), HCP_OK);
    assert_string_equal(d.in.content, masked);
    assert_string_equal(d.rectification_result, masked);
    assert_int_equal(hcp_case_decode_pii(pii.data, pii.len, &d), HCP_OK);
    case_eq(&c, &d);
    case_encode(&d, &rec2, &pii2);
    assert_int_equal(rec.len, rec2.len);
    assert_memory_equal(rec.data, rec2.data, rec.len);
    assert_int_equal(pii.len, pii2.len);
    assert_memory_equal(pii.data, pii2.data, pii.len);
    hcp_case_clear(&d);
    /* the case's own personal strings are masked in its text too */
    free(c.in.content);
    c.in.content = S("投诉人才让卓玛反映");
    char *m = hcp_text_mask(c.in.content, &c.in, &c.verifier);
    assert_non_null(m);
    assert_null(strstr(m, "才让卓玛"));
    free(m);
    hcp_case_clear(&c);
    hcp_buf_free(&rec);
    hcp_buf_free(&pii);
    hcp_buf_free(&rec2);
    hcp_buf_free(&pii2);

    /* masking is idempotent on what it produced (the feed masks again) */
    char *again = hcp_text_mask(masked, NULL, NULL);
    assert_non_null(again);
    assert_string_equal(again, masked);
    free(again);
    free(masked);
    assert_null(hcp_text_mask(NULL, NULL, NULL));
}

/* A personal record from an older version (no original keys) leaves the
 * main record's text as it is; inconsistent originals are refused. */
static void test_freetext_rules(void **state)
{
    (void)state;
    uint8_t salt[HCP_SALT_LEN] = {9, 8, 7};
    /* cases: {key, value, event type, main text or NULL, expected} */
    struct {
        const char *key, *val;
        uint8_t type;
        const char *main;
        int want;
    } cases[] = {
        {"ont", FT_TEXT, HCP_EV_VERIFY_CONCLUDE, "请回电139******78", HCP_OK},
        {"ont", FT_TEXT, HCP_EV_VERIFY_CONCLUDE, NULL, HCP_EFORMAT},    /* no main text */
        {"ont", FT_TEXT, HCP_EV_VERIFY_CONCLUDE, FT_TEXT, HCP_EFORMAT}, /* same as main */
        {"orr", FT_TEXT, HCP_EV_VERIFY_CONCLUDE, "x", HCP_EFORMAT},     /* a case's key */
        {"otx", FT_TEXT, HCP_EV_VERIFY_CONCLUDE, "x", HCP_EFORMAT},     /* another type's */
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        craft c;
        cr_init(&c);
        msgpack_pack_map(&c.pk, 3);
        cr_uint(&c, "v", HCP_SCHEMA_VERSION);
        cr_key(&c, "sa");
        msgpack_pack_bin_with_body(&c.pk, salt, HCP_SALT_LEN);
        cr_str(&c, cases[i].key, cases[i].val, strlen(cases[i].val));
        hcp_event ev;
        memset(&ev, 0, sizeof(ev));
        ev.type = cases[i].type;
        ev.outcome = HCP_OUT_SUBSTANTIATED;
        ev.has_pii = true;
        if (cases[i].main != NULL)
            ev.note = S(cases[i].main);
        mbedtls_sha256_context sc;
        mbedtls_sha256_init(&sc);
        assert_int_equal(mbedtls_sha256_starts_ret(&sc, 0), 0);
        assert_int_equal(mbedtls_sha256_update_ret(&sc, salt, HCP_SALT_LEN), 0);
        assert_int_equal(mbedtls_sha256_update_ret(&sc, (const uint8_t *)c.sb.data, c.sb.size), 0);
        assert_int_equal(mbedtls_sha256_finish_ret(&sc, ev.pii_digest), 0);
        mbedtls_sha256_free(&sc);
        assert_int_equal(hcp_event_decode_pii(c.sb.data, c.sb.size, &ev), cases[i].want);
        if (cases[i].want == HCP_OK)
            assert_string_equal(ev.note, FT_TEXT);
        else if (cases[i].main != NULL)
            assert_string_equal(ev.note, cases[i].main); /* untouched */
        hcp_event_clear(&ev);
        msgpack_sbuffer_destroy(&c.sb);
    }

    /* a version 1 main record with a phone in its note and no personal
     * record decodes with the text as written */
    craft c;
    cr_event(&c, 2, HCP_EV_VERIFY_CONCLUDE);
    cr_uint(&c, "o", HCP_OUT_SUBSTANTIATED);
    cr_str(&c, "nt", FT_TEXT, strlen(FT_TEXT));
    hcp_event ev;
    assert_int_equal(hcp_event_decode(c.sb.data, c.sb.size, &ev), HCP_OK);
    assert_false(ev.has_pii);
    assert_string_equal(ev.note, FT_TEXT);
    hcp_event_clear(&ev);
    msgpack_sbuffer_destroy(&c.sb);
}

/* cmocka runner. */
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mp_check_formats),
        cmocka_unit_test(test_mp_check_hostile),
        cmocka_unit_test(test_event_roundtrip_all_types),
        cmocka_unit_test(test_case_roundtrip),
        cmocka_unit_test(test_unknown_fields_kept),
        cmocka_unit_test(test_pairs_walked_once),
        cmocka_unit_test(test_bad_extras_refused),
        cmocka_unit_test(test_personal_split),
        cmocka_unit_test(test_personal_closed),
        cmocka_unit_test(test_truncation_and_flips),
        cmocka_unit_test(test_malformed_fields),
        cmocka_unit_test(test_encode_refuses),
        cmocka_unit_test(test_freetext_sealed),
        cmocka_unit_test(test_freetext_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
