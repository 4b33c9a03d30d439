/* offset_store.c - consumer offsets: RemoteBrokerOffsetStore (clustering:
 * QUERY_CONSUMER_OFFSET / UPDATE_CONSUMER_OFFSET on the queue's master) and
 * LocalFileOffsetStore (broadcasting: <dir>/<clientId>/<group>/offsets.json,
 * written to a temp file, fsynced and renamed).
 *
 * The in-memory table is shared by consume threads (update), the service
 * thread (persist) and poll()/commit(): every access takes os->lock. Network
 * and file I/O happen outside the lock, never on the I/O thread. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "comet_int.h"
#include "rmq_codes.h"
#include "rmq_file.h"
#include "rmq_json.h"
#include "rmq_log.h"

#define FAC "offset"

static cm_offset_entry_t *find(cm_offset_store_t *os, const char *t, const char *b, int32_t q, bool create)
{
    for (size_t i = 0; i < os->n; i++)
        if (os->e[i].qid == q && strcmp(os->e[i].topic, t) == 0 && strcmp(os->e[i].broker, b) == 0)
            return &os->e[i];
    if (!create)
        return NULL;
    os->e = rmq_array_grow(os->e, os->n, &os->cap, 16, sizeof(*os->e));
    cm_offset_entry_t *e = &os->e[os->n++];
    memset(e, 0, sizeof(*e));
    snprintf(e->topic, sizeof(e->topic), "%s", t);
    snprintf(e->broker, sizeof(e->broker), "%s", b);
    e->qid = q;
    e->offset = -1;
    e->committed = -1;
    return e;
}

static void load_local(cm_offset_store_t *os)
{
    char *data = NULL;
    size_t len = 0;
    if (rmq_file_read_all(os->path, &data, &len) != RMQ_OK)
        return;
    char err[128];
    json_t *root = rmq_json_parse(data, len, err, sizeof(err));
    free(data);
    if (!root) {
        cm_log(os->inst, RMQ_LOG_WARN, FAC, "%s: %s (ignored)", os->path, err);
        return;
    }
    json_t *arr = json_object_get(root, "offsetTable");
    for (size_t i = 0; json_is_array(arr) && i < json_array_size(arr); i++) {
        json_t *o = json_array_get(arr, i);
        const char *t = rmq_json_str(o, "topic"), *b = rmq_json_str(o, "brokerName");
        int64_t q, off;
        if (!t || !b || !rmq_json_int(o, "queueId", &q) || !rmq_json_int(o, "offset", &off))
            continue;
        cm_offset_entry_t *e = find(os, t, b, (int32_t)q, true);
        e->offset = e->committed = off;
    }
    json_decref(root);
}

void cm_offset_store_init(cm_offset_store_t *os, cm_instance_t *inst, const char *group, bool local,
                          const char *local_dir)
{
    memset(os, 0, sizeof(*os));
    pthread_mutex_init(&os->lock, NULL);
    os->inst = inst;
    os->group = rmq_strdup(group ? group : "");
    os->local = local;
    if (local) {
        char dir[1024];
        if (local_dir && *local_dir)
            snprintf(dir, sizeof(dir), "%s/%s/%s", local_dir, cm_instance_client_id(inst), os->group);
        else
            snprintf(dir, sizeof(dir), "%s/.rocketmq_offsets/%s/%s", getenv("HOME") ? getenv("HOME") : "/tmp",
                     cm_instance_client_id(inst), os->group);
        if (rmq_mkdirs(dir) != 0)
            cm_log(inst, RMQ_LOG_WARN, FAC, "cannot create %s: %s", dir, strerror(errno));
        size_t n = strlen(dir) + 16;
        os->path = rmq_malloc(n);
        snprintf(os->path, n, "%s/offsets.json", dir);
        load_local(os);
    }
}

void cm_offset_store_deinit(cm_offset_store_t *os)
{
    free(os->e);
    free(os->path);
    free(os->group);
    pthread_mutex_destroy(&os->lock);
}

void cm_offset_store_update(cm_offset_store_t *os, const char *t, const char *b, int32_t q, int64_t off,
                            bool increase_only)
{
    pthread_mutex_lock(&os->lock);
    cm_offset_entry_t *e = find(os, t, b, q, true);
    if (!increase_only || off > e->offset)
        e->offset = off;
    pthread_mutex_unlock(&os->lock);
}

int64_t cm_offset_store_get(cm_offset_store_t *os, const char *t, const char *b, int32_t q)
{
    pthread_mutex_lock(&os->lock);
    cm_offset_entry_t *e = find(os, t, b, q, false);
    int64_t r = e ? e->offset : -1;
    pthread_mutex_unlock(&os->lock);
    return r;
}

void cm_offset_store_remove(cm_offset_store_t *os, const char *t, const char *b, int32_t q)
{
    if (os->local)
        return; /* keep for the file */
    pthread_mutex_lock(&os->lock);
    cm_offset_entry_t *e = find(os, t, b, q, false);
    if (e)
        *e = os->e[--os->n];
    pthread_mutex_unlock(&os->lock);
}

