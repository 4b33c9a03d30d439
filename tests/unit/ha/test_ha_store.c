/* test_ha_store.c - the store's replication side (broker/store/replica.c,
 * epoch.c): whole-record reads for a master, checked appends on a slave
 * (offset mismatch, torn record, CRC, wrong header offset, segment end),
 * tail truncation with consume queues and the key index, and the epoch
 * list. No sockets; every test uses its own mkdtemp directory (4 KiB
 * segments, so a few hundred messages span several of them). */
#include <fcntl.h>

#include "store_test_util.h"

/* Ship everything the master has from `from` to the slave in chunks of at
 * most `batch` bytes, as the HA master does. */
static int64_t ship(rmq_store_t *m, rmq_store_t *s, int64_t from, size_t batch)
{
    int64_t end = rmq_store_get_commitlog_max_offset(m);
    int64_t off = from;
    int chunks = 0;
    while (off < end) {
        rmq_store_ref_t ref;
        cr_assert_eq(rmq_store_read_records(m, off, batch, &ref), RMQ_OK, "read at %lld", (long long)off);
        char why[256];
        cr_assert_eq(rmq_store_append_records(s, off, ref.data, ref.len, why, sizeof(why)), RMQ_OK,
                     "append at %lld: %s", (long long)off, why);
        off += (int64_t)ref.len;
        rmq_store_ref_release(ref.pin);
        cr_assert(++chunks < 100000);
    }
    return off;
}

static void put_n(rmq_store_t *s, const char *topic, int first, int n, int queues)
{
    for (int i = first; i < first + n; i++) {
        tmsg_t x;
        char key[32];
        snprintf(key, sizeof(key), "k%d", i);
        tmsg(&x, topic, i % queues, i, 60 + (i * 37) % 200, i % 2 ? "TagB" : "TagA", key);
        rmq_put_result_t res;
        cr_assert_eq(rmq_store_put_message_wait(s, &x.m, &res), RMQ_PUT_OK);
    }
}

/* Read the file bytes of [0, end) of a store's commit log. */
static uint8_t *read_log(tctx_t *t, int64_t end)
{
    uint8_t *buf = rmq_calloc(1, (size_t)end + 1);
    for (int64_t seg = 0; seg < end; seg += 4096) {
        char *p = rmq_asprintf("%s/commitlog/%020lld", t->dir, (long long)seg);
        int fd = open(p, O_RDONLY);
        cr_assert(fd >= 0, "%s", p);
        size_t n = (size_t)(end - seg < 4096 ? end - seg : 4096);
        cr_assert_eq(pread(fd, buf + seg, n, 0), (ssize_t)n);
        close(fd);
        free(p);
    }
    return buf;
}

static void assert_same_queues(rmq_store_t *a, rmq_store_t *b, const char *topic, int queues)
{
    cr_assert(rmq_store_wait_dispatched(a, 5000));
    cr_assert(rmq_store_wait_dispatched(b, 5000));
    for (int q = 0; q < queues; q++) {
        int64_t max = rmq_store_get_max_offset_in_queue(a, topic, q);
        cr_assert_eq(rmq_store_get_max_offset_in_queue(b, topic, q), max, "queue %d", q);
        for (int64_t o = 0; o < max; o++)
            cr_assert_eq(rmq_store_get_commitlog_offset_in_queue(a, topic, q, o),
                         rmq_store_get_commitlog_offset_in_queue(b, topic, q, o), "queue %d offset %lld", q,
                         (long long)o);
    }
}

