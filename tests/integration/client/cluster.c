/* cluster.c - see cluster.h. */
#include "cluster.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness_broker.h"
#include "rmq_cmd.h"
#include "rmq_json.h"

bool cl_start(cluster_t *c, int nbrokers, const char *extra)
{
    memset(c, 0, sizeof(*c));
    if (!th_tmpdir(c->tmp, sizeof(c->tmp), "cl"))
        return false;
    if (!th_namesrv_start(&c->ns, NULL))
        return false;
    snprintf(c->ns_addr, sizeof(c->ns_addr), "127.0.0.1:%d", c->ns.port);
    for (int i = 0; i < nbrokers; i++) {
        char conf[512];
        snprintf(conf, sizeof(conf), "brokerName=%c\n%s", 'a' + i, extra ? extra : "");
        if (!th_broker_start(&c->brokers[i], c->ns.port, conf))
            return false;
        c->nbrokers++;
    }
    return true;
}

void cl_stop(cluster_t *c)
{
    for (int i = 0; i < c->nbrokers; i++)
        th_proc_stop(&c->brokers[i], SIGTERM);
    th_proc_stop(&c->ns, SIGTERM);
}

static int route_brokers(cluster_t *c, const char *topic)
{
    th_client_t cl;
    if (!th_connect(&cl, c->ns.port))
        return -1;
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 105);
    rmq_cmd_set_ext(&req, "topic", topic);
    int n = -1;
    if (th_call(&cl, &req, &resp, 3000)) {
        if (resp.code == 0) {
            char err[128];
            json_t *root = rmq_json_parse((const char *)resp.body, resp.body_len, err, sizeof(err));
            json_t *qds = root ? json_object_get(root, "queueDatas") : NULL;
            n = qds ? (int)json_array_size(qds) : 0;
            json_decref(root);
        } else {
            n = 0;
        }
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_deinit(&req);
    th_close(&cl);
    return n;
}

bool cl_create_topic(cluster_t *c, const char *topic, int queues, int expect)
{
    for (int i = 0; i < c->nbrokers; i++) {
        if (c->brokers[i].pid <= 0 || !th_proc_alive(&c->brokers[i]))
            continue;
        th_client_t cl;
        if (!th_connect(&cl, c->brokers[i].port))
            return false;
        rmq_cmd_t req, resp;
        th_req_create_topic(&req, topic, queues);
        bool ok = th_call(&cl, &req, &resp, 5000) && resp.code == 0;
        if (ok)
            rmq_cmd_deinit(&resp);
        rmq_cmd_deinit(&req);
        th_close(&cl);
        if (!ok)
            return false;
    }
    return TH_WAIT_UNTIL(route_brokers(c, topic) >= expect, 20000);
}

comet_conf_t *cl_conf(cluster_t *c, const char *group_key, const char *group)
{
    comet_conf_t *conf = comet_conf_new();
    char err[256];
    comet_conf_set(conf, "namesrvAddr", c->ns_addr, err, sizeof(err));
    if (group_key)
        comet_conf_set(conf, group_key, group, err, sizeof(err));
    comet_conf_set(conf, "rebalanceInterval", "2000", err, sizeof(err));
    comet_conf_set(conf, "pollNameServerInterval", "1000", err, sizeof(err));
    comet_conf_set(conf, "heartbeatBrokerInterval", "1000", err, sizeof(err));
    comet_conf_set(conf, "persistConsumerOffsetInterval", "500", err, sizeof(err));
    comet_conf_set(conf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", err, sizeof(err));
    comet_conf_set(conf, "brokerSuspendMaxTimeMillis", "2000", err, sizeof(err));
    comet_conf_set(conf, "pullTimeDelayMillsWhenException", "200", err, sizeof(err));
    comet_conf_set(conf, "consumeThreadMin", "4", err, sizeof(err));
    comet_conf_set(conf, "logLevel", "ERROR", err, sizeof(err));
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/offsets", c->tmp);
    comet_conf_set(conf, "localOffsetStoreDir", dir, err, sizeof(err));
    return conf;
}

/* ---------------- id set ---------------- */

/* The sets live as long as the test process: consumer threads may still
 * add to them while a failed test unwinds. Every block they allocate stays
 * listed here, so it is reachable (no LeakSanitizer report) and never freed
 * under a running callback; ids_free releases a set explicitly. */
static pthread_mutex_t arena_lock = PTHREAD_MUTEX_INITIALIZER;
static void **arena;
static size_t arena_n, arena_cap;

static void *keep(void *p)
{
    pthread_mutex_lock(&arena_lock);
    if (arena_n == arena_cap) {
        arena_cap = arena_cap ? arena_cap * 2 : 1024;
        arena = realloc(arena, arena_cap * sizeof(*arena));
    }
    arena[arena_n++] = p;
    pthread_mutex_unlock(&arena_lock);
    return p;
}

void ids_init(idset_t *s)
{
    memset(s, 0, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
}

void ids_free(idset_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    pthread_mutex_destroy(&s->lock);
}

static bool has_locked(idset_t *s, const char *id)
{
    for (size_t i = s->n; i > 0; i--)
        if (strcmp(s->v[i - 1], id) == 0)
            return true;
    return false;
}

bool ids_add(idset_t *s, const char *id)
{
    pthread_mutex_lock(&s->lock);
    bool fresh = !has_locked(s, id);
    if (fresh) {
        if (s->n == s->cap) {
            s->cap = s->cap ? s->cap * 2 : 256;
            s->v = keep(realloc(s->v, s->cap * sizeof(char *)));
        }
        s->v[s->n++] = keep(strdup(id));
    } else {
        s->dups++;
    }
    pthread_mutex_unlock(&s->lock);
    return fresh;
}

bool ids_has(idset_t *s, const char *id)
{
    pthread_mutex_lock(&s->lock);
    bool r = has_locked(s, id);
    pthread_mutex_unlock(&s->lock);
    return r;
}

size_t ids_count(idset_t *s)
{
    pthread_mutex_lock(&s->lock);
    size_t n = s->n;
    pthread_mutex_unlock(&s->lock);
    return n;
}

size_t ids_missing(idset_t *want, idset_t *have, char *first, size_t n)
{
    size_t miss = 0;
    if (first && n)
        first[0] = 0;
    pthread_mutex_lock(&want->lock);
    for (size_t i = 0; i < want->n; i++) {
        if (!ids_has(have, want->v[i])) {
            if (!miss && first)
                snprintf(first, n, "%s", want->v[i]);
            miss++;
        }
    }
    pthread_mutex_unlock(&want->lock);
    return miss;
}
