/* controller.c - controller mode: the "Controller" thread of a broker. It
 * holds this broker's etcd lease (grant, keep-alive every ttl/6), keeps its
 * member key, reads the group's keys (a watch for speed, a read every second
 * for safety), stands for election when the leader key is gone and the rules
 * allow (ctrl_state.c), and carries roles out: leading (the replication
 * service begins the epoch, then the I/O thread accepts writes and registers
 * as brokerId 0) and following (the I/O thread refuses writes and registers
 * under this broker's id, then replication follows the leader). As master it
 * keeps the in-sync set in etcd (compare-and-swap on the state key's
 * revision, and only while it still holds the leader key) and publishes the
 * fencing deadline: 5/6 of the lease's time-to-live after the last renewal
 * that etcd confirmed, on CLOCK_BOOTTIME (monotonic, counts suspend), so the
 * master stops acknowledging writes before etcd can expire its lease.
 *
 * Owns: the Controller thread, its event loop and mailbox, the etcd client,
 * the lease, the view of the group, the role.
 * Runs: everything on "Controller" except rmq_ctrl_new/start/stop/destroy
 * (main), rmq_ctrl_runtime_info and the *_io closures (the broker's I/O
 * thread: they change is_slave, the store's role and the registered id).
 * Never: blocks the I/O thread, changes the state key without a compare on
 * its revision, or lets this broker lead without holding the leader key. */
#include "controller/controller.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "broker.h"
#include "controller/ctrl_state.h"
#include "controller/etcd.h"
#include "ha/ha.h"
#include "out/namesrv_api.h"
#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_log.h"
#include "rmq_mailbox.h"
#include "rmq_service.h"
#include "rmq_time.h"
#include "status_pairs.h"

#define FAC "controller"
#define TICK_MS 100
#define RESYNC_MS 1000
#define START_WAIT_EXTRA_MS 3000

typedef enum { ROLE_REPLICA = 0, ROLE_CANDIDATE, ROLE_LEADING, ROLE_MASTER } role_t;
typedef enum { MEM_NONE = 0, MEM_OK, MEM_DUPLICATE } mem_t;

static const char *role_names[] = {"REPLICA", "CANDIDATE", "LEADING", "MASTER"};

struct rmq_ctrl_s {
    rmq_broker_t *b;
    rmq_ha_t *ha;
    rmq_ctrl_keys_t keys;
    int64_t id;
    char addr[128], ha_addr[128], group[128], cluster[128];
    char *endpoints;
    int ttl_req_s;
    int min_isr;
    bool unclean, sync_master;
    int64_t fallbehind;
    int64_t slave_timeout_ms; /* a member behind and silent this long leaves the in-sync set */
    int64_t started_at;
    int64_t started_boot; /* CLOCK_BOOTTIME ms at start */

    struct event_base *base;
    rmq_mailbox_t *mbox;
    rmq_service_t *svc;
    rmq_etcd_t *etcd;
    struct event *ev_tick, *ev_quit;
    rmq_etcd_watch_t *watch;
    uint64_t watch_gen;
    int64_t watch_next;
    bool stopping;

    /* lease */
    int64_t lease;
    int64_t ttl_ms;
    int64_t lease_ok_sent; /* CLOCK_BOOTTIME ms when the last confirmed grant/keep-alive was sent */
    int64_t next_keepalive;
    bool lease_busy;
    uint64_t lease_gen;
    bool etcd_ok; /* the last call got an answer */
    bool etcd_lost_logged;
    char etcd_why[256];

    /* membership */
    mem_t member;
    bool claim_busy;
    int64_t next_claim;
    int64_t dup_since, dup_lease;
    char dup_addr[128];

    /* the group as last read */
    rmq_ctrl_view_t view;
    bool view_valid, state_corrupt;
    bool resync_busy, resync_due;
    int64_t last_resync;
    int64_t revoked_lease;

    /* role */
    _Atomic uint64_t role_gen; /* bumped by every role decision: the I/O thread drops superseded steps */
    role_t role;
    int64_t epoch;
    char following[128];
    int64_t following_epoch;
    bool followed_once;
    bool fenced;
    int64_t fence_until;
    int64_t fence_refusals_seen; /* rmq_ha_fence_refusals() at the last tick */
    bool txn_busy;
    int64_t campaign_after;
    char not_standing[800];

    /* master: the in-sync set */
    int64_t rep_acked[RMQ_CTRL_MAX_ID + 1];  /* last acknowledged offset seen per replica */
    int64_t rep_moved[RMQ_CTRL_MAX_ID + 1];  /* when it last moved */
    int64_t rep_behind[RMQ_CTRL_MAX_ID + 1]; /* since when it is behind the log's end (0: it is not) */
    uint64_t pending;
    uint64_t pushed_need;
    int pushed_isr_size;
    bool policy_pushed;

    /* published for the I/O thread */
    rmq_status_pairs_t status;

    /* start */
    pthread_mutex_t gate_mu;
    pthread_cond_t gate_cv;
    int gate; /* 0 waiting, 1 joined, 2 refused */
    char gate_msg[1200];
};

static int64_t boot_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void decide(rmq_ctrl_t *c);
static void resync(rmq_ctrl_t *c);
static void publish_status(rmq_ctrl_t *c);

/* ------------------------------------------------------------ settings */

