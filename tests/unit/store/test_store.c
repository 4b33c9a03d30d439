/* test_store.c - the message store: put/get, rolling with tiny segments,
 * group commit, flush failures, batches, delay rewrite, key index, offsets,
 * restart, recovery from damaged files, retention with pinned readers and
 * slave appends. Each test has its own mkdtemp directory. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "index_file.h"
#include "rmq_time.h"
#include "store_int.h"
#include "store_test_util.h"

TestSuite(store, .timeout = 90);

static void decode_ref(const rmq_store_ref_t *ref, rmq_msg_rec_t *r)
{
    cr_assert_eq(rmq_msg_decode(ref->data, ref->len, true, r), RMQ_OK, "record at %lld does not decode",
                 (long long)ref->offset);
    cr_assert_eq(r->commitlog_offset, ref->offset);
}

Test(store, put_get_basic)
{
    tctx_t t;
    tctx_init(&t);
    rmq_store_t *s = tctx_open(&t);
    rmq_put_result_t res;
    for (int i = 0; i < 10; i++) {
        cr_assert_eq(tput(s, "TopicA", 1, i, 20, &res), RMQ_PUT_OK);
        cr_assert_eq(res.queue_offset, i);
        cr_assert_eq(res.msg_num, 1);
        cr_assert_eq(strlen(res.msg_id), 32);
    }
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    rmq_get_result_t g;
    cr_assert_eq(rmq_store_get_message(s, "TopicA", 1, 0, 32, NULL, 0, &g), RMQ_GET_FOUND);
    cr_assert_eq(g.count, 10);
    cr_assert_eq(g.next_begin_offset, 10);
    cr_assert_eq(g.min_offset, 0);
    cr_assert_eq(g.max_offset, 10);
    for (size_t i = 0; i < g.count; i++) {
        rmq_msg_rec_t r;
        decode_ref(&g.msgs[i], &r);
        cr_assert_eq(r.queue_offset, (int64_t)i);
        cr_assert_eq(r.queue_id, 1);
        cr_assert_eq(body_index(&r), (int)i);
        cr_assert(r.store_host.port == 10911 && r.born_host.port == 5555);
    }
    /* the pull body (concatenated references) decodes with the client's codec */
    rmq_buf_t body;
    rmq_buf_init(&body);
    for (size_t i = 0; i < g.count; i++)
        rmq_buf_put(&body, g.msgs[i].data, g.msgs[i].len);
    cr_assert_eq(body.len, g.total_bytes);
    rmq_msg_rec_t *recs;
    size_t nrec;
    cr_assert_eq(rmq_msg_decode_all(body.data, body.len, true, &recs, &nrec), RMQ_OK);
    cr_assert_eq(nrec, 10);
    cr_assert_eq(recs[9].queue_offset, 9);
    free(recs);
    rmq_buf_free(&body);
    rmq_store_get_result_release(&g);
    /* the last put's msgId points at its record */
    rmq_msg_host_t h;
    int64_t off;
    cr_assert_eq(rmq_msg_id_parse(res.msg_id, 32, &h, &off), RMQ_OK);
    cr_assert_eq(off, res.wrote_offset);
    rmq_store_ref_t ref;
    cr_assert_eq(rmq_store_get_message_by_offset(s, off, &ref), RMQ_OK);
    rmq_msg_rec_t r;
    decode_ref(&ref, &r);
    cr_assert_eq(body_index(&r), 9);
    rmq_store_ref_release(ref.pin);

    /* tag filter: TagA only (even i) */
    int64_t code = rmq_msg_tags_code("TagA", 4);
    cr_assert_eq(rmq_store_get_message(s, "TopicA", 1, 0, 32, &code, 1, &g), RMQ_GET_FOUND);
    cr_assert_eq(g.count, 5);
    rmq_store_get_result_release(&g);
    int64_t none = 12345;
    cr_assert_eq(rmq_store_get_message(s, "TopicA", 1, 0, 32, &none, 1, &g), RMQ_GET_NO_MATCHED_MESSAGE);
    cr_assert_eq(g.next_begin_offset, 10);
    rmq_store_get_result_release(&g);
    /* statuses of docs/protocol.md §4.6 */
    cr_assert_eq(rmq_store_get_message(s, "TopicA", 1, 10, 32, NULL, 0, &g), RMQ_GET_OFFSET_OVERFLOW_ONE);
    cr_assert_eq(g.next_begin_offset, 10);
    cr_assert_eq(rmq_store_get_message(s, "TopicA", 1, 15, 32, NULL, 0, &g), RMQ_GET_OFFSET_OVERFLOW_BADLY);
    cr_assert_eq(rmq_store_get_message(s, "Nope", 0, 0, 32, NULL, 0, &g), RMQ_GET_NO_MATCHED_LOGIC_QUEUE);
    cr_assert_eq(rmq_store_get_message(s, "TopicA", 1, 3, 2, NULL, 0, &g), RMQ_GET_FOUND);
    cr_assert_eq(g.count, 2);
    cr_assert_eq(g.next_begin_offset, 5);
    rmq_store_get_result_release(&g);
    cr_assert_eq(rmq_store_get_max_offset_in_queue(s, "TopicA", 1), 10);
    cr_assert_eq(rmq_store_get_min_offset_in_queue(s, "TopicA", 1), 0);
    tctx_fini(&t);
}

Test(store, rolling_tiny_segments_and_reads_across)
{
    tctx_t t;
    tctx_init(&t);
    rmq_store_t *s = tctx_open(&t);
    rmq_put_result_t res;
    int64_t prev_end = 0;
    int blanks = 0;
    for (int i = 0; i < 200; i++) {
        cr_assert_eq(tput(s, "Roll", i % 2, i, 150 + (i * 37) % 400, &res), RMQ_PUT_OK, "put %d", i);
        if (res.wrote_offset != prev_end) {
            blanks++;
            cr_assert_eq(res.wrote_offset % 4096, 0, "a record after a blank starts a segment");
        }
        cr_assert_eq(res.wrote_offset / 4096, (res.wrote_offset + res.wrote_bytes - 1) / 4096,
                     "a record never spans segments");
        prev_end = res.wrote_offset + res.wrote_bytes;
    }
    cr_assert(blanks > 10);
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    for (int q = 0; q < 2; q++) {
        int64_t off = 0;
        int expect = q;
        while (off < 100) {
            rmq_get_result_t g;
            cr_assert_eq(rmq_store_get_message(s, "Roll", q, off, 7, NULL, 0, &g), RMQ_GET_FOUND);
            for (size_t k = 0; k < g.count; k++) {
                rmq_msg_rec_t r;
                decode_ref(&g.msgs[k], &r);
                cr_assert_eq(body_index(&r), expect);
                expect += 2;
            }
            off = g.next_begin_offset;
            rmq_store_get_result_release(&g);
        }
        cr_assert_eq(off, 100);
    }
    /* segment files are 20-digit names of their start offset */
    char path[512];
    snprintf(path, sizeof(path), "%s/commitlog/%020d", t.dir, 4096);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_size, 4096);
    snprintf(path, sizeof(path), "%s/consumequeue/Roll/0/%020d", t.dir, 200);
    cr_assert_eq(stat(path, &st), 0, "consume queue rolled too");
    cr_assert_eq(st.st_size, 200);
    tctx_fini(&t);
}

typedef struct {
    rmq_store_t *s;
    int id;
    int n;
    _Atomic int ok, timeout, other, early;
} gc_arg_t;

/* Runs at the moment of the acknowledgement (on the flush thread): under
 * SYNC_FLUSH an msync must already cover the message's bytes. */
static void gc_cb(void *opaque, const rmq_put_result_t *res)
{
    gc_arg_t *a = opaque;
    rmq_store_stats_t st;
    rmq_store_get_stats(a->s, &st);
    if (res->status == RMQ_PUT_OK && st.commitlog_synced_to < res->wrote_offset + res->wrote_bytes)
        atomic_fetch_add(&a->early, 1);
    if (res->status == RMQ_PUT_OK)
        atomic_fetch_add(&a->ok, 1);
    else if (res->status == RMQ_PUT_FLUSH_DISK_TIMEOUT)
        atomic_fetch_add(&a->timeout, 1);
    else
        atomic_fetch_add(&a->other, 1);
}

