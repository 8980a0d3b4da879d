/*
 * hcp.h — the shared core of hcp: one error space and the small helpers every
 * module uses. Every function in the core returns 0 (HCP_OK) or a positive
 * enum hcp_err; codes of LMDB, nng, libuv, mbedtls, msgpack-c and errno are
 * translated to these once, at the boundary, and never passed up raw.
 */
#ifndef HCP_H
#define HCP_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#if defined(__GNUC__)
#define HCP_API       __attribute__((visibility("default")))
#define HCP_NODISCARD __attribute__((warn_unused_result))
#else
#define HCP_API
#define HCP_NODISCARD
#endif

enum hcp_err {
    HCP_OK = 0,
    HCP_EINVAL,    /* an argument is out of its domain */
    HCP_ENOMEM,    /* allocation failed */
    HCP_ERANGE,    /* a value or length exceeds its ceiling */
    HCP_EFORMAT,   /* malformed encoding: msgpack, TSV, RFC 3339, JSON */
    HCP_EUTF8,     /* text is not valid UTF-8 */
    HCP_EVERSION,  /* a record's schema version is newer than we can read */
    HCP_ERULE,     /* the regulation forbids this step (see hcp_refusal) */
    HCP_ECHAIN,    /* hash chain broken: changed, missing, reordered event */
    HCP_ENOTFOUND, /* no such record */
    HCP_EEXIST,    /* already exists */
    HCP_EIO,       /* an operating-system or storage error */
    HCP_EFULL,     /* the store is full: its map reached its ceiling (see HCP_ENOSPC) */
    HCP_ECRYPTO,   /* a cryptographic operation failed or did not verify */
    HCP_EBUSY,     /* held by another process (a lock) */
    HCP_ECLOSED,   /* the object is closed or closing */
    HCP_ETIMEOUT,  /* a deadline passed */
    HCP_EPROTO,    /* a peer broke the protocol */
    HCP_EAUTH,     /* authentication or authorisation failed */
    /* Beside HCP_EFULL in meaning; last so that no existing code changes value. */
    HCP_ENOSPC, /* the disk (filesystem or quota) is full: growing the store would not help */
    HCP_ERR_COUNT_
};

/* A static English description of err; never NULL, also for unknown codes. */
HCP_API const char *hcp_strerror(int err);

/*
 * A growable byte buffer with a ceiling (curl's dynbuf idea): appends that
 * would pass `max` fail with HCP_ERANGE and leave the buffer as it was.
 * The buffer owns `data`; hcp_buf_free releases it and is safe on a
 * zeroed or already-freed buffer.
 */
typedef struct hcp_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;
} hcp_buf;

HCP_API void hcp_buf_init(hcp_buf *b, size_t max);
HCP_API HCP_NODISCARD int hcp_buf_append(hcp_buf *b, const void *p, size_t n);
/* Room for n bytes in all (not beyond max: HCP_ERANGE) without growing by
 * doubling on the way: one allocation for a buffer whose size is known
 * about. HCP_EINVAL, HCP_ENOMEM; the buffer is untouched on failure. */
HCP_API HCP_NODISCARD int hcp_buf_reserve(hcp_buf *b, size_t n);
HCP_API void hcp_buf_reset(hcp_buf *b);
HCP_API void hcp_buf_free(hcp_buf *b);

/* 1 if [s, s+n) is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF) and
 * holds no NUL byte; 0 otherwise. */
HCP_API bool hcp_utf8_valid(const char *s, size_t n);

/* strdup with a length: a NUL-terminated copy of n bytes, caller frees; NULL
 * on allocation failure. */
HCP_API char *hcp_strndup(const char *s, size_t n);

/* SHA-256 of the concatenation of nparts borrowed parts (a part of length 0
 * may be NULL) into out[32]. OpenSSL's libcrypto: with the CPU's SHA
 * instructions it is several times faster than mbedtls 2.28 (docs/bench.md);
 * every hash in the project (chain, personal-data digests) comes from here.
 * HCP_EINVAL for bad arguments, HCP_ECRYPTO when the library fails. */
HCP_API HCP_NODISCARD int hcp_sha256(const void *const *parts, const size_t *lens, int nparts,
                                     uint8_t out[32]);

#endif