rmq_err_t rmq_ctrl_check_conf(const rmq_broker_t *b, char *errstr, size_t n)
{
    const rmq_broker_conf_t *bc = &b->conf;
    if (!bc->enableControllerMode) {
        if (bc->etcdEndpoints && *bc->etcdEndpoints) {
            snprintf(errstr, n,
                     "etcdEndpoints is set but enableControllerMode=false: set "
                     "enableControllerMode=true for automatic failover, or remove etcdEndpoints");
            return RMQ_ERR__INVALID_ARG;
        }
        if (bc->minInSyncReplicas != 1 || bc->enableElectUncleanMaster) {
            snprintf(errstr, n, "%s only applies with enableControllerMode=true",
                     bc->minInSyncReplicas != 1 ? "minInSyncReplicas" : "enableElectUncleanMaster");
            return RMQ_ERR__INVALID_ARG;
        }
        return RMQ_OK;
    }
    if (!bc->etcdEndpoints || !*bc->etcdEndpoints) {
        snprintf(errstr, n,
                 "enableControllerMode=true needs etcdEndpoints=http://host:port,... (the same etcd "
                 "members on every broker of the group)");
        return RMQ_ERR__INVALID_ARG;
    }
    char why[256];
    if (!rmq_etcd_endpoints_valid(bc->etcdEndpoints, why, sizeof(why))) {
        snprintf(errstr, n, "etcdEndpoints: %s", why);
        return RMQ_ERR__INVALID_ARG;
    }
    if (bc->brokerId < 1 || bc->brokerId > RMQ_CTRL_MAX_ID) {
        snprintf(
            errstr, n,
            "enableControllerMode=true: brokerId is this broker's replica id in group %s, 1..%d and unique "
            "in the group (got %lld); which broker is master (brokerId 0 on the name servers) is decided "
            "by the election",
            bc->brokerName, RMQ_CTRL_MAX_ID, (long long)bc->brokerId);
        return RMQ_ERR__INVALID_ARG;
    }
    if (b->store_conf.brokerRole == RMQ_ROLE_SLAVE) {
        snprintf(errstr, n,
                 "enableControllerMode=true: brokerRole=SLAVE is decided by the election; set "
                 "brokerRole to how this broker replicates when it is master (SYNC_MASTER, or "
                 "ASYNC_MASTER), the same on every broker of the group");
        return RMQ_ERR__INVALID_ARG;
    }
    if (bc->haTlsEnable) {
        snprintf(errstr, n,
                 "enableControllerMode=true with haTlsEnable=true is not supported yet (a broker of a "
                 "controlled group both serves and follows replication, the TLS link has one side); "
                 "set haTlsEnable=false");
        return RMQ_ERR__INVALID_ARG;
    }
    if (bc->haMasterAddress && *bc->haMasterAddress) {
        snprintf(errstr, n,
                 "enableControllerMode=true: haMasterAddress cannot be set (the master is the one "
                 "holding the group's leader key in etcd)");
        return RMQ_ERR__INVALID_ARG;
    }
    rmq_ctrl_keys_t k;
    if (!rmq_ctrl_keys_init(&k, bc->etcdKeyPrefix, bc->brokerClusterName, bc->brokerName, bc->brokerId, why,
                            sizeof(why))) {
        snprintf(errstr, n, "%s", why);
        return RMQ_ERR__INVALID_ARG;
    }
    return RMQ_OK;
}

rmq_ctrl_t *rmq_ctrl_new(rmq_broker_t *b, char *errstr, size_t n)
{
    if (rmq_ctrl_check_conf(b, errstr, n) != RMQ_OK)
        return NULL;
    const rmq_broker_conf_t *bc = &b->conf;
    rmq_ctrl_t *c = rmq_calloc(1, sizeof(*c));
    c->b = b;
    c->ha = b->ha;
    c->id = bc->brokerId;
    rmq_ctrl_keys_init(&c->keys, bc->etcdKeyPrefix, bc->brokerClusterName, bc->brokerName, bc->brokerId,
                       errstr, n);
    snprintf(c->addr, sizeof(c->addr), "%s", b->broker_addr);
    snprintf(c->ha_addr, sizeof(c->ha_addr), "%s", b->ha_addr);
    snprintf(c->group, sizeof(c->group), "%s", bc->brokerName);
    snprintf(c->cluster, sizeof(c->cluster), "%s", bc->brokerClusterName);
    c->endpoints = rmq_strdup(bc->etcdEndpoints);
    c->ttl_req_s = bc->etcdLeaseTtlSeconds;
    c->ttl_ms = (int64_t)bc->etcdLeaseTtlSeconds * 1000;
    c->min_isr = bc->minInSyncReplicas;
    c->unclean = bc->enableElectUncleanMaster;
    c->sync_master = b->store_conf.brokerRole == RMQ_ROLE_SYNC_MASTER;
    c->fallbehind = bc->haSlaveFallbehindMax;
    c->slave_timeout_ms = bc->slaveTimeout;
    c->started_at = rmq_now_ms();
    c->started_boot = boot_ms();
    rmq_status_pairs_init(&c->status);
    pthread_mutex_init(&c->gate_mu, NULL);
    rmq_cond_init(&c->gate_cv);
    return c;
}

/* ----------------------------------------------------------- helpers */

typedef struct {
    rmq_ctrl_t *c;
    bool *busy; /* the flag of c cleared when the answer comes (NULL: none) */
    uint64_t gen;
    int64_t sent;
    int64_t aux;
} ctx_t;

static ctx_t *ctx(rmq_ctrl_t *c, bool *busy, int64_t aux)
{
    ctx_t *x = rmq_malloc(sizeof(*x));
    x->c = c;
    x->busy = busy;
    x->gen = c->lease_gen;
    x->sent = boot_ms();
    x->aux = aux;
    return x;
}

/* Renewals every TTL/6: with the fence at 5/6 TTL after the last confirmed
 * renewal's send, the master rides through an etcd outage of up to 2/3 TTL
 * (an etcd leader election takes 1-2 election timeouts) before it stops
 * acknowledging. */
static int64_t renew_every_ms(rmq_ctrl_t *c)
{
    return c->ttl_ms / 6;
}

static int timeout_ms(rmq_ctrl_t *c)
{
    int64_t t = c->ttl_ms / 4;
    return (int)(t < 500 ? 500 : t);
}

/* Note whether etcd answered; say it once when it stops and when it comes back. */
static void etcd_seen(rmq_ctrl_t *c, const rmq_etcd_resp_t *r)
{
    bool ok = r->err == RMQ_OK || r->err == RMQ_ERR__STATE || r->err == RMQ_ERR__CORRUPT;
    if (ok && !c->etcd_ok && c->etcd_lost_logged)
        rmq_log(RMQ_LOG_INFO, FAC, "etcd answers again (%s)", r->endpoint ? r->endpoint : "?");
    if (!ok) {
        snprintf(c->etcd_why, sizeof(c->etcd_why), "%s", r->msg);
        if (c->etcd_ok || !c->etcd_lost_logged) {
            rmq_log(RMQ_LOG_WARN, FAC, "etcd out of reach (%s): %s", c->endpoints, r->msg);
            c->etcd_lost_logged = true;
        }
    } else {
        c->etcd_why[0] = 0;
    }
    c->etcd_ok = ok;
}

/* The controller the answer r to the call of x is for, with the call's busy
 * flag cleared and whether etcd answered noted. */
static rmq_ctrl_t *answered(ctx_t *x, const rmq_etcd_resp_t *r)
{
    if (x->busy)
        *x->busy = false;
    etcd_seen(x->c, r);
    return x->c;
}

static void gate_open(rmq_ctrl_t *c, int v, const char *msg)
{
    pthread_mutex_lock(&c->gate_mu);
    if (c->gate == 0) {
        c->gate = v;
        snprintf(c->gate_msg, sizeof(c->gate_msg), "%s", msg ? msg : "");
        pthread_cond_broadcast(&c->gate_cv);
    }
    pthread_mutex_unlock(&c->gate_mu);
}

static int64_t my_end(rmq_ctrl_t *c)
{
    return rmq_store_get_commitlog_max_offset(c->b->store);
}

static int64_t my_epoch(rmq_ctrl_t *c)
{
    return rmq_store_epoch_last(c->b->store);
}

/* --------------------------------------------------- the I/O thread side */

