/* client_mgr.c - producer/consumer group membership and the client-management
 * processors (HEART_BEAT 34, UNREGISTER_CLIENT 35, GET_CONSUMER_LIST_BY_GROUP
 * 38, CHECK_CLIENT_CONFIG 46); NOTIFY_CONSUMER_IDS_CHANGED (40, oneway) to a
 * group whenever its set of channels changes; expiry of silent channels.
 * Thread: io only. Never blocks; never touches a closed connection. */
#include "client/client_mgr.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "broker_meta.h"
#include "request.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_time.h"
#include "rmq_timer.h"

static void chan_free(rmq_client_chan_t *c)
{
    free(c->client_id);
}

static void chans_free(rmq_client_chan_t *chans, size_t n)
{
    for (size_t i = 0; i < n; i++)
        chan_free(&chans[i]);
    free(chans);
}

/* A consumer group's subscriptions (the group keeps dangling pointers). */
static void subs_free(rmq_consumer_group_info_t *g)
{
    for (size_t i = 0; i < g->nsubs; i++)
        rmq_subscription_deinit(&g->subs[i]);
    free(g->subs);
}

static void cg_free(void *p)
{
    rmq_consumer_group_info_t *g = p;
    chans_free(g->chans, g->n);
    subs_free(g);
    free(g->name);
    free(g->consume_type);
    free(g->message_model);
    free(g->consume_from_where);
    free(g);
}

static void pg_free(void *p)
{
    rmq_producer_group_info_t *g = p;
    chans_free(g->chans, g->n);
    free(g->name);
    free(g);
}

rmq_consumer_group_info_t *rmq_client_mgr_consumer(rmq_client_mgr_t *m, const char *group)
{
    rmq_consumer_group_info_t *g = group ? rmq_map_get(&m->consumers, group) : NULL;
    return g && g->n ? g : NULL;
}

const rmq_subscription_t *rmq_consumer_group_sub(const rmq_consumer_group_info_t *g, const char *topic)
{
    for (size_t i = 0; i < g->nsubs; i++)
        if (!strcmp(g->subs[i].topic, topic))
            return &g->subs[i];
    return NULL;
}

static void notify_group(rmq_client_mgr_t *m, rmq_consumer_group_info_t *g)
{
    rmq_broker_t *b = m->b;
    if (!b->conf.notifyConsumerIdsChangedEnable)
        return;
    rmq_sub_group_t *sg = rmq_sub_group_get(&b->groups, g->name);
    if (sg && !sg->notify_consumer_ids_changed_enable)
        return;
    for (size_t i = 0; i < g->n; i++) {
        if (rmq_conn_is_closed(g->chans[i].conn))
            continue;
        rmq_cmd_t req;
        rmq_cmd_init_request(&req, RMQ_REQ_NOTIFY_CONSUMER_IDS_CHANGED);
        rmq_cmd_set_ext(&req, "consumerGroup", g->name);
        rmq_conn_oneway(g->chans[i].conn, &req);
        rmq_cmd_deinit(&req);
        m->notifications_sent++;
    }
    rmq_log(RMQ_LOG_INFO, "broker", "consumer group %s changed, %zu members notified", g->name, g->n);
}

/* Remove conn from a channel array; true if it was there. */
static bool chans_remove(rmq_client_chan_t *chans, size_t *n, rmq_conn_t *conn)
{
    for (size_t i = 0; i < *n; i++)
        if (chans[i].conn == conn) {
            chan_free(&chans[i]);
            chans[i] = chans[--*n];
            return true;
        }
    return false;
}

/* Update or add a channel; true if it is new. */
static bool chans_update(rmq_client_chan_t **chans, size_t *n, size_t *cap, rmq_conn_t *conn,
                         const char *client_id, const rmq_cmd_t *req)
{
    int64_t now = rmq_mono_ms();
    for (size_t i = 0; i < *n; i++)
        if ((*chans)[i].conn == conn) {
            (*chans)[i].last_update = now;
            if (strcmp((*chans)[i].client_id, client_id)) {
                free((*chans)[i].client_id);
                (*chans)[i].client_id = rmq_strdup(client_id);
            }
            return false;
        }
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 4;
        *chans = rmq_realloc(*chans, *cap * sizeof(**chans));
    }
    rmq_client_chan_t *c = &(*chans)[(*n)++];
    c->conn = conn;
    c->client_id = rmq_strdup(client_id);
    c->language = req->language;
    c->version = req->version;
    c->last_update = now;
    return true;
}

