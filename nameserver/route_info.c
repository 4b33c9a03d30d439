/* route_info.c - RouteInfoManager: broker registry and topic routes.
 *
 * Runs on the name server's only thread; all tables are touched from there,
 * so there are no locks. Never does I/O. Behaviour follows RocketMQ 4.9.8's
 * RouteInfoManager (docs/protocol.md §4.1-4.4). */
#include "route_info.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_json.h"

#define PERM_WRITE 0x2
#define PERM_READ 0x4

typedef struct qd_s {
    char *broker_name;
    int32_t read, write, perm, sysflag;
} qd_t;

typedef struct ns_qd_list_s {
    qd_t *v;
    size_t n, cap;
} qd_list_t;

typedef struct baddr_s {
    int64_t id;
    char *addr;
} baddr_t;

typedef struct ns_broker_data_s {
    char *cluster;
    char *name;
    baddr_t *v;
    size_t n, cap;
} broker_data_t;

typedef struct ns_live_s {
    int64_t last_update;
    ns_data_version_t dv;
    uint64_t conn_id;
    char *ha_server_addr;
} live_t;

static void free_set(void *p)
{
    rmq_map_deinit(p);
    free(p);
}

static void free_broker_data(void *p)
{
    broker_data_t *b = p;
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i].addr);
    free(b->v);
    free(b->cluster);
    free(b->name);
    free(b);
}

static void free_qd_list(void *p)
{
    qd_list_t *l = p;
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].broker_name);
    free(l->v);
    free(l);
}

static void free_live(void *p)
{
    live_t *l = p;
    free(l->ha_server_addr);
    free(l);
}

void ns_route_init(ns_route_info_t *ri)
{
    rmq_map_init(&ri->clusters, free_set);
    rmq_map_init(&ri->brokers, free_broker_data);
    rmq_map_init(&ri->topics, free_qd_list);
    rmq_map_init(&ri->live, free_live);
    rmq_map_init(&ri->filter_srv, free);
}

void ns_route_deinit(ns_route_info_t *ri)
{
    rmq_map_deinit(&ri->clusters);
    rmq_map_deinit(&ri->brokers);
    rmq_map_deinit(&ri->topics);
    rmq_map_deinit(&ri->live);
    rmq_map_deinit(&ri->filter_srv);
}

size_t ns_route_live_count(const ns_route_info_t *ri)
{
    return rmq_map_count(&ri->live);
}

void ns_route_each_broker(const ns_route_info_t *ri, ns_route_broker_fn *fn, void *ctx)
{
    size_t n;
    const char **names = rmq_map_sorted_keys(&ri->brokers, &n);
    for (size_t i = 0; i < n; i++) {
        const broker_data_t *b = rmq_map_get(&ri->brokers, names[i]);
        for (size_t k = 0; k < b->n; k++) {
            const live_t *l = rmq_map_get(&ri->live, b->v[k].addr);
            fn(b->cluster, b->name, b->v[k].id, b->v[k].addr, l ? l->last_update : 0, ctx);
        }
    }
    free(names);
}

/* ---------- small helpers ---------- */

static const char *broker_addr_of(const broker_data_t *b, int64_t id)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].id == id)
            return b->v[i].addr;
    return NULL;
}

/* Put id -> addr; returns true if the id was new. */
static bool broker_addr_put(broker_data_t *b, int64_t id, const char *addr)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->v[i].id == id) {
            free(b->v[i].addr);
            b->v[i].addr = rmq_strdup(addr);
            return false;
        }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 4;
        b->v = rmq_realloc(b->v, b->cap * sizeof(*b->v));
    }
    /* keep sorted by id (master first), like the sorted map Java prints */
    size_t pos = b->n;
    while (pos > 0 && b->v[pos - 1].id > id) {
        b->v[pos] = b->v[pos - 1];
        pos--;
    }
    b->v[pos].id = id;
    b->v[pos].addr = rmq_strdup(addr);
    b->n++;
    return true;
}

static void broker_addr_remove_at(broker_data_t *b, size_t i)
{
    free(b->v[i].addr);
    memmove(&b->v[i], &b->v[i + 1], (b->n - i - 1) * sizeof(*b->v));
    b->n--;
}

static void qd_put(qd_list_t *l, const char *broker_name, int32_t r, int32_t w, int32_t perm, int32_t sysflag)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].broker_name, broker_name) == 0) {
            l->v[i].read = r;
            l->v[i].write = w;
            l->v[i].perm = perm;
            l->v[i].sysflag = sysflag;
            return;
        }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = rmq_realloc(l->v, l->cap * sizeof(*l->v));
    }
    /* sorted by broker name so answers are stable */
    size_t pos = l->n;
    while (pos > 0 && strcmp(l->v[pos - 1].broker_name, broker_name) > 0) {
        l->v[pos] = l->v[pos - 1];
        pos--;
    }
    l->v[pos] = (qd_t){rmq_strdup(broker_name), r, w, perm, sysflag};
    l->n++;
}

