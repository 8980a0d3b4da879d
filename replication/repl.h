/*
 * repl.h — the node↔gateway replication protocol (docs/replication.md):
 * frames and the signatures that prove a county's identity. Shared by
 * hcp-node (the dialer) and hcp-gateway (the listener). No I/O here: the
 * daemons move the bytes over nng.
 */
#ifndef REPL_H
#define REPL_H

#include "case.h"

#define REPL_VERSION      1
#define REPL_VERSION_MIN  1
#define REPL_FRAME_MAX    (4u << 20) /* bytes: larger messages are refused unread */
#define REPL_BATCH_BYTES  (1u << 20) /* a batch's events stop growing past this */
#define REPL_BATCH_EVENTS 4096
#define REPL_NONCE_LEN    32
#define REPL_ID_MAX       32  /* node and gateway ids: printable ASCII */
#define REPL_SIG_MAX      160 /* DER ECDSA P-256 signatures are at most 72 bytes */
#define REPL_CERT_MAX     8192
/* Compressed batches (docs/replication.md, "Compression"): the format this
 * build speaks (hello key "zstd"), the level it compresses at unless
 * HCP_REPL_ZSTD says otherwise, and the smallest events array worth
 * compressing (a live batch of one event stays as it is). */
#define REPL_ZSTD_VERSION 1
#define REPL_ZSTD_LEVEL   1
#define REPL_ZSTD_MIN     1024
/* The highest log position a frame may carry: both stores keep positions
 * as signed 64-bit numbers (JSON, the counties table), so anything above
 * is refused as malformed, in both directions. */
#define REPL_SEQ_MAX INT64_MAX

enum repl_type {
    REPL_NONE = 0,
    REPL_HELLO,     /* node → gw: v, vmin, county, node, seq+hash = the node's head */
    REPL_CHALLENGE, /* gw → node: v, nonce, gw */
    REPL_AUTH,      /* node → gw: county, node, cert, sig */
    REPL_WELCOME,   /* gw → node: seq+hash = applied at the gateway, state */
    REPL_BATCH,     /* node → gw: county, seq = first, events, sig */
    REPL_ACK,       /* gw → node: seq+hash = applied */
    REPL_FETCH,     /* node → gw: seq = from, max */
    REPL_EVENTS,    /* gw → node: events (from `from`), seq = applied */
    REPL_PING,      /* node → gw */
    REPL_PONG,      /* gw → node: seq = applied */
    REPL_ERROR,     /* gw → node: code, seq = expected (for "gap") */
    REPL_TYPE_COUNT_
};

/* One event on the wire. The pointers borrow from the buffer the frame was
 * decoded from (or, for encoding, from the caller). pii may be NULL. */
typedef struct repl_event {
    const uint8_t *rec;
    size_t rec_len;
    uint8_t hash[HCP_HASH_LEN];
    const uint8_t *pii;
    size_t pii_len;
} repl_event;

/* One province log entry on the wire: [rec, hash, sig] (docs/directives.md).
 * rec and sig borrow like repl_event's fields. */
#define REPL_DIR_REC_MAX (256u * 1024) /* one entry's record */
#define REPL_DIRS_MAX    64            /* entries in one answer */
typedef struct repl_dir {
    const uint8_t *rec;
    size_t rec_len;
    uint8_t hash[HCP_HASH_LEN];
    const uint8_t *sig;
    size_t sig_len;
} repl_dir;

/*
 * A decoded frame. Which fields mean something depends on type (see the
 * enum); the others are zero. Byte fields (cert, sig, events[].rec/pii)
 * borrow from the decoded buffer, which must outlive the frame; `events`
 * itself is an array the frame owns (repl_frame_clear frees it).
 */