Test(ha_store, read_records_whole_records_and_blanks)
{
    tctx_t t;
    tctx_init(&t);
    rmq_store_t *s = tctx_open(&t);
    put_n(s, "Rr", 0, 80, 2);
    int64_t end = rmq_store_get_commitlog_max_offset(s);
    cr_assert_gt(end, 3 * 4096, "spans several segments");
    int64_t off = 0;
    int blanks = 0;
    while (off < end) {
        rmq_store_ref_t ref;
        cr_assert_eq(rmq_store_read_records(s, off, 500, &ref), RMQ_OK);
        cr_assert((off % 4096) + (int64_t)ref.len <= 4096, "never crosses a segment end");
        /* whole records, then possibly the blank that closes the segment */
        size_t pos = 0, records = 0;
        while (pos < ref.len) {
            uint32_t magic = rmq_be32(ref.data + pos + 4);
            uint32_t size = rmq_be32(ref.data + pos);
            if (magic == RMQ_MSG_BLANK_MAGIC) {
                cr_assert_eq((off + (int64_t)pos + size) % 4096, 0);
                blanks++;
                pos += size;
                break;
            }
            cr_assert_eq(magic, RMQ_MSG_MAGIC);
            pos += size;
            records = pos;
        }
        cr_assert_eq(pos, ref.len);
        cr_assert(records <= 500 || rmq_be32(ref.data) == records, "over the batch only for one big record");
        off += (int64_t)ref.len;
        rmq_store_ref_release(ref.pin);
    }
    cr_assert_gt(blanks, 0);
    rmq_store_ref_t ref;
    cr_assert_eq(rmq_store_read_records(s, end, 500, &ref), RMQ_ERR__NOENT, "nothing past the end yet");
    cr_assert_eq(rmq_store_read_records(s, 7, 500, &ref), RMQ_ERR__CORRUPT, "7 is not a record boundary");
    tctx_fini(&t);
}

Test(ha_store, shipped_log_is_byte_identical)
{
    tctx_t a, b;
    tctx_init(&a);
    tctx_init(&b);
    rmq_store_t *m = tctx_open(&a);
    tctx_set(&b, "brokerRole", "SLAVE");
    rmq_store_t *s = tctx_open(&b);
    put_n(m, "Ship", 0, 150, 3);
    int64_t end = ship(m, s, 0, 700);
    cr_assert_eq(rmq_store_get_commitlog_max_offset(s), end);
    assert_same_queues(m, s, "Ship", 3);
    /* the key index was built from the replicated bytes too */
    rmq_query_result_t q;
    cr_assert_eq(rmq_store_query_message(s, "Ship", "k77", 4, 0, INT64_MAX, &q), RMQ_OK);
    cr_assert_eq(q.count, 1);
    rmq_store_query_result_release(&q);
    tctx_close(&a);
    tctx_close(&b);
    uint8_t *la = read_log(&a, end), *lb = read_log(&b, end);
    cr_assert(memcmp(la, lb, (size_t)end) == 0, "commit logs differ");
    free(la);
    free(lb);
    tctx_fini(&a);
    tctx_fini(&b);
}

