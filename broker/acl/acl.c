/* acl.c - the broker's ACL service (see acl.h): start-up load, the request
 * hook, and the AclWatch service thread.
 * Threads: the hook and the rule swap run on the broker's I/O thread (the
 * only reader of `rules`); AclWatch (rmq_service) stats and parses the files
 * and hands a complete rules object over through the broker's mailbox.
 * Never parses on the I/O thread. */
#include "acl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl_check.h"
#include "acl_rules.h"
#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_mailbox.h"
#include "rmq_service.h"

struct rmq_acl_s {
    rmq_mailbox_t *mbox;
    rmq_netguard_t *guard;
    rmq_acl_rules_t *rules; /* I/O thread */
    uint64_t reloads;       /* I/O thread */
    char *file;
    char *dir;
    int interval_ms;
    rmq_service_t *watch;
    rmq_acl_stamps_t stamps; /* the files as last loaded (watcher thread after start) */
};

typedef struct {
    rmq_acl_t *a;
    rmq_acl_rules_t *rules;
    size_t nfiles;
} swap_t;

static void log_rules(const char *what, const rmq_acl_rules_t *r, const rmq_acl_stamps_t *st)
{
    rmq_log(RMQ_LOG_INFO, "acl",
            "%s: %zu account(s), %zu global white address pattern(s) from %zu file(s)%s%s", what,
            rmq_map_count(&r->accounts), r->nglobal, st->n, st->n ? ", first " : "",
            st->n ? st->v[0].path : "");
}

/* @thread io */
static void swap_job(void *arg)
{
    swap_t *s = arg;
    rmq_acl_rules_free(s->a->rules);
    s->a->rules = s->rules;
    s->a->reloads++;
    free(s);
}

/* One check of the files; on a change, parse and post. @thread AclWatch */
static void watch_once(rmq_acl_t *a)
{
    rmq_acl_stamps_t now;
    rmq_acl_scan(a->file, a->dir, &now);
    if (rmq_acl_stamps_equal(&now, &a->stamps)) {
        rmq_acl_stamps_free(&now);
        return;
    }
    char err[600];
    rmq_acl_rules_t *r = rmq_acl_rules_load(&now, err, sizeof(err));
    if (r) {
        log_rules("ACL files changed, new rules in force", r, &now);
        swap_t *s = rmq_calloc(1, sizeof(*s));
        s->a = a;
        s->rules = r;
        rmq_mailbox_post(a->mbox, swap_job, s);
    } else {
        rmq_log(RMQ_LOG_ERROR, "acl", "ACL files changed but do not load, the previous rules stay: %s", err);
    }
    /* either way, wait for the next change before trying again */
    rmq_acl_stamps_free(&a->stamps);
    a->stamps = now;
}

static void watch_main(rmq_service_t *svc, void *arg)
{
    rmq_acl_t *a = arg;
    while (!rmq_service_stopped(svc)) {
        rmq_service_wait_for_running(svc, a->interval_ms);
        if (!rmq_service_stopped(svc))
            watch_once(a);
    }
}

/* @thread io */
static bool acl_hook(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_acl_t *a = ctx;
    char remark[700];
    rmq_acl_verdict_t v = rmq_acl_check(a->rules, req, rmq_conn_peer_ip(conn), remark, sizeof(remark));
    if (v == RMQ_ACL_ALLOWED)
        return true;
    uint64_t supp = 0;
    if (!a->guard || rmq_netguard_log_ok(a->guard, rmq_conn_peer_ip(conn), &supp))
        rmq_log(RMQ_LOG_WARN, "acl", "refused request code %d from %s: %s%s%.0llu%s", req->code,
                rmq_conn_peer(conn), remark, supp ? " (" : "", (unsigned long long)supp,
                supp ? " more not logged)" : "");
    if (!rmq_cmd_is_oneway(req)) {
        rmq_cmd_t resp;
        rmq_cmd_init_response(&resp, req, RMQ_ERR_SYSTEM_ERROR, remark);
        rmq_conn_reply(conn, req, &resp);
        rmq_cmd_deinit(&resp);
    }
    return false;
}

void rmq_acl_install(rmq_acl_t *a, rmq_endpoint_t *ep)
{
    if (a)
        rmq_endpoint_set_request_hook(ep, acl_hook, a);
}

static bool absolute(const char *p)
{
    return p && p[0] == '/';
}

rmq_acl_t *rmq_acl_start(const rmq_acl_ctx_t *ctx, char *errstr, size_t n)
{
    const char *home =
        ctx->rocketmq_home && *ctx->rocketmq_home ? ctx->rocketmq_home : getenv("ROCKETMQ_HOME");
    const char *file = ctx->plain_file && *ctx->plain_file ? ctx->plain_file : "conf/plain_acl.yml";
    if (!absolute(file) && !(home && *home)) {
        snprintf(errstr, n,
                 "aclEnable=true: rocketmq.acl.plain.file=%s is relative to the RocketMQ home, but neither "
                 "rocketmqHome "
                 "nor ROCKETMQ_HOME is set",
                 file);
        return NULL;
    }
    rmq_acl_t *a = rmq_calloc(1, sizeof(*a));
    a->mbox = ctx->mbox;
    a->guard = ctx->guard;
    a->interval_ms = ctx->watch_interval_ms > 0 ? ctx->watch_interval_ms : 5000;
    a->file = absolute(file) ? rmq_strdup(file) : rmq_asprintf("%s/%s", home, file);
    a->dir = home && *home ? rmq_asprintf("%s/conf/acl", home) : NULL;
    rmq_acl_scan(a->file, a->dir, &a->stamps);
    char err[600];
    a->rules = rmq_acl_rules_load(&a->stamps, err, sizeof(err));
    if (!a->rules) {
        snprintf(errstr, n, "ACL configuration does not load: %s", err);
        rmq_acl_free(a);
        return NULL;
    }
    if (!a->stamps.n)
        rmq_log(
            RMQ_LOG_WARN, "acl",
            "aclEnable=true but %s does not exist (nor any file under %s): every request is refused until it "
            "appears",
            a->file, a->dir ? a->dir : "-");
    log_rules("ACL enabled", a->rules, &a->stamps);
    a->watch = rmq_service_new("AclWatch", watch_main, a);
    if (rmq_service_start(a->watch) != RMQ_OK) {
        snprintf(errstr, n, "cannot start the ACL watcher thread");
        rmq_acl_free(a);
        return NULL;
    }
    return a;
}

void rmq_acl_stop(rmq_acl_t *a)
{
    if (a)
        rmq_service_stop(a->watch);
}

void rmq_acl_free(rmq_acl_t *a)
{
    if (!a)
        return;
    rmq_service_free(a->watch);
    rmq_acl_rules_free(a->rules);
    rmq_acl_stamps_free(&a->stamps);
    free(a->file);
    free(a->dir);
    free(a);
}

uint64_t rmq_acl_reloads(const rmq_acl_t *a)
{
    return a ? a->reloads : 0;
}