static void set_str(char **dst, const char *v)
{
    if (!v)
        return;
    if (*dst && !strcmp(*dst, v))
        return;
    free(*dst);
    *dst = rmq_strdup(v);
}

static void drop_empty_consumer(rmq_client_mgr_t *m, rmq_consumer_group_info_t *g)
{
    if (g->n == 0) {
        rmq_log(RMQ_LOG_INFO, "broker", "consumer group %s has no member left, removed", g->name);
        char *name = rmq_strdup(g->name);
        rmq_map_del(&m->consumers, name);
        free(name);
    }
}

static void drop_empty_producer(rmq_client_mgr_t *m, rmq_producer_group_info_t *g)
{
    if (g->n == 0) {
        char *name = rmq_strdup(g->name);
        rmq_map_del(&m->producers, name);
        free(name);
    }
}

/* ---- HEART_BEAT ---- */

static bool register_consumer(rmq_client_mgr_t *m, rmq_conn_t *conn, const rmq_cmd_t *req,
                              const char *client_id, json_t *cd, char *err, size_t errn)
{
    rmq_broker_t *b = m->b;
    const char *group = rmq_json_str(cd, "groupName");
    if (!group || !*group) {
        snprintf(err, errn, "consumerData without groupName");
        return false;
    }
    rmq_sub_group_t *sg = rmq_broker_get_group(b, group);
    if (sg) {
        char retry[300];
        snprintf(retry, sizeof(retry), "%s%s", RMQ_RETRY_PREFIX, group);
        if (sg->retry_queue_nums > 0 && !rmq_topic_get(&b->topics, retry))
            rmq_broker_ensure_retry_topic(b, group, sg->retry_queue_nums);
    }
    rmq_consumer_group_info_t *g = rmq_map_get(&m->consumers, group);
    if (!g) {
        g = rmq_calloc(1, sizeof(*g));
        g->name = rmq_strdup(group);
        rmq_map_put(&m->consumers, group, g);
    }
    set_str(&g->consume_type, rmq_json_str(cd, "consumeType"));
    set_str(&g->message_model, rmq_json_str(cd, "messageModel"));
    set_str(&g->consume_from_where, rmq_json_str(cd, "consumeFromWhere"));
    /* subscriptions: replace with this heartbeat's set */
    json_t *subs = json_object_get(cd, "subscriptionDataSet");
    size_t ns = json_is_array(subs) ? json_array_size(subs) : 0;
    rmq_subscription_t *nsubs = rmq_calloc(ns + 1, sizeof(*nsubs));
    size_t k = 0;
    for (size_t i = 0; i < ns; i++) {
        json_t *sd = json_array_get(subs, i);
        const char *topic = rmq_json_str(sd, "topic");
        if (!topic)
            continue;
        int64_t ver = 0;
        rmq_json_int(sd, "subVersion", &ver);
        char e2[256];
        /* keep the client's tag set as sent (it is what it filters with) */
        if (rmq_subscription_build(&nsubs[k], topic, rmq_json_str(sd, "subString"),
                                   rmq_json_str(sd, "expressionType"), ver, e2, sizeof(e2)) != RMQ_OK) {
            /* unsupported (SQL92) or unparsable: keep it so pulls get a clear error */
            const char *et = rmq_json_str(sd, "expressionType");
            rmq_subscription_build(&nsubs[k], topic, "*", NULL, ver, e2, sizeof(e2));
            free(nsubs[k].expression_type);
            nsubs[k].expression_type = rmq_strdup(et && *et && strcmp(et, "TAG") ? et : "UNPARSABLE_TAG");
        }
        /* a newer version wins; keep the old one if the heartbeat is stale */
        const rmq_subscription_t *old = rmq_consumer_group_sub(g, topic);
        if (old && old->sub_version > ver) {
            rmq_subscription_deinit(&nsubs[k]);
            rmq_subscription_copy(&nsubs[k], old);
        }
        k++;
    }
    subs_free(g);
    g->subs = nsubs;
    g->nsubs = k;
    bool is_new = chans_update(&g->chans, &g->n, &g->cap, conn, client_id, req);
    if (is_new) {
        rmq_log(RMQ_LOG_INFO, "broker", "new consumer %s (%s) in group %s", client_id, rmq_conn_peer(conn),
                group);
        notify_group(m, g);
    }
    return true;
}

