/* rmq_netguard.c - connection caps, the input budget, per-address log rate
 * limits and the descriptor limit (see rmq_netguard.h).
 * Thread: the I/O thread of the endpoints sharing the guard; the settings
 * table and rmq_raise_fd_limit are used on main before the loop starts. */
#include "rmq_netguard.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_map.h"
#include "rmq_time.h"

#define F(x) offsetof(rmq_netguard_conf_t, x)

const rmq_conf_def_t rmq_netguard_conf_defs[] = {
    {"serverMaxConnections", RMQ_CONF_INT, F(maxConnections), "0", 0, INT32_MAX, 0,
     "Comet: client connections kept open at most (0 = three quarters of the descriptor limit); more are "
     "closed "
     "as soon as they are accepted",
     NULL},
    {"serverMaxConnectionsPerAddress", RMQ_CONF_INT, F(maxConnectionsPerAddress), "0", 0, INT32_MAX, 0,
     "Comet: connections from one IP address kept open at most (0 = no limit)", NULL},
    {"serverInputBufferLimit", RMQ_CONF_LONG, F(inputBufferLimit), "536870912", 0, INT64_MAX, 0,
     "Comet: bytes of incomplete frames buffered across all connections (0 = no limit); beyond it the "
     "connection holding the largest incomplete frame is closed",
     NULL},
    {"serverAcceptPauseMillis", RMQ_CONF_INT, F(acceptPauseMillis), "1000", 10, 60000, 0,
     "Comet: stop accepting for this long when accept() runs out of descriptors or memory", NULL},
    RMQ_CONF_END,
};

#define LOG_SLOTS 256
#define LOG_BURST 5 /* lines per address and window */
#define LOG_WINDOW_MS 60000
#define LOG_GLOBAL_BURST 100 /* lines per window over all addresses */

typedef struct {
    char ip[48];
    int64_t window_start;
    uint32_t lines;
    uint64_t suppressed;
} log_slot_t;

struct rmq_netguard_s {
    rmq_netguard_conf_t c;
    int max_conns; /* resolved */
    size_t nconns;
    rmq_map_t per_ip; /* ip -> (uintptr_t)count */
    int64_t input_used;
    log_slot_t log[LOG_SLOTS];
    int64_t global_start;
    uint32_t global_lines;
    void *members[8];
    size_t nmembers;
};

rmq_netguard_t *rmq_netguard_new(const rmq_netguard_conf_t *c)
{
    rmq_netguard_t *g = rmq_calloc(1, sizeof(*g));
    g->c = *c;
    rmq_map_init(&g->per_ip, NULL);
    g->max_conns = c->maxConnections;
    if (g->max_conns <= 0) {
        struct rlimit rl;
        long lim =
            getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY ? (long)rl.rlim_cur : 65536;
        if (lim > INT32_MAX)
            lim = INT32_MAX;
        g->max_conns = (int)(lim / 4 * 3);
        if (g->max_conns < 1)
            g->max_conns = 1;
    }
    return g;
}

void rmq_netguard_free(rmq_netguard_t *g)
{
    if (!g)
        return;
    rmq_map_deinit(&g->per_ip);
    free(g);
}

bool rmq_netguard_enter(rmq_netguard_t *g, const char *ip, const char **why)
{
    if (g->nconns >= (size_t)g->max_conns) {
        *why = "serverMaxConnections reached";
        return false;
    }
    uintptr_t n = (uintptr_t)rmq_map_get(&g->per_ip, ip);
    if (g->c.maxConnectionsPerAddress > 0 && n >= (uintptr_t)g->c.maxConnectionsPerAddress) {
        *why = "serverMaxConnectionsPerAddress reached";
        return false;
    }
    rmq_map_put(&g->per_ip, ip, (void *)(n + 1));
    g->nconns++;
    return true;
}

void rmq_netguard_leave(rmq_netguard_t *g, const char *ip)
{
    uintptr_t n = (uintptr_t)rmq_map_get(&g->per_ip, ip);
    if (n <= 1)
        rmq_map_del(&g->per_ip, ip);
    else
        rmq_map_put(&g->per_ip, ip, (void *)(n - 1));
    if (g->nconns)
        g->nconns--;
}

void rmq_netguard_attach(rmq_netguard_t *g, void *ep)
{
    rmq_assert(g->nmembers < sizeof(g->members) / sizeof(g->members[0]));
    g->members[g->nmembers++] = ep;
}

void rmq_netguard_detach(rmq_netguard_t *g, void *ep)
{
    for (size_t i = 0; i < g->nmembers; i++)
        if (g->members[i] == ep) {
            g->members[i] = g->members[--g->nmembers];
            return;
        }
}

void *const *rmq_netguard_members(const rmq_netguard_t *g, size_t *n)
{
    *n = g->nmembers;
    return g->members;
}

size_t rmq_netguard_connections(const rmq_netguard_t *g)
{
    return g->nconns;
}
int rmq_netguard_max_connections(const rmq_netguard_t *g)
{
    return g->max_conns;
}
int rmq_netguard_accept_pause_ms(const rmq_netguard_t *g)
{
    return g->c.acceptPauseMillis;
}
int64_t rmq_netguard_input_used(const rmq_netguard_t *g)
{
    return g->input_used;
}

bool rmq_netguard_input(rmq_netguard_t *g, int64_t delta)
{
    g->input_used += delta;
    if (g->input_used < 0)
        g->input_used = 0;
    return g->c.inputBufferLimit <= 0 || g->input_used <= g->c.inputBufferLimit;
}

bool rmq_netguard_log_ok(rmq_netguard_t *g, const char *ip, uint64_t *suppressed)
{
    uint32_t h = 2166136261u;
    for (const char *p = ip; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    log_slot_t *s = &g->log[h % LOG_SLOTS];
    int64_t now = rmq_mono_ms();
    *suppressed = 0;
    if (strcmp(s->ip, ip) != 0) { /* another address takes the slot */
        snprintf(s->ip, sizeof(s->ip), "%s", ip);
        s->window_start = now;
        s->lines = 0;
        s->suppressed = 0;
    } else if (now - s->window_start >= LOG_WINDOW_MS) {
        s->window_start = now;
        s->lines = 0;
    }
    if (now - g->global_start >= LOG_WINDOW_MS) {
        g->global_start = now;
        g->global_lines = 0;
    }
    if (s->lines < LOG_BURST && g->global_lines < LOG_GLOBAL_BURST) {
        s->lines++;
        g->global_lines++;
        *suppressed = s->suppressed;
        s->suppressed = 0;
        return true;
    }
    s->suppressed++;
    return false;
}

long rmq_raise_fd_limit(const char *who)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        rmq_log_errno(RMQ_LOG_WARN, who, errno, "getrlimit(RLIMIT_NOFILE)");
        return -1;
    }
    rlim_t before = rl.rlim_cur;
    if (rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            rmq_log_errno(RMQ_LOG_WARN, who, errno, "setrlimit(RLIMIT_NOFILE, %llu)",
                          (unsigned long long)rl.rlim_max);
            return (long)before;
        }
        rmq_log(RMQ_LOG_INFO, who, "open files limit raised from %llu to %llu", (unsigned long long)before,
                (unsigned long long)rl.rlim_cur);
    }
    return rl.rlim_cur == RLIM_INFINITY ? -1 : (long)rl.rlim_cur;
}