typedef struct repl_frame {
    uint8_t type;
    uint32_t v, vmin;
    char county[HCP_COUNTY_LEN + 1];
    char node[REPL_ID_MAX + 1];
    char gw[REPL_ID_MAX + 1];
    uint64_t seq;
    bool has_hash;
    uint8_t hash[HCP_HASH_LEN];
    uint8_t nonce[REPL_NONCE_LEN];
    const uint8_t *cert;
    size_t cert_len;
    const uint8_t *sig;
    size_t sig_len;
    uint32_t max;
    char state[16]; /* welcome: "ok", "forked", "unauthorized", "never_seen" */
    char code[32];  /* error: "gap", "forked", "bad_signature", … */
    repl_event *events;
    size_t nevents;
    /* ---- directives (docs/directives.md): additive keys, ignored by older
     * peers. has_dseq/dseq: the node's directive position (hello, auth,
     * batch, ping; key "dseq"); dirs/ndirs: province log entries
     * (welcome, ack, pong; key "dirs", owned like events); dmore: more
     * entries wait (key "dmore"); gcert: the gateway's certificate, DER
     * (welcome; key "gcert", borrowed like cert). */
    bool has_dseq;
    uint64_t dseq;
    struct repl_dir *dirs;
    size_t ndirs;
    bool dmore;
    const uint8_t *gcert;
    size_t gcert_len;
    /* ---- compression (docs/replication.md, "Compression"): additive keys.
     * zstd: hello (the node offers it), challenge and welcome (the gateway
     * accepts it): the format version, 0 = key absent (an older peer).
     * zlevel (encoding only, never on the wire): compress the events of a
     * batch or an events answer at this zstd level when that makes them
     * smaller; 0 = never. Decoding a compressed frame (keys "zev", the
     * compressed msgpack events array, and "zlen", its declared size) fills
     * events as usual, borrowing from zbuf (owned by the frame, freed by
     * repl_frame_clear); zwire is the compressed size, 0 when the events
     * came uncompressed. */
    uint32_t zstd;
    int zlevel;
    uint8_t *zbuf;
    size_t zwire;
} repl_frame;

/* Encode f (its type's fields) as one msgpack map appended to out.
 * HCP_EINVAL for a field out of its domain, HCP_ERANGE past REPL_FRAME_MAX. */
HCP_API HCP_NODISCARD int repl_encode(const repl_frame *f, hcp_buf *out);
/* repl_encode into a new nng message (msg.c), *out owned by the caller
 * (nng_msg_free, or given to a send); *out is NULL on failure. */
struct nng_msg;
HCP_API HCP_NODISCARD int repl_encode_msg(const repl_frame *f, struct nng_msg **out);
/* Decode one frame from untrusted bytes: size and shape bounded before
 * msgpack-c sees them; every field type- and length-checked; unknown keys
 * ignored. *f is zeroed first; clear it with repl_frame_clear, also after
 * an error.
 *
 * Wire keys: "t" (type), "v", "vmin", "county", "node", "gw", "seq",
 * "hash", "nonce", "cert", "sig", "max", "state", "code", "events",
 * and the optional directive keys "dseq" (hello, auth, batch, ping),
 * "dirs" and "dmore" (welcome, ack, pong), "gcert" (welcome), the
 * compression keys "zstd" (hello, challenge, welcome), "zev" + "zlen" in
 * place of "events" (batch, events)
 * (hello's head, batch's first, fetch's from and error's expected all
 * travel as "seq"). Keys a type does not use are ignored like unknown
 * ones. Required per type: hello v>=vmin>=1, county, node, seq; challenge
 * v, nonce, gw; auth county, node, cert, sig; welcome seq, state; batch
 * county, seq>=1, >=1 event, sig; ack/pong seq; fetch seq>=1, max>=1;
 * events seq, events (may be empty); error code. hello/welcome/ack carry
 * "hash" exactly when seq >= 1; every position (seq, and a batch's last
 * one) is at most REPL_SEQ_MAX. A compressed events array is bounded
 * before anything is allocated for it: its declared size at most
 * REPL_FRAME_MAX (else HCP_ERANGE), equal to the size its zstd frame
 * header states, one zstd frame exactly, and decompressing into exactly
 * that many bytes (else HCP_EFORMAT: a lying size, a bomb, garbage);
 * "events" and "zev" together are HCP_EFORMAT.
 * Errors: HCP_ERANGE (frame over
 * REPL_FRAME_MAX, a field over its ceiling, too many events),
 * HCP_EFORMAT (not one well-formed msgpack map, a field of the wrong type
 * or shape, a key twice), HCP_EPROTO (unknown type, a required field
 * missing or out of its domain), HCP_ENOMEM.
 *
 * Borrowing: msgpack-c 4.0's C unpacker (msgpack_unpack_next) references
 * str/bin payloads in the input buffer and never copies them into its
 * zone, so cert, sig and events[].rec/pii point into buf itself (checked
 * at decode); no msgpack-c state outlives repl_decode. */