static void *gc_thread(void *p)
{
    gc_arg_t *a = p;
    for (int i = 0; i < a->n; i++) {
        tmsg_t x;
        tmsg(&x, "Sync", a->id, i, 64, "T", NULL);
        rmq_put_result_t res;
        rmq_put_status_t st = rmq_store_put_message(a->s, &x.m, &res, gc_cb, a);
        if (st != RMQ_PUT_OK)
            atomic_fetch_add(&a->other, 1);
        else if (!res.pending)
            atomic_fetch_add(&a->other, 1); /* acknowledged at once: SYNC_FLUSH must wait */
    }
    return NULL;
}

/* Group commit: every SYNC_FLUSH put is acknowledged only after an msync
 * covered it. Fails if an acknowledgement comes first (seen at the ack, in
 * the callback, and by the store's own audit counter), or if a failed msync
 * is reported as success. The audit counts msync calls, not the store's
 * bookkeeping, so it tells SYNC_FLUSH from ASYNC_FLUSH, which a kill -9
 * cannot (the page cache survives it). */
Test(store, sync_flush_group_commit)
{
    tctx_t t;
    tctx_init(&t);
    tctx_set(&t, "flushDiskType", "SYNC_FLUSH");
    tctx_set(&t, "mappedFileSizeCommitLog", "65536");
    /* an ASYNC_FLUSH store would flush every minute only: an early ack
     * could not be covered by chance */
    tctx_set(&t, "flushIntervalCommitLog", "60000");
    tctx_set(&t, "flushCommitLogThoroughInterval", "600000");
    rmq_store_t *s = tctx_open(&t);
    gc_arg_t a[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        memset(&a[i], 0, sizeof(a[i]));
        a[i].s = s;
        a[i].id = i;
        a[i].n = 200;
        pthread_create(&th[i], NULL, gc_thread, &a[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    int done = 0;
    TH_WAIT_UNTIL(__extension__({
                      done = 0;
                      for (int i = 0; i < 4; i++)
                          done +=
                              atomic_load(&a[i].ok) + atomic_load(&a[i].timeout) + atomic_load(&a[i].other);
                      done == 800;
                  }),
                  20000);
    cr_assert_eq(done, 800);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(atomic_load(&a[i].ok), 200, "thread %d: ok %d timeout %d other %d", i,
                     atomic_load(&a[i].ok), atomic_load(&a[i].timeout), atomic_load(&a[i].other));
        cr_assert_eq(atomic_load(&a[i].early), 0,
                     "thread %d: %d acknowledgements before an msync covered them", i,
                     atomic_load(&a[i].early));
    }
    cr_assert(rmq_store_get_flushed_offset(s) >= rmq_store_get_commitlog_max_offset(s));
    rmq_store_stats_t st;
    rmq_store_get_stats(s, &st);
    cr_assert_eq(st.sync_acks_before_flush, 0, "the store's audit counted %lld early acknowledgements",
                 (long long)st.sync_acks_before_flush);
    cr_assert_geq(st.commitlog_synced_to, rmq_store_get_commitlog_max_offset(s));

    /* a failed msync is never reported as success */
    rmq_store_test_fail_flushes(s, 1);
    rmq_put_result_t res;
    cr_assert_eq(tput(s, "Sync", 0, 999, 64, &res), RMQ_PUT_FLUSH_DISK_TIMEOUT);
    cr_assert_eq(tput(s, "Sync", 0, 1000, 64, &res), RMQ_PUT_OK);
    rmq_store_get_stats(s, &st);
    cr_assert_eq(st.sync_acks_before_flush, 0);
    tctx_fini(&t);
}

Test(store, sync_flush_timeout_when_the_disk_hangs)
{
    tctx_t t;
    tctx_init(&t);
    tctx_set(&t, "flushDiskType", "SYNC_FLUSH");
    tctx_set(&t, "syncFlushTimeout", "500");
    rmq_store_t *s = tctx_open(&t);
    rmq_put_result_t res;
    cr_assert_eq(tput(s, "Hang", 0, 0, 64, &res), RMQ_PUT_OK);
    /* the disk hangs until the test says otherwise */
    rmq_store_test_stall_flushes(s, 600000);
    cr_assert(TH_WAIT_UNTIL(rmq_store_test_flush_stalled(s), 10000), "the flush never reached the stall");
    int64_t t0 = rmq_mono_ms();
    cr_assert_eq(tput(s, "Hang", 0, 1, 64, &res), RMQ_PUT_FLUSH_DISK_TIMEOUT);
    int64_t waited = rmq_mono_ms() - t0;
    cr_assert_geq(waited, 490, "answered after %lld ms, before syncFlushTimeout", (long long)waited);
    /* answered while the flush still hangs: the timeout does not wait for the disk */
    cr_assert(rmq_store_test_flush_stalled(s), "answered only after the hanging flush ended");
    /* stored nonetheless (FLUSH_DISK_TIMEOUT is one of the "stored" codes) */
    rmq_store_ref_t ref;
    cr_assert_eq(rmq_store_get_message_by_offset(s, res.wrote_offset, &ref), RMQ_OK);
    rmq_store_ref_release(ref.pin);
    rmq_store_test_stall_flushes(s, 0);
    cr_assert(TH_WAIT_UNTIL(!rmq_store_test_flush_stalled(s), 10000), "the stall did not end");
    /* a loaded disk may still be slower than 500 ms now and then */
    int i = 2;
    cr_assert(TH_WAIT_UNTIL(tput(s, "Hang", 0, i++, 64, &res) == RMQ_PUT_OK, 30000),
              "flushes never succeed again");
    rmq_store_stats_t st;
    rmq_store_get_stats(s, &st);
    cr_assert_eq(st.sync_acks_before_flush, 0);
    tctx_fini(&t);
}

Test(store, async_flush_does_not_wait)
{
    tctx_t t;
    tctx_init(&t);
    tctx_set(&t, "flushIntervalCommitLog", "20");
    tctx_set(&t, "flushCommitLogLeastPages", "0");
    rmq_store_t *s = tctx_open(&t);
    rmq_put_result_t res;
    tmsg_t x;
    tmsg(&x, "Async", 0, 1, 64, NULL, NULL);
    cr_assert_eq(rmq_store_put_message(s, &x.m, &res, NULL, NULL), RMQ_PUT_OK);
    cr_assert(!res.pending);
    cr_assert(TH_WAIT_UNTIL(rmq_store_get_flushed_offset(s) >= res.wrote_offset + res.wrote_bytes, 10000),
              "not flushed in the background");
    tctx_fini(&t);
}

Test(store, async_flush_least_pages_rule)
{
    tctx_t t;
    tctx_init(&t);
    tctx_set(&t, "mappedFileSizeCommitLog", "1048576");
    tctx_set(&t, "flushIntervalCommitLog", "10");
    tctx_set(&t, "flushCommitLogLeastPages", "4");
    tctx_set(&t, "flushCommitLogThoroughInterval", "3600000");
    rmq_store_t *s = tctx_open(&t);
    int64_t base = rmq_store_get_flushed_offset(s);
    rmq_put_result_t res;
    cr_assert_eq(tput(s, "Least", 0, 0, 100, &res), RMQ_PUT_OK);
    /* 20 flush intervals (10 ms) pass without a flush */
    cr_assert_not(TH_WAIT_UNTIL(rmq_store_get_flushed_offset(s) != base, 200),
                  "less than 4 dirty pages were flushed");
    for (int i = 1; i < 40; i++) /* ~ 6 pages */
        cr_assert_eq(tput(s, "Least", 0, i, 600, &res), RMQ_PUT_OK);
    int64_t end = res.wrote_offset + res.wrote_bytes;
    /* Java's rule: flush once the written end is 4 pages past the flushed
     * one. A flush may fall between the puts above, so what is left after
     * it can be under 4 pages and rightly stay dirty: wait for a flush and
     * for fewer than 4 dirty pages (in the commit log's own offsets). */
    long ps = sysconf(_SC_PAGESIZE);
    cr_assert(TH_WAIT_UNTIL(rmq_store_get_flushed_offset(s) != base &&
                                end / ps - rmq_store_get_flushed_offset(s) / ps < 4,
                            10000),
              "4 dirty pages were not flushed (flushed %lld, written %lld)",
              (long long)rmq_store_get_flushed_offset(s), (long long)end);
    tctx_fini(&t);
}

Test(store, illegal_messages)
{
    tctx_t t;
    tctx_init(&t);
    rmq_store_t *s = tctx_open(&t);
    rmq_put_result_t res;
    tmsg_t x;
    tmsg(&x, "bad topic", 0, 1, 10, NULL, NULL);
    cr_assert_eq(rmq_store_put_message(s, &x.m, &res, NULL, NULL), RMQ_PUT_MESSAGE_ILLEGAL);
    tmsg(&x, "", 0, 1, 10, NULL, NULL);
    cr_assert_eq(rmq_store_put_message(s, &x.m, &res, NULL, NULL), RMQ_PUT_MESSAGE_ILLEGAL);
    char longt[200];
    memset(longt, 'a', 199);
    longt[199] = 0;
    tmsg(&x, longt, 0, 1, 10, NULL, NULL);
    cr_assert_eq(rmq_store_put_message(s, &x.m, &res, NULL, NULL), RMQ_PUT_MESSAGE_ILLEGAL);
    tmsg(&x, "Ok", 0, 1, 3000, NULL, NULL); /* > maxMessageSize 2048 */
    cr_assert_eq(rmq_store_put_message(s, &x.m, &res, NULL, NULL), RMQ_PUT_MESSAGE_ILLEGAL);
    cr_assert_eq(rmq_put_status_to_code(res.status), RMQ_ERR_MESSAGE_ILLEGAL);
    tmsg(&x, "Ok", 0, 1, 10, NULL, NULL);
    x.m.props_len = 40000;
    char *big = calloc(1, 40000);
    x.m.props = big;
    cr_assert_eq(rmq_store_put_message(s, &x.m, &res, NULL, NULL), RMQ_PUT_PROPERTIES_SIZE_EXCEEDED);
    /* a record larger than a segment */
    x.m.props_len = 3000;
    cr_assert_eq(rmq_store_put_message(s, &x.m, &res, NULL, NULL), RMQ_PUT_OK);
    x.m.body_len = 2000;
    x.m.props_len = 3000;
    cr_assert_eq(rmq_store_put_message(s, &x.m, &res, NULL, NULL), RMQ_PUT_MESSAGE_ILLEGAL);
    free(big);
    cr_assert_str_eq(rmq_put_status_name(RMQ_PUT_SERVICE_NOT_AVAILABLE), "SERVICE_NOT_AVAILABLE");
    tctx_fini(&t);
}

Test(store, batch_append)
{
    tctx_t t;
    tctx_init(&t);
    tctx_set(&t, "mappedFileSizeCommitLog", "65536");
    rmq_store_t *s = tctx_open(&t);
    rmq_put_result_t res;
    cr_assert_eq(tput(s, "Batch", 0, 0, 10, &res), RMQ_PUT_OK);
    tmsg_t x[5];
    rmq_store_msg_t m[5];
    for (int i = 0; i < 5; i++) {
        tmsg(&x[i], "Batch", 0, i + 1, 30, "TagBatch", NULL);
        m[i] = x[i].m;
    }
    cr_assert_eq(rmq_store_put_messages_wait(s, m, 5, &res), RMQ_PUT_OK);
    cr_assert_eq(res.msg_num, 5);
    cr_assert_eq(res.queue_offset, 1);
    int commas = 0;
    for (char *p = res.msg_id; *p; p++)
        commas += *p == ',';
    cr_assert_eq(commas, 4);
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    cr_assert_eq(rmq_store_get_max_offset_in_queue(s, "Batch", 0), 6);
    rmq_buf_t ids;
    rmq_buf_init(&ids);
    rmq_store_batch_msg_ids(m, 5, &res, &ids);
    cr_assert_str_eq(rmq_buf_cstr(&ids), res.msg_id);
    rmq_buf_free(&ids);
    /* a batch too large for the fixed msg_id buffer */
    tmsg_t *big = calloc(200, sizeof(*big));
    rmq_store_msg_t *bm = calloc(200, sizeof(*bm));
    for (int i = 0; i < 200; i++) {
        tmsg(&big[i], "Batch", 0, 100 + i, 1, NULL, NULL);
        big[i].m.props_len = 0;
        bm[i] = big[i].m;
    }
    cr_assert_eq(rmq_store_put_messages_wait(s, bm, 200, &res), RMQ_PUT_OK);
    cr_assert(res.msg_id_truncated);
    rmq_buf_init(&ids);
    rmq_store_batch_msg_ids(bm, 200, &res, &ids);
    char *last = strrchr(rmq_buf_cstr(&ids), ',') + 1;
    rmq_msg_host_t h;
    int64_t lo;
    cr_assert_eq(rmq_msg_id_parse(last, strlen(last), &h, &lo), RMQ_OK);
    rmq_store_ref_t ref;
    cr_assert_eq(rmq_store_get_message_by_offset(s, lo, &ref), RMQ_OK);
    rmq_msg_rec_t r;
    cr_assert_eq(rmq_msg_decode(ref.data, ref.len, true, &r), RMQ_OK);
    cr_assert_eq(body_index(&r), 299);
    rmq_store_ref_release(ref.pin);
    rmq_buf_free(&ids);
    free(big);
    free(bm);
    /* mixed queues or a DELAY in a batch are illegal */
    m[2].queue_id = 1;
    cr_assert_eq(rmq_store_put_messages_wait(s, m, 5, &res), RMQ_PUT_MESSAGE_ILLEGAL);
    tctx_fini(&t);
}

Test(store, delay_level_rewrite)
{
    tctx_t t;
    tctx_init(&t);
    rmq_store_t *s = tctx_open(&t);
    tmsg_t x;
    tmsg(&x, "Orig", 3, 7, 10, "TagD", NULL);
    char props[128];
    int n = snprintf(props, sizeof(props), "TAGS\001TagD\002DELAY\0013");
    x.m.props = props;
    x.m.props_len = (size_t)n;
    rmq_put_result_t res;
    cr_assert_eq(rmq_store_put_message_wait(s, &x.m, &res), RMQ_PUT_OK);
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    cr_assert_eq(rmq_store_get_max_offset_in_queue(s, "SCHEDULE_TOPIC_XXXX", 2), 1);
    cr_assert_eq(rmq_store_get_max_offset_in_queue(s, "Orig", 3), 0);
    int64_t code = res.store_timestamp + 10000; /* level 3 = 10s */
    cr_assert_eq(rmq_store_delay_level_ms(s, 3), 10000);
    cr_assert_eq(rmq_store_max_delay_level(s), 18);
    rmq_get_result_t g;
    cr_assert_eq(rmq_store_get_message(s, "SCHEDULE_TOPIC_XXXX", 2, 0, 1, &code, 1, &g), RMQ_GET_FOUND);
    rmq_msg_rec_t r;
    decode_ref(&g.msgs[0], &r);
    rmq_msg_props_t p;
    rmq_msg_props_init(&p);
    rmq_msg_props_parse(&p, r.props, r.props_len);
    cr_assert_str_eq(rmq_msg_props_get(&p, "REAL_TOPIC"), "Orig");
    cr_assert_str_eq(rmq_msg_props_get(&p, "REAL_QID"), "3");
    cr_assert_str_eq(rmq_msg_props_get(&p, "DELAY"), "3");
    rmq_msg_props_free(&p);
    rmq_store_get_result_release(&g);
    tctx_fini(&t);
}

static _Atomic int arrived_count;
static void on_arrived(void *opaque, const char *topic, int32_t qid, int64_t off, int64_t tags, int64_t ts,
                       const char *props, size_t pl)
{
    (void)opaque, (void)tags, (void)ts, (void)props, (void)pl, (void)qid;
    if (strcmp(topic, "Keys") == 0 && off >= 0)
        atomic_fetch_add(&arrived_count, 1);
}

Test(store, key_index_offsets_and_hook)
{
    tctx_t t;
    tctx_init(&t);
    rmq_store_t *s = tctx_open(&t);
    rmq_store_set_arrived_cb(s, on_arrived, NULL);
    rmq_put_result_t res;
    int64_t t0 = rmq_now_ms();
    for (int i = 0; i < 20; i++) {
        tmsg_t x;
        char keys[64];
        snprintf(keys, sizeof(keys), "k%d common", i);
        tmsg(&x, "Keys", 0, i, 10, "T", keys);
        char props[200];
        int n =
            snprintf(props, sizeof(props), "%.*s\002UNIQ_KEY\001UNIQ%04d", (int)x.m.props_len, x.props, i);
        x.m.props = props;
        x.m.props_len = (size_t)n;
        cr_assert_eq(rmq_store_put_message_wait(s, &x.m, &res), RMQ_PUT_OK);
        if (i == 9) /* the next store times are later */
            cr_assert(TH_WAIT_UNTIL(rmq_now_ms() >= res.store_timestamp + 20, 5000));
    }
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    cr_assert_eq(atomic_load(&arrived_count), 20);
    rmq_query_result_t q;
    cr_assert_eq(rmq_store_query_message(s, "Keys", "k7", 32, 0, INT64_MAX, &q), RMQ_OK);
    cr_assert_eq(q.count, 1);
    rmq_msg_rec_t r;
    decode_ref(&q.msgs[0], &r);
    cr_assert_eq(body_index(&r), 7);
    rmq_store_query_result_release(&q);
    cr_assert_eq(rmq_store_query_message(s, "Keys", "UNIQ0013", 32, 0, INT64_MAX, &q), RMQ_OK);
    cr_assert_eq(q.count, 1);
    decode_ref(&q.msgs[0], &r);
    cr_assert_eq(body_index(&r), 13);
    rmq_store_query_result_release(&q);
    cr_assert_eq(rmq_store_query_message(s, "Keys", "common", 5, 0, INT64_MAX, &q), RMQ_OK);
    cr_assert_eq(q.count, 5);
    cr_assert(q.index_last_update_phyoffset > 0 && q.index_last_update_timestamp >= t0);
    rmq_store_query_result_release(&q);
    cr_assert_eq(rmq_store_query_message(s, "Other", "k7", 32, 0, INT64_MAX, &q), RMQ_OK);
    cr_assert_eq(q.count, 0);
    rmq_store_query_result_release(&q);

    /* offsets and times */
    int64_t e = rmq_store_get_earliest_msg_store_time(s, "Keys", 0);
    cr_assert(e >= t0 && e <= rmq_now_ms());
    cr_assert_eq(rmq_store_get_earliest_store_time(s), e);
    cr_assert_eq(rmq_store_get_offset_by_time(s, "Keys", 0, 0), 0);
    cr_assert_eq(rmq_store_get_offset_by_time(s, "Keys", 0, INT64_MAX / 2), 19);
    int64_t phy10 = rmq_store_get_commitlog_offset_in_queue(s, "Keys", 0, 10);
    rmq_store_ref_t ref;
    cr_assert_eq(rmq_store_get_message_by_offset(s, phy10, &ref), RMQ_OK);
    decode_ref(&ref, &r);
    rmq_store_ref_release(ref.pin);
    int64_t by_time = rmq_store_get_offset_by_time(s, "Keys", 0, r.store_timestamp);
    cr_assert(by_time <= 10 && by_time >= 0);
    cr_assert_eq(rmq_store_get_commitlog_min_offset(s), 0);
    cr_assert_eq(rmq_store_get_commitlog_max_offset(s), res.wrote_offset + res.wrote_bytes);
    tctx_fini(&t);
}

Test(store, restart_clean_keeps_everything)
{
    tctx_t t;
    tctx_init(&t);
    rmq_store_t *s = tctx_open(&t);
    rmq_put_result_t res;
    for (int i = 0; i < 50; i++)
        cr_assert_eq(tput(s, "Re", 0, i, 100, &res), RMQ_PUT_OK);
    int64_t end = res.wrote_offset + res.wrote_bytes;
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    tctx_close(&t);
    char path[400];
    snprintf(path, sizeof(path), "%s/abort", t.dir);
    cr_assert_neq(access(path, F_OK), 0, "clean shutdown removes abort");
    s = tctx_open(&t);
    cr_assert_eq(access(path, F_OK), 0, "running store has abort");
    cr_assert_eq(rmq_store_get_commitlog_max_offset(s), end);
    cr_assert_eq(rmq_store_get_max_offset_in_queue(s, "Re", 0), 50);
    cr_assert_eq(tput(s, "Re", 0, 50, 100, &res), RMQ_PUT_OK);
    cr_assert_eq(res.queue_offset, 50);
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    rmq_get_result_t g;
    /* a read stops at the end of a consume-queue file (10 units here) */
    cr_assert_eq(rmq_store_get_message(s, "Re", 0, 48, 32, NULL, 0, &g), RMQ_GET_FOUND);
    cr_assert_eq(g.count, 2);
    cr_assert_eq(g.next_begin_offset, 50);
    rmq_store_get_result_release(&g);
    cr_assert_eq(rmq_store_get_message(s, "Re", 0, 50, 32, NULL, 0, &g), RMQ_GET_FOUND);
    cr_assert_eq(g.count, 1);
    cr_assert_eq(g.max_offset, 51);
    rmq_store_get_result_release(&g);
    /* a second store on the same directory is refused */
    char err[256];
    cr_assert_null(rmq_store_open(&t.conf, err, sizeof(err)));
    tctx_fini(&t);
}

/* Fill a store, close it, then damage it with f() and reopen as after a crash. */
static int64_t fill_and_close(tctx_t *t, int n, int64_t *ends)
{
    rmq_store_t *s = tctx_open(t);
    rmq_put_result_t res;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(tput(s, "Crash", 0, i, 120, &res), RMQ_PUT_OK);
        if (ends)
            ends[i] = res.wrote_offset + res.wrote_bytes;
    }
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    tctx_close(t);
    char path[400];
    snprintf(path, sizeof(path), "%s/abort", t->dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0644);
    close(fd);
    return res.wrote_offset;
}

static void verify_consistent_s(rmq_store_t *s, const char *topic, int32_t qid, int expect_n, int stride)
{
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    int64_t max = rmq_store_get_max_offset_in_queue(s, topic, qid);
    cr_assert_eq(max, expect_n, "queue has %lld entries, expected %d", (long long)max, expect_n);
    for (int64_t o = rmq_store_get_min_offset_in_queue(s, topic, qid); o < max; o++) {
        int64_t phy = rmq_store_get_commitlog_offset_in_queue(s, topic, qid, o);
        rmq_store_ref_t ref;
        cr_assert_eq(rmq_store_get_message_by_offset(s, phy, &ref), RMQ_OK, "entry %lld", (long long)o);
        rmq_msg_rec_t r;
        decode_ref(&ref, &r);
        cr_assert_eq(r.queue_offset, o);
        cr_assert_eq(body_index(&r), qid + (int)o * stride);
        rmq_store_ref_release(ref.pin);
    }
}

static void verify_consistent(rmq_store_t *s, const char *topic, int32_t qid, int expect_n)
{
    verify_consistent_s(s, topic, qid, expect_n, 1);
}

static char *cl_file(tctx_t *t, int64_t off)
{
    return rmq_asprintf("%s/commitlog/%020lld", t->dir, (long long)(off - off % 4096));
}

Test(store, recover_garbage_past_tail)
{
    tctx_t t;
    tctx_init(&t);
    int64_t ends[30];
    fill_and_close(&t, 30, ends);
    int64_t end = ends[29];
    char *p = cl_file(&t, end);
    int fd = open(p, O_WRONLY);
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 7 + 1);
    /* a fake record header too: right magic, bad body */
    rmq_wbe32(junk, 200);
    rmq_wbe32(junk + 4, RMQ_MSG_MAGIC);
    cr_assert_eq(
        pwrite(fd, junk,
               sizeof(junk) < (size_t)(4096 - end % 4096) ? sizeof(junk) : (size_t)(4096 - end % 4096),
               end % 4096),
        (ssize_t)(sizeof(junk) < (size_t)(4096 - end % 4096) ? sizeof(junk) : (size_t)(4096 - end % 4096)));
    close(fd);
    free(p);
    rmq_store_t *s = tctx_open(&t);
    cr_assert_eq(rmq_store_get_commitlog_max_offset(s), end);
    verify_consistent(s, "Crash", 0, 30);
    rmq_put_result_t res;
    cr_assert_eq(tput(s, "Crash", 0, 30, 120, &res), RMQ_PUT_OK);
    cr_assert_eq(res.queue_offset, 30);
    verify_consistent(s, "Crash", 0, 31);
    tctx_fini(&t);
}