static bool qd_remove(qd_list_t *l, const char *broker_name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i].broker_name, broker_name) == 0) {
            free(l->v[i].broker_name);
            memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
            l->n--;
            return true;
        }
    return false;
}

/* Is this value one to pick? It may change the value, not the map. */
typedef bool pick_fn(void *val, const void *ctx);

/* Visit m's values in key order and return copies of the keys pick chose,
 * *count of them: the caller changes the map afterwards, which it must not
 * do during the walk. The caller frees each and the array. */
static char **pick_keys(const rmq_map_t *m, pick_fn *pick, const void *ctx, size_t *count)
{
    size_t n;
    const char **keys = rmq_map_sorted_keys(m, &n);
    char **picked = rmq_malloc((n ? n : 1) * sizeof(*picked));
    *count = 0;
    for (size_t i = 0; i < n; i++)
        if (pick(rmq_map_get(m, keys[i]), ctx))
            picked[(*count)++] = rmq_strdup(keys[i]);
    free(keys);
    return picked;
}

/* pick_fn: drop the broker name ctx from a topic's queue data; true when
 * none is left. */
static bool qd_drop_broker(void *val, const void *ctx)
{
    qd_list_t *l = val;
    return qd_remove(l, ctx) && l->n == 0;
}

/* Remove the broker name's queue data from every topic; topics left empty go. */
static void remove_topics_of_broker(ns_route_info_t *ri, const char *broker_name)
{
    size_t g;
    char **gone = pick_keys(&ri->topics, qd_drop_broker, broker_name, &g);
    for (size_t i = 0; i < g; i++) {
        rmq_map_del(&ri->topics, gone[i]);
        free(gone[i]);
    }
    free(gone);
}

static void cluster_remove_broker(ns_route_info_t *ri, const char *cluster, const char *broker_name)
{
    rmq_map_t *set = rmq_map_get(&ri->clusters, cluster);
    if (!set)
        return;
    rmq_map_del(set, broker_name);
    if (rmq_map_count(set) == 0)
        rmq_map_del(&ri->clusters, cluster);
}

/* ---------- registration ---------- */

void ns_route_register(ns_route_info_t *ri, const ns_register_t *reg, int64_t now_ms,
                       ns_register_result_t *res)
{
    memset(res, 0, sizeof(*res));
    rmq_map_t *set = rmq_map_get(&ri->clusters, reg->cluster);
    if (!set) {
        set = rmq_malloc(sizeof(*set));
        rmq_map_init(set, NULL);
        rmq_map_put(&ri->clusters, reg->cluster, set);
    }
    rmq_map_put(set, reg->broker_name, NULL);

    bool register_first = false;
    broker_data_t *bd = rmq_map_get(&ri->brokers, reg->broker_name);
    if (!bd) {
        register_first = true;
        bd = rmq_calloc(1, sizeof(*bd));
        bd->cluster = rmq_strdup(reg->cluster);
        bd->name = rmq_strdup(reg->broker_name);
        rmq_map_put(&ri->brokers, reg->broker_name, bd);
    }
    /* Same address under another id: a slave became master (or back). */
    for (size_t i = 0; i < bd->n;) {
        if (strcmp(bd->v[i].addr, reg->broker_addr) == 0 && bd->v[i].id != reg->broker_id)
            broker_addr_remove_at(bd, i);
        else
            i++;
    }
    register_first = broker_addr_put(bd, reg->broker_id, reg->broker_addr) || register_first;

    if (reg->broker_id == 0) {
        live_t *prev = rmq_map_get(&ri->live, reg->broker_addr);
        bool changed =
            !prev || prev->dv.counter != reg->dv.counter || prev->dv.timestamp != reg->dv.timestamp;
        if (changed || register_first) {
            for (size_t i = 0; i < reg->n_topics; i++) {
                const ns_topic_conf_t *t = &reg->topics[i];
                qd_list_t *l = rmq_map_get(&ri->topics, t->name);
                if (!l) {
                    l = rmq_calloc(1, sizeof(*l));
                    rmq_map_put(&ri->topics, t->name, l);
                }
                qd_put(l, reg->broker_name, t->read_queue_nums, t->write_queue_nums, t->perm,
                       t->topic_sys_flag);
            }
        }
    }

    live_t *lv = rmq_calloc(1, sizeof(*lv));
    lv->last_update = now_ms;
    lv->dv = reg->dv;
    lv->conn_id = reg->conn_id;
    lv->ha_server_addr = rmq_strdup(reg->ha_server_addr ? reg->ha_server_addr : "");
    rmq_map_put(&ri->live, reg->broker_addr, lv);

    if (reg->filter_servers_json && strcmp(reg->filter_servers_json, "[]") != 0 && *reg->filter_servers_json)
        rmq_map_put(&ri->filter_srv, reg->broker_addr, rmq_strdup(reg->filter_servers_json));
    else
        rmq_map_del(&ri->filter_srv, reg->broker_addr);

    if (reg->broker_id != 0) {
        const char *master = broker_addr_of(bd, 0);
        if (master) {
            live_t *ml = rmq_map_get(&ri->live, master);
            if (ml) {
                snprintf(res->master_addr, sizeof(res->master_addr), "%s", master);
                snprintf(res->ha_server_addr, sizeof(res->ha_server_addr), "%s", ml->ha_server_addr);
            }
        }
    }
}

