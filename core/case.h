/*
 * case.h — the case model: evaluations, cases and the events that change them
 * (the node's HTTP API, the regulation). Plain C structs; every string is a
 * NUL-terminated, valid UTF-8 heap copy owned by the struct that holds it
 * (NULL when absent), released by hcp_case_clear / hcp_event_clear.
 *
 * Personal data (the regulation's Art. 6) is: the complainant's name, phone,
 * id_number and organization, the staff member's phone, the verifier's
 * phone and a register caller's name and phone. The codec keeps it apart from everything else (see
 * codec.h).
 */
#ifndef HCP_CASE_H
#define HCP_CASE_H

#include "hcp_time.h"

#define HCP_COUNTY_LEN  6     /* GB/T 2260 division code: six digits */
#define HCP_CASE_ID_MAX 32    /* "630102-20261127-0042" and room for big n */
#define HCP_SHORT_MAX   512   /* bytes: names, codes, phones, "by", "via" */
#define HCP_TEXT_MAX    16384 /* bytes: content, notes, reasons, results */
#define HCP_SALT_LEN    16
#define HCP_HASH_LEN    32

enum hcp_kind { HCP_KIND_NONE = 0, HCP_KIND_REVIEW, HCP_KIND_COMPLAINT, HCP_KIND_COUNT_ };

enum hcp_channel {
    HCP_CH_NONE = 0,
    HCP_CH_WEB,           /* 政务服务网 */
    HCP_CH_DEPT_PLATFORM, /* 部门业务办理平台 */
    HCP_CH_APP,           /* 青松办 */
    HCP_CH_WECHAT,        /* 微信公众号 */
    HCP_CH_KIOSK,         /* 自助服务终端 */
    HCP_CH_QRCODE,        /* 评价二维码 */
    HCP_CH_WINDOW_DEVICE, /* 窗口评价器 */
    HCP_CH_PAPER,         /* 评价单 */
    HCP_CH_HALL,          /* 大厅现场 */
    HCP_CH_PHONE,         /* 投诉监督电话/来电 */
    HCP_CH_12345,         /* 热线 */
    HCP_CH_VISIT,         /* 来访 */
    HCP_CH_LETTER,        /* 来信 */
    HCP_CH_COUNT_
};

/* dimensions are a bit set: bit (1u << (HCP_DIM_x - 1)) */
enum hcp_dimension {
    HCP_DIM_NONE = 0,
    HCP_DIM_COVERAGE,    /* 事项覆盖度 */
    HCP_DIM_MATERIALS,   /* 申报材料精简度 */
    HCP_DIM_GUIDE,       /* 办事指南准确度 */
    HCP_DIM_CONVENIENCE, /* 服务应用便民度 */
    HCP_DIM_MODES,       /* 服务方式完备度 */
    HCP_DIM_PROFICIENCY, /* 业务办理熟练度 */
    HCP_DIM_ATTITUDE,    /* 服务态度 */
    HCP_DIM_RIGHTS,      /* 合法权益受侵害 */
    HCP_DIM_COUNT_
};
#define HCP_DIM_BIT(d) (1u << ((d)-1))
#define HCP_DIM_ALL    ((1u << (HCP_DIM_COUNT_ - 1)) - 1)

enum hcp_status {
    HCP_ST_NONE = 0,
    HCP_ST_RECEIVED,         /* verification to start */
    HCP_ST_VERIFYING,        /* a conclusion */
    HCP_ST_DISPUTED,         /* the re-review */
    HCP_ST_RECTIFYING,       /* the responsible unit's rectification */
    HCP_ST_FEEDBACK_PENDING, /* the complainant to be told */
    HCP_ST_AWAITING_REVISIT, /* Art. 8's revisit of a real-name substantiated case */
    HCP_ST_RESOLVED,         /* nothing owed; the supervisor's close */
    HCP_ST_CLOSED,
    HCP_ST_COUNT_
};

enum hcp_outcome {
    HCP_OUT_NONE = 0,
    HCP_OUT_SUBSTANTIATED,
    HCP_OUT_UNSUBSTANTIATED,
    HCP_OUT_MISTAKEN,  /* not adopted (Art. 9) */
    HCP_OUT_MALICIOUS, /* not adopted (Art. 9) */
    HCP_OUT_COUNT_
};