Test(store, recover_flipped_byte_in_last_record)
{
    tctx_t t;
    tctx_init(&t);
    int64_t ends[30];
    int64_t last = fill_and_close(&t, 30, ends);
    char *p = cl_file(&t, last);
    int fd = open(p, O_RDWR);
    uint8_t b;
    off_t pos = (off_t)(last % 4096) + 100; /* inside the body */
    cr_assert_eq(pread(fd, &b, 1, pos), 1);
    b ^= 0x10;
    cr_assert_eq(pwrite(fd, &b, 1, pos), 1);
    close(fd);
    free(p);
    rmq_store_t *s = tctx_open(&t);
    cr_assert_eq(rmq_store_get_commitlog_max_offset(s), ends[28], "the torn record is cut off");
    verify_consistent(s, "Crash", 0, 29);
    rmq_put_result_t res;
    cr_assert_eq(tput(s, "Crash", 0, 29, 120, &res), RMQ_PUT_OK);
    cr_assert_eq(res.queue_offset, 29);
    cr_assert_eq(res.wrote_offset, ends[28]);
    verify_consistent(s, "Crash", 0, 30);
    tctx_fini(&t);
}

Test(store, recover_truncated_segment)
{
    tctx_t t;
    tctx_init(&t);
    int64_t ends[30];
    int64_t last = fill_and_close(&t, 30, ends);
    char *p = cl_file(&t, last);
    cr_assert_eq(truncate(p, (off_t)(last % 4096) + 50), 0); /* mid-record */
    free(p);
    rmq_store_t *s = tctx_open(&t);
    cr_assert_eq(rmq_store_get_commitlog_max_offset(s), ends[28]);
    verify_consistent(s, "Crash", 0, 29);
    rmq_put_result_t res;
    cr_assert_eq(tput(s, "Crash", 0, 29, 120, &res), RMQ_PUT_OK);
    verify_consistent(s, "Crash", 0, 30);
    tctx_fini(&t);
}

