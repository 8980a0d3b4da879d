/*
 * seal.c — AES-256-GCM sealing of personal data (seal.h), the key file, and
 * getrandom(2). The cipher is OpenSSL's (EVP AES-256-GCM: AES-NI and
 * carry-less multiplication, ~10x mbedtls 2.28's GHASH here, which was
 * most of a replicated event's cost once free text is sealed); this file
 * only frames its output, byte for byte as before:
 *
 *   0x01 || nonce (12, random) || ciphertext (n) || tag (16)
 *
 * Thread safety: a sealer holds only its key, never changed after
 * hcp_sealer_new; each thread keeps its own keyed cipher contexts (below),
 * so concurrent calls share no mutable state.
 */
#include "seal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "hex.h"

#define SEAL_FORMAT    0x01
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN   16
#define KEY_HEX_LEN    (2 * HCP_SEAL_KEY_LEN)

struct hcp_sealer {
    uint8_t key[HCP_SEAL_KEY_LEN];
    uint64_t id; /* unique for the process's life: names the key in the per-thread cache */
};

static atomic_uint_fast64_t sealer_ids;

/* Each thread keeps the GCM context of the last sealer it used: keying one
 * (the AES schedule and GHASH tables) costs more than sealing a personal
 * record. Keyed by the sealer's id, never by its address, so a sealer
 * freed and another made at the same place cannot be confused. */
typedef struct gcm_slot {
    uint64_t id;         /* 0: empty */
    EVP_CIPHER_CTX *enc; /* keyed for sealing; each call only sets the nonce */
    EVP_CIPHER_CTX *dec; /* keyed for opening */
} gcm_slot;

/* Thread-specific (not _Thread_local) so the contexts are freed when their
 * thread ends: OpenSSL allocates them. */
static pthread_key_t gcm_key;
static pthread_once_t gcm_key_once = PTHREAD_ONCE_INIT;

static void gcm_slot_free(void *p)
{
    gcm_slot *slot = p;
    EVP_CIPHER_CTX_free(slot->enc); /* NULL-safe; wipes the key schedule */
    EVP_CIPHER_CTX_free(slot->dec);
    OPENSSL_cleanse(slot, sizeof(*slot));
    free(slot);
}

static void gcm_key_make(void)
{
    (void)pthread_key_create(&gcm_key, gcm_slot_free);
}

/* This thread's slot (made on first use), or NULL. */
static gcm_slot *gcm_slot_get(void)
{
    if (pthread_once(&gcm_key_once, gcm_key_make) != 0)
        return NULL;
    gcm_slot *slot = pthread_getspecific(gcm_key);
    if (slot == NULL && (slot = calloc(1, sizeof(*slot))) != NULL &&
        pthread_setspecific(gcm_key, slot) != 0) {
        free(slot);
        slot = NULL;
    }
    return slot;
}

/* ---- randomness ---- */

/* Fill buf (the caller's) from getrandom(2), looping over EINTR and the
 * short reads it gives for large requests. */
/* getrandom until n bytes came. */
static int random_fill(uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);
        if (got < 0) {
            if (errno == EINTR)
                continue;
            return HCP_EIO;
        }
        p += got;
        n -= (size_t)got;
    }
    return HCP_OK;
}

/*
 * Small requests (salts, nonces: one or two per stored record) are served
 * from a per-thread pool refilled by one getrandom call, instead of a system
 * call each. Bytes handed out are wiped from the pool. hcp never forks after
 * start-up, so no two processes share a pool.
 */
#define RANDOM_POOL 512
static _Thread_local struct {
    uint8_t buf[RANDOM_POOL];
    size_t left;
} pool;

int hcp_random(void *buf, size_t n)
{
    if (buf == NULL && n > 0)
        return HCP_EINVAL;
    if (n == 0)
        return HCP_OK;
    if (n > RANDOM_POOL / 4)
        return random_fill(buf, n);
    if (pool.left < n) {
        int rc = random_fill(pool.buf, RANDOM_POOL);
        if (rc != HCP_OK)
            return rc;
        pool.left = RANDOM_POOL;
    }
    uint8_t *p = pool.buf + (RANDOM_POOL - pool.left);
    memcpy(buf, p, n);
    OPENSSL_cleanse(p, n);
    pool.left -= n;
    return HCP_OK;
}

/* ---- the key file ---- */