HCP_API HCP_NODISCARD int repl_decode(const void *buf, size_t len, repl_frame *f);
HCP_API void repl_frame_clear(repl_frame *f);

/* The zstd level this process compresses at, and whether it offers
 * compression at all (0: it does not; an older peer is simulated so),
 * from HCP_REPL_ZSTD: unset or empty = REPL_ZSTD_LEVEL, "off" or "0" =
 * 0, 1..19 = that level (anything else: REPL_ZSTD_LEVEL). Read once. */
HCP_API int repl_zstd_level(void);
/* What compression did in this process so far (frames repl_encode
 * compressed and their sizes before and after; frames repl_decode
 * decompressed and their sizes; compressed frames refused). Counters
 * only grow; thread-safe. */
typedef struct repl_zstd_stats {
    uint64_t sent, sent_raw, sent_wire;
    uint64_t recv, recv_raw, recv_wire;
    uint64_t refused;
} repl_zstd_stats;
HCP_API void repl_zstd_stats_get(repl_zstd_stats *out);
/* Append the counters above to out as Prometheus text, each metric named
 * prefix + "_zstd_…" (e.g. "hcp_node_sync"). HCP_OK, HCP_ENOMEM, HCP_EINVAL. */
HCP_API HCP_NODISCARD int repl_zstd_metrics(const char *prefix, hcp_buf *out);

/* ---- identities and signatures (ECDSA P-256, SHA-256, OpenSSL libcrypto) ---- */

/* A county's signing identity: its certificate and private key (PEM files).
 * The key must be P-256 and match the certificate (else HCP_ECRYPTO). Each
 * identity keeps its own signing context: use one from one thread at a time. */
typedef struct repl_identity repl_identity;
HCP_API HCP_NODISCARD int repl_identity_load(const char *cert_file, const char *key_file,
                                             repl_identity **out);
HCP_API void repl_identity_free(repl_identity *id);
/* The certificate in DER, borrowed from id. */
HCP_API const uint8_t *repl_identity_cert(const repl_identity *id, size_t *len);
/* The certificate's subject CN (the county code for a node), borrowed. */
HCP_API const char *repl_identity_cn(const repl_identity *id);
/*
 * Signatures (sig: at least REPL_SIG_MAX bytes; *sig_len receives the
 * length):
 *   auth:  SHA-256("hcp-auth-v1"  || nonce(32) || county(6) || node id)
 *   batch: SHA-256("hcp-batch-v1" || county(6) || be64(last_seq) || hash(32))
 */
HCP_API HCP_NODISCARD int repl_sign_auth(repl_identity *id, const uint8_t nonce[REPL_NONCE_LEN],
                                         const char *county, const char *node, uint8_t *sig,
                                         size_t *sig_len);
HCP_API HCP_NODISCARD int repl_sign_batch(repl_identity *id, const char *county, uint64_t last_seq,
                                          const uint8_t hash[HCP_HASH_LEN], uint8_t *sig,
                                          size_t *sig_len);