Test(store, recover_missing_consume_queue_file)
{
    tctx_t t;
    tctx_init(&t);
    fill_and_close(&t, 30, NULL); /* 30 entries, 10 per CQ file */
    char cmd[600];
    /* remove the last CQ file, and (clean restart) also the whole dir of another run */
    snprintf(cmd, sizeof(cmd), "rm -f %s/consumequeue/Crash/0/%020d %s/abort", t.dir, 400, t.dir);
    cr_assert_eq(system(cmd), 0);
    rmq_store_t *s = tctx_open(&t);
    verify_consistent(s, "Crash", 0, 30);
    tctx_close(&t);
    snprintf(cmd, sizeof(cmd), "rm -rf %s/consumequeue/Crash", t.dir);
    cr_assert_eq(system(cmd), 0);
    s = tctx_open(&t);
    verify_consistent(s, "Crash", 0, 30);
    rmq_put_result_t res;
    cr_assert_eq(tput(s, "Crash", 0, 30, 120, &res), RMQ_PUT_OK);
    cr_assert_eq(res.queue_offset, 30);
    tctx_fini(&t);
}

static bool exists(const char *p)
{
    return access(p, F_OK) == 0;
}

Test(store, retention_waits_for_pinned_reader)
{
    tctx_t t;
    tctx_init(&t);
    tctx_set(&t, "fileReservedTime", "1");
    tctx_set(&t, "destroyMapedFileIntervalForcibly", "3600000");
    rmq_store_t *s = tctx_open(&t);
    rmq_put_result_t res;
    for (int i = 0; i < 100; i++)
        cr_assert_eq(tput(s, "Ret", 0, i, 200, &res), RMQ_PUT_OK);
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    /* a reader pins the first segment */
    rmq_get_result_t g;
    cr_assert_eq(rmq_store_get_message(s, "Ret", 0, 0, 1, NULL, 0, &g), RMQ_GET_FOUND);
    /* nothing is expired yet */
    rmq_store_execute_delete_files_manually(s);
    rmq_store_clean_once(s);
    cr_assert_eq(rmq_store_get_commitlog_min_offset(s), 0);
    /* age every segment by 2 hours */
    char *seg0 = rmq_asprintf("%s/commitlog/%020d", t.dir, 0);
    DIR *d;
    char *cldir = rmq_asprintf("%s/commitlog", t.dir);
    cr_assert_not_null(d = opendir(cldir));
    struct dirent *de;
    time_t old = time(NULL) - 7200;
    struct utimbuf ub = {old, old};
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = rmq_asprintf("%s/%s", cldir, de->d_name);
        utime(p, &ub);
        free(p);
    }
    closedir(d);
    rmq_store_execute_delete_files_manually(s);
    rmq_store_clean_once(s);
    int64_t min = rmq_store_get_commitlog_min_offset(s);
    cr_assert(min > 0, "expired segments deleted (min %lld)", (long long)min);
    cr_assert(exists(seg0), "the pinned segment is not unlinked yet");
    /* the pinned bytes are still readable */
    rmq_msg_rec_t r;
    decode_ref(&g.msgs[0], &r);
    cr_assert_eq(body_index(&r), 0);
    /* the consume queue's min offset moved with it */
    int64_t qmin = rmq_store_get_min_offset_in_queue(s, "Ret", 0);
    cr_assert(qmin > 0);
    rmq_get_result_t g2;
    cr_assert_eq(rmq_store_get_message(s, "Ret", 0, 0, 1, NULL, 0, &g2), RMQ_GET_OFFSET_TOO_SMALL);
    cr_assert_eq(g2.next_begin_offset, qmin);
    cr_assert_eq(rmq_store_get_message(s, "Ret", 0, qmin, 1, NULL, 0, &g2), RMQ_GET_FOUND);
    rmq_store_get_result_release(&g2);
    rmq_store_get_result_release(&g);
    /* the next clean passes unlink it; a pass may still find it held for a
     * moment by the allocate thread's page warm-up of the segment the writer
     * had been on (fails if the released reader's pin is never dropped) */
    cr_assert(TH_WAIT_UNTIL((rmq_store_clean_once(s), !exists(seg0)), 10000), "unlinked once released");
    free(seg0);
    free(cldir);
    tctx_fini(&t);
}

