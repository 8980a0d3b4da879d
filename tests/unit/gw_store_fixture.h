/*
 * gw_store_fixture.h — for the unit tests of a gateway store: a gw with a
 * sealer and a fresh directory under /tmp (the test opens the store in
 * it), and its removal. Include after <cmocka.h>.
 */
#ifndef HCP_GW_STORE_FIXTURE_H
#define HCP_GW_STORE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gwstore.h"
#include "seal.h"

typedef struct gw_store_fixture {
    char dir[64];
    hcp_sealer *sealer;
    gw g;
} gw_store_fixture;

/* rm -r of the store's directory (its data.mdb, lock file and token). */
static void gw_store_fixture_remove_dir(const char *dir)
{
    const char *files[] = {"data.mdb", "lock.mdb", "admin.token", NULL};
    char p[128];
    for (size_t i = 0; files[i] != NULL; i++) {
        snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
        (void)unlink(p);
    }
    (void)rmdir(dir);
}

/* *state = a new fixture in /tmp/NAME.XXXXXX. */
static int gw_store_fixture_setup(void **state, const char *name)
{
    gw_store_fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/%s.XXXXXX", name);
    assert_non_null(mkdtemp(f->dir));
    uint8_t key[HCP_SEAL_KEY_LEN];
    memset(key, 9, sizeof(key));
    assert_int_equal(hcp_sealer_new(key, &f->sealer), HCP_OK);
    snprintf(f->g.cfg.data, sizeof(f->g.cfg.data), "%s", f->dir);
    f->g.sealer = f->sealer;
    f->g.lock_fd = -1;
    *state = f;
    return 0;
}

static int gw_store_fixture_teardown(void **state)
{
    gw_store_fixture *f = *state;
    gw_store_close(&f->g);
    gw_store_fixture_remove_dir(f->dir);
    hcp_sealer_free(f->sealer);
    free(f);
    return 0;
}

#endif
