/* pull_hold.c - parked long-polling pulls.
 * Owns: the held-request lists (topic@queue -> list) and the re-check timer;
 * reaches the rest of the broker through its context (pull_hold.h) only.
 * Thread: io. The store's reput thread only calls rmq_pull_hold_arrived_cb,
 * which copies the event into the broker mailbox.
 * Never: answers a request on a closed connection, or touches the lists from
 * the reput thread. */
#include "longpoll/pull_hold.h"

#include <event2/event.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_map.h"
#include "rmq_store.h"
#include "rmq_time.h"
#include "rmq_timer.h"

typedef struct held_s {
    rmq_conn_t *conn;
    rmq_cmd_t req;
    int64_t offset;
    int64_t deadline; /* mono ms */
    int64_t *codes;
    size_t ncodes;
    struct held_s *next;
} held_t;

typedef struct held_list_s {
    char *topic;
    int32_t queue_id;
    held_t *head;
} held_list_t;

struct rmq_pull_hold_s {
    rmq_pull_hold_ctx_t ctx;
    rmq_map_t lists; /* "topic@qid" -> held_list_t* */
    struct event *ev_check;
    _Atomic int64_t count;
};

typedef struct arrival_s {
    rmq_pull_hold_t *h;
    int32_t queue_id;
    int64_t logic_offset;
    int64_t tags_code;
    char topic[];
} arrival_t;

static void held_free(held_t *e)
{
    rmq_cmd_deinit(&e->req);
    rmq_conn_release(e->conn);
    free(e->codes);
    free(e);
}

static void list_free(void *p)
{
    held_list_t *l = p;
    while (l->head) {
        held_t *e = l->head;
        l->head = e->next;
        held_free(e);
    }
    free(l->topic);
    free(l);
}

int64_t rmq_pull_hold_count(const rmq_pull_hold_t *h)
{
    return atomic_load(&((rmq_pull_hold_t *)h)->count);
}

static void copy_req(rmq_cmd_t *dst, const rmq_cmd_t *src)
{
    *dst = (rmq_cmd_t){.code = src->code,
                       .language = src->language,
                       .version = src->version,
                       .opaque = src->opaque,
                       .flag = src->flag,
                       .serialize = src->serialize};
    for (size_t i = 0; i < src->ext_n; i++)
        rmq_cmd_set_ext(dst, src->ext[i].key, src->ext[i].val);
    dst->has_ext = src->has_ext;
}

void rmq_pull_hold_park(rmq_pull_hold_t *h, rmq_conn_t *conn, const rmq_cmd_t *req, const char *topic,
                        int32_t queue_id, int64_t offset, const int64_t *codes, size_t ncodes,
                        int64_t hold_ms)
{
    char key[512];
    snprintf(key, sizeof(key), "%s@%d", topic, queue_id);
    held_list_t *l = rmq_map_get(&h->lists, key);
    if (!l) {
        l = rmq_calloc(1, sizeof(*l));
        l->topic = rmq_strdup(topic);
        l->queue_id = queue_id;
        rmq_map_put(&h->lists, key, l);
    }
    held_t *e = rmq_calloc(1, sizeof(*e));
    rmq_conn_hold(conn);
    e->conn = conn;
    copy_req(&e->req, req);
    e->offset = offset;
    e->deadline = rmq_mono_ms() + hold_ms;
    if (ncodes) {
        e->codes = rmq_malloc(ncodes * sizeof(int64_t));
        memcpy(e->codes, codes, ncodes * sizeof(int64_t));
        e->ncodes = ncodes;
    }
    e->next = l->head;
    l->head = e;
    atomic_fetch_add(&h->count, 1);
}

static bool code_matches(const held_t *e, int64_t code)
{
    if (!e->ncodes)
        return true;
    for (size_t i = 0; i < e->ncodes; i++)
        if ((int32_t)e->codes[i] == (int32_t)code)
            return true;
    return false;
}

/* Detach the entries selected by `pick` and run them (running may park new
 * entries in the same list, which is why we detach first). */
static void wake(rmq_pull_hold_t *h, held_list_t *l, bool arrival, int64_t max_offset, int64_t tags_code,
                 int64_t now)
{
    held_t *run = NULL, **pp = &l->head;
    while (*pp) {
        held_t *e = *pp;
        bool go = rmq_conn_is_closed(e->conn);
        if (!go) {
            if (max_offset > e->offset)
                go = arrival ? code_matches(e, tags_code) : true;
            if (!go && now >= e->deadline)
                go = true;
        }
        if (go) {
            *pp = e->next;
            e->next = run;
            run = e;
            atomic_fetch_sub(&h->count, 1);
        } else {
            pp = &e->next;
        }
    }
    while (run) {
        held_t *e = run;
        run = e->next;
        if (!rmq_conn_is_closed(e->conn))
            h->ctx.rerun(h->ctx.rerun_arg, e->conn, &e->req);
        held_free(e);
    }
}

static void arrival_io(void *arg)
{
    arrival_t *a = arg;
    rmq_pull_hold_t *h = a->h; /* alive: the mailbox is drained before the hold service goes */
    {
        char key[512];
        snprintf(key, sizeof(key), "%s@%d", a->topic, a->queue_id);
        held_list_t *l = rmq_map_get(&h->lists, key);
        if (l && l->head)
            wake(h, l, true, a->logic_offset + 1, a->tags_code, rmq_mono_ms());
    }
    free(a);
}

/* @thread StoreReput */
void rmq_pull_hold_arrived_cb(void *opaque, const char *topic, int32_t queue_id, int64_t logic_offset,
                              int64_t tags_code, int64_t store_timestamp, const char *props, size_t props_len)
{
    rmq_pull_hold_t *h = opaque;
    if (atomic_load(&h->count) == 0)
        return;
    size_t tl = strlen(topic);
    arrival_t *a = rmq_malloc(sizeof(*a) + tl + 1);
    a->h = h;
    a->queue_id = queue_id;
    a->logic_offset = logic_offset;
    a->tags_code = tags_code;
    memcpy(a->topic, topic, tl + 1);
    rmq_mailbox_post(h->ctx.mbox, arrival_io, a);
}

static void check_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_pull_hold_t *h = arg;
    if (atomic_load(&h->count) == 0)
        return;
    int64_t now = rmq_mono_ms();
    size_t n = 0;
    const char **keys = rmq_map_sorted_keys(&h->lists, &n);
    char **copies = rmq_calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        copies[i] = rmq_strdup(keys[i]);
    free(keys);
    for (size_t i = 0; i < n; i++) {
        held_list_t *l = rmq_map_get(&h->lists, copies[i]);
        if (l && l->head)
            wake(h, l, false, rmq_store_get_max_offset_in_queue(h->ctx.store, l->topic, l->queue_id), 0, now);
        l = rmq_map_get(&h->lists, copies[i]);
        if (l && !l->head)
            rmq_map_del(&h->lists, copies[i]);
        free(copies[i]);
    }
    free(copies);
}

rmq_pull_hold_t *rmq_pull_hold_new(const rmq_pull_hold_ctx_t *ctx)
{
    rmq_pull_hold_t *h = rmq_calloc(1, sizeof(*h));
    h->ctx = *ctx;
    rmq_map_init(&h->lists, list_free);
    atomic_init(&h->count, 0);
    h->ev_check = rmq_timer_new(ctx->base, ctx->check_interval_ms, true, check_cb, h);
    return h;
}

void rmq_pull_hold_destroy(rmq_pull_hold_t *h)
{
    if (!h)
        return;
    if (h->ev_check)
        event_free(h->ev_check);
    rmq_map_deinit(&h->lists);
    free(h);
}