static void on_heartbeat(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    rmq_client_mgr_t *m = ((rmq_broker_t *)ctx)->clients;
    char err[256];
    json_t *root =
        req->body_len ? rmq_json_parse((const char *)req->body, req->body_len, err, sizeof(err)) : NULL;
    if (!root || !json_is_object(root)) {
        if (root)
            json_decref(root);
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR,
                             "HEART_BEAT body is not valid HeartbeatData JSON: %s",
                             req->body_len ? err : "empty body");
        return;
    }
    const char *client_id = rmq_json_str(root, "clientID");
    if (!client_id || !*client_id) {
        json_decref(root);
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "HEART_BEAT body has no clientID");
        return;
    }
    json_t *cds = json_object_get(root, "consumerDataSet");
    for (size_t i = 0; json_is_array(cds) && i < json_array_size(cds); i++)
        if (!register_consumer(m, conn, req, client_id, json_array_get(cds, i), err, sizeof(err))) {
            json_decref(root);
            rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "%s", err);
            return;
        }
    json_t *pds = json_object_get(root, "producerDataSet");
    for (size_t i = 0; json_is_array(pds) && i < json_array_size(pds); i++) {
        const char *group = rmq_json_str(json_array_get(pds, i), "groupName");
        if (!group || !*group)
            continue;
        rmq_producer_group_info_t *g = rmq_map_get(&m->producers, group);
        if (!g) {
            g = rmq_calloc(1, sizeof(*g));
            g->name = rmq_strdup(group);
            rmq_map_put(&m->producers, group, g);
        }
        chans_update(&g->chans, &g->n, &g->cap, conn, client_id, req);
    }
    json_decref(root);
    rmq_broker_reply_ok(conn, req);
}

/* ---- UNREGISTER_CLIENT ---- */

static void unregister_client(rmq_client_mgr_t *m, rmq_conn_t *conn, const rmq_cmd_t *req, const rmq_hdr_t *h)
{
    /* channels are found by connection: clientID is only logged, as Java */
    const char *client_id = rmq_hdr_str(h, RMQ_F_UNREGISTER_CLIENT_clientID);
    if (!client_id)
        client_id = "null";
    const char *pg = rmq_hdr_str(h, RMQ_F_UNREGISTER_CLIENT_producerGroup);
    const char *cg = rmq_hdr_str(h, RMQ_F_UNREGISTER_CLIENT_consumerGroup);
    if (pg && *pg) {
        rmq_producer_group_info_t *g = rmq_map_get(&m->producers, pg);
        if (g && chans_remove(g->chans, &g->n, conn))
            drop_empty_producer(m, g);
    }
    if (cg && *cg) {
        rmq_consumer_group_info_t *g = rmq_map_get(&m->consumers, cg);
        if (g && chans_remove(g->chans, &g->n, conn)) {
            rmq_log(RMQ_LOG_INFO, "broker", "consumer %s left group %s", client_id, cg);
            if (g->n)
                notify_group(m, g);
            drop_empty_consumer(m, g);
        }
    }
    rmq_broker_reply_ok(conn, req);
}

/* ---- GET_CONSUMER_LIST_BY_GROUP ---- */

/* {"consumerIdList":[...]} (GetConsumerListByGroupResponseBody) */
static void consumer_ids_json(rmq_buf_t *out, const rmq_consumer_group_info_t *g)
{
    rmq_jw_t w;
    rmq_jw_init_obj(&w, out);
    rmq_jw_key(&w, "consumerIdList");
    rmq_jw_arr_begin(&w);
    for (size_t i = 0; i < g->n; i++)
        rmq_jw_str(&w, g->chans[i].client_id);
    rmq_jw_arr_end(&w);
    rmq_jw_obj_end(&w);
}