typedef struct {
    rmq_ctrl_t *c;
    uint64_t gen; /* role steps: the decision they belong to */
    int64_t epoch;
    char ha_addr[128];
    uint64_t need;
    int isr_size;
    int64_t reg_id;
} io_job_t;

static io_job_t *io_job(rmq_ctrl_t *c)
{
    io_job_t *j = rmq_calloc(1, sizeof(*j));
    j->c = c;
    return j;
}

static void post_io(rmq_ctrl_t *c, rmq_job_fn *fn, io_job_t *j)
{
    rmq_mailbox_post(c->b->mbox, fn, j);
}

static void register_as(rmq_broker_t *b, int64_t reg_id)
{
    bool changed = b->reg_id != reg_id;
    b->reg_id = reg_id;
    if (changed && reg_id >= 0 && b->ns && !b->shutting_down)
        rmq_namesrv_api_register_all(b->ns);
}

static void lead_done_ctrl(void *arg)
{
    io_job_t *j = arg;
    rmq_ctrl_t *c = j->c;
    if (c->role == ROLE_LEADING && c->epoch == j->epoch && j->gen == atomic_load(&c->role_gen)) {
        c->role = ROLE_MASTER;
        rmq_log(RMQ_LOG_INFO, FAC, "%s: master of epoch %" PRId64 ", accepting writes", c->group, j->epoch);
        c->resync_due = true;
    }
    free(j);
    publish_status(c);
}

/* @thread io: a later role decision supersedes this step. Role steps pass
 * through the I/O thread's mailbox in decision order and from there to the
 * replication thread's, so the last decision is the one both threads end
 * with. */
static bool superseded(const io_job_t *j)
{
    return j->gen != atomic_load(&j->c->role_gen) || j->c->b->shutting_down || !j->c->mbox;
}

/* @thread io: the replication service began the epoch; accept writes */
static void lead_io(void *arg)
{
    io_job_t *j = arg;
    rmq_ctrl_t *c = j->c;
    rmq_broker_t *b = c->b;
    if (superseded(j)) {
        free(j);
        return;
    }
    rmq_ha_ctrl_policy_io(c->ha, 0, 1, c->min_isr);
    b->is_slave = false;
    rmq_store_set_slave(b->store, false);
    register_as(b, 0);
    rmq_mailbox_post(c->mbox, lead_done_ctrl, j);
}

/* @thread io: the first step of leading: the replication thread begins the
 * epoch, then lead_io */
static void lead_start_io(void *arg)
{
    io_job_t *j = arg;
    if (superseded(j)) {
        free(j);
        return;
    }
    rmq_ha_ctrl_lead(j->c->ha, j->epoch, lead_io, j);
}

/* @thread io: refuse writes from now on, register as a replica, then follow */
static void follow_io(void *arg)
{
    io_job_t *j = arg;
    rmq_ctrl_t *c = j->c;
    rmq_broker_t *b = c->b;
    if (!superseded(j)) {
        b->is_slave = true;
        rmq_store_set_slave(b->store, true);
        rmq_ha_ctrl_follow_io(c->ha, j->ha_addr, j->epoch);
        register_as(b, c->id);
    }
    free(j);
}

/* @thread io */
static void policy_io(void *arg)
{
    io_job_t *j = arg;
    if (!j->c->b->shutting_down)
        rmq_ha_ctrl_policy_io(j->c->ha, j->need, j->isr_size, j->c->min_isr);
    free(j);
}

/* @thread io: pause (fenced) or resume the registration as master */
static void register_io(void *arg)
{
    io_job_t *j = arg;
    if (!j->c->b->shutting_down)
        register_as(j->c->b, j->reg_id);
    free(j);
}

/* ------------------------------------------------------------------ roles */

static void push_policy(rmq_ctrl_t *c, bool force)
{
    uint64_t need = (c->view.state.isr | c->pending) & ~RMQ_CTRL_BIT(c->id);
    int isr_size = rmq_ctrl_set_count(c->view.state.isr | RMQ_CTRL_BIT(c->id));
    if (!force && c->policy_pushed && need == c->pushed_need && isr_size == c->pushed_isr_size)
        return;
    c->pushed_need = need;
    c->pushed_isr_size = isr_size;
    c->policy_pushed = true;
    io_job_t *j = io_job(c);
    j->need = need;
    j->isr_size = isr_size;
    post_io(c, policy_io, j);
}

static void follow(rmq_ctrl_t *c, const char *ha_addr, int64_t epoch, int64_t master_id, const char *why)
{
    bool same = c->role == ROLE_REPLICA && c->followed_once && !strcmp(c->following, ha_addr) &&
                c->following_epoch == epoch;
    if (same)
        return;
    if (c->role == ROLE_MASTER || c->role == ROLE_LEADING)
        rmq_log(RMQ_LOG_WARN, FAC, "%s: stepping down as master of epoch %" PRId64 ": %s", c->group, c->epoch,
                why);
    if (*ha_addr)
        rmq_log(RMQ_LOG_INFO, FAC, "%s: following master %" PRId64 " (HA %s) of epoch %" PRId64, c->group,
                master_id, ha_addr, epoch);
    else if (!c->followed_once || c->following[0])
        rmq_log(RMQ_LOG_INFO, FAC, "%s: replica without a master (%s)", c->group, why);
    c->role = ROLE_REPLICA;
    c->followed_once = true;
    snprintf(c->following, sizeof(c->following), "%s", ha_addr);
    c->following_epoch = epoch;
    c->epoch = epoch;
    c->pending = 0;
    c->policy_pushed = false;
    if (c->fenced)
        c->fenced = false;
    c->fence_until = 0;
    rmq_ha_ctrl_fence(c->ha, 0);
    io_job_t *j = io_job(c);
    j->gen = atomic_fetch_add(&c->role_gen, 1) + 1;
    j->epoch = epoch;
    snprintf(j->ha_addr, sizeof(j->ha_addr), "%s", ha_addr);
    post_io(c, follow_io, j);
    publish_status(c);
}

static void fence_update(rmq_ctrl_t *c)
{
    if (c->role != ROLE_MASTER && c->role != ROLE_LEADING)
        return;
    int64_t until = c->lease ? c->lease_ok_sent + c->ttl_ms * 5 / 6 : 0;
    if (until != c->fence_until) {
        c->fence_until = until;
        rmq_ha_ctrl_fence(c->ha, until);
    }
    bool fenced = boot_ms() >= until;
    int64_t refused = rmq_ha_fence_refusals(c->ha);
    if (refused != c->fence_refusals_seen && !fenced && !c->fenced && c->role == ROLE_MASTER)
        rmq_log(RMQ_LOG_WARN, FAC,
                "%s: %" PRId64 " writes refused at the fence between two ticks: a renewal came in after the "
                "deadline (5/6 TTL after the last confirmed one); etcd answered slowly (%s)",
                c->group, refused - c->fence_refusals_seen, c->etcd_why[0] ? c->etcd_why : "no error");
    c->fence_refusals_seen = refused;
    if (fenced == c->fenced)
        return;
    c->fenced = fenced;
    io_job_t *j = io_job(c);
    if (fenced) {
        rmq_log(RMQ_LOG_WARN, FAC,
                "%s: FENCED: the etcd lease was not renewed for %" PRId64
                " ms (%s); writes are refused and the name servers are not told about this master until etcd "
                "confirms it again",
                c->group, boot_ms() - c->lease_ok_sent, c->etcd_why[0] ? c->etcd_why : "no answer");
        j->reg_id = -1;
    } else {
        rmq_log(RMQ_LOG_INFO, FAC, "%s: lease renewed: writes accepted again (epoch %" PRId64 ")", c->group,
                c->epoch);
        j->reg_id = 0;
    }
    if (c->role == ROLE_MASTER)
        post_io(c, register_io, j);
    else
        free(j);
    publish_status(c);
}

