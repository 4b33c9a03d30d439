/* route.c - TopicRouteData parsing (both JSON styles: fastjson's unquoted
 * integer keys and standard JSON) and the derived publish / subscribe queue
 * lists (TopicPublishInfo, topicRouteData2TopicSubscribeInfo).
 *
 * Pure functions; a parsed route is immutable and reference counted, so any
 * thread may read a route it holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comet_int.h"
#include "rmq_json.h"

static char *jstrdup(const json_t *o, const char *k)
{
    const char *s = rmq_json_str(o, k);
    return rmq_strdup(s ? s : "");
}

static int qd_cmp(const void *a, const void *b)
{
    return strcmp(((const cm_queue_data_t *)a)->broker_name, ((const cm_queue_data_t *)b)->broker_name);
}

int cm_mq_cmp(const cm_mq_t *a, const cm_mq_t *b)
{
    int c = strcmp(a->topic, b->topic);
    if (c)
        return c;
    c = strcmp(a->broker_name, b->broker_name);
    if (c)
        return c;
    return a->queue_id < b->queue_id ? -1 : a->queue_id > b->queue_id;
}

static const cm_broker_data_t *find_bd(const cm_route_t *r, const char *name)
{
    for (size_t i = 0; i < r->nbds; i++)
        if (strcmp(r->bds[i].broker_name, name) == 0)
            return &r->bds[i];
    return NULL;
}

const char *cm_route_master_addr(const cm_route_t *r, const char *broker_name)
{
    const cm_broker_data_t *bd = find_bd(r, broker_name);
    if (!bd)
        return NULL;
    for (size_t i = 0; i < bd->naddrs; i++)
        if (bd->addrs[i].id == 0)
            return bd->addrs[i].addr;
    return NULL;
}

const char *cm_route_any_addr(const cm_route_t *r, const char *broker_name)
{
    const char *m = cm_route_master_addr(r, broker_name);
    if (m)
        return m;
    const cm_broker_data_t *bd = find_bd(r, broker_name);
    return bd && bd->naddrs ? bd->addrs[0].addr : NULL;
}

static void derive(cm_route_t *r)
{
    qsort(r->qds, r->nqds, sizeof(*r->qds), qd_cmp);
    size_t npub = 0, nsub = 0;
    for (size_t i = 0; i < r->nqds; i++) {
        npub += r->qds[i].write_queue_nums > 0 ? (size_t)r->qds[i].write_queue_nums : 0;
        nsub += r->qds[i].read_queue_nums > 0 ? (size_t)r->qds[i].read_queue_nums : 0;
    }
    r->pub = rmq_calloc(npub ? npub : 1, sizeof(cm_mq_t));
    r->sub = rmq_calloc(nsub ? nsub : 1, sizeof(cm_mq_t));
    if (r->order_topic_conf && *r->order_topic_conf) {
        /* "brokerName:queueNum;brokerName:queueNum" */
        char *dup = rmq_strdup(r->order_topic_conf), *save = NULL;
        size_t cap = npub;
        for (char *tok = strtok_r(dup, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
            char *colon = strchr(tok, ':');
            if (!colon)
                continue;
            *colon = 0;
            int n = atoi(colon + 1);
            const cm_broker_data_t *bd = find_bd(r, tok);
            if (!bd)
                continue;
            if (r->npub + (size_t)n > cap) {
                cap = r->npub + (size_t)n;
                r->pub = rmq_realloc(r->pub, cap * sizeof(cm_mq_t));
            }
            for (int q = 0; q < n; q++)
                r->pub[r->npub++] = (cm_mq_t){r->topic, bd->broker_name, q};
        }
        free(dup);
    } else {
        for (size_t i = 0; i < r->nqds; i++) {
            const cm_queue_data_t *qd = &r->qds[i];
            if (!(qd->perm & CM_PERM_WRITE))
                continue;
            if (!cm_route_master_addr(r, qd->broker_name))
                continue;
            for (int q = 0; q < qd->write_queue_nums; q++)
                r->pub[r->npub++] = (cm_mq_t){r->topic, qd->broker_name, q};
        }
    }
    for (size_t i = 0; i < r->nqds; i++) {
        const cm_queue_data_t *qd = &r->qds[i];
        if (!(qd->perm & CM_PERM_READ))
            continue;
        for (int q = 0; q < qd->read_queue_nums; q++)
            r->sub[r->nsub++] = (cm_mq_t){r->topic, qd->broker_name, q};
    }
    cm_sort_mqs(r->sub, r->nsub);
}