/* A province log entry (docs/directives.md), by the gateway's key:
 *   SHA-256("hcp-directive-v1" || be64(seq) || hash(32) || rec)
 * HCP_EINVAL for seq 0 or an empty record, HCP_ECRYPTO. */
HCP_API HCP_NODISCARD int repl_sign_directive(repl_identity *id, uint64_t seq,
                                              const uint8_t hash[HCP_HASH_LEN], const uint8_t *rec,
                                              size_t rec_len, uint8_t *sig, size_t *sig_len);

/* The province's trust: the CA and its CRL (PEM files). Thread-safe for
 * concurrent verification; repl_verifier_reload re-reads the CRL when its
 * file changed (the gateway calls it periodically). crl_file may be NULL:
 * no revocation list. A CRL that is expired or not signed by the CA makes
 * every peer fail with "bad_cert" (fail closed). If a reload fails, the
 * CRL loaded before stays in force. */
typedef struct repl_verifier repl_verifier;
HCP_API HCP_NODISCARD int repl_verifier_load(const char *ca_file, const char *crl_file,
                                             repl_verifier **out);
HCP_API HCP_NODISCARD int repl_verifier_reload(repl_verifier *v);
HCP_API void repl_verifier_free(repl_verifier *v);

/* A county certificate that verified against the CA and the CRL. */
typedef struct repl_peer repl_peer;
/*
 * Parse and verify a DER certificate: signed by the CA, within its
 * validity, not revoked, subject CN six digits. On failure HCP_EAUTH and
 * *reason (static) is one of "bad_cert", "revoked", "expired",
 * "not_a_county".
 */
HCP_API HCP_NODISCARD int repl_peer_new(repl_verifier *v, const uint8_t *der, size_t len,
                                        repl_peer **out, const char **reason);
HCP_API void repl_peer_free(repl_peer *p);
/* The county of a verified peer (its CN), borrowed. */
HCP_API const char *repl_peer_county(const repl_peer *p);
/* The verified certificate in DER (borrowed from p; kept as proof). */
HCP_API const uint8_t *repl_peer_cert(const repl_peer *p, size_t *len);
/* Whether the CA's CRL (as last loaded) revokes p now. */
HCP_API bool repl_peer_revoked(repl_verifier *v, const repl_peer *p);
/* HCP_OK or HCP_ECRYPTO. */
HCP_API HCP_NODISCARD int repl_peer_verify_auth(const repl_peer *p,
                                                const uint8_t nonce[REPL_NONCE_LEN],
                                                const char *county, const char *node,
                                                const uint8_t *sig, size_t sig_len);
HCP_API HCP_NODISCARD int repl_peer_verify_batch(const repl_peer *p, const char *county,
                                                 uint64_t last_seq,
                                                 const uint8_t hash[HCP_HASH_LEN],
                                                 const uint8_t *sig, size_t sig_len);

/*
 * The gateway's certificate as a node checks it before trusting its
 * directives: signed by the CA (and not revoked, when v has a CRL),
 * within its validity, P-256, and naming `name` (the node's
 * --tls-server-name: a DNS entry of its subjectAltName, else its CN, as
 * the TLS handshake checks it). *out owned by the caller (repl_peer_free;
 * repl_peer_county gives ""). HCP_EAUTH with *reason (static) one of
 * "bad_cert", "revoked", "expired", "wrong_name"; HCP_EINVAL, HCP_ENOMEM.
 */
HCP_API HCP_NODISCARD int repl_gateway_new(repl_verifier *v, const uint8_t *der, size_t len,
                                           const char *name, repl_peer **out, const char **reason);
/* Check a province log entry's signature made by p's key (see
 * repl_sign_directive); HCP_OK or HCP_ECRYPTO. */