/* An errno from open/read/write/fsync as one of ours. */
static int errno_to_hcp(int e)
{
    switch (e) {
    case ENOENT:
        return HCP_ENOTFOUND;
    case EEXIST:
        return HCP_EEXIST;
    case EACCES:
    case EPERM:
        return HCP_EAUTH;
    case ENOSPC:
    case EDQUOT:
        return HCP_ENOSPC;
    case ENOMEM:
        return HCP_ENOMEM;
    default:
        return HCP_EIO;
    }
}

/* Parse [s, s+n): exactly 64 hex digits and an optional "\n" into key. */
static int key_parse(const char *s, size_t n, uint8_t key[HCP_SEAL_KEY_LEN])
{
    if (n == KEY_HEX_LEN + 1 && s[KEY_HEX_LEN] == '\n')
        n--;
    if (n != KEY_HEX_LEN)
        return HCP_EFORMAT;
    if (hcp_hex_decode(s, n, key, HCP_SEAL_KEY_LEN) != HCP_SEAL_KEY_LEN) {
        OPENSSL_cleanse(key, HCP_SEAL_KEY_LEN);
        return HCP_EFORMAT;
    }
    return HCP_OK;
}

/* Read at most cap bytes of fd into buf (the caller's); *got is the count. */
static int read_upto(int fd, char *buf, size_t cap, size_t *got)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return errno_to_hcp(errno);
        if (r == 0)
            break;
        n += (size_t)r;
    }
    *got = n;
    return HCP_OK;
}

/* Check that the open key file is a regular file private to its owner. */
static int key_file_private(int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0)
        return errno_to_hcp(errno);
    if (!S_ISREG(st.st_mode))
        return HCP_EFORMAT;
    if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0)
        return HCP_EAUTH; /* readable or writable by group or others */
    return HCP_OK;
}

/* Read an existing key file at path (borrowed) into key. */
static int key_read(const char *path, uint8_t key[HCP_SEAL_KEY_LEN])
{
    char buf[KEY_HEX_LEN + 2]; /* one more than allowed, to see "too long" */
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno_to_hcp(errno);
    int rc = key_file_private(fd);
    if (rc == HCP_OK)
        rc = read_upto(fd, buf, sizeof(buf), &got);
    if (rc == HCP_OK)
        rc = key_parse(buf, got, key);
    OPENSSL_cleanse(buf, sizeof(buf));
    close(fd);
    return rc;
}

/* Write all n bytes of p to fd, looping over EINTR and short writes. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno_to_hcp(errno);
        p += w;
        n -= (size_t)w;
    }
    return HCP_OK;
}

/* fsync the directory holding path (borrowed), so a new entry survives a
 * crash. */
static int fsync_parent(const char *path)
{
    char dir[PATH_MAX];
    size_t len = strlen(path);
    if (len >= sizeof(dir))
        return HCP_ERANGE;
    memcpy(dir, path, len + 1);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = '\0'; /* "/key" lives in "/" */
    else
        *slash = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return errno_to_hcp(errno);
    int rc = fsync(fd) == 0 ? HCP_OK : errno_to_hcp(errno);
    close(fd);
    return rc;
}

/* key as 64 lower-case hex digits and "\n" into text (KEY_HEX_LEN+1). */
static void key_format(const uint8_t key[HCP_SEAL_KEY_LEN], char *text)
{
    hcp_hex_encode(key, HCP_SEAL_KEY_LEN, text); /* its NUL becomes the newline */
    text[KEY_HEX_LEN] = '\n';
}

/* Write text to a new file at path: O_EXCL, mode 0600, fsynced with its
 * directory. HCP_EEXIST if another writer got there first; a file left
 * half-written by a failure is removed. */
static int key_write_new(const char *path, const char *text, size_t n)
{
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0)
        return errno_to_hcp(errno);
    int rc = write_all(fd, text, n);
    if (rc == HCP_OK && fsync(fd) != 0)
        rc = errno_to_hcp(errno);
    if (close(fd) != 0 && rc == HCP_OK)
        rc = errno_to_hcp(errno);
    if (rc != HCP_OK) {
        unlink(path);
        return rc;
    }
    return fsync_parent(path);
}