Test(store, slave_append_raw_dispatches)
{
    tctx_t a, b;
    tctx_init(&a);
    tctx_init(&b);
    rmq_store_t *sa = tctx_open(&a);
    rmq_put_result_t res;
    for (int i = 0; i < 60; i++)
        cr_assert_eq(tput(sa, "Repl", i % 3, i, 90, &res), RMQ_PUT_OK);
    int64_t end = rmq_store_get_commitlog_max_offset(sa);
    tctx_set(&b, "brokerRole", "SLAVE");
    rmq_store_t *sb = tctx_open(&b);
    /* the master's raw bytes as HA reads them: whole segments up to the end */
    int64_t total = 0;
    for (int64_t o = 0; o < end;) {
        rmq_store_ref_t ref;
        cr_assert_eq(rmq_store_get_commitlog_data(sa, o, &ref), RMQ_OK);
        cr_assert(ref.len > 0 && (o % 4096) + (int64_t)ref.len <= 4096);
        total += (int64_t)ref.len;
        o += (int64_t)ref.len;
        rmq_store_ref_release(ref.pin);
    }
    cr_assert_eq(total, end);
    rmq_store_ref_t none;
    cr_assert_eq(rmq_store_get_commitlog_data(sa, end, &none), RMQ_ERR__NOENT);
    /* ship the master's bytes in odd-sized chunks */
    int64_t off = 0;
    while (off < end) {
        int64_t seg = off - off % 4096;
        char *p = rmq_asprintf("%s/commitlog/%020lld", a.dir, (long long)seg);
        int fd = open(p, O_RDONLY);
        free(p);
        size_t chunk = 777;
        if ((int64_t)chunk > end - off)
            chunk = (size_t)(end - off);
        if ((int64_t)chunk > seg + 4096 - off)
            chunk = (size_t)(seg + 4096 - off);
        uint8_t buf[4096];
        cr_assert_eq(pread(fd, buf, chunk, off - seg), (ssize_t)chunk);
        close(fd);
        cr_assert_eq(rmq_store_append_raw(sb, off, buf, chunk), RMQ_OK);
        off += (int64_t)chunk;
    }
    cr_assert_eq(rmq_store_append_raw(sb, 5, "x", 1), RMQ_ERR__INVALID_ARG);
    /* a record shipped in two pieces with a pause in between is dispatched once complete */
    {
        cr_assert_eq(tput(sa, "Repl", 0, 60, 90, &res), RMQ_PUT_OK);
        end = rmq_store_get_commitlog_max_offset(sa);
        while (off < end) {
            rmq_store_ref_t ref;
            cr_assert_eq(rmq_store_get_commitlog_data(sa, off, &ref), RMQ_OK);
            size_t first = ref.len > 50 ? 50 : ref.len;
            cr_assert_eq(rmq_store_append_raw(sb, off, ref.data, first), RMQ_OK);
            th_pace_ms(30, "the dispatcher runs while only part of the record is there");
            if (ref.len > first)
                cr_assert_eq(
                    rmq_store_append_raw(sb, off + (int64_t)first, ref.data + first, ref.len - first),
                    RMQ_OK);
            off += (int64_t)ref.len;
            rmq_store_ref_release(ref.pin);
        }
        cr_assert(rmq_store_wait_dispatched(sb, 5000));
        cr_assert_eq(rmq_store_get_max_offset_in_queue(sb, "Repl", 0), 21);
    }
    cr_assert_eq(
        rmq_store_put_message_wait(sb, &(rmq_store_msg_t){.topic = "Repl", .body = "x", .body_len = 1}, &res),
        RMQ_PUT_SERVICE_NOT_AVAILABLE, "a slave refuses writes");
    verify_consistent_s(sb, "Repl", 1, 20, 3);
    verify_consistent_s(sb, "Repl", 2, 20, 3);
    /* a fresh slave may start at a later segment of the master */
    tctx_t c2;
    tctx_init(&c2);
    tctx_set(&c2, "brokerRole", "SLAVE");
    rmq_store_t *sc = tctx_open(&c2);
    int64_t start = 2 * 4096;
    for (int64_t o = start; o < end;) {
        rmq_store_ref_t ref;
        cr_assert_eq(rmq_store_get_commitlog_data(sa, o, &ref), RMQ_OK);
        cr_assert_eq(rmq_store_append_raw(sc, o, ref.data, ref.len), RMQ_OK);
        o += (int64_t)ref.len;
        rmq_store_ref_release(ref.pin);
    }
    cr_assert(rmq_store_wait_dispatched(sc, 5000));
    cr_assert_eq(rmq_store_get_commitlog_min_offset(sc), start);
    for (int q = 0; q < 3; q++) {
        int64_t min = rmq_store_get_min_offset_in_queue(sc, "Repl", q);
        cr_assert(min > 0);
        cr_assert_eq(rmq_store_get_max_offset_in_queue(sc, "Repl", q), q == 0 ? 21 : 20);
        rmq_get_result_t g;
        cr_assert_eq(rmq_store_get_message(sc, "Repl", q, 0, 32, NULL, 0, &g), RMQ_GET_OFFSET_TOO_SMALL);
        cr_assert_eq(rmq_store_get_message(sc, "Repl", q, min, 32, NULL, 0, &g), RMQ_GET_FOUND);
        rmq_msg_rec_t r;
        cr_assert_eq(rmq_msg_decode(g.msgs[0].data, g.msgs[0].len, true, &r), RMQ_OK);
        cr_assert_eq(r.queue_offset, min);
        rmq_store_get_result_release(&g);
    }
    tctx_fini(&c2);
    tctx_fini(&a);
    tctx_fini(&b);
}

