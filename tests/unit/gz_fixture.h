/*
 * gz_fixture.h — for the unit tests of the gzipped forms: one gzip member
 * read back with zlib, asserting it is whole.
 */
#ifndef HCP_GZ_FIXTURE_H
#define HCP_GZ_FIXTURE_H

#include <stdint.h>
#include <string.h>
#include <zlib.h>

#include "hcp.h"

/* The gzip member p[0..n) decompressed into out (emptied first); nothing
 * may follow it. */
static void gz_fixture_gunzip(const void *p, size_t n, hcp_buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(inflateInit2(&z, 31), Z_OK);
    z.next_in = (Bytef *)(uintptr_t)p;
    z.avail_in = (uInt)n;
    hcp_buf_reset(out);
    static uint8_t chunk[65536];
    int zr;
    do {
        z.next_out = chunk;
        z.avail_out = sizeof(chunk);
        zr = inflate(&z, Z_NO_FLUSH);
        assert_true(zr == Z_OK || zr == Z_STREAM_END);
        assert_int_equal(hcp_buf_append(out, chunk, sizeof(chunk) - z.avail_out), HCP_OK);
    } while (zr != Z_STREAM_END);
    assert_int_equal(z.avail_in, 0);
    assert_int_equal(inflateEnd(&z), Z_OK);
}

#endif