/* Make a new random key and store it at path (borrowed). */
static int key_create(const char *path, uint8_t key[HCP_SEAL_KEY_LEN])
{
    uint8_t k[HCP_SEAL_KEY_LEN];
    char text[KEY_HEX_LEN + 1];
    int rc = hcp_random(k, sizeof(k));
    if (rc != HCP_OK)
        goto fail;
    key_format(k, text);
    rc = key_write_new(path, text, sizeof(text));
    if (rc == HCP_OK)
        memcpy(key, k, HCP_SEAL_KEY_LEN);
fail:
    OPENSSL_cleanse(k, sizeof(k));
    OPENSSL_cleanse(text, sizeof(text));
    return rc;
}

/* Load the key at path (borrowed) into key (the caller's), creating it
 * when absent and create is true. A concurrent creator wins the race and
 * its key is the one read back. */
int hcp_seal_key_load(const char *path, bool create, uint8_t key[HCP_SEAL_KEY_LEN])
{
    if (path == NULL || path[0] == '\0' || key == NULL)
        return HCP_EINVAL;
    int rc = key_read(path, key);
    if (rc != HCP_ENOTFOUND || !create)
        return rc;
    rc = key_create(path, key);
    if (rc == HCP_EEXIST)
        rc = key_read(path, key);
    return rc;
}

/* ---- sealing ---- */

/* A sealer holding a copy of key; *out is the caller's, freed with
 * hcp_sealer_free. */
int hcp_sealer_new(const uint8_t key[HCP_SEAL_KEY_LEN], hcp_sealer **out)
{
    if (key == NULL || out == NULL)
        return HCP_EINVAL;
    *out = NULL;
    hcp_sealer *s = malloc(sizeof(*s));
    if (s == NULL)
        return HCP_ENOMEM;
    memcpy(s->key, key, HCP_SEAL_KEY_LEN);
    s->id = atomic_fetch_add(&sealer_ids, 1) + 1;
    *out = s;
    return HCP_OK;
}

/* Wipe and free s; safe on NULL. */
void hcp_sealer_free(hcp_sealer *s)
{
    if (s == NULL)
        return;
    gcm_slot *slot =
        pthread_once(&gcm_key_once, gcm_key_make) == 0 ? pthread_getspecific(gcm_key) : NULL;
    if (slot != NULL && slot->id == s->id) { /* this thread's copy of the schedule goes too */
        EVP_CIPHER_CTX_free(slot->enc);
        EVP_CIPHER_CTX_free(slot->dec);
        slot->enc = slot->dec = NULL;
        slot->id = 0;
    }
    OPENSSL_cleanse(s->key, sizeof(s->key));
    free(s);
}

/* This thread's two GCM contexts keyed with s's key (borrowed until the
 * thread's next call); NULL when OpenSSL fails. */
static gcm_slot *gcm_for(const hcp_sealer *s)
{
    gcm_slot *slot = gcm_slot_get();
    if (slot == NULL)
        return NULL;
    if (slot->id == s->id)
        return slot;
    EVP_CIPHER_CTX_free(slot->enc);
    EVP_CIPHER_CTX_free(slot->dec);
    slot->id = 0;
    slot->enc = EVP_CIPHER_CTX_new();
    slot->dec = EVP_CIPHER_CTX_new();
    if (slot->enc == NULL || slot->dec == NULL ||
        EVP_EncryptInit_ex(slot->enc, EVP_aes_256_gcm(), NULL, s->key, NULL) != 1 ||
        EVP_DecryptInit_ex(slot->dec, EVP_aes_256_gcm(), NULL, s->key, NULL) != 1) {
        EVP_CIPHER_CTX_free(slot->enc);
        EVP_CIPHER_CTX_free(slot->dec);
        slot->enc = slot->dec = NULL;
        return NULL;
    }
    slot->id = s->id;
    return slot;
}

/* Encrypt [pt, pt+n) into blob (n + HCP_SEAL_OVERHEAD bytes, the caller's)
 * under a fresh random nonce. */