static void lead(rmq_ctrl_t *c, int64_t epoch)
{
    c->role = ROLE_LEADING;
    c->epoch = epoch;
    c->pending = 0;
    c->policy_pushed = false;
    c->fenced = false;
    c->following[0] = 0;
    c->fence_until = -1;
    fence_update(c); /* the deadline first: writes are acknowledged only before it */
    io_job_t *j = io_job(c);
    j->gen = atomic_fetch_add(&c->role_gen, 1) + 1;
    j->epoch = epoch;
    post_io(c, lead_start_io, j);
    publish_status(c);
}

/* ---------------------------------------------------------------- lease */

static void claim(rmq_ctrl_t *c);

static void lease_lost(rmq_ctrl_t *c, const char *why)
{
    rmq_log(RMQ_LOG_WARN, FAC, "%s: lease %" PRIx64 " is gone (%s)", c->group, (uint64_t)c->lease, why);
    c->lease = 0;
    c->lease_gen++;
    c->member = MEM_NONE;
    if (c->role == ROLE_MASTER || c->role == ROLE_LEADING || c->role == ROLE_CANDIDATE) {
        /* the leader key went with it */
        follow(c, "", 0, 0, "the lease expired in etcd");
    }
}

static void grant_cb(void *arg, const rmq_etcd_resp_t *r)
{
    ctx_t *x = arg;
    rmq_ctrl_t *c = answered(x, r);
    if (r->err == RMQ_OK && x->gen == c->lease_gen && !c->stopping) {
        int64_t id = rmq_etcd_i64(r->body, "ID", 0);
        int64_t ttl = rmq_etcd_i64(r->body, "TTL", 0);
        if (id && ttl > 0) {
            c->lease = id;
            c->lease_gen++;
            c->ttl_ms = ttl * 1000;
            c->lease_ok_sent = x->sent;
            c->next_keepalive = x->sent + renew_every_ms(c);
            if (ttl != c->ttl_req_s)
                rmq_log(RMQ_LOG_WARN, FAC,
                        "etcd granted a %" PRId64 " s lease for the %d s asked (etcd's minimum is 1.5 x its "
                        "election timeout)",
                        ttl, c->ttl_req_s);
            rmq_log(RMQ_LOG_INFO, FAC, "%s: lease %" PRIx64 " granted (TTL %" PRId64 " s) by %s", c->group,
                    (uint64_t)id, ttl, r->endpoint);
            claim(c);
        }
    } else if (r->err != RMQ_OK && r->err != RMQ_ERR__DESTROY) {
        rmq_log(RMQ_LOG_DEBUG, FAC, "lease grant failed: %s", r->msg);
    }
    free(x);
}

static void keepalive_cb(void *arg, const rmq_etcd_resp_t *r)
{
    ctx_t *x = arg;
    rmq_ctrl_t *c = answered(x, r);
    if (x->gen != c->lease_gen || c->stopping) {
        free(x);
        return;
    }
    if (r->err == RMQ_OK) {
        json_t *res = json_object_get(r->body, "result");
        int64_t ttl = rmq_etcd_i64(res ? res : r->body, "TTL", 0);
        if (ttl <= 0) {
            lease_lost(c, "etcd says it expired");
        } else {
            c->lease_ok_sent = x->sent;
            c->ttl_ms = ttl * 1000;
            c->next_keepalive = x->sent + renew_every_ms(c);
            fence_update(c);
        }
    } else {
        c->next_keepalive = boot_ms(); /* again at the next tick, on the next endpoint */
    }
    free(x);
}

static void lease_tick(rmq_ctrl_t *c)
{
    if (c->lease_busy)
        return;
    int64_t now = boot_ms();
    if (!c->lease) {
        c->lease_busy = true;
        rmq_etcd_call(c->etcd, "/v3/lease/grant", json_pack("{s:i}", "TTL", c->ttl_req_s), timeout_ms(c),
                      grant_cb, ctx(c, &c->lease_busy, 0));
        return;
    }
    /* Not renewed for longer than its time-to-live: etcd has probably
     * expired it, but only etcd knows (a restarted etcd cluster renews every
     * lease), so keep asking with the same lease; fencing keeps a master
     * from acknowledging meanwhile. */
    if (now >= c->next_keepalive) {
        c->lease_busy = true;
        rmq_etcd_call(c->etcd, "/v3/lease/keepalive", json_pack("{s:I}", "ID", (json_int_t)c->lease),
                      timeout_ms(c), keepalive_cb, ctx(c, &c->lease_busy, 0));
    }
}

/* ----------------------------------------------------------- membership */

static char *member_value(rmq_ctrl_t *c)
{
    return rmq_ctrl_member_json(c->id, c->addr, c->ha_addr, my_epoch(c), my_end(c), c->started_at);
}

static void revoke_cb(void *arg, const rmq_etcd_resp_t *r)
{
    ctx_t *x = arg;
    answered(x, r)->resync_due = true;
    free(x);
}

/* A lease of this broker's previous run (same address, same id): it is dead,
 * its keys need not wait for the time-to-live. */
static void revoke_old(rmq_ctrl_t *c, int64_t lease, const char *what)
{
    if (!lease || lease == c->lease || lease == c->revoked_lease)
        return;
    c->revoked_lease = lease;
    rmq_log(RMQ_LOG_INFO, FAC,
            "%s: %s belongs to this broker's previous run (lease %" PRIx64 "): revoking it", c->group, what,
            (uint64_t)lease);
    rmq_etcd_call(c->etcd, "/v3/lease/revoke", json_pack("{s:I}", "ID", (json_int_t)lease), timeout_ms(c),
                  revoke_cb, ctx(c, NULL, 0));
}