/* Bad chunks are refused whole: nothing of them is appended. */
Test(ha_store, append_refuses_bad_records)
{
    tctx_t a, b;
    tctx_init(&a);
    tctx_init(&b);
    rmq_store_t *m = tctx_open(&a);
    tctx_set(&b, "brokerRole", "SLAVE");
    rmq_store_t *s = tctx_open(&b);
    put_n(m, "Bad", 0, 10, 1);
    rmq_store_ref_t ref;
    cr_assert_eq(rmq_store_read_records(m, 0, 4096, &ref), RMQ_OK);
    size_t first = rmq_be32(ref.data);
    cr_assert_gt(ref.len, first);
    uint8_t *copy = rmq_malloc(ref.len);
    char why[256];

    /* offset mismatch: the slave's log ends at 0 */
    memcpy(copy, ref.data, ref.len);
    cr_assert_eq(rmq_store_append_records(s, (int64_t)first, copy + first, ref.len - first, why, sizeof(why)),
                 RMQ_ERR__INVALID_ARG);
    cr_assert(strstr(why, "ends at 0"), "%s", why);

    /* torn record: the chunk ends inside the second record */
    cr_assert_eq(rmq_store_append_records(s, 0, copy, first + 30, why, sizeof(why)), RMQ_ERR__CORRUPT);
    cr_assert(strstr(why, "torn"), "%s", why);

    /* CRC: a body byte flipped in the second record */
    rmq_msg_rec_t rec2;
    cr_assert_eq(rmq_msg_decode(copy + first, ref.len - first, true, &rec2), RMQ_OK);
    copy[(size_t)(rec2.body - copy)] ^= 0x5a;
    cr_assert_eq(rmq_store_append_records(s, 0, copy, ref.len, why, sizeof(why)), RMQ_ERR__CORRUPT);
    cr_assert(strstr(why, "CRC"), "%s", why);
    memcpy(copy, ref.data, ref.len);

    /* a record whose header names another position */
    rmq_wbe64(copy + first + RMQ_MSG_POS_PHY_OFFSET, 12345);
    cr_assert_eq(rmq_store_append_records(s, 0, copy, ref.len, why, sizeof(why)), RMQ_ERR__CORRUPT);
    cr_assert(strstr(why, "belongs at 12345"), "%s", why);
    memcpy(copy, ref.data, ref.len);

    /* garbage */
    memset(copy + first, 0x77, ref.len - first);
    cr_assert_eq(rmq_store_append_records(s, 0, copy, ref.len, why, sizeof(why)), RMQ_ERR__CORRUPT);
    cr_assert(strstr(why, "no record"), "%s", why);

    /* crossing a segment end */
    uint8_t *big = rmq_calloc(1, 5000);
    cr_assert_eq(rmq_store_append_records(s, 0, big, 5000, why, sizeof(why)), RMQ_ERR__CORRUPT);
    cr_assert(strstr(why, "segment end"), "%s", why);
    free(big);

    cr_assert_eq(rmq_store_get_commitlog_max_offset(s), 0, "nothing was appended");
    /* and the good bytes still go in afterwards */
    cr_assert_eq(rmq_store_append_records(s, 0, ref.data, ref.len, why, sizeof(why)), RMQ_OK, "%s", why);
    rmq_store_ref_release(ref.pin);
    free(copy);
    cr_assert_eq(rmq_store_get_commitlog_max_offset(s), rmq_store_get_commitlog_max_offset(m));
    tctx_fini(&a);
    tctx_fini(&b);
}