static int seal_into(const hcp_sealer *s, const uint8_t *aad, size_t aadlen, const uint8_t *pt,
                     size_t n, uint8_t *blob)
{
    uint8_t *nonce = blob + 1, *ct = nonce + SEAL_NONCE_LEN, *tag = ct + n;
    blob[0] = SEAL_FORMAT;
    if (n > INT_MAX || aadlen > INT_MAX)
        return HCP_ERANGE;
    int rc = hcp_random(nonce, SEAL_NONCE_LEN);
    if (rc != HCP_OK)
        return rc;
    gcm_slot *g = gcm_for(s);
    if (g == NULL)
        return HCP_ECRYPTO;
    int len = 0, fin = 0;
    /* the key stays; only the nonce is set (12 bytes: GCM's default) */
    if (EVP_EncryptInit_ex(g->enc, NULL, NULL, NULL, nonce) != 1 ||
        (aadlen > 0 && EVP_EncryptUpdate(g->enc, NULL, &len, aad, (int)aadlen) != 1) ||
        (n > 0 && EVP_EncryptUpdate(g->enc, ct, &len, pt, (int)n) != 1) ||
        EVP_EncryptFinal_ex(g->enc, ct + (n > 0 ? len : 0), &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(g->enc, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, tag) != 1)
        rc = HCP_ECRYPTO;
    return rc;
}

/* Seal [pt, pt+n) bound to [aad, aad+aadlen) and append it to out; all
 * borrowed. out is unchanged on failure. */
int hcp_seal(hcp_sealer *s, const void *aad, size_t aadlen, const void *pt, size_t n, hcp_buf *out)
{
    if (s == NULL || out == NULL || (aad == NULL && aadlen > 0) || (pt == NULL && n > 0))
        return HCP_EINVAL;
    if (n > SIZE_MAX - HCP_SEAL_OVERHEAD)
        return HCP_ERANGE;
    uint8_t *blob = malloc(n + HCP_SEAL_OVERHEAD);
    if (blob == NULL)
        return HCP_ENOMEM;
    int rc = seal_into(s, aad, aadlen, pt, n, blob);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, blob, n + HCP_SEAL_OVERHEAD);
    free(blob);
    return rc;
}

/* Authenticate and decrypt a blob of n bytes (n >= overhead) into pt (the
 * caller's, n - overhead bytes). */
static int unseal_into(const hcp_sealer *s, const uint8_t *aad, size_t aadlen, const uint8_t *blob,
                       size_t n, uint8_t *pt)
{
    size_t ctlen = n - HCP_SEAL_OVERHEAD;
    const uint8_t *nonce = blob + 1, *ct = nonce + SEAL_NONCE_LEN, *tag = ct + ctlen;
    if (ctlen > INT_MAX || aadlen > INT_MAX)
        return HCP_ERANGE;
    gcm_slot *g = gcm_for(s);
    if (g == NULL)
        return HCP_ECRYPTO;
    int len = 0, fin = 0;
    uint8_t t[SEAL_TAG_LEN];
    memcpy(t, tag, sizeof(t)); /* the control call takes a non-const pointer */
    if (EVP_DecryptInit_ex(g->dec, NULL, NULL, NULL, nonce) != 1 ||
        (aadlen > 0 && EVP_DecryptUpdate(g->dec, NULL, &len, aad, (int)aadlen) != 1) ||
        (ctlen > 0 && EVP_DecryptUpdate(g->dec, pt, &len, ct, (int)ctlen) != 1) ||
        EVP_CIPHER_CTX_ctrl(g->dec, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, t) != 1 ||
        EVP_DecryptFinal_ex(g->dec, pt + (ctlen > 0 ? len : 0), &fin) != 1)
        return HCP_ECRYPTO; /* altered, wrong key or aad */
    return HCP_OK;
}

/* Open a sealed blob bound to [aad, aad+aadlen) and append its plaintext to
 * out; all borrowed. out is unchanged on failure; the plaintext's scratch
 * copy is wiped. */
int hcp_unseal(hcp_sealer *s, const void *aad, size_t aadlen, const void *blob, size_t n,
               hcp_buf *out)
{
    if (s == NULL || out == NULL || (aad == NULL && aadlen > 0) || blob == NULL)
        return HCP_EINVAL;
    if (n < HCP_SEAL_OVERHEAD || ((const uint8_t *)blob)[0] != SEAL_FORMAT)
        return HCP_EFORMAT;
    size_t ptlen = n - HCP_SEAL_OVERHEAD;
    uint8_t *pt = malloc(ptlen > 0 ? ptlen : 1);
    if (pt == NULL)
        return HCP_ENOMEM;
    int rc = unseal_into(s, aad, aadlen, blob, n, pt);
    if (rc == HCP_OK)
        rc = hcp_buf_append(out, pt, ptlen);
    OPENSSL_cleanse(pt, ptlen);
    free(pt);
    return rc;
}
