/*
 * msg.c — a frame as an nng message: what every sender of the protocol
 * (the node, the gateway's canary, bench_fleet) does before nng_ctx_send
 * or nng_sendmsg.
 */
#include <nng/nng.h>

#include "repl.h"

int repl_encode_msg(const repl_frame *f, nng_msg **out)
{
    if (f == NULL || out == NULL)
        return HCP_EINVAL;
    *out = NULL;
    hcp_buf b;
    hcp_buf_init(&b, REPL_FRAME_MAX);
    nng_msg *m = NULL;
    int rc = repl_encode(f, &b);
    if (rc == HCP_OK && (nng_msg_alloc(&m, 0) != 0 || nng_msg_append(m, b.data, b.len) != 0))
        rc = HCP_ENOMEM;
    hcp_buf_free(&b);
    if (rc != HCP_OK) {
        nng_msg_free(m); /* NULL-safe */
        return rc;
    }
    *out = m;
    return HCP_OK;
}