/* A store that ran past another is cut back, then follows it byte for byte. */
static void diverge_and_follow(bool crash_after_cut)
{
    tctx_t a, b;
    tctx_init(&a);
    tctx_init(&b);
    rmq_store_t *x = tctx_open(&a); /* the old master */
    tctx_set(&b, "brokerRole", "SLAVE");
    rmq_store_t *y = tctx_open(&b); /* its slave, later the new master */
    put_n(x, "Div", 0, 60, 2);
    int64_t common = ship(x, y, 0, 600);
    put_n(x, "Div", 1000, 70, 2); /* never replicated: x's extra tail */
    int64_t x_end = rmq_store_get_commitlog_max_offset(x);
    cr_assert_gt(x_end - common, 4096, "the extra tail spans segments");
    cr_assert(rmq_store_wait_dispatched(x, 5000));
    /* y becomes the master and writes something else */
    tctx_close(&b);
    tctx_set(&b, "brokerRole", "ASYNC_MASTER");
    y = tctx_open(&b);
    put_n(y, "Div", 2000, 25, 2);
    int64_t y_end = rmq_store_get_commitlog_max_offset(y);

    int64_t discarded = -1;
    cr_assert_eq(rmq_store_truncate_tail(x, common, &discarded), RMQ_OK);
    cr_assert_eq(discarded, x_end - common);
    cr_assert_eq(rmq_store_get_commitlog_max_offset(x), common);
    cr_assert(rmq_store_wait_dispatched(x, 5000));
    cr_assert_eq(rmq_store_get_max_offset_in_queue(x, "Div", 0), 30);
    cr_assert_eq(rmq_store_get_max_offset_in_queue(x, "Div", 1), 30);
    rmq_query_result_t q;
    cr_assert_eq(rmq_store_query_message(x, "Div", "k1010", 4, 0, INT64_MAX, &q), RMQ_OK);
    cr_assert_eq(q.count, 0, "the index lost the cut records");
    rmq_store_query_result_release(&q);
    cr_assert_eq(rmq_store_query_message(x, "Div", "k10", 4, 0, INT64_MAX, &q), RMQ_OK);
    cr_assert_eq(q.count, 1, "and kept the others");
    rmq_store_query_result_release(&q);
    if (crash_after_cut) {
        /* reopen without a clean shutdown: nothing cut may come back */
        char *ab = rmq_asprintf("%s/abort", a.dir);
        tctx_close(&a);
        int fd = open(ab, O_CREAT | O_WRONLY, 0644);
        close(fd);
        free(ab);
        x = tctx_open(&a);
        cr_assert_eq(rmq_store_get_commitlog_max_offset(x), common);
    }
    /* follow the new master */
    cr_assert_eq(ship(y, x, common, 600), y_end);
    assert_same_queues(x, y, "Div", 2);
    cr_assert_eq(rmq_store_query_message(x, "Div", "k2010", 4, 0, INT64_MAX, &q), RMQ_OK);
    cr_assert_eq(q.count, 1);
    rmq_store_query_result_release(&q);
    tctx_close(&a);
    tctx_close(&b);
    uint8_t *la = read_log(&a, y_end), *lb = read_log(&b, y_end);
    cr_assert(memcmp(la, lb, (size_t)y_end) == 0, "logs differ after following");
    free(la);
    free(lb);
    tctx_fini(&a);
    tctx_fini(&b);
}

Test(ha_store, truncate_tail_then_follow)
{
    diverge_and_follow(false);
}
Test(ha_store, truncate_tail_survives_crash)
{
    diverge_and_follow(true);
}

Test(ha_store, truncate_refuses_below_start)
{
    tctx_t t;
    tctx_init(&t);
    rmq_store_t *s = tctx_open(&t);
    put_n(s, "Tr", 0, 5, 1);
    int64_t end = rmq_store_get_commitlog_max_offset(s), d;
    cr_assert_eq(rmq_store_truncate_tail(s, end, &d), RMQ_OK);
    cr_assert_eq(d, 0, "cutting at the end discards nothing");
    cr_assert_eq(rmq_store_truncate_tail(s, end + 100, &d), RMQ_OK);
    cr_assert_eq(d, 0);
    cr_assert_eq(rmq_store_truncate_tail(s, 0, &d), RMQ_OK);
    cr_assert_eq(d, end, "the whole log from its first segment");
    cr_assert_eq(rmq_store_get_commitlog_max_offset(s), 0);
    put_n(s, "Tr", 0, 3, 1);
    cr_assert(rmq_store_wait_dispatched(s, 5000));
    cr_assert_eq(rmq_store_get_max_offset_in_queue(s, "Tr", 0), 3, "queue offsets restart after a full cut");
    tctx_fini(&t);
}

