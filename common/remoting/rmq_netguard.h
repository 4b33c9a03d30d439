/* rmq_netguard.h - what keeps a server usable under hostile or runaway
 * clients, shared by the server endpoints of one process (a broker's client
 * and VIP ports share one guard):
 *   - connection caps: serverMaxConnections (0 = three quarters of the
 *     descriptor limit, so the store and name-server links keep descriptors)
 *     and serverMaxConnectionsPerAddress; over a cap a new connection is
 *     closed as soon as it is accepted;
 *   - accept pause: when accept() fails for lack of descriptors or memory
 *     (EMFILE, ENFILE, ENOBUFS, ENOMEM) the listeners stop accepting for
 *     serverAcceptPauseMillis instead of spinning on a readable listen
 *     socket (Netty pauses 1 s, nginx 500 ms);
 *   - input budget: bytes buffered in incomplete frames across all
 *     connections are capped by serverInputBufferLimit; beyond it the
 *     connection holding the largest incomplete frame is closed;
 *   - bounded logging: bad frames and refusals are logged at most a few
 *     times a minute per address, with a count of what was suppressed.
 * Also raises RLIMIT_NOFILE to its hard limit at start.
 * Thread: the I/O thread that runs the endpoints (no locks). */
#ifndef RMQ_NETGUARD_H
#define RMQ_NETGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_conf.h"

typedef struct rmq_netguard_conf_s {
    int32_t maxConnections;
    int32_t maxConnectionsPerAddress;
    int64_t inputBufferLimit;
    int32_t acceptPauseMillis;
} rmq_netguard_conf_t;

/* serverMaxConnections, serverMaxConnectionsPerAddress,
 * serverInputBufferLimit, serverAcceptPauseMillis */
extern const rmq_conf_def_t rmq_netguard_conf_defs[];

typedef struct rmq_netguard_s rmq_netguard_t;

rmq_netguard_t *rmq_netguard_new(const rmq_netguard_conf_t *c);
void rmq_netguard_free(rmq_netguard_t *g);

/* Admission: true (and counted) if a connection from ip may stay open;
 * every admitted connection is released with rmq_netguard_leave. */
bool rmq_netguard_enter(rmq_netguard_t *g, const char *ip, const char **why);
void rmq_netguard_leave(rmq_netguard_t *g, const char *ip);
size_t rmq_netguard_connections(const rmq_netguard_t *g);
int rmq_netguard_max_connections(const rmq_netguard_t *g);

/* Input budget: account a connection's buffered input growing or shrinking
 * by delta bytes. True while the total is within the limit. */
bool rmq_netguard_input(rmq_netguard_t *g, int64_t delta);
int64_t rmq_netguard_input_used(const rmq_netguard_t *g);
int rmq_netguard_accept_pause_ms(const rmq_netguard_t *g);

/* The server endpoints sharing the guard (the connection layer registers
 * them, to find the largest buffered input across all of them). */
void rmq_netguard_attach(rmq_netguard_t *g, void *endpoint);
void rmq_netguard_detach(rmq_netguard_t *g, void *endpoint);
void *const *rmq_netguard_members(const rmq_netguard_t *g, size_t *n);

/* Rate-limited log per address: true if a line may be written now;
 * *suppressed receives how many lines were dropped since the last one. */
bool rmq_netguard_log_ok(rmq_netguard_t *g, const char *ip, uint64_t *suppressed);

/* Raise RLIMIT_NOFILE's soft limit to the hard limit; returns the limit in
 * force afterwards (logged when it changed). Main thread, at start. */
long rmq_raise_fd_limit(const char *who);

#endif