bool ns_route_unregister(ns_route_info_t *ri, const char *cluster, const char *addr, const char *name,
                         int64_t id)
{
    bool found = rmq_map_del(&ri->live, addr);
    rmq_map_del(&ri->filter_srv, addr);
    broker_data_t *bd = rmq_map_get(&ri->brokers, name);
    if (bd) {
        for (size_t i = 0; i < bd->n; i++)
            if (bd->v[i].id == id) {
                broker_addr_remove_at(bd, i);
                break;
            }
        if (bd->n == 0) {
            rmq_map_del(&ri->brokers, name);
            cluster_remove_broker(ri, cluster, name);
            remove_topics_of_broker(ri, name);
        }
    }
    return found;
}

/* pick_fn: drop the address ctx from a broker's addresses; true when none
 * is left. */
static bool bd_drop_addr(void *val, const void *ctx)
{
    broker_data_t *bd = val;
    for (size_t k = 0; k < bd->n;) {
        if (strcmp(bd->v[k].addr, ctx) == 0)
            broker_addr_remove_at(bd, k);
        else
            k++;
    }
    return bd->n == 0;
}

/* Remove every trace of a broker address (expiry, connection close). */
static void destroy_addr(ns_route_info_t *ri, const char *addr_in)
{
    char addr[256];
    snprintf(addr, sizeof(addr), "%s", addr_in);
    rmq_map_del(&ri->live, addr);
    rmq_map_del(&ri->filter_srv, addr);
    size_t e;
    char **empty = pick_keys(&ri->brokers, bd_drop_addr, addr, &e);
    for (size_t i = 0; i < e; i++) {
        broker_data_t *bd = rmq_map_get(&ri->brokers, empty[i]);
        char *cluster = rmq_strdup(bd->cluster);
        rmq_map_del(&ri->brokers, empty[i]);
        cluster_remove_broker(ri, cluster, empty[i]);
        remove_topics_of_broker(ri, empty[i]);
        free(cluster);
        free(empty[i]);
    }
    free(empty);
}

void ns_route_conn_closed(ns_route_info_t *ri, uint64_t conn_id, const char *remote_addr)
{
    const char *found = NULL;
    size_t it = 0;
    const char *key;
    void *val;
    while (rmq_map_next(&ri->live, &it, &key, &val)) {
        live_t *lv = val;
        if (conn_id && lv->conn_id == conn_id) {
            found = key;
            break;
        }
    }
    if (!found && remote_addr && rmq_map_has(&ri->live, remote_addr))
        found = remote_addr;
    if (found)
        destroy_addr(ri, found);
}

typedef struct expiry_s {
    int64_t now_ms, expire_ms;
} expiry_t;

/* pick_fn: has the broker's last registration expired (ctx: an expiry_t)? */
static bool live_expired(void *val, const void *ctx)
{
    const live_t *lv = val;
    const expiry_t *x = ctx;
    return lv->last_update + x->expire_ms < x->now_ms;
}

int ns_route_scan_expired(ns_route_info_t *ri, int64_t now_ms, int64_t expire_ms)
{
    size_t d;
    char **dead = pick_keys(&ri->live, live_expired, &(expiry_t){now_ms, expire_ms}, &d);
    for (size_t i = 0; i < d; i++) {
        destroy_addr(ri, dead[i]);
        free(dead[i]);
    }
    free(dead);
    return (int)d;
}

