/*
 * restart.c — a daemon restarting itself in place (same PID, same
 * arguments, same standard streams) after an orderly stop.
 *
 * Why: nng 1.5.2 can wedge for good after connections are cut in the middle
 * of TLS records (upstream nanomsg/nng#1543, #1813: its pipe reaper stuck,
 * nng_close never returning). Nothing in the process can undo that; a new
 * process image can. A daemon that detects it (the node: a connection nng
 * cannot close; the gateway: its canary gets no answer) asks for a restart;
 * the loop stops as for SIGTERM, everything that can be stopped is stopped
 * in order (HTTP drained, the writer's queue committed, LMDB closed), and
 * main then re-executes /proc/self/exe. An operator gets the same with
 * SIGHUP. Nothing acknowledged is lost: it was committed before the answer.
 *
 * After exec the LMDB lock file is reopened by a process holding no lock on
 * it (every descriptor is closed on exec), so LMDB resets its reader table;
 * the data directory's flock goes the same way.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hcpd.h"
#include "lock.h"

#define RESTART_SOON_S  60 /* a restart sooner than this after the last one waits first */
#define RESTART_PAUSE_S 5

static atomic_bool requested, refused; /* refused: a SIGTERM/SIGINT came: exit instead */
static char reason[128];
static pthread_mutex_t reason_mu = PTHREAD_MUTEX_INITIALIZER;
static uv_async_t wake;
static uv_signal_t sig_hup;
static atomic_bool armed; /* wake is initialised on the loop */

/* On the loop: a restart was asked for; stop the loop (main stops the rest). */
static void on_wake(uv_async_t *a)
{
    if (atomic_load(&requested))
        uv_stop(a->loop);
}

static void on_hup(uv_signal_t *s, int signum)
{
    (void)s;
    (void)signum;
    hcpd_restart_request("SIGHUP");
}

int hcpd_restart_watch(uv_loop_t *loop)
{
    if (loop == NULL)
        return HCP_EINVAL;
    if (uv_async_init(loop, &wake, on_wake) != 0 || uv_signal_init(loop, &sig_hup) != 0 ||
        uv_signal_start(&sig_hup, on_hup, SIGHUP) != 0)
        return HCP_EIO;
    atomic_store(&armed, true);
    if (atomic_load(&requested))
        (void)uv_async_send(
            &wake); /* asked before the loop ran; fails only on a non-async handle */
    return HCP_OK;
}

void hcpd_restart_request(const char *why)
{
    if (why == NULL)
        why = "unknown";
    hcp_mutex_lock(&reason_mu);
    bool first = !atomic_exchange(&requested, true);
    if (first) {
        snprintf(reason, sizeof(reason), "%s", why);
        hcpd_log("warn", "process.restarting", "reason=\"%s\"", why);
        if (atomic_load(&armed))
            /* thread-safe; under the lock, so never after disarm */
            (void)uv_async_send(&wake);
    }
    hcp_mutex_unlock(&reason_mu);
}

void hcpd_restart_disarm(void)
{
    hcp_mutex_lock(&reason_mu);
    atomic_store(&armed, false);
    hcp_mutex_unlock(&reason_mu);
}

void hcpd_restart_refuse(void)
{
    atomic_store(&refused, true);
}

bool hcpd_restart_requested(void)
{
    return atomic_load(&requested) && !atomic_load(&refused);
}

/* Mark every descriptor above stderr close-on-exec. */
static void cloexec_all(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        char *end;
        long fd = strtol(e->d_name, &end, 10);
        if (*end == '\0' && end != e->d_name && fd > 2)
            (void)fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    }
    closedir(d);
}

static long mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec;
}

void hcpd_restart_exec(char **argv)
{
    if (argv == NULL || argv[0] == NULL)
        return;
    /* the count and the time of the last restart cross exec in the
     * environment (CLOCK_MONOTONIC is the machine's, not the process's) */
    const char *c = getenv("HCP_RESTARTS"), *at = getenv("HCP_RESTARTED_AT");
    long count = c != NULL ? strtol(c, NULL, 10) : 0, last = at != NULL ? strtol(at, NULL, 10) : 0;
    long now = mono_s();
    if (last > 0 && now - last < RESTART_SOON_S) {
        hcpd_log("warn", "process.restart_pause",
                 "seconds=%d detail=\"restarted %ld s ago already\"", RESTART_PAUSE_S, now - last);
        sleep(RESTART_PAUSE_S);
        now = mono_s();
    }
    char buf[32];
    snprintf(buf, sizeof(buf), "%ld", count + 1);
    setenv("HCP_RESTARTS", buf, 1);
    snprintf(buf, sizeof(buf), "%ld", now);
    setenv("HCP_RESTARTED_AT", buf, 1);
    hcp_mutex_lock(&reason_mu);
    hcpd_log("warn", "process.restart", "count=%ld reason=\"%s\"", count + 1, reason);
    hcp_mutex_unlock(&reason_mu);
    cloexec_all();
    sigset_t none;
    sigemptyset(&none);
    /* the new image inherits this thread's mask; with SIG_SETMASK and a
     * valid set it cannot fail, and if it did exec is still the way out */
    (void)pthread_sigmask(SIG_SETMASK, &none, NULL);
    execv("/proc/self/exe", argv);
    hcpd_log("error", "process.restart_failed", "reason=\"%s\"", strerror(errno));
}

long hcpd_restart_count(void)
{
    const char *c = getenv("HCP_RESTARTS");
    return c != NULL ? strtol(c, NULL, 10) : 0;
}