Test(ha_store, epoch_list)
{
    tctx_t t;
    tctx_init(&t);
    rmq_store_t *s = tctx_open(&t);
    cr_assert_eq(rmq_store_epoch_last(s), 0);
    cr_assert_eq(rmq_store_epoch_begin(s, 1), RMQ_OK);
    put_n(s, "Ep", 0, 5, 1);
    int64_t e1 = rmq_store_get_commitlog_max_offset(s);
    cr_assert_eq(rmq_store_epoch_begin(s, 1), RMQ_ERR__INVALID_ARG, "epochs only grow");
    cr_assert_eq(rmq_store_epoch_begin(s, 3), RMQ_OK);
    cr_assert_eq(rmq_store_epoch_begin(s, 4), RMQ_OK, "nothing written in 3: replaced");
    rmq_epoch_entry_t *e;
    size_t n = rmq_store_epochs(s, &e);
    cr_assert_eq(n, 2);
    cr_assert(e[0].epoch == 1 && e[0].start_offset == 0 && e[1].epoch == 4 && e[1].start_offset == e1);
    free(e);
    put_n(s, "Ep", 5, 5, 1);
    tctx_close(&t);
    s = tctx_open(&t);
    cr_assert_eq(rmq_store_epoch_last(s), 4, "durable");
    int64_t d;
    cr_assert_eq(rmq_store_truncate_tail(s, e1, &d), RMQ_OK);
    cr_assert_gt(d, 0);
    n = rmq_store_epochs(s, &e);
    cr_assert_eq(n, 2, "a cut at the start of epoch 4 keeps it");
    free(e);
    cr_assert_eq(rmq_store_truncate_tail(s, 0, &d), RMQ_OK);
    n = rmq_store_epochs(s, &e);
    cr_assert(n == 1 && e[0].epoch == 1, "a cut before epoch 4 drops it");
    free(e);
    tctx_fini(&t);
}

Test(ha_store, epoch_file_corrupt_refuses_open)
{
    tctx_t t;
    tctx_init(&t);
    char *p = rmq_asprintf("%s/epoch", t.dir);
    FILE *f = fopen(p, "w");
    fputs("2 100\n1 200\n", f);
    fclose(f);
    char err[256] = "";
    rmq_store_t *s = rmq_store_open(&t.conf, err, sizeof(err));
    cr_assert_null(s);
    cr_assert(strstr(err, "ascending"), "%s", err);
    f = fopen(p, "w");
    fputs("1 zero\n", f);
    fclose(f);
    s = rmq_store_open(&t.conf, err, sizeof(err));
    cr_assert_null(s);
    cr_assert(strstr(err, "epoch"), "%s", err);
    free(p);
    tctx_fini(&t);
}

#define E(a, b)                                                                                              \
    {                                                                                                        \
        a, b                                                                                                 \
    }
Test(ha_store, epoch_common_end)
{
    const rmq_epoch_entry_t m1[] = {E(1, 0), E(2, 500)};
    const rmq_epoch_entry_t s_same[] = {E(1, 0), E(2, 500)};
    const rmq_epoch_entry_t s_behind[] = {E(1, 0)};
    const rmq_epoch_entry_t s_fork[] = {E(1, 0), E(2, 300)};
    const rmq_epoch_entry_t s_other[] = {E(3, 0)};
    /* same history: up to the shorter log */
    cr_assert_eq(rmq_epoch_common_end(m1, 2, 900, s_same, 2, 700), 700);
    cr_assert_eq(rmq_epoch_common_end(m1, 2, 600, s_same, 2, 700), 600);
    /* a slave that knows only epoch 1: its log agrees up to where epoch 2 began */
    cr_assert_eq(rmq_epoch_common_end(m1, 2, 900, s_behind, 1, 400), 400);
    cr_assert_eq(rmq_epoch_common_end(m1, 2, 900, s_behind, 1, 800), 500,
                 "the old master's tail past epoch 2's start");
    /* the same epoch number for two histories: back to epoch 1's end */
    cr_assert_eq(rmq_epoch_common_end(m1, 2, 900, s_fork, 2, 800), 300);
    /* nothing in common */
    cr_assert_eq(rmq_epoch_common_end(m1, 2, 900, s_other, 1, 800), 0);
    /* a store from before epochs: trusted up to the shorter log */
    cr_assert_eq(rmq_epoch_common_end(m1, 2, 900, NULL, 0, 800), 800);
    cr_assert_eq(rmq_epoch_common_end(NULL, 0, 700, s_same, 2, 800), 700);
}