cm_route_t *cm_route_parse(const char *topic, const char *text, size_t len, char *errstr, size_t errstr_size)
{
    json_t *root = rmq_json_parse(text, len, errstr, errstr_size);
    if (!root)
        return NULL;
    cm_route_t *r = NULL;
    json_t *qds = json_object_get(root, "queueDatas");
    json_t *bds = json_object_get(root, "brokerDatas");
    if (!json_is_object(root) || !json_is_array(qds) || !json_is_array(bds)) {
        cm_errstr(errstr, errstr_size, "route: queueDatas/brokerDatas missing");
        goto out;
    }
    r = rmq_calloc(1, sizeof(*r));
    r->refs = 1;
    r->topic = rmq_strdup(topic);
    const char *otc = rmq_json_str(root, "orderTopicConf");
    if (otc)
        r->order_topic_conf = rmq_strdup(otc);
    r->nqds = json_array_size(qds);
    r->qds = rmq_calloc(r->nqds ? r->nqds : 1, sizeof(*r->qds));
    for (size_t i = 0; i < r->nqds; i++) {
        json_t *q = json_array_get(qds, i);
        int64_t v;
        r->qds[i].broker_name = jstrdup(q, "brokerName");
        r->qds[i].read_queue_nums = rmq_json_int(q, "readQueueNums", &v) ? (int32_t)v : 0;
        r->qds[i].write_queue_nums = rmq_json_int(q, "writeQueueNums", &v) ? (int32_t)v : 0;
        r->qds[i].perm = rmq_json_int(q, "perm", &v) ? (int32_t)v : 0;
        r->qds[i].topic_sys_flag = rmq_json_int(q, "topicSysFlag", &v)   ? (int32_t)v
                                   : rmq_json_int(q, "topicSynFlag", &v) ? (int32_t)v
                                                                         : 0;
        if (r->qds[i].read_queue_nums < 0 || r->qds[i].read_queue_nums > 65535 ||
            r->qds[i].write_queue_nums < 0 || r->qds[i].write_queue_nums > 65535) {
            cm_errstr(errstr, errstr_size, "route: bad queue numbers");
            r->nqds = i + 1;
            cm_route_release(r);
            r = NULL;
            goto out;
        }
    }
    r->nbds = json_array_size(bds);
    r->bds = rmq_calloc(r->nbds ? r->nbds : 1, sizeof(*r->bds));
    for (size_t i = 0; i < r->nbds; i++) {
        json_t *b = json_array_get(bds, i);
        r->bds[i].cluster = jstrdup(b, "cluster");
        r->bds[i].broker_name = jstrdup(b, "brokerName");
        json_t *addrs = json_object_get(b, "brokerAddrs");
        if (json_is_object(addrs)) {
            r->bds[i].addrs = rmq_calloc(json_object_size(addrs) + 1, sizeof(cm_broker_addr_t));
            const char *k;
            json_t *v;
            json_object_foreach(addrs, k, v)
            {
                if (!json_is_string(v))
                    continue;
                cm_broker_addr_t *a = &r->bds[i].addrs[r->bds[i].naddrs++];
                a->id = strtoll(k, NULL, 10);
                a->addr = rmq_strdup(json_string_value(v));
            }
        }
    }
    derive(r);
out:
    json_decref(root);
    return r;
}

void cm_route_hold(cm_route_t *r)
{
    atomic_fetch_add(&r->refs, 1);
}

void cm_route_release(cm_route_t *r)
{
    if (!r || atomic_fetch_sub(&r->refs, 1) != 1)
        return;
    for (size_t i = 0; i < r->nqds; i++)
        free(r->qds[i].broker_name);
    for (size_t i = 0; i < r->nbds; i++) {
        free(r->bds[i].cluster);
        free(r->bds[i].broker_name);
        for (size_t j = 0; j < r->bds[i].naddrs; j++)
            free(r->bds[i].addrs[j].addr);
        free(r->bds[i].addrs);
    }
    free(r->qds);
    free(r->bds);
    free(r->pub);
    free(r->sub);
    free(r->topic);
    free(r->order_topic_conf);
    free(r);
}

rmq_err_t cm_route_public_queues(cm_instance_t *inst, const char *topic, bool readable,
                                 comet_message_queue_t **mqs, size_t *cnt)
{
    rmq_err_t e;
    char err[256];
    cm_route_t *r = cm_route_get(inst, topic, true, &e, err, sizeof(err));
    if (!r)
        return e;
    const cm_mq_t *q = readable ? r->sub : r->pub;
    size_t n = readable ? r->nsub : r->npub;
    comet_message_queue_t *out = rmq_calloc(n ? n : 1, sizeof(*out));
    for (size_t i = 0; i < n; i++) {
        snprintf(out[i].topic, COMET_NAME_MAX, "%s", topic);
        snprintf(out[i].broker_name, COMET_NAME_MAX, "%s", q[i].broker_name);
        out[i].queue_id = q[i].queue_id;
    }
    cm_route_release(r);
    *mqs = out;
    *cnt = n;
    return RMQ_OK;
}