static void claim_cb(void *arg, const rmq_etcd_resp_t *r)
{
    ctx_t *x = arg;
    rmq_ctrl_t *c = answered(x, r);
    if (x->gen != c->lease_gen || c->stopping || r->err != RMQ_OK) {
        free(x);
        return;
    }
    free(x);
    if (rmq_etcd_bool(r->body, "succeeded")) {
        if (c->member != MEM_OK)
            rmq_log(RMQ_LOG_INFO, FAC, "%s: replica %" PRId64 " (%s) joined the group in etcd (%s)", c->group,
                    c->id, c->addr, c->keys.member);
        c->member = MEM_OK;
        c->dup_since = 0;
        gate_open(c, 1, NULL);
        c->resync_due = true;
        return;
    }
    /* the key is there: whose? */
    json_t *rr = json_object_get(json_array_get(json_object_get(r->body, "responses"), 0), "response_range");
    rmq_etcd_kv_t *kvs = NULL;
    size_t n = 0;
    rmq_ctrl_member_t m = {0};
    bool known = rr && rmq_etcd_kvs(rr, &kvs, &n) && n == 1 && rmq_ctrl_member_parse(kvs[0].value, &m);
    int64_t lease = known ? kvs[0].lease : 0;
    rmq_etcd_kvs_free(kvs, n);
    if (!known) {
        c->next_claim = boot_ms() + 200;
        return;
    }
    if (lease == c->lease) { /* ours already (an earlier claim's answer was lost) */
        c->member = MEM_OK;
        gate_open(c, 1, NULL);
        return;
    }
    if (!strcmp(m.addr, c->addr)) {
        revoke_old(c, lease, "member key");
        c->next_claim = boot_ms() + 100;
        return;
    }
    /* another broker at another address: a restarted broker on a new
     * address leaves its old key for at most one time-to-live; a live one
     * keeps it */
    int64_t now = boot_ms();
    if (!c->dup_since || c->dup_lease != lease || strcmp(c->dup_addr, m.addr)) {
        c->dup_since = now;
        c->dup_lease = lease;
        snprintf(c->dup_addr, sizeof(c->dup_addr), "%s", m.addr);
    }
    if (now - c->dup_since > c->ttl_ms + 1000) {
        char msg[1200];
        snprintf(msg, sizeof(msg),
                 "brokerId %" PRId64
                 " of group %s/%s is already taken by the live broker at %s (etcd key %s): "
                 "every broker of a group needs its own brokerId",
                 c->id, c->cluster, c->group, m.addr, c->keys.member);
        if (c->member != MEM_DUPLICATE)
            rmq_log(RMQ_LOG_ERROR, FAC, "%s; this broker stays a replica and never stands for election", msg);
        c->member = MEM_DUPLICATE;
        gate_open(c, 2, msg);
        c->next_claim = now + c->ttl_ms;
    } else {
        c->next_claim = now + 500;
    }
}

static void claim(rmq_ctrl_t *c)
{
    if (!c->lease || c->claim_busy)
        return;
    c->claim_busy = true;
    char *val = member_value(c);
    json_t *txn = json_pack("{s:[o],s:[{s:o}],s:[{s:o}]}", "compare", rmq_etcd_cmp_create(c->keys.member, 0),
                            "success", "request_put", rmq_etcd_put(c->keys.member, val, c->lease), "failure",
                            "request_range", rmq_etcd_range_key(c->keys.member));
    free(val);
    rmq_etcd_call(c->etcd, "/v3/kv/txn", txn, timeout_ms(c), claim_cb, ctx(c, &c->claim_busy, 0));
}

/* ------------------------------------------------------------ elections */

static void campaign_cb(void *arg, const rmq_etcd_resp_t *r)
{
    ctx_t *x = arg;
    rmq_ctrl_t *c = answered(x, r);
    int64_t epoch = x->aux;
    bool current = x->gen == c->lease_gen && c->role == ROLE_CANDIDATE && !c->stopping;
    free(x);
    if (!current)
        return;
    if (r->err == RMQ_OK && rmq_etcd_bool(r->body, "succeeded")) {
        rmq_log(RMQ_LOG_WARN, FAC, "%s: ELECTED master of epoch %" PRId64 " (replica %" PRId64 ", %s)",
                c->group, epoch, c->id, c->addr);
        c->view.state.present = true;
        c->view.state.epoch = epoch;
        c->view.state.master_id = c->id;
        c->view.state.isr = RMQ_CTRL_BIT(c->id);
        c->view.state.isr_epoch++;
        c->view.state.mod_rev = r->revision;
        c->view.leader.present = true;
        c->view.leader.lease = c->lease;
        c->view.leader.epoch = epoch;
        lead(c, epoch);
        c->resync_due = true;
        return;
    }
    /* lost the race or no answer: read again (an answer lost after etcd
     * committed shows as our own leader key) */
    c->role = ROLE_REPLICA;
    c->campaign_after = boot_ms() + 200;
    c->resync_due = true;
}

static void maybe_campaign(rmq_ctrl_t *c)
{
    if (c->member != MEM_OK || !c->lease || c->txn_busy || c->stopping || boot_ms() < c->campaign_after)
        return;
    if (c->state_corrupt) {
        snprintf(c->not_standing, sizeof(c->not_standing), "the state key %s does not decode", c->keys.state);
        return;
    }
    int64_t me = my_epoch(c), end = my_end(c);
    bool unclean;
    char why[800];
    bool ok = rmq_ctrl_electable(&c->view, c->id, me, end, c->unclean, &unclean, why, sizeof(why));
    /* Just started (a master restarted faster than its lease expired, say):
     * its log may have lost what an unflushed page cache held when its
     * machine went down, while a live member of the set has everything.
     * For two time-to-lives it leaves the election to the live members. */
    uint64_t others = c->view.state.present ? c->view.state.isr & c->view.alive & ~RMQ_CTRL_BIT(c->id) : 0;
    if (ok && others && boot_ms() - c->started_boot < 2 * c->ttl_ms) {
        char set[200];
        rmq_ctrl_set_str(others, set, sizeof(set));
        snprintf(why, sizeof(why), "just started: the live members {%s} of the in-sync set stand first", set);
        ok = false;
    }
    if (!ok) {
        if (strcmp(why, c->not_standing))
            rmq_log(RMQ_LOG_INFO, FAC, "%s: no master, and this replica does not stand: %s", c->group, why);
        snprintf(c->not_standing, sizeof(c->not_standing), "%s", why);
        return;
    }
    c->not_standing[0] = 0;
    int64_t epoch = c->view.state.epoch > me ? c->view.state.epoch : me;
    epoch++;
    rmq_log(unclean ? RMQ_LOG_WARN : RMQ_LOG_INFO, FAC,
            "%s: no master; standing for epoch %" PRId64 " (%s; log end %" PRId64 ")", c->group, epoch, why,
            end);
    char *lv = rmq_ctrl_leader_json(epoch, c->id, c->addr, c->ha_addr);
    char *sv = rmq_ctrl_state_json(epoch, c->id, RMQ_CTRL_BIT(c->id), c->view.state.isr_epoch + 1);
    json_t *cmp = json_array();
    json_array_append_new(cmp, rmq_etcd_cmp_create(c->keys.leader, 0));
    if (c->view.state.present)
        json_array_append_new(cmp, rmq_etcd_cmp_mod(c->keys.state, c->view.state.mod_rev));
    else
        json_array_append_new(cmp, rmq_etcd_cmp_create(c->keys.state, 0));
    json_t *txn = json_pack("{s:o,s:[{s:o},{s:o}]}", "compare", cmp, "success", "request_put",
                            rmq_etcd_put(c->keys.leader, lv, c->lease), "request_put",
                            rmq_etcd_put(c->keys.state, sv, 0));
    free(lv);
    free(sv);
    c->role = ROLE_CANDIDATE;
    c->txn_busy = true;
    rmq_etcd_call(c->etcd, "/v3/kv/txn", txn, timeout_ms(c), campaign_cb, ctx(c, &c->txn_busy, epoch));
    publish_status(c);
}