bool ns_route_query_data_version(ns_route_info_t *ri, const char *addr, const ns_data_version_t *dv,
                                 int64_t now_ms, ns_data_version_t *stored)
{
    live_t *lv = rmq_map_get(&ri->live, addr);
    if (!lv) {
        stored->counter = stored->timestamp = 0;
        return true;
    }
    *stored = lv->dv;
    bool changed = lv->dv.counter != dv->counter || lv->dv.timestamp != dv->timestamp;
    if (!changed)
        lv->last_update = now_ms;
    return changed;
}

/* ---------- JSON answers ---------- */

static void write_broker_data(rmq_jw_t *w, const broker_data_t *bd, bool quoted_keys)
{
    rmq_jw_obj_begin(w);
    rmq_jw_key(w, "brokerAddrs");
    rmq_jw_obj_begin(w);
    for (size_t i = 0; i < bd->n; i++) {
        rmq_jw_key_int(w, bd->v[i].id, quoted_keys);
        rmq_jw_str(w, bd->v[i].addr);
    }
    rmq_jw_obj_end(w);
    rmq_jw_kstr(w, "brokerName", bd->name);
    rmq_jw_kstr(w, "cluster", bd->cluster);
    rmq_jw_obj_end(w);
}

bool ns_route_pickup(const ns_route_info_t *ri, const char *topic, bool standard_json, const char *order_conf,
                     rmq_buf_t *out)
{
    qd_list_t *l = rmq_map_get(&ri->topics, topic);
    if (!l || l->n == 0)
        return false;
    /* brokers present for the queue data */
    const broker_data_t **bds = rmq_malloc(l->n * sizeof(*bds));
    size_t nb = 0;
    for (size_t i = 0; i < l->n; i++) {
        const broker_data_t *bd = rmq_map_get(&ri->brokers, l->v[i].broker_name);
        if (bd)
            bds[nb++] = bd;
    }
    if (nb == 0) {
        free(bds);
        return false;
    }
    rmq_jw_t w;
    rmq_jw_init_obj(&w, out);
    w.ascii_only = standard_json;
    rmq_jw_key(&w, "brokerDatas");
    rmq_jw_arr_begin(&w);
    for (size_t i = 0; i < nb; i++)
        write_broker_data(&w, bds[i], standard_json);
    rmq_jw_arr_end(&w);
    rmq_jw_key(&w, "filterServerTable");
    rmq_jw_obj_begin(&w);
    for (size_t i = 0; i < nb; i++)
        for (size_t k = 0; k < bds[i]->n; k++) {
            const char *fs = rmq_map_get(&ri->filter_srv, bds[i]->v[k].addr);
            if (fs) {
                rmq_jw_key(&w, bds[i]->v[k].addr);
                rmq_jw_raw(&w, fs);
            }
        }
    rmq_jw_obj_end(&w);
    if (order_conf && *order_conf)
        rmq_jw_kstr(&w, "orderTopicConf", order_conf);
    rmq_jw_key(&w, "queueDatas");
    rmq_jw_arr_begin(&w);
    for (size_t i = 0; i < l->n; i++) {
        rmq_jw_obj_begin(&w);
        rmq_jw_kstr(&w, "brokerName", l->v[i].broker_name);
        rmq_jw_kint(&w, "perm", l->v[i].perm);
        rmq_jw_kint(&w, "readQueueNums", l->v[i].read);
        rmq_jw_kint(&w, "topicSysFlag", l->v[i].sysflag);
        rmq_jw_kint(&w, "writeQueueNums", l->v[i].write);
        rmq_jw_obj_end(&w);
    }
    rmq_jw_arr_end(&w);
    rmq_jw_obj_end(&w);
    free(bds);
    return true;
}

void ns_route_cluster_info(const ns_route_info_t *ri, rmq_buf_t *out)
{
    rmq_jw_t w;
    rmq_jw_init_obj(&w, out);
    rmq_jw_key(&w, "brokerAddrTable");
    rmq_jw_obj_begin(&w);
    size_t n;
    const char **names = rmq_map_sorted_keys(&ri->brokers, &n);
    for (size_t i = 0; i < n; i++) {
        rmq_jw_key(&w, names[i]);
        write_broker_data(&w, rmq_map_get(&ri->brokers, names[i]), false);
    }
    free(names);
    rmq_jw_obj_end(&w);
    rmq_jw_key(&w, "clusterAddrTable");
    rmq_jw_obj_begin(&w);
    const char **clusters = rmq_map_sorted_keys(&ri->clusters, &n);
    for (size_t i = 0; i < n; i++) {
        rmq_jw_key(&w, clusters[i]);
        rmq_jw_arr_begin(&w);
        size_t m;
        const char **bn = rmq_map_sorted_keys(rmq_map_get(&ri->clusters, clusters[i]), &m);
        for (size_t k = 0; k < m; k++)
            rmq_jw_str(&w, bn[k]);
        free(bn);
        rmq_jw_arr_end(&w);
    }
    free(clusters);
    rmq_jw_obj_end(&w);
    rmq_jw_obj_end(&w);
}