/* dispute_decide's outcome */
enum hcp_verdict {
    HCP_VD_NONE = 0,
    HCP_VD_UPHELD,
    HCP_VD_MISTAKEN,
    HCP_VD_MALICIOUS,
    HCP_VD_COUNT_
};

enum hcp_rectify_mode { HCP_RM_NONE = 0, HCP_RM_IMMEDIATE, HCP_RM_DEFERRED, HCP_RM_COUNT_ };

/* which deadline an overdue event marks */
enum hcp_deadline_kind {
    HCP_DL_NONE = 0,
    HCP_DL_FEEDBACK, /* 5 working days from receipt (Art. 8) */
    HCP_DL_DISPUTE,  /* 2 working days from notify_staff (Art. 9) */
    HCP_DL_REREVIEW, /* 5 working days from dispute_file (Art. 9) */
    HCP_DL_COUNT_
};

enum hcp_ev_type {
    HCP_EV_NONE = 0,
    HCP_EV_EVALUATION, /* one rating, any channel; counts for Art. 11 */
    HCP_EV_CASE_OPEN,  /* a case is received (review or complaint) */
    HCP_EV_VERIFY_START,
    HCP_EV_NOTIFY_STAFF,
    HCP_EV_VERIFY_CONCLUDE,
    HCP_EV_DISPUTE_FILE,
    HCP_EV_DISPUTE_DECIDE,
    HCP_EV_RECTIFY_ASSIGN,
    HCP_EV_RECTIFY_EXTEND,
    HCP_EV_RECTIFY_DONE,
    HCP_EV_FEEDBACK,
    HCP_EV_REVISIT,
    HCP_EV_CLOSE,
    HCP_EV_OVERDUE, /* recorded by the node's deadline sweep */
    /* province → county directives (docs/directives.md) */
    HCP_EV_DIRECTIVE,         /* the node applied or refused a province log entry */
    HCP_EV_CORRECTION_ANSWER, /* the county answers a `correction` directive */
    HCP_EV_CONTACT = 17,      /* Art. 14's register: a call, visit or letter (docs/reports.md) */
    HCP_EV_COUNT_
};

/*
 * Wire and JSON names of each enum, indexed by value; index 0 is NULL.
 * e.g. hcp_channel_names[HCP_CH_12345] is "12345".
 */
HCP_API extern const char *const hcp_kind_names[HCP_KIND_COUNT_];
HCP_API extern const char *const hcp_channel_names[HCP_CH_COUNT_];
HCP_API extern const char *const hcp_dimension_names[HCP_DIM_COUNT_];
HCP_API extern const char *const hcp_status_names[HCP_ST_COUNT_];
HCP_API extern const char *const hcp_outcome_names[HCP_OUT_COUNT_];
HCP_API extern const char *const hcp_verdict_names[HCP_VD_COUNT_];
HCP_API extern const char *const hcp_rectify_mode_names[HCP_RM_COUNT_];
HCP_API extern const char *const hcp_deadline_names[HCP_DL_COUNT_];
HCP_API extern const char *const hcp_ev_type_names[HCP_EV_COUNT_];

/* A directive event's result (docs/directives.md). */
enum hcp_dir_result { HCP_DR_NONE = 0, HCP_DR_APPLIED, HCP_DR_REFUSED, HCP_DR_COUNT_ };
HCP_API extern const char *const hcp_dir_result_names[HCP_DR_COUNT_];

/* The value whose name is [s, s+n) in names[1..count-1]; 0 when none. */
HCP_API int hcp_name_lookup(const char *const *names, int count, const char *s, size_t n);
#define HCP_LOOKUP(table, s, n)                                                                    \
    hcp_name_lookup(table, (int)(sizeof(table) / sizeof(table[0])), s, n)

/* A thing with a code and a name: a service unit, a service item. */
typedef struct hcp_coded {
    char *code;
    char *name;
} hcp_coded;

typedef struct hcp_staff {
    char *id;
    char *name;
    char *phone; /* personal */
} hcp_staff;

typedef struct hcp_person {
    char *name;         /* personal */
    char *phone;        /* personal */
    char *id_number;    /* personal */
    char *organization; /* personal */
} hcp_person;

typedef struct hcp_contact {
    char *name;
    char *phone; /* personal */
} hcp_contact;

/*
 * Fields a newer writer added that this version does not know: the raw
 * msgpack key/value pairs of the record's top-level map, in the order read.
 * Kept and written back unchanged, so an old reader never drops them.
 */