/* ------------------------------------------------------- the in-sync set */

static void isr_cb(void *arg, const rmq_etcd_resp_t *r)
{
    ctx_t *x = arg;
    rmq_ctrl_t *c = answered(x, r);
    uint64_t isr = (uint64_t)x->aux;
    bool current = x->gen == c->lease_gen && c->role == ROLE_MASTER && !c->stopping;
    free(x);
    if (!current)
        return;
    if (r->err == RMQ_OK && rmq_etcd_bool(r->body, "succeeded")) {
        uint64_t before = c->view.state.isr;
        char a[200], b[200];
        rmq_ctrl_set_str(before, a, sizeof(a));
        rmq_ctrl_set_str(isr, b, sizeof(b));
        rmq_log(RMQ_LOG_INFO, FAC, "%s: in-sync set {%s} -> {%s} (epoch %" PRId64 ")", c->group, a, b,
                c->epoch);
        c->view.state.isr = isr;
        c->view.state.isr_epoch++;
        c->view.state.mod_rev = r->revision;
        c->pending &= ~isr;
        push_policy(c, false);
        publish_status(c);
        return;
    }
    c->resync_due = true; /* the state changed, or this broker no longer leads */
}

static void isr_upkeep(rmq_ctrl_t *c)
{
    if (c->role != ROLE_MASTER || c->txn_busy || c->fenced || !c->view.state.present)
        return;
    rmq_ha_replica_t reps[RMQ_CTRL_MAX_ID + 1];
    size_t n = rmq_ha_ctrl_replicas(c->ha, reps, RMQ_CTRL_MAX_ID + 1);
    rmq_ctrl_replica_t r[RMQ_CTRL_MAX_ID + 1];
    int64_t end = my_end(c), now = boot_ms();
    for (size_t i = 0; i < n; i++) {
        r[i] = (rmq_ctrl_replica_t){reps[i].id, reps[i].streaming, reps[i].acked, reps[i].add_hw};
        /* connected but not acknowledging while behind (a silent link, a
         * stopped process): after slaveTimeout it counts as gone, so writes
         * stop waiting for it once the set no longer holds it (RocketMQ 5's
         * haMaxTimeSlaveNotCatchup) */
        int64_t id = reps[i].id;
        if (id < 1 || id > RMQ_CTRL_MAX_ID)
            continue;
        if (reps[i].acked != c->rep_acked[id]) {
            c->rep_acked[id] = reps[i].acked;
            c->rep_moved[id] = now;
        }
        if (reps[i].acked >= end)
            c->rep_behind[id] = 0;
        else if (!c->rep_behind[id])
            c->rep_behind[id] = now;
        int64_t since = c->rep_behind[id] > c->rep_moved[id] ? c->rep_behind[id] : c->rep_moved[id];
        if (c->rep_behind[id] && now - since > c->slave_timeout_ms) {
            if (c->view.state.isr & RMQ_CTRL_BIT(id))
                rmq_log(RMQ_LOG_WARN, FAC,
                        "%s: replica %" PRId64 " acknowledged nothing for %" PRId64
                        " ms while behind (acknowledged %" PRId64 ", log end %" PRId64
                        "): it leaves the in-sync set",
                        c->group, id, now - since, reps[i].acked, end);
            r[i].streaming = false;
        }
    }
    rmq_ctrl_isr_plan_t plan;
    uint64_t isr = c->view.state.isr | RMQ_CTRL_BIT(c->id);
    rmq_ctrl_isr_plan(isr, c->pending, r, n, c->id, end, c->fallbehind, &plan);
    if (plan.pending != c->pending) {
        uint64_t joined = plan.pending & ~c->pending;
        for (int id = 1; id <= RMQ_CTRL_MAX_ID; id++)
            if (joined & RMQ_CTRL_BIT(id))
                rmq_log(
                    RMQ_LOG_INFO, FAC,
                    "%s: replica %d caught up: every write now waits for it too; it joins the in-sync set "
                    "once it holds every acknowledged message",
                    c->group, id);
        c->pending = plan.pending;
    }
    push_policy(c, false);
    if (!plan.remove && !plan.add)
        return;
    uint64_t next = (isr & ~plan.remove) | plan.add;
    char *sv = rmq_ctrl_state_json(c->epoch, c->id, next, c->view.state.isr_epoch + 1);
    json_t *txn =
        json_pack("{s:[o,o],s:[{s:o}]}", "compare", rmq_etcd_cmp_mod(c->keys.state, c->view.state.mod_rev),
                  rmq_etcd_cmp_lease(c->keys.leader, c->lease), "success", "request_put",
                  rmq_etcd_put(c->keys.state, sv, 0));
    free(sv);
    c->txn_busy = true;
    rmq_etcd_call(c->etcd, "/v3/kv/txn", txn, timeout_ms(c), isr_cb, ctx(c, &c->txn_busy, (int64_t)next));
}

/* --------------------------------------------------------------- resync */

static void watch_cb(void *arg, rmq_etcd_watch_what_t what, json_t *res)
{
    rmq_ctrl_t *c = arg;
    if (what == RMQ_ETCD_WATCH_EVENTS) {
        resync(c); /* at once: a leader key that went, a new master */
    } else if (what == RMQ_ETCD_WATCH_BROKEN) {
        rmq_etcd_watch_stop(c->watch);
        c->watch = NULL;
    }
}

