/*
 * lock.h — pthread locks whose failures are not ignored. A default mutex,
 * condition variable or rwlock fails to lock, unlock, wait or signal only
 * when the program is wrong (EINVAL: not initialised or destroyed; EDEADLK,
 * EPERM: locked twice or unlocked by another thread; EAGAIN: more read
 * locks than the system counts): there is nothing a caller could do but
 * carry on with shared state unprotected. So these abort, as nng's own
 * nni_pthread_mutex_lock does, instead of returning a code nobody checks.
 * Destroying fails only for a lock still held or waited on: a bug the
 * callers' shutdown order rules out, and at teardown nothing is left to
 * protect, so those results are dropped on purpose (hcp_*_destroy).
 */
#ifndef HCP_LOCK_H
#define HCP_LOCK_H

#include <pthread.h>
#include <stdlib.h>

/* Lock m; abort on failure (a bug, see above). */
static inline void hcp_mutex_lock(pthread_mutex_t *m)
{
    if (pthread_mutex_lock(m) != 0)
        abort();
}

/* Unlock m; abort on failure (a bug, see above). */
static inline void hcp_mutex_unlock(pthread_mutex_t *m)
{
    if (pthread_mutex_unlock(m) != 0)
        abort();
}

/* Destroy m; its result is dropped (see above). */
static inline void hcp_mutex_destroy(pthread_mutex_t *m)
{
    (void)pthread_mutex_destroy(m);
}

/* Wait on c with m held; abort on failure (a bug, see above). */
static inline void hcp_cond_wait(pthread_cond_t *c, pthread_mutex_t *m)
{
    if (pthread_cond_wait(c, m) != 0)
        abort();
}

/* Wake one waiter of c; abort on failure (a bug, see above). */
static inline void hcp_cond_signal(pthread_cond_t *c)
{
    if (pthread_cond_signal(c) != 0)
        abort();
}

/* Wake every waiter of c; abort on failure (a bug, see above). */
static inline void hcp_cond_broadcast(pthread_cond_t *c)
{
    if (pthread_cond_broadcast(c) != 0)
        abort();
}

/* Destroy c; its result is dropped (see above). */
static inline void hcp_cond_destroy(pthread_cond_t *c)
{
    (void)pthread_cond_destroy(c);
}

/* Take l shared; abort on failure (a bug, see above). */
static inline void hcp_rwlock_rdlock(pthread_rwlock_t *l)
{
    if (pthread_rwlock_rdlock(l) != 0)
        abort();
}

/* Take l exclusively; abort on failure (a bug, see above). */
static inline void hcp_rwlock_wrlock(pthread_rwlock_t *l)
{
    if (pthread_rwlock_wrlock(l) != 0)
        abort();
}

/* Release l; abort on failure (a bug, see above). */
static inline void hcp_rwlock_unlock(pthread_rwlock_t *l)
{
    if (pthread_rwlock_unlock(l) != 0)
        abort();
}

/* Destroy l; its result is dropped (see above). */
static inline void hcp_rwlock_destroy(pthread_rwlock_t *l)
{
    (void)pthread_rwlock_destroy(l);
}

#endif