/* Golden: the commit log of a real RocketMQ 4.9.8 broker (the six records of
 * a captured PULL body start at commit-log offset 0 and are contiguous) is
 * appended raw; dispatch must build the consume-queue units Java built, and
 * pulls must return the Java bytes unchanged. */
Test(store, golden_java_commitlog_to_consume_queue)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/store/11_PULL_MESSAGE_found_resp.bin", COMET_TEST_DATA);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f);
    uint8_t frame[4096];
    size_t flen = fread(frame, 1, sizeof(frame), f);
    fclose(f);
    uint32_t hl = rmq_be32(frame + 4) & 0xFFFFFF;
    const uint8_t *body = frame + 8 + hl;
    size_t blen = flen - 8 - hl;
    cr_assert_eq(blen, 1510);

    tctx_t t;
    tctx_init(&t);
    tctx_set(&t, "brokerRole", "SLAVE");
    rmq_store_t *s = tctx_open(&t);
    cr_assert_eq(rmq_store_append_raw(s, 0, body, blen), RMQ_OK);
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    cr_assert_eq(rmq_store_get_max_offset_in_queue(s, "GoldenTopic_json", 0), 6);
    /* the consume-queue file holds Java's units */
    rmq_store_destroy(s);
    t.s = NULL;
    snprintf(path, sizeof(path), "%s/consumequeue/GoldenTopic_json/0/%020d", t.dir, 0);
    f = fopen(path, "rb");
    cr_assert_not_null(f);
    uint8_t units[120];
    cr_assert_eq(fread(units, 1, sizeof(units), f), sizeof(units));
    fclose(f);
    int64_t offs[] = {0, 252, 518, 754, 1006, 1258};
    int32_t sizes[] = {252, 266, 236, 252, 252, 252};
    const char *tags[] = {"TagA", "TagB", "TagA", "TagBatch", "TagBatch", "TagBatch"};
    for (int i = 0; i < 6; i++) {
        cr_assert_eq((int64_t)rmq_be64(units + i * 20), offs[i]);
        cr_assert_eq((int32_t)rmq_be32(units + i * 20 + 8), sizes[i]);
        cr_assert_eq((int64_t)rmq_be64(units + i * 20 + 12), rmq_msg_tags_code(tags[i], strlen(tags[i])),
                     "unit %d", i);
    }
    /* reopen (clean): a pull returns the Java bytes unchanged */
    s = tctx_open(&t);
    rmq_get_result_t g;
    cr_assert_eq(rmq_store_get_message(s, "GoldenTopic_json", 0, 0, 32, NULL, 0, &g), RMQ_GET_FOUND);
    cr_assert_eq(g.count, 6);
    cr_assert_eq(g.total_bytes, blen);
    size_t pos = 0;
    for (size_t i = 0; i < g.count; i++) {
        cr_assert(memcmp(g.msgs[i].data, body + pos, g.msgs[i].len) == 0);
        /* and our encoder reproduces each Java record byte for byte */
        rmq_msg_rec_t r;
        cr_assert_eq(rmq_msg_decode(g.msgs[i].data, g.msgs[i].len, true, &r), RMQ_OK);
        uint8_t enc[512];
        cr_assert_eq(rmq_msg_encode(enc, &r), g.msgs[i].len);
        cr_assert(memcmp(enc, g.msgs[i].data, g.msgs[i].len) == 0);
        pos += g.msgs[i].len;
    }
    rmq_store_get_result_release(&g);
    /* the key index was built from the Java records too */
    rmq_query_result_t q;
    cr_assert_eq(rmq_store_query_message(s, "GoldenTopic_json", "KEY-ONE", 32, 0, INT64_MAX, &q), RMQ_OK);
    cr_assert_eq(q.count, 1);
    cr_assert_eq(q.msgs[0].offset, 0);
    rmq_store_query_result_release(&q);
    cr_assert_eq(rmq_store_get_offset_by_time(s, "GoldenTopic_json", 0, 1795505874145LL), 1);
    cr_assert_eq(rmq_store_get_earliest_msg_store_time(s, "GoldenTopic_json", 0), 1795505874100LL);
    tctx_fini(&t);
}

/* Recovery is bounded by what was written since the checkpoint, not by the
 * size of the log: normal recovery scans the last 3 segments, abnormal
 * recovery starts at the segment the checkpoint vouches for. */