static void write_topic_list(rmq_buf_t *out, const char **names, size_t n, const char *broker_addr)
{
    rmq_jw_t w;
    rmq_jw_init_obj(&w, out);
    if (broker_addr)
        rmq_jw_kstr(&w, "brokerAddr", broker_addr);
    rmq_jw_key(&w, "topicList");
    rmq_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++)
        rmq_jw_str(&w, names[i]);
    rmq_jw_arr_end(&w);
    rmq_jw_obj_end(&w);
}

void ns_route_topic_list(const ns_route_info_t *ri, rmq_buf_t *out)
{
    size_t n;
    const char **names = rmq_map_sorted_keys(&ri->topics, &n);
    write_topic_list(out, names, n, NULL);
    free(names);
}

bool ns_route_topics_by_cluster(const ns_route_info_t *ri, const char *cluster, rmq_buf_t *out)
{
    rmq_map_t *set = rmq_map_get(&ri->clusters, cluster);
    if (!set)
        return false;
    size_t n;
    const char **names = rmq_map_sorted_keys(&ri->topics, &n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        qd_list_t *l = rmq_map_get(&ri->topics, names[i]);
        for (size_t q = 0; q < l->n; q++)
            if (rmq_map_has(set, l->v[q].broker_name)) {
                names[k++] = names[i];
                break;
            }
    }
    write_topic_list(out, names, k, NULL);
    free(names);
    return true;
}

void ns_route_system_topic_list(const ns_route_info_t *ri, rmq_buf_t *out)
{
    size_t nc, nb;
    const char **clusters = rmq_map_sorted_keys(&ri->clusters, &nc);
    const char **brokers = rmq_map_sorted_keys(&ri->brokers, &nb);
    const char **all = rmq_malloc((nc + nb + 1) * sizeof(*all));
    memcpy(all, clusters, nc * sizeof(*all));
    memcpy(all + nc, brokers, nb * sizeof(*all));
    const char *addr = NULL;
    if (nb > 0) {
        const broker_data_t *bd = rmq_map_get(&ri->brokers, brokers[0]);
        if (bd->n > 0)
            addr = bd->v[0].addr;
    }
    write_topic_list(out, all, nc + nb, addr);
    free(all);
    free(clusters);
    free(brokers);
}

void ns_route_topic_list_by_flag(const ns_route_info_t *ri, int32_t mask, int32_t want, rmq_buf_t *out)
{
    size_t n;
    const char **names = rmq_map_sorted_keys(&ri->topics, &n);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        qd_list_t *l = rmq_map_get(&ri->topics, names[i]);
        if (l->n == 0)
            continue;
        int32_t f = l->v[0].sysflag;
        if ((f & mask) == want)
            names[k++] = names[i];
    }
    write_topic_list(out, names, k, NULL);
    free(names);
}

static int change_write_perm(ns_route_info_t *ri, const char *broker_name, bool add)
{
    int count = 0;
    size_t it = 0;
    void *val;
    while (rmq_map_next(&ri->topics, &it, NULL, &val)) {
        qd_list_t *l = val;
        for (size_t i = 0; i < l->n; i++)
            if (strcmp(l->v[i].broker_name, broker_name) == 0) {
                if (add)
                    l->v[i].perm = PERM_READ | PERM_WRITE;
                else
                    l->v[i].perm &= ~PERM_WRITE;
                count++;
            }
    }
    return count;
}

int ns_route_wipe_write_perm(ns_route_info_t *ri, const char *broker_name)
{
    return change_write_perm(ri, broker_name, false);
}

int ns_route_add_write_perm(ns_route_info_t *ri, const char *broker_name)
{
    return change_write_perm(ri, broker_name, true);
}

void ns_route_delete_topic(ns_route_info_t *ri, const char *topic, const char *cluster)
{
    if (!cluster || !*cluster) {
        rmq_map_del(&ri->topics, topic);
        return;
    }
    rmq_map_t *set = rmq_map_get(&ri->clusters, cluster);
    qd_list_t *l = rmq_map_get(&ri->topics, topic);
    if (!set || !l)
        return;
    size_t it = 0;
    const char *bn;
    while (rmq_map_next(set, &it, &bn, NULL))
        qd_remove(l, bn);
    if (l->n == 0)
        rmq_map_del(&ri->topics, topic);
}