static void resync_cb(void *arg, const rmq_etcd_resp_t *r)
{
    ctx_t *x = arg;
    rmq_ctrl_t *c = answered(x, r);
    free(x);
    if (c->stopping || r->err != RMQ_OK)
        return;
    rmq_etcd_kv_t *kvs;
    size_t n;
    if (!rmq_etcd_kvs(r->body, &kvs, &n)) {
        rmq_log(RMQ_LOG_WARN, FAC, "%s: a range answer of %s that does not decode", c->group, c->keys.prefix);
        return;
    }
    bool corrupt;
    rmq_ctrl_view_parse(&c->keys, kvs, n, r->revision, &c->view, &corrupt);
    rmq_etcd_kvs_free(kvs, n);
    if (corrupt && !c->state_corrupt)
        rmq_log(RMQ_LOG_ERROR, FAC, "%s: the value of %s does not decode; no election until it is fixed",
                c->group, c->keys.state);
    c->state_corrupt = corrupt;
    c->view_valid = true;
    c->last_resync = boot_ms();
    if (!c->watch || c->watch_gen != rmq_etcd_endpoint_gen(c->etcd)) {
        if (c->watch)
            rmq_etcd_watch_stop(c->watch);
        c->watch = NULL;
        if (boot_ms() >= c->watch_next) {
            c->watch = rmq_etcd_watch_prefix(c->etcd, c->keys.prefix, c->view.revision + 1, watch_cb, c);
            c->watch_gen = rmq_etcd_endpoint_gen(c->etcd);
            c->watch_next = boot_ms() + 1000;
        }
    }
    decide(c);
    publish_status(c);
}

static void resync(rmq_ctrl_t *c)
{
    if (c->resync_busy) {
        c->resync_due = true;
        return;
    }
    c->resync_busy = true;
    c->resync_due = false;
    rmq_etcd_call(c->etcd, "/v3/kv/range", rmq_etcd_range_prefix(c->keys.prefix), timeout_ms(c), resync_cb,
                  ctx(c, &c->resync_busy, 0));
}

/* --------------------------------------------------------------- decide */

static void decide(rmq_ctrl_t *c)
{
    rmq_ctrl_view_t *v = &c->view;
    rmq_ctrl_leader_t *l = &v->leader;
    /* our member key: gone (the lease was lost and a new one granted) */
    if (c->lease && c->member == MEM_OK && !(v->alive & RMQ_CTRL_BIT(c->id)) && !c->claim_busy) {
        c->member = MEM_NONE;
        claim(c);
    } else if (c->member == MEM_OK && (v->alive & RMQ_CTRL_BIT(c->id)) &&
               v->members[c->id].lease != c->lease && c->lease) {
        c->member = MEM_NONE; /* someone else took the id meanwhile */
        claim(c);
    }
    bool mine = l->present && c->lease && l->lease == c->lease;
    switch (c->role) {
    case ROLE_MASTER:
        if (!mine) {
            char why[300];
            if (l->present)
                snprintf(why, sizeof(why),
                         "the leader key belongs to replica %" PRId64 " (epoch %" PRId64 ")", l->broker_id,
                         l->epoch);
            else
                snprintf(why, sizeof(why), "the leader key is gone (the lease expired in etcd)");
            follow(c, l->present ? l->ha_addr : "", l->present ? l->epoch : 0, l->broker_id, why);
            break;
        }
        isr_upkeep(c);
        break;
    case ROLE_LEADING:
    case ROLE_CANDIDATE:
        break;
    case ROLE_REPLICA:
        if (mine) { /* we won, but the answer was lost on the way */
            rmq_log(RMQ_LOG_WARN, FAC, "%s: the leader key of epoch %" PRId64 " is this broker's: leading",
                    c->group, l->epoch);
            lead(c, l->epoch);
        } else if (l->present) {
            if (l->broker_id == c->id && !strcmp(l->addr, c->addr))
                revoke_old(c, l->lease, "the leader key");
            else if (c->member == MEM_OK) /* not before the id is known to be ours */
                follow(c, l->ha_addr, l->epoch, l->broker_id, "a new master");
        } else {
            maybe_campaign(c);
        }
        break;
    }
}

/* ----------------------------------------------------------------- tick */

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_ctrl_t *c = arg;
    if (c->stopping)
        return;
    lease_tick(c);
    if (c->lease && c->member == MEM_NONE && !c->claim_busy && boot_ms() >= c->next_claim)
        claim(c);
    if (c->lease && c->member == MEM_DUPLICATE && !c->claim_busy && boot_ms() >= c->next_claim)
        claim(c);
    fence_update(c);
    if (c->resync_due || boot_ms() - c->last_resync >= RESYNC_MS)
        resync(c);
    else if (c->role == ROLE_MASTER && c->view_valid)
        isr_upkeep(c);
    publish_status(c);
}

static void ctrl_main(rmq_service_t *svc, void *arg)
{
    rmq_ctrl_t *c = arg;
    event_base_dispatch(c->base);
}

rmq_err_t rmq_ctrl_start(rmq_ctrl_t *c, char *errstr, size_t n)
{
    c->base = rmq_loop_base_new();
    if (!c->base) {
        snprintf(errstr, n, "event_base_new failed");
        return RMQ_ERR__NOMEM;
    }
    c->mbox = rmq_mailbox_new(c->base);
    c->etcd = rmq_etcd_new(c->base, c->endpoints, errstr, n);
    if (!c->etcd)
        return RMQ_ERR__INVALID_ARG;
    c->ev_tick = event_new(c->base, -1, EV_PERSIST, tick_cb, c);
    struct timeval tv = {0, TICK_MS * 1000};
    event_add(c->ev_tick, &tv);
    event_active(c->ev_tick, EV_TIMEOUT, 0);
    /* a replica following nobody until etcd says otherwise: the broker and
     * the replication service started that way (no role step to post) */
    c->role = ROLE_REPLICA;
    c->followed_once = true;
    c->following[0] = 0;
    rmq_log(RMQ_LOG_INFO, FAC, "%s: replica %" PRId64 " without a master until etcd answers", c->group,
            c->id);
    publish_status(c);
    c->svc = rmq_service_new("Controller", ctrl_main, c);
    if (rmq_service_start(c->svc) != RMQ_OK) {
        snprintf(errstr, n, "cannot start the Controller thread");
        return RMQ_ERR__IO;
    }
    /* the first word from etcd: a lease and the member key (or who holds it) */
    int64_t wait = c->ttl_ms + START_WAIT_EXTRA_MS;
    int64_t until = rmq_mono_ms() + wait;
    pthread_mutex_lock(&c->gate_mu);
    while (c->gate == 0) {
        int64_t left = until - rmq_mono_ms();
        if (left <= 0)
            break;
        rmq_cond_wait_ms(&c->gate_cv, &c->gate_mu, left);
    }
    int gate = c->gate;
    char msg[1200];
    snprintf(msg, sizeof(msg), "%s", c->gate_msg);
    pthread_mutex_unlock(&c->gate_mu);
    if (gate == 2) {
        snprintf(errstr, n, "%s", msg);
        return RMQ_ERR__STATE;
    }
    if (gate == 0)
        rmq_log(RMQ_LOG_WARN, FAC,
                "%s: etcd (%s) did not answer within %" PRId64
                " ms: starting as a replica; this broker does not become master until it reaches etcd",
                c->group, c->endpoints, wait);
    else
        rmq_log(RMQ_LOG_INFO, FAC,
                "%s: controller mode, replica %" PRId64 ", etcd %s, lease TTL %" PRId64 " s", c->group, c->id,
                c->endpoints, c->ttl_ms / 1000);
    return RMQ_OK;
}

