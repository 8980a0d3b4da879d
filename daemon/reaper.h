/*
 * reaper.h — closes TCP connections that an nng listener accepted but that
 * never became a pipe: peers that connect and send nothing, or stop in the
 * middle of the TLS handshake.
 *
 * nng 1.5.2 gives such a connection no deadline and tells the application
 * nothing about it (there is no pipe yet, and the TLS engine is only called
 * when bytes arrive), so a few hundred idle sockets would hold descriptors
 * and handshake slots for ever. The reaper looks at the process's own
 * descriptors (/proc/self/fd) once a second, finds the accepted TCP sockets
 * of the listener's port whose peer address belongs to no pipe, and shuts
 * down (shutdown(2), never close(2): the descriptor stays nng's) every one
 * older than limit_ms and, while more than `max` remain, the quietest of
 * those whose peer has kept us waiting for a second (TCP_INFO: our last
 * send is at least as recent as its last data): a surge of real handshakes
 * answers at once or waits for us, and is never shed for its size.
 * nng then sees the connection fail and frees it the ordinary way.
 *
 * A descriptor number can be reused between the scan and the shutdown; the
 * reaper checks the local port and the peer address again right before it
 * acts, so at worst a connection that came and went in that microsecond
 * window is cut, and its peer redials.
 */
#ifndef HCPD_REAPER_H
#define HCPD_REAPER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hcp.h"

/* A peer address as the reaper compares them: family, port, address. */
typedef struct hcpd_peer {
    uint16_t family; /* AF_INET or AF_INET6 */
    uint16_t port;   /* host order */
    uint8_t addr[16];
} hcpd_peer;

/* Fill out (cap entries) with the peer addresses of every live pipe and
 * return how many were written (at most cap). Called on the reaper's
 * thread once per scan; must be thread-safe. */
typedef size_t (*hcpd_peers_fn)(void *arg, hcpd_peer *out, size_t cap);

typedef struct hcpd_reaper hcpd_reaper;

/* Start reaping connections accepted on local TCP port `port` (1..65535):
 * those without a pipe are shut down once limit_ms old (> 0), and beyond
 * max (> 0) of them the quietest (silent for a second or more) at once. what names the listener in
 * logs (e.g. "repl"). *out is the reaper. HCP_EINVAL on bad arguments, HCP_ENOMEM, HCP_EIO when the
 * thread cannot start. *out is the caller's until hcpd_reaper_stop. */
HCP_NODISCARD int hcpd_reaper_start(uint16_t port, int limit_ms, size_t max, hcpd_peers_fn peers,
                                    void *arg, const char *what, hcpd_reaper **out);
/* Stop the thread and free; NULL-safe. */
void hcpd_reaper_stop(hcpd_reaper *r);
/* Connections shut down so far (for metrics and tests). */
uint64_t hcpd_reaper_count(const hcpd_reaper *r);

/* The peer of sa (AF_INET or AF_INET6) into *p; false for other families. */
HCP_NODISCARD bool hcpd_peer_from_sockaddr(const struct sockaddr *sa, hcpd_peer *p);

#endif