typedef struct hcp_extra {
    uint8_t *data; /* owned */
    size_t len;
    uint32_t count; /* number of key/value pairs */
} hcp_extra;

/* What an evaluation or a new case carries (POST /v1/evaluations, docs/api.md). */
typedef struct hcp_intake {
    uint8_t kind;        /* enum hcp_kind; HCP_KIND_NONE for an evaluation */
    uint8_t channel;     /* enum hcp_channel */
    uint8_t rating;      /* 1..5; 0 for a complaint */
    uint32_t dimensions; /* HCP_DIM_BIT set */
    hcp_coded unit;
    char *window;
    hcp_staff staff;
    hcp_coded service_item;
    bool has_complainant; /* false: anonymous (complainant: null) */
    hcp_person complainant;
    char *content;
} hcp_intake;

typedef struct hcp_due {
    hcp_time at;      /* 0: no such deadline */
    bool provisional; /* counted past the known calendar years */
} hcp_due;

/*
 * A case: its intake and the state the rules derive from its events. Only
 * hcp_rules_apply changes a case.
 */
typedef struct hcp_case {
    char id[HCP_CASE_ID_MAX];
    char county[HCP_COUNTY_LEN + 1];
    hcp_intake in;
    bool real_name; /* complainant named with a way to reach them (Art. 6) */
    bool reachable; /* a complainant phone was given: a revisit can be made (Art. 8) */
    hcp_time received_at;

    uint8_t status;  /* enum hcp_status */
    uint8_t outcome; /* enum hcp_outcome */
    bool adopted;    /* false once found mistaken or malicious (Art. 9) */

    hcp_due feedback_due; /* Art. 8: 5 working days from receipt, or extended */
    hcp_due dispute_due;  /* Art. 9: 2 working days from notify_staff */
    hcp_due rereview_due; /* Art. 9: 5 working days from dispute_file */
    bool feedback_extended;

    hcp_time last_at;     /* `at` of the latest step */
    hcp_time notified_at; /* notify_staff; 0 if not yet */
    hcp_time disputed_at; /* dispute_file; 0 if never */
    hcp_time decided_at;  /* dispute_decide */
    hcp_time feedback_at; /* feedback */
    hcp_time revisited_at;
    hcp_time closed_at;
    uint8_t status_before_dispute;

    hcp_contact verifier;
    hcp_coded rectify_unit;
    uint8_t rectify_mode; /* enum hcp_rectify_mode */
    char *rectification_result;
    bool revisit_satisfied;
    uint8_t overdue_marked; /* bit (1 << hcp_deadline_kind) per overdue event */

    hcp_time last_recorded_at; /* the latest `recorded_at` of its events: when the record last
                                * changed, whatever date the step claims (docs/rules.md) */
    hcp_time reopened_at; /* the latest re-open by a failed spot check (docs/spotchecks.md); the
                           * feedback deadline then counts from it; 0 never */

    uint32_t nevents; /* events applied, case_open included */
    uint64_t last_seq;
    hcp_extra extra;

    /* Set by the codec when decoding (codec.h): whether the record had a
     * personal record, its digest ("pd"), and the salt hcp_case_decode_pii
     * read. hcp_case_encode ignores them (it takes the salt as an argument). */
    bool has_pii;
    uint8_t pii_salt[HCP_SALT_LEN];
    uint8_t pii_digest[HCP_HASH_LEN];
} hcp_case;

/*
 * An event: one entry of a county's log. The envelope (seq, county, type,
 * at, recorded_at, case_id) is common; the other fields are used by the
 * types noted beside them and zero/NULL otherwise.
 */