int64_t cm_offset_store_read(cm_offset_store_t *os, const char *t, const char *b, int32_t q)
{
    if (os->local) {
        int64_t v = cm_offset_store_get(os, t, b, q);
        return v >= 0 ? v : -1;
    }
    /* the master, or a slave while the master is away (findBrokerAddressInAdmin) */
    char addr[256];
    if (!cm_read_addr(os->inst, b, 0, addr, sizeof(addr), NULL)) {
        cm_route_refresh(os->inst, t);
        if (!cm_read_addr(os->inst, b, 0, addr, sizeof(addr), NULL))
            return RMQ_ERR__NO_ROUTE;
    }
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, RMQ_REQ_QUERY_CONSUMER_OFFSET);
    rmq_cmd_set_ext(&req, "consumerGroup", os->group);
    rmq_cmd_set_ext(&req, "topic", t);
    rmq_cmd_set_ext_i64(&req, "queueId", q);
    rmq_cmd_set_ext(&req, "bname", b);
    rmq_err_t e =
        cm_request_sync(os->inst, addr, &req, cm_instance_settings(os->inst)->mqClientApiTimeout, &resp);
    rmq_cmd_deinit(&req);
    if (e == RMQ_ERR__TRANSPORT || e == RMQ_ERR__TIMED_OUT)
        cm_addr_failed(addr);
    if (e != RMQ_OK)
        return e < -1 ? e : RMQ_ERR__TRANSPORT;
    int64_t off = -1;
    if (resp.code == 0) {
        if (rmq_cmd_ext_i64(&resp, "offset", &off) != RMQ_OK)
            off = -1;
    } else if (resp.code == RMQ_ERR_QUERY_NOT_FOUND) {
        off = -1;
    } else {
        cm_log(os->inst, RMQ_LOG_WARN, FAC, "QUERY_CONSUMER_OFFSET %s/%s/%d: code %d %s", t, b, q, resp.code,
               resp.remark ? resp.remark : "");
        off = RMQ_ERR__AGAIN;
    }
    rmq_cmd_deinit(&resp);
    if (off >= 0) {
        pthread_mutex_lock(&os->lock);
        cm_offset_entry_t *en = find(os, t, b, q, true);
        if (en->committed < 0)
            en->committed = off;
        pthread_mutex_unlock(&os->lock);
    }
    return off;
}

static void send_update(cm_offset_store_t *os, const cm_offset_entry_t *e, bool sync)
{
    char addr[256];
    if (!cm_read_addr(os->inst, e->broker, 0, addr, sizeof(addr), NULL))
        return;
    rmq_cmd_t *req = rmq_cmd_new();
    rmq_cmd_init_request(req, RMQ_REQ_UPDATE_CONSUMER_OFFSET);
    rmq_cmd_set_ext(req, "consumerGroup", os->group);
    rmq_cmd_set_ext(req, "topic", e->topic);
    rmq_cmd_set_ext_i64(req, "queueId", e->qid);
    rmq_cmd_set_ext_i64(req, "commitOffset", e->offset);
    rmq_cmd_set_ext(req, "bname", e->broker);
    if (!sync) {
        cm_oneway(os->inst, addr, req);
        return;
    }
    rmq_cmd_t resp;
    if (cm_request_sync(os->inst, addr, req, cm_instance_settings(os->inst)->mqClientApiTimeout, &resp) ==
        RMQ_OK)
        rmq_cmd_deinit(&resp);
    rmq_cmd_destroy(req);
}

static void write_local(cm_offset_store_t *os, const cm_offset_entry_t *v, size_t n)
{
    rmq_buf_t b;
    rmq_jw_t w;
    cm_json_body_begin(&w, &b);
    rmq_jw_key(&w, "offsetTable");
    rmq_jw_arr_begin(&w);
    for (size_t i = 0; i < n; i++) {
        if (v[i].offset < 0)
            continue;
        rmq_jw_obj_begin(&w);
        rmq_jw_kstr(&w, "brokerName", v[i].broker);
        rmq_jw_kint(&w, "offset", v[i].offset);
        rmq_jw_kint(&w, "queueId", v[i].qid);
        rmq_jw_kstr(&w, "topic", v[i].topic);
        rmq_jw_obj_end(&w);
    }
    rmq_jw_arr_end(&w);
    rmq_jw_obj_end(&w);
    rmq_logger_t *prev = rmq_log_use(cm_instance_logger(os->inst)); /* maybe an application thread */
    rmq_file_write_atomic(os->path, b.data, b.len);                 /* logs a failure */
    rmq_log_use(prev);
    rmq_buf_free(&b);
}

void cm_offset_store_persist_all(cm_offset_store_t *os, bool sync)
{
    pthread_mutex_lock(&os->lock);
    size_t n = os->n;
    cm_offset_entry_t *v = rmq_malloc((n ? n : 1) * sizeof(*v));
    if (n)
        memcpy(v, os->e, n * sizeof(*v));
    bool changed = false;
    for (size_t i = 0; i < os->n; i++) {
        if (os->e[i].offset >= 0 && os->e[i].offset != os->e[i].committed) {
            changed = true;
            os->e[i].committed = os->e[i].offset;
        }
    }
    pthread_mutex_unlock(&os->lock);
    if (os->local) {
        if (changed)
            write_local(os, v, n);
    } else {
        for (size_t i = 0; i < n; i++)
            if (v[i].offset >= 0 && v[i].offset != v[i].committed)
                send_update(os, &v[i], sync);
    }
    free(v);
}

void cm_offset_store_persist_one(cm_offset_store_t *os, const char *t, const char *b, int32_t q, bool sync)
{
    if (os->local) {
        cm_offset_store_persist_all(os, sync);
        return;
    }
    pthread_mutex_lock(&os->lock);
    cm_offset_entry_t *e = find(os, t, b, q, false);
    cm_offset_entry_t copy;
    bool go = e && e->offset >= 0;
    if (go) {
        copy = *e;
        e->committed = e->offset;
    }
    pthread_mutex_unlock(&os->lock);
    if (go)
        send_update(os, &copy, sync);
}