HCP_API HCP_NODISCARD int repl_peer_verify_directive(const repl_peer *p, uint64_t seq,
                                                     const uint8_t hash[HCP_HASH_LEN],
                                                     const uint8_t *rec, size_t rec_len,
                                                     const uint8_t *sig, size_t sig_len);

/* ---- dirrec.c: the province log's records (docs/directives.md) ----
 * A msgpack map {v: 1, s: seq, at, tg: target, ty: type, b: bin body},
 * keys in that order; the body is itself a msgpack map. */
#define REPL_DIR_TYPE_MAX 32 /* a type name: [a-z_], 1..32 bytes */
#define REPL_DIR_BODY_MAX (REPL_DIR_REC_MAX - 1024)
typedef struct repl_dir_entry {
    uint64_t seq;
    hcp_time at;
    char target[HCP_COUNTY_LEN + 1]; /* a county code, or "all" */
    char type[REPL_DIR_TYPE_MAX + 1];
    const uint8_t *body; /* msgpack map, borrowed from the record */
    size_t body_len;
} repl_dir_entry;
/* Whether s is a type name: [a-z_]{1,32}. */
HCP_API bool repl_dir_type_ok(const char *s);
/* Encode e (body borrowed) appended to out. HCP_EINVAL for a field out of
 * its domain (seq 0, at <= 0, target neither "all" nor six digits, type,
 * body empty or over REPL_DIR_BODY_MAX), HCP_ENOMEM/HCP_ERANGE from out. */
HCP_API HCP_NODISCARD int repl_dir_encode(const repl_dir_entry *e, hcp_buf *out);
/* Decode untrusted bytes (bounded before msgpack-c sees them): *e's body
 * borrows from rec. HCP_EFORMAT for anything but a record repl_dir_encode
 * makes (unknown keys after the known ones are ignored), HCP_ENOMEM. */
HCP_API HCP_NODISCARD int repl_dir_decode(const void *rec, size_t len, repl_dir_entry *e);

/* ---- tls_engine.c: nng's TLS over OpenSSL's libssl ----
 * Makes every nng TLS configuration allocated afterwards use OpenSSL
 * (TLS 1.2, ECDHE + AES-GCM first; docs/replication.md, "Transport and
 * pattern") instead of nng 1.5.2's built-in mbedtls engine, whose portable
 * ciphers were the largest cost of replication. Call once at start, before
 * any nng_tls_config_alloc; later calls return the first one's result.
 * HCP_TLS_ENGINE=nng in the environment keeps nng's own engine (for
 * comparison and diagnosis; nng_tls_engine_name() tells which is in use). */
HCP_API HCP_NODISCARD int repl_tls_engine_use(void);
/* Handshakes that failed so far on the client (server false) or the server
 * side of this process, with the last one's reason (certificate verdict or
 * OpenSSL's reason, e.g. "certificate verify failed: hostname mismatch") in
 * why (len bytes) and its age in *age_ms; either may be NULL. */
#define REPL_TLS_WHY_MAX 128
HCP_API uint64_t repl_tls_failures(bool server, uint64_t *age_ms, char *why, size_t len);
/* The server side's limits (the gateway), before its TLS configuration is
 * made: crl_file (may be NULL or "") is the CRL file the configuration's
 * CRL came from; it is stat'ed at each new connection and re-read when it
 * changed, so a revocation takes effect at the next handshake. A handshake
 * not finished handshake_ms after its connection started fails at its
 * next step (0: no deadline; a peer that sends nothing at all makes no
 * step, and nng 1.5.2 has no negotiation timeout of its own: the
 * gateway's reaper, daemon/reaper.h, closes those). Only for
 * OpenSSL's engine (not HCP_TLS_ENGINE=nng). HCP_OK, or HCP_EINVAL (path
 * too long, negative values). */
HCP_API HCP_NODISCARD int repl_tls_server_setup(const char *crl_file, int handshake_ms);
/* The engine's library and version, for the logs. */
HCP_API const char *repl_tls_engine_version(void);

#endif