static void consumer_list(rmq_client_mgr_t *m, rmq_conn_t *conn, const rmq_cmd_t *req, const rmq_hdr_t *h)
{
    const char *group = rmq_hdr_str(h, RMQ_F_CONSUMER_GROUP_consumerGroup);
    rmq_consumer_group_info_t *g = rmq_client_mgr_consumer(m, group);
    if (!g) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "no consumer for this group, %s", group);
        return;
    }
    rmq_buf_t body;
    rmq_buf_init(&body);
    consumer_ids_json(&body, g);
    rmq_cmd_t resp;
    rmq_broker_resp(&resp, req, RMQ_OK, NULL);
    resp.has_ext = true;
    rmq_cmd_take_body(&resp, body.data, body.len);
    rmq_conn_reply(conn, req, &resp);
    rmq_cmd_deinit(&resp);
}

/* The requests with a header: decoded (needed fields checked) before they
 * are handled. */
static const struct {
    int32_t code;
    rmq_hdr_id_t hdr;
    void (*handle)(rmq_client_mgr_t *m, rmq_conn_t *conn, const rmq_cmd_t *req, const rmq_hdr_t *h);
} hdr_requests[] = {
    {RMQ_REQ_UNREGISTER_CLIENT, RMQ_HDR_UNREGISTER_CLIENT, unregister_client},
    {RMQ_REQ_GET_CONSUMER_LIST_BY_GROUP, RMQ_HDR_CONSUMER_GROUP, consumer_list},
};

static void on_hdr_request(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    for (size_t i = 0; i < sizeof(hdr_requests) / sizeof(hdr_requests[0]); i++) {
        rmq_hdr_t h;
        if (hdr_requests[i].code == req->code && rmq_req_decode(conn, req, hdr_requests[i].hdr, true, &h))
            hdr_requests[i].handle(((rmq_broker_t *)ctx)->clients, conn, req, &h);
    }
}

/* ---- CHECK_CLIENT_CONFIG ---- */

static void on_check_client_config(rmq_conn_t *conn, rmq_cmd_t *req, void *ctx)
{
    char err[256];
    json_t *root =
        req->body_len ? rmq_json_parse((const char *)req->body, req->body_len, err, sizeof(err)) : NULL;
    if (!root) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "CHECK_CLIENT_CONFIG body is not valid JSON");
        return;
    }
    json_t *sd = json_object_get(root, "subscriptionData");
    const char *type = sd ? rmq_json_str(sd, "expressionType") : NULL;
    rmq_subscription_t s;
    rmq_err_t r = rmq_subscription_build(&s, sd ? rmq_json_str(sd, "topic") : "",
                                         sd ? rmq_json_str(sd, "subString") : "*", type, 0, err, sizeof(err));
    json_decref(root);
    if (r == RMQ_ERR__INVALID_ARG) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "%s", err);
        return;
    }
    if (r != RMQ_OK) {
        rmq_broker_reply_err(conn, req, RMQ_ERR_SUBSCRIPTION_PARSE_FAILED, "%s", err);
        return;
    }
    rmq_subscription_deinit(&s);
    rmq_broker_reply_ok(conn, req);
}

/* ---- membership changes ---- */