Test(store, recovery_is_bounded)
{
    tctx_t t;
    tctx_init(&t);
    tctx_set(&t, "flushCommitLogThoroughInterval", "0");
    rmq_store_t *s = tctx_open(&t);
    rmq_put_result_t res;
    for (int i = 0; i < 400; i++) { /* ~ 30 segments, the second half 3.2 s later */
        if (i == 200)               /* the second half is stored 3.2 s later */
            cr_assert(TH_WAIT_UNTIL(rmq_now_ms() >= res.store_timestamp + 3200, 10000));
        cr_assert_eq(tput(s, "Bound", 0, i, 200, &res), RMQ_PUT_OK);
    }
    int64_t end = res.wrote_offset + res.wrote_bytes;
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    tctx_close(&t);
    /* the checkpoint holds the last store time for both the log and the queues */
    char *p = rmq_asprintf("%s/checkpoint", t.dir);
    FILE *f = fopen(p, "rb");
    cr_assert_not_null(f);
    uint8_t ck[24];
    cr_assert_eq(fread(ck, 1, 24, f), 24);
    fclose(f);
    free(p);
    cr_assert_eq((int64_t)rmq_be64(ck), res.store_timestamp, "physicMsgTimestamp");
    cr_assert_eq((int64_t)rmq_be64(ck + 8), res.store_timestamp, "logicsMsgTimestamp");
    s = tctx_open(&t);
    rmq_store_stats_t st;
    rmq_store_get_stats(s, &st);
    cr_assert(st.recovered_from >= end - end % 4096 - 2 * 4096,
              "normal recovery scanned from %lld (end %lld)", (long long)st.recovered_from, (long long)end);
    cr_assert_eq(st.recovered_records, 0);
    tctx_close(&t);
    /* make it look like a crash: the checkpoint (3 s safety margin) lets
     * recovery start at the first segment of the second half, not at 0 */
    p = rmq_asprintf("%s/abort", t.dir);
    int fd = open(p, O_CREAT | O_WRONLY, 0644);
    close(fd);
    free(p);
    s = tctx_open(&t);
    rmq_store_get_stats(s, &st);
    cr_assert(st.recovered_from > 0 && st.recovered_from < end, "abnormal recovery scanned from %lld",
              (long long)st.recovered_from);
    cr_assert(st.recovered_from >= end / 3, "abnormal recovery scanned from %lld of %lld",
              (long long)st.recovered_from, (long long)end);
    verify_consistent(s, "Bound", 0, 400);
    tctx_fini(&t);
}

/* Transaction half (PREPARED) and ROLLBACK records are stored but get no
 * consume-queue entry and no queue offset; COMMIT records do. */
Test(store, transaction_types_and_queue_offsets)
{
    tctx_t t;
    tctx_init(&t);
    rmq_store_t *s = tctx_open(&t);
    rmq_put_result_t res;
    int32_t flags[] = {0, RMQ_SYSFLAG_TRANSACTION_PREPARED, RMQ_SYSFLAG_TRANSACTION_COMMIT,
                       RMQ_SYSFLAG_TRANSACTION_ROLLBACK, 0};
    int64_t expect_qoff[] = {0, 0, 1, 0, 2};
    int64_t prepared_at = -1;
    for (int i = 0; i < 5; i++) {
        tmsg_t x;
        tmsg(&x, "Tx", 0, i, 20, "T", NULL);
        x.m.sys_flag = flags[i];
        if (flags[i] == RMQ_SYSFLAG_TRANSACTION_COMMIT)
            x.m.prepared_transaction_offset = prepared_at;
        cr_assert_eq(rmq_store_put_message_wait(s, &x.m, &res), RMQ_PUT_OK);
        cr_assert_eq(res.queue_offset, expect_qoff[i], "message %d", i);
        if (flags[i] == RMQ_SYSFLAG_TRANSACTION_PREPARED)
            prepared_at = res.wrote_offset;
    }
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    cr_assert_eq(rmq_store_get_max_offset_in_queue(s, "Tx", 0), 3);
    rmq_get_result_t g;
    cr_assert_eq(rmq_store_get_message(s, "Tx", 0, 0, 32, NULL, 0, &g), RMQ_GET_FOUND);
    cr_assert_eq(g.count, 3);
    rmq_msg_rec_t r;
    cr_assert_eq(rmq_msg_decode(g.msgs[1].data, g.msgs[1].len, true, &r), RMQ_OK);
    cr_assert_eq(r.sys_flag & RMQ_SYSFLAG_TRANSACTION_MASK, RMQ_SYSFLAG_TRANSACTION_COMMIT);
    cr_assert_eq(r.prepared_transaction_offset, prepared_at);
    rmq_store_get_result_release(&g);
    /* the half message is still readable by its commit-log offset */
    rmq_store_ref_t ref;
    cr_assert_eq(rmq_store_get_message_by_offset(s, prepared_at, &ref), RMQ_OK);
    rmq_store_ref_release(ref.pin);
    /* and a restart rebuilds the same next offset */
    tctx_close(&t);
    s = tctx_open(&t);
    tmsg_t x;
    tmsg(&x, "Tx", 0, 9, 20, "T", NULL);
    cr_assert_eq(rmq_store_put_message_wait(s, &x.m, &res), RMQ_PUT_OK);
    cr_assert_eq(res.queue_offset, 3);
    tctx_fini(&t);
}

/* One writer, two readers pulling and querying, retention deleting segments
 * underneath them: every record a reader receives decodes (pins keep
 * deleted segments mapped) and queue offsets never go backwards. */
typedef struct {
    rmq_store_t *s;
    _Atomic int *stop;
    int64_t got;
    int bad;
} conc_reader_t;

static void *conc_reader(void *p)
{
    conc_reader_t *r = p;
    int64_t off[2] = {0, 0};
    while (!atomic_load(r->stop)) {
        for (int q = 0; q < 2; q++) {
            rmq_get_result_t g;
            rmq_get_status_t st = rmq_store_get_message(r->s, "Conc", q, off[q], 16, NULL, 0, &g);
            for (size_t i = 0; i < g.count; i++) {
                rmq_msg_rec_t rec;
                if (rmq_msg_decode(g.msgs[i].data, g.msgs[i].len, true, &rec) != RMQ_OK ||
                    rec.queue_id != q || rec.queue_offset < off[q])
                    r->bad++;
                r->got++;
            }
            if (g.next_begin_offset < off[q] && st != RMQ_GET_OFFSET_TOO_SMALL)
                r->bad++;
            off[q] = g.next_begin_offset;
            if (!g.count)
                th_poll_pause(0); /* nothing new yet */
            rmq_store_get_result_release(&g);
        }
        rmq_query_result_t qr;
        rmq_store_query_message(r->s, "Conc", "shared", 4, 0, INT64_MAX, &qr);
        for (size_t i = 0; i < qr.count; i++) {
            rmq_msg_rec_t rec;
            if (rmq_msg_decode(qr.msgs[i].data, qr.msgs[i].len, true, &rec) != RMQ_OK)
                r->bad++;
        }
        rmq_store_query_result_release(&qr);
    }
    return NULL;
}

Test(store, concurrent_readers_writer_retention, .timeout = 60)
{
    tctx_t t;
    tctx_init(&t);
    tctx_set(&t, "fileReservedTime", "0");
    tctx_set(&t, "destroyMapedFileIntervalForcibly", "3600000");
    rmq_store_t *s = tctx_open(&t);
    _Atomic int stop = 0;
    conc_reader_t rd[2] = {{s, &stop, 0, 0}, {s, &stop, 0, 0}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, conc_reader, &rd[i]);
    rmq_put_result_t res;
    int64_t t0 = rmq_mono_ms();
    for (int i = 0; i < 3000 && rmq_mono_ms() - t0 < 4000; i++) {
        tmsg_t x;
        tmsg(&x, "Conc", i % 2, i, 50 + (size_t)(i * 31) % 400, "T", "shared");
        cr_assert_eq(rmq_store_put_message(s, &x.m, &res, NULL, NULL), RMQ_PUT_OK);
        if (i % 200 == 199) {
            rmq_store_execute_delete_files_manually(s);
            rmq_store_clean_once(s);
        }
    }
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    th_pace_ms(100, "the readers also run on the final state");
    atomic_store(&stop, 1);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    cr_assert(rmq_store_get_commitlog_min_offset(s) > 0, "retention ran");
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(rd[i].bad, 0, "reader %d saw %d bad records", i, rd[i].bad);
        cr_assert(rd[i].got > 0);
    }
    rmq_store_clean_once(s);
    tctx_fini(&t);
}

typedef struct {
    rmq_index_service_t *is;
    _Atomic int *stop;
    int flushes, failed;
} idx_flusher_t;

static void *idx_flusher(void *p)
{
    idx_flusher_t *f = p;
    int64_t ts;
    while (!atomic_load(f->stop) && f->flushes < 1000000) {
        if (rmq_index_service_flush(f->is, false, &ts) != RMQ_OK)
            f->failed++;
        f->flushes++;
    }
    return NULL;
}

