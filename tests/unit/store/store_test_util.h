/* store_test_util.h - helpers shared by the store test files: a temporary
 * store directory (in the test's directory: removed when the test passes)
 * with tiny segment sizes, and message builders. */
#ifndef STORE_TEST_UTIL_H
#define STORE_TEST_UTIL_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_store.h"
#include "test_support.h"

typedef struct {
    char dir[256];
    rmq_store_config_t conf;
    rmq_store_t *s;
} tctx_t;

static inline void tctx_init(tctx_t *t)
{
    cr_assert(th_tmpdir(t->dir, sizeof(t->dir), "store"), "cannot make a temp dir");
    rmq_store_config_init(&t->conf);
    char err[256];
    cr_assert_eq(rmq_conf_set(rmq_store_conf_defs, &t->conf, "storePathRootDir", t->dir, err, sizeof(err)),
                 RMQ_OK);
#define TSET(k, v)                                                                                           \
    cr_assert_eq(rmq_conf_set(rmq_store_conf_defs, &t->conf, k, v, err, sizeof(err)), RMQ_OK, "%s", err)
    TSET("mappedFileSizeCommitLog", "4096");
    TSET("mappedFileSizeConsumeQueue", "200");
    TSET("maxHashSlotNum", "64");
    TSET("maxIndexNum", "256");
    TSET("flushIntervalCommitLog", "10");
    TSET("flushIntervalConsumeQueue", "20");
    TSET("cleanResourceInterval", "3600000");
    TSET("deleteWhen", "99");
    TSET("maxMessageSize", "2048");
    t->s = NULL;
    rmq_log_level = RMQ_LOG_WARN;
}

static inline void tctx_set(tctx_t *t, const char *k, const char *v)
{
    char err[256];
    cr_assert_eq(rmq_conf_set(rmq_store_conf_defs, &t->conf, k, v, err, sizeof(err)), RMQ_OK, "%s: %s", k,
                 err);
}

static inline rmq_store_t *tctx_open(tctx_t *t)
{
    char err[256] = "";
    t->s = rmq_store_open(&t->conf, err, sizeof(err));
    cr_assert_not_null(t->s, "open: %s", err);
    cr_assert_eq(rmq_store_start(t->s), RMQ_OK);
    return t->s;
}

static inline void tctx_close(tctx_t *t)
{
    rmq_store_destroy(t->s);
    t->s = NULL;
}

/* Close the store; its directory goes with the test's (kept if it failed). */
static inline void tctx_fini(tctx_t *t)
{
    if (t->s)
        tctx_close(t);
    rmq_store_config_deinit(&t->conf);
}

/* A message with "TAGS", "KEYS" and a body "msg-<i>" padded to body_len. */
typedef struct {
    rmq_store_msg_t m;
    char body[4096];
    char props[256];
} tmsg_t;

static inline void tmsg(tmsg_t *x, const char *topic, int32_t qid, int i, size_t body_len, const char *tags,
                        const char *keys)
{
    memset(x, 0, sizeof(*x));
    int n = snprintf(x->body, sizeof(x->body), "msg-%d", i);
    if (body_len < (size_t)n)
        body_len = (size_t)n;
    for (size_t k = (size_t)n; k < body_len && k < sizeof(x->body); k++)
        x->body[k] = (char)('a' + k % 26);
    size_t pl = 0;
    if (tags)
        pl += (size_t)snprintf(x->props + pl, sizeof(x->props) - pl, "TAGS\001%s", tags);
    if (keys)
        pl += (size_t)snprintf(x->props + pl, sizeof(x->props) - pl, "%sKEYS\001%s", pl ? "\002" : "", keys);
    x->m.topic = topic;
    x->m.queue_id = qid;
    x->m.body = x->body;
    x->m.body_len = body_len;
    x->m.props = x->props;
    x->m.props_len = pl;
    x->m.born_timestamp = 1700000000000LL;
    x->m.born_host = (rmq_msg_host_t){.v6 = 0, .addr = {10, 0, 0, 1}, .port = 5555};
    x->m.store_host = (rmq_msg_host_t){.v6 = 0, .addr = {127, 0, 0, 2}, .port = 10911};
    x->m.wait_store_ok = true;
}

static inline rmq_put_status_t tput(rmq_store_t *s, const char *topic, int32_t qid, int i, size_t body_len,
                                    rmq_put_result_t *res)
{
    tmsg_t x;
    tmsg(&x, topic, qid, i, body_len, i % 2 ? "TagB" : "TagA", NULL);
    return rmq_store_put_message_wait(s, &x.m, res);
}

static inline int body_index(const rmq_msg_rec_t *r)
{
    char b[32] = {0};
    memcpy(b, r->body, r->body_len < 31 ? (size_t)r->body_len : 31);
    int i = -1;
    sscanf(b, "msg-%d", &i);
    return i;
}

#endif
