/*
 * fuzz_repl_frame.c — libFuzzer target for the replication frame decoder
 * (replication/frame.c). Whatever decodes must encode again, and that
 * encoding must decode again to the same type and event count; any
 * violation abort()s so libFuzzer reports it. The input is copied into a
 * buffer of exactly its size so ASan sees any read past the end through
 * the borrowed byte fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "repl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touch every borrowed byte of f, so a pointer past its buffer is seen. */
static unsigned touch(const repl_frame *f)
{
    unsigned x = 0;
    for (size_t i = 0; i < f->cert_len; i++)
        x += f->cert[i];
    for (size_t i = 0; i < f->sig_len; i++)
        x += f->sig[i];
    for (size_t e = 0; e < f->nevents; e++) {
        const repl_event *ev = &f->events[e];
        x += ev->rec[0] + ev->rec[ev->rec_len - 1];
        if (ev->pii != NULL)
            x += ev->pii[0] + ev->pii[ev->pii_len - 1];
    }
    return x;
}

/* f decoded fine: encode it, decode that, compare the essentials. */
static void check(const repl_frame *f)
{
    hcp_buf b;
    repl_frame g;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    if (repl_encode(f, &b) != HCP_OK)
        abort();
    if (repl_decode(b.data, b.len, &g) != HCP_OK)
        abort();
    if (g.type != f->type || g.nevents != f->nevents || g.seq != f->seq ||
        g.cert_len != f->cert_len || g.sig_len != f->sig_len || touch(&g) != touch(f))
        abort();
    repl_frame_clear(&g);
    hcp_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size > 0 ? size : 1);
    if (copy == NULL)
        return 0;
    if (size > 0)
        memcpy(copy, data, size);
    repl_frame f;
    if (repl_decode(copy, size, &f) == HCP_OK) {
        (void)touch(&f);
        check(&f);
    }
    repl_frame_clear(&f);
    free(copy);
    return 0;
}