/* The consume-queue flush thread flushes full index files while retention
 * removes old ones. The flush used to read the index file's entry after
 * releasing the service's lock, when retention may already have freed it: a
 * use-after-free (AddressSanitizer names it; the normal build crashed in
 * store::concurrent_readers_writer_retention about once in 50 runs). Here
 * every file holds two entries, so nearly every record fills one and every
 * second record retires the older ones: the flusher meets entries retention
 * is freeing all the time. Fails (under ASan) when the flush touches an
 * entry after the lock. */
Test(store, index_flush_races_retention, .timeout = 60)
{
    tctx_t t;
    tctx_init(&t);
    char dir[300];
    snprintf(dir, sizeof(dir), "%s/index", t.dir);
    rmq_reaper_t reaper;
    rmq_reaper_init(&reaper, 3600000);
    rmq_index_service_t *is = rmq_index_service_new(dir, 4, 2, &reaper);
    cr_assert_not_null(is);
    cr_assert_eq(rmq_index_service_load(is, true, 0), RMQ_OK);
    _Atomic int stop = 0;
    idx_flusher_t fl = {is, &stop, 0, 0};
    pthread_t th;
    pthread_create(&th, NULL, idx_flusher, &fl);
    int64_t t0 = rmq_mono_ms();
    int built = 0;
    for (int i = 0; i < 20000 && rmq_mono_ms() - t0 < 3000; i++) {
        char key[32];
        int kl = snprintf(key, sizeof(key), "k%d", i);
        cr_assert_eq(rmq_index_service_build(is, "T", 1, key, (size_t)kl, NULL, 0, (int64_t)i * 100,
                                             (int64_t)1000 + i),
                     RMQ_OK);
        built++;
        if (i % 2)
            rmq_index_service_delete_expired(is, (int64_t)i * 100);
        if (i % 64 == 63)
            rmq_reaper_run(&reaper, false);
    }
    atomic_store(&stop, 1);
    pthread_join(th, NULL);
    cr_assert_gt(built, 100, "only %d records indexed", built);
    cr_assert_gt(fl.flushes, 0, "the flusher never ran");
    cr_assert_eq(fl.failed, 0, "%d of %d flushes failed", fl.failed, fl.flushes);
    int64_t *offs = NULL;
    size_t n = 0;
    int64_t last_ts, last_phy;
    char key[32];
    snprintf(key, sizeof(key), "k%d", built - 1);
    cr_assert_eq(rmq_index_service_query(is, "T", key, 4, 0, INT64_MAX, &offs, &n, &last_ts, &last_phy),
                 RMQ_OK);
    cr_assert_eq(n, 1, "the newest record is no longer indexed (%zu hits)", n);
    cr_assert_eq(offs[0], (int64_t)(built - 1) * 100);
    free(offs);
    rmq_index_service_destroy(is);
    rmq_reaper_run(&reaper, true);
    rmq_reaper_deinit(&reaper);
    tctx_fini(&t);
}

/* A damaged record in the middle of the tail: the commit log is cut there and
 * the consume queue loses the units behind it across a file boundary (10
 * units per consume-queue file here); new messages refill both. */
Test(store, recover_cuts_consume_queue_across_files)
{
    tctx_t t;
    tctx_init(&t);
    int64_t ends[15];
    fill_and_close(&t, 15, ends);
    int64_t rec9 = ends[8]; /* start of record 9 */
    char *p = cl_file(&t, rec9);
    int fd = open(p, O_RDWR);
    uint8_t b;
    off_t pos = (off_t)(rec9 % 4096) + 95;
    cr_assert_eq(pread(fd, &b, 1, pos), 1);
    b ^= 0x01;
    cr_assert_eq(pwrite(fd, &b, 1, pos), 1);
    close(fd);
    free(p);
    rmq_store_t *s = tctx_open(&t);
    cr_assert_eq(rmq_store_get_commitlog_max_offset(s), rec9);
    verify_consistent(s, "Crash", 0, 9);
    rmq_put_result_t res;
    for (int i = 9; i < 15; i++) {
        cr_assert_eq(tput(s, "Crash", 0, i, 120, &res), RMQ_PUT_OK);
        cr_assert_eq(res.queue_offset, i);
    }
    verify_consistent(s, "Crash", 0, 15);
    tctx_close(&t);
    s = tctx_open(&t);
    verify_consistent(s, "Crash", 0, 15);
    tctx_fini(&t);
}

/* Random damage to the tail of the commit log and to consume-queue files,
 * then an abnormal restart: the store opens, every record a pull returns
 * decodes, the log ends on a record boundary and appends work again. */
Test(store, recover_random_damage, .timeout = 90)
{
    tctx_t t;
    tctx_init(&t);
    srand(99);
    int64_t ends[40];
    fill_and_close(&t, 40, ends);
    for (int round = 0; round < 12; round++) {
        /* damage: a few random bytes in the last 2 KiB of the log, and maybe
         * in the newest consume-queue file */
        int64_t max = ends[39];
        char *p = cl_file(&t, max - 1);
        int fd = open(p, O_RDWR);
        free(p);
        cr_assert(fd >= 0);
        for (int k = 0; k < 1 + rand() % 3; k++) {
            int64_t at = max - 1 - rand() % 2048;
            if (at / 4096 != (max - 1) / 4096)
                continue;
            uint8_t v = (uint8_t)rand();
            cr_assert_eq(pwrite(fd, &v, 1, (off_t)(at % 4096)), 1);
        }
        close(fd);
        if (rand() % 2) {
            p = rmq_asprintf("%s/consumequeue/Crash/0/%020d", t.dir, 200 * (int)((39 - rand() % 5) / 10));
            fd = open(p, O_RDWR);
            free(p);
            if (fd >= 0) {
                uint8_t junk[8];
                for (int k = 0; k < 8; k++)
                    junk[k] = (uint8_t)rand();
                cr_assert_eq(pwrite(fd, junk, sizeof(junk), (off_t)(rand() % 192)), (ssize_t)sizeof(junk));
                close(fd);
            }
        }
        rmq_store_t *s = tctx_open(&t);
        cr_assert(rmq_store_wait_dispatched(s, 5000));
        /* the log is a chain of valid records up to its end */
        int64_t off = 0, end = rmq_store_get_commitlog_max_offset(s);
        while (off < end) {
            rmq_store_ref_t ref;
            if (rmq_store_get_message_by_offset(s, off, &ref) != RMQ_OK) {
                off = off - off % 4096 + 4096;
                continue;
            }
            rmq_msg_rec_t r;
            cr_assert_eq(rmq_msg_decode(ref.data, ref.len, true, &r), RMQ_OK, "round %d at %lld", round,
                         (long long)off);
            off += (int64_t)ref.len;
            rmq_store_ref_release(ref.pin);
        }
        cr_assert_eq(off, end, "round %d: log ends on a record boundary", round);
        /* whatever a pull returns is a valid record of the queue */
        int64_t qmax = rmq_store_get_max_offset_in_queue(s, "Crash", 0);
        for (int64_t o = 0; o < qmax;) {
            rmq_get_result_t g;
            rmq_store_get_message(s, "Crash", 0, o, 32, NULL, 0, &g);
            for (size_t i = 0; i < g.count; i++) {
                rmq_msg_rec_t r;
                cr_assert_eq(rmq_msg_decode(g.msgs[i].data, g.msgs[i].len, true, &r), RMQ_OK);
                cr_assert_eq(r.queue_id, 0);
            }
            cr_assert(g.next_begin_offset > o || g.status != RMQ_GET_FOUND);
            int64_t nx = g.next_begin_offset > o ? g.next_begin_offset : o + 1;
            rmq_store_get_result_release(&g);
            o = nx;
        }
        /* refill to 40 records and close uncleanly again */
        rmq_put_result_t res;
        int64_t have = rmq_store_get_max_offset_in_queue(s, "Crash", 0);
        for (int64_t i = have; i < 40; i++)
            cr_assert_eq(tput(s, "Crash", 0, (int)i, 120, &res), RMQ_PUT_OK);
        ends[39] = rmq_store_get_commitlog_max_offset(s);
        cr_assert(rmq_store_wait_dispatched(s, 5000));
        tctx_close(&t);
        p = rmq_asprintf("%s/abort", t.dir);
        fd = open(p, O_CREAT | O_WRONLY, 0644);
        close(fd);
        free(p);
    }
    tctx_fini(&t);
}