void rmq_client_mgr_conn_closed(rmq_client_mgr_t *m, rmq_conn_t *conn)
{
    size_t cnt = rmq_map_count(&m->consumers);
    rmq_consumer_group_info_t **changed = rmq_calloc(cnt + 1, sizeof(*changed));
    size_t nc = 0;
    const char *k;
    void *v;
    for (size_t it = 0; rmq_map_next(&m->consumers, &it, &k, &v);) {
        rmq_consumer_group_info_t *g = v;
        if (chans_remove(g->chans, &g->n, conn)) {
            rmq_log(RMQ_LOG_INFO, "broker", "connection %s closed: left consumer group %s",
                    rmq_conn_peer(conn), g->name);
            changed[nc++] = g;
        }
    }
    for (size_t i = 0; i < nc; i++) {
        if (changed[i]->n)
            notify_group(m, changed[i]);
        drop_empty_consumer(m, changed[i]);
    }
    free(changed);
    cnt = rmq_map_count(&m->producers);
    rmq_producer_group_info_t **pch = rmq_calloc(cnt + 1, sizeof(*pch));
    nc = 0;
    for (size_t it = 0; rmq_map_next(&m->producers, &it, &k, &v);) {
        rmq_producer_group_info_t *g = v;
        if (chans_remove(g->chans, &g->n, conn))
            pch[nc++] = g;
    }
    for (size_t i = 0; i < nc; i++)
        drop_empty_producer(m, pch[i]);
    free(pch);
}

void rmq_client_mgr_scan_expired(rmq_client_mgr_t *m)
{
    int64_t now = rmq_mono_ms(), ttl = m->b->conf.channelExpiredTimeout;
    rmq_conn_t **victims = NULL;
    size_t nv = 0, cap = 0;
    const char *k;
    void *v;
    for (int pass = 0; pass < 2; pass++) {
        rmq_map_t *map = pass ? &m->producers : &m->consumers;
        for (size_t it = 0; rmq_map_next(map, &it, &k, &v);) {
            rmq_client_chan_t *chans =
                pass ? ((rmq_producer_group_info_t *)v)->chans : ((rmq_consumer_group_info_t *)v)->chans;
            size_t n = pass ? ((rmq_producer_group_info_t *)v)->n : ((rmq_consumer_group_info_t *)v)->n;
            for (size_t i = 0; i < n; i++) {
                if (now - chans[i].last_update <= ttl)
                    continue;
                bool dup = false;
                for (size_t j = 0; j < nv; j++)
                    dup |= victims[j] == chans[i].conn;
                if (dup)
                    continue;
                if (nv == cap) {
                    cap = cap ? cap * 2 : 8;
                    victims = rmq_realloc(victims, cap * sizeof(*victims));
                }
                rmq_log(RMQ_LOG_WARN, "broker",
                        "client %s (%s) sent no heartbeat for %lld ms: channel expired", chans[i].client_id,
                        rmq_conn_peer(chans[i].conn), (long long)(now - chans[i].last_update));
                victims[nv++] = chans[i].conn;
            }
        }
    }
    for (size_t i = 0; i < nv; i++) {
        rmq_conn_hold(victims[i]);
        rmq_client_mgr_conn_closed(m, victims[i]);
        rmq_conn_close(victims[i]);
        rmq_conn_release(victims[i]);
    }
    free(victims);
}

static void housekeeping_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_client_mgr_scan_expired(arg);
}

rmq_client_mgr_t *rmq_client_mgr_new(rmq_broker_t *b)
{
    rmq_client_mgr_t *m = rmq_calloc(1, sizeof(*m));
    m->b = b;
    rmq_map_init(&m->consumers, cg_free);
    rmq_map_init(&m->producers, pg_free);
    m->ev_housekeeping = rmq_timer_new(b->base, b->conf.clientHousekeepingInterval, true, housekeeping_cb, m);
    return m;
}

void rmq_client_mgr_destroy(rmq_client_mgr_t *m)
{
    if (!m)
        return;
    if (m->ev_housekeeping)
        event_free(m->ev_housekeeping);
    rmq_map_deinit(&m->consumers);
    rmq_map_deinit(&m->producers);
    free(m);
}

void rmq_proc_client_register(rmq_broker_t *b, rmq_endpoint_t *ep)
{
    rmq_endpoint_set_handler(ep, RMQ_REQ_HEART_BEAT, on_heartbeat, b);
    for (size_t i = 0; i < sizeof(hdr_requests) / sizeof(hdr_requests[0]); i++)
        rmq_endpoint_set_handler(ep, hdr_requests[i].code, on_hdr_request, b);
    rmq_endpoint_set_handler(ep, RMQ_REQ_CHECK_CLIENT_CONFIG, on_check_client_config, b);
}