typedef struct hcp_event {
    uint64_t seq; /* position in the county log, from 1 */
    char county[HCP_COUNTY_LEN + 1];
    uint8_t type;                  /* enum hcp_ev_type */
    hcp_time at;                   /* when it happened */
    hcp_time recorded_at;          /* when the node recorded it */
    char case_id[HCP_CASE_ID_MAX]; /* "" for an evaluation that opened none */

    hcp_intake in;          /* evaluation, case_open */
    uint64_t evaluation_no; /* evaluation: its number */

    hcp_contact verifier;    /* verify_start */
    uint8_t outcome;         /* verify_conclude: SUBSTANTIATED or UNSUBSTANTIATED */
    uint8_t verdict;         /* dispute_decide */
    char *note;              /* verify_conclude, dispute_decide, revisit */
    char *by;                /* dispute_file, revisit */
    char *reason;            /* dispute_file, rectify_extend */
    hcp_coded unit;          /* rectify_assign */
    uint8_t mode;            /* rectify_assign: enum hcp_rectify_mode */
    hcp_day new_due;         /* rectify_extend: the new last day */
    char *result;            /* rectify_done */
    char *via;               /* feedback */
    char *text;              /* feedback */
    bool satisfied;          /* revisit */
    uint8_t deadline;        /* overdue: enum hcp_deadline_kind */
    char *account;           /* any type: the named account that recorded it (NULL: unknown,
                              * the node itself, or a record older than accounts) */
    char *document;          /* dispute_file: the written application's reference (Art. 9) */
    char *staff_explanation; /* dispute_file: what the staff member gave in evidence */
    char *unit_explanation;  /* dispute_decide: what the unit gave in evidence (Art. 9) */
    char *decision; /* close: a supervisor's written decision to close an unsatisfied case */
    /* directives (docs/directives.md) */
    uint64_t directive; /* directive, correction_answer: the province log seq */
    char *dir_type;     /* directive: the entry's type ("correction", "calendar", …) */
    char *dir_hash;     /* directive: the entry's hash, lower-case hex */
    uint8_t dir_result; /* directive: enum hcp_dir_result */
    char *dir_why;      /* directive: why it was refused */
    /* Art. 14's register (docs/reports.md): a call, visit or letter, or a
     * later link of one to the case it became (contact_ref set) */
    uint8_t contact_channel;           /* contact: enum hcp_channel, one the register takes */
    char *summary;                     /* contact: what was asked or said (free text) */
    char *caller_name;                 /* contact: personal */
    char *caller_phone;                /* contact: personal */
    char linked_case[HCP_CASE_ID_MAX]; /* contact: the case it is or became ("": none) */
    uint64_t contact_ref;              /* contact: a link made later: the seq of the contact */
    bool reopen; /* directive `spotcheck_result`: the failed finding re-opens the case */

    /* Personal data travels in a separate record (codec.h) bound to this
     * one by digest = SHA-256(salt || personal record). */
    bool has_pii;
    uint8_t pii_salt[HCP_SALT_LEN];
    uint8_t pii_digest[HCP_HASH_LEN];

    hcp_extra extra;
} hcp_event;

/* Release every string a case or event owns and zero it. Safe on zeroed. */
HCP_API void hcp_case_clear(hcp_case *c);
HCP_API void hcp_event_clear(hcp_event *ev);
HCP_API void hcp_intake_clear(hcp_intake *in);
/* Deep copies; dst must be zeroed (or cleared). HCP_ENOMEM leaves dst zeroed. */
HCP_API HCP_NODISCARD int hcp_intake_copy(hcp_intake *dst, const hcp_intake *src);
HCP_API HCP_NODISCARD int hcp_case_copy(hcp_case *dst, const hcp_case *src);
HCP_API HCP_NODISCARD int hcp_event_copy(hcp_event *dst, const hcp_event *src);
/* Whether an event carries personal data (and so a personal record): a
 * personal field, or free text that masking changes (codec.h,
 * hcp_text_mask). Implemented in codec.c. */
HCP_API bool hcp_event_has_personal(const hcp_event *ev);

/* A complainant counts as real-name when a name and a phone or an ID number
 * are given (Art. 6: so the case can be verified and revisited). */
HCP_API bool hcp_intake_real_name(const hcp_intake *in);
/* A complainant can be reached for the revisit when a phone is given, named
 * or not (Art. 8: the revisit is owed whenever it can be made). Needs the
 * personal fields: false for an intake decoded without them. */
HCP_API bool hcp_intake_reachable(const hcp_intake *in);

/* Case id "{county}-{yyyymmdd}-{n:04}". HCP_ERANGE if it does not fit. */
HCP_API HCP_NODISCARD int hcp_case_id_format(char *buf, size_t len, const char *county, hcp_day day,
                                             uint32_t n);
/* Check and split a case id; county needs HCP_COUNTY_LEN+1 bytes. */
HCP_API HCP_NODISCARD int hcp_case_id_parse(const char *id, char *county, hcp_day *day,
                                            uint32_t *n);

#endif