/* ------------------------------------------------------------------ stop */

static void quit_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_ctrl_t *c = arg;
    event_base_loopexit(c->base, NULL);
}

static void resign_cb(void *arg, const rmq_etcd_resp_t *r)
{
    ctx_t *x = arg;
    rmq_ctrl_t *c = x->c;
    if (r->err == RMQ_OK)
        rmq_log(RMQ_LOG_INFO, FAC, "%s: lease revoked: the group elects without waiting for it to expire",
                c->group);
    else
        rmq_log(RMQ_LOG_WARN, FAC,
                "%s: could not revoke the lease (%s): it expires in etcd within %" PRId64 " s", c->group,
                r->msg, c->ttl_ms / 1000);
    free(x);
    event_base_loopexit(c->base, NULL);
}

static void stop_job(void *arg)
{
    rmq_ctrl_t *c = arg;
    c->stopping = true;
    c->fence_until = 0;
    rmq_ha_ctrl_fence(c->ha, 0); /* no acknowledgement from here on */
    if (c->watch)
        rmq_etcd_watch_stop(c->watch);
    c->watch = NULL;
    c->ev_quit = evtimer_new(c->base, quit_cb, c);
    struct timeval tv = {1, 500000};
    evtimer_add(c->ev_quit, &tv);
    if (c->lease) {
        rmq_etcd_call(c->etcd, "/v3/lease/revoke", json_pack("{s:I}", "ID", (json_int_t)c->lease), 1000,
                      resign_cb, ctx(c, NULL, 0));
        c->lease = 0;
    } else {
        event_base_loopexit(c->base, NULL);
    }
}

void rmq_ctrl_stop(rmq_ctrl_t *c)
{
    if (!c || !c->svc)
        return;
    rmq_mailbox_post(c->mbox, stop_job, c);
    rmq_service_free(c->svc); /* joins */
    c->svc = NULL;
    rmq_etcd_free(c->etcd);
    c->etcd = NULL;
    rmq_mailbox_free(c->mbox);
    c->mbox = NULL;
}

void rmq_ctrl_destroy(rmq_ctrl_t *c)
{
    if (!c)
        return;
    rmq_ctrl_stop(c);
    if (c->ev_tick)
        event_free(c->ev_tick);
    if (c->ev_quit)
        event_free(c->ev_quit);
    rmq_etcd_free(c->etcd);
    rmq_mailbox_free(c->mbox);
    if (c->base)
        event_base_free(c->base);
    free(c->endpoints);
    rmq_status_pairs_deinit(&c->status);
    pthread_mutex_destroy(&c->gate_mu);
    pthread_cond_destroy(&c->gate_cv);
    free(c);
}

/* ---------------------------------------------------------------- status */

static void publish_status(rmq_ctrl_t *c)
{
    rmq_buf_t o;
    rmq_buf_init(&o);
    const rmq_ctrl_view_t *v = &c->view;
    char set[200];
    rmq_buf_put_kv(&o, "controllerMode", "true");
    rmq_buf_put_kv(&o, "controllerRole", "%s", role_names[c->role]);
    rmq_buf_put_kv(&o, "controllerReplicaId", "%" PRId64, c->id);
    rmq_buf_put_kv(&o, "controllerMember", "%s",
                   c->member == MEM_OK          ? "OK"
                   : c->member == MEM_DUPLICATE ? "DUPLICATE_ID"
                                                : "NOT_JOINED");
    rmq_buf_put_kv(&o, "controllerEpoch", "%" PRId64,
                   c->role == ROLE_REPLICA ? (v->leader.present ? v->leader.epoch : 0) : c->epoch);
    rmq_buf_put_kv(&o, "controllerMasterId", "%" PRId64, v->leader.present ? v->leader.broker_id : -1);
    rmq_buf_put_kv(&o, "controllerMasterAddr", "%s", v->leader.present ? v->leader.addr : "");
    rmq_ctrl_set_str(v->state.present ? v->state.isr : 0, set, sizeof(set));
    rmq_buf_put_kv(&o, "syncStateSet", "%s", set);
    rmq_buf_put_kv(&o, "syncStateSetEpoch", "%" PRId64, v->state.present ? v->state.isr_epoch : 0);
    rmq_ctrl_set_str(c->pending, set, sizeof(set));
    rmq_buf_put_kv(&o, "syncStatePending", "%s", set);
    rmq_ctrl_set_str(v->alive, set, sizeof(set));
    rmq_buf_put_kv(&o, "controllerAliveReplicas", "%s", set);
    rmq_buf_put_kv(&o, "etcdEndpoint", "%s", c->etcd ? rmq_etcd_endpoint(c->etcd) : "");
    rmq_buf_put_kv(&o, "etcdReachable", "%s", c->etcd_ok ? "true" : "false");
    rmq_buf_put_kv(&o, "etcdLease", "%" PRIx64, (uint64_t)c->lease);
    int64_t left = c->lease ? c->lease_ok_sent + c->ttl_ms - boot_ms() : 0;
    rmq_buf_put_kv(&o, "etcdLeaseLeftMs", "%" PRId64, left > 0 ? left : 0);
    rmq_buf_put_kv(&o, "controllerFenceRefusals", "%" PRId64, rmq_ha_fence_refusals(c->ha));
    rmq_buf_put_kv(&o, "controllerFenced", "%s",
                   (c->role == ROLE_MASTER || c->role == ROLE_LEADING) && c->fenced ? "true" : "false");
    rmq_buf_put_kv(&o, "minInSyncReplicas", "%d", c->min_isr);
    /* this store's epoch file: "epoch@startOffset ..." (mqadmin getBrokerEpoch) */
    rmq_epoch_entry_t *ep = NULL;
    size_t ne = c->b->store ? rmq_store_epochs(c->b->store, &ep) : 0;
    rmq_buf_t el;
    rmq_buf_init(&el);
    for (size_t i = 0; i < ne; i++)
        rmq_buf_printf(&el, "%s%" PRId64 "@%" PRId64, i ? " " : "", ep[i].epoch, ep[i].start_offset);
    free(ep);
    const char *list = rmq_buf_cstr(&el);
    rmq_buf_put(&o, "controllerEpochList", strlen("controllerEpochList") + 1);
    rmq_buf_put(&o, list, strlen(list) + 1);
    rmq_buf_free(&el);
    rmq_status_pairs_publish(&c->status, &o);
}

void rmq_ctrl_runtime_info(rmq_ctrl_t *c, void (*f)(void *o, const char *k, const char *v), void *o)
{
    if (!c)
        return;
    rmq_status_pairs_each(&c->status, f, o);
}
