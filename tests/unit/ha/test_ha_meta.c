/* test_ha_meta.c - metadata records of the replication stream
 * (broker/ha/ha_meta.c) without sockets or threads: a master's tables
 * encoded as Metadata frames and applied to a slave's (topics and groups
 * replaced, deletions included; large tables in parts, applied only once
 * complete; parts out of order dropped), consumer offsets with the slave's
 * own commits (the larger offset wins on both sides), and delay progress. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "schedule/schedule.h"
#include "ha/ha_int.h"
#include "rmq_alloc.h"
#include "test_support.h"

typedef struct {
    rmq_broker_t *b;
    rmq_ha_t *ha;
} node_t;

static void node_init(node_t *n, bool slave)
{
    rmq_broker_t *b = rmq_broker_new();
    char dir[256], err[256];
    cr_assert(th_tmpdir(dir, sizeof(dir), slave ? "slave" : "master"));
    snprintf(b->config_dir, sizeof(b->config_dir), "%s", dir);
    cr_assert_eq(rmq_broker_conf_set(&b->conf, &b->store_conf, "brokerRole", slave ? "SLAVE" : "SYNC_MASTER",
                                     err, sizeof(err)),
                 RMQ_OK);
    cr_assert_eq(
        rmq_broker_conf_set(&b->conf, &b->store_conf, "brokerId", slave ? "1" : "0", err, sizeof(err)),
        RMQ_OK);
    cr_assert_eq(rmq_broker_conf_set(&b->conf, &b->store_conf, "haListenPort", "20000", err, sizeof(err)),
                 RMQ_OK);
    b->is_slave = slave;
    n->b = b;
    n->ha = rmq_ha_new(b, err, sizeof(err));
    cr_assert_not_null(n->ha, "%s", err);
    b->ha = n->ha;
}

static void node_fini(node_t *n)
{
    n->b->ha = NULL;
    rmq_ha_destroy(n->ha);
    rmq_schedule_destroy(n->b->schedule);
    n->b->schedule = NULL;
    rmq_broker_destroy(n->b);
}

/* Decode the frames in buf and apply them, in order, to `to` (all when
 * skip < 0, otherwise every frame but the one at index skip). Returns the
 * number of frames. */
static int deliver(rmq_buf_t *buf, node_t *to, int skip)
{
    size_t off = 0;
    int i = 0;
    while (off < buf->len) {
        size_t total;
        char why[128];
        cr_assert_eq(
            rmq_ha_frame_peek(buf->data + off, buf->len - off, RMQ_HA_MAX_FRAME, &total, why, sizeof(why)),
            RMQ_HA_FRAME_OK);
        rmq_ha_frame_t *f = rmq_ha_frame_decode(buf->data + off + 4, total - 4, why, sizeof(why));
        cr_assert_not_null(f, "%s", why);
        cr_assert_eq(f->msg_case, COMET__HA__FRAME__MSG_METADATA);
        if (i == skip)
            rmq_ha_frame_free(f);
        else
            rmq_ha_meta_apply(to->ha, f);
        off += total;
        i++;
    }
    return i;
}

/* One Metadata frame carrying md, encoded and applied to `to`. */
static void deliver_metadata(Comet__Ha__Metadata *md, node_t *to)
{
    rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
    f.msg_case = COMET__HA__FRAME__MSG_METADATA;
    f.metadata = md;
    rmq_buf_t out;
    rmq_buf_init(&out);
    rmq_ha_frame_encode(&f, &out);
    deliver(&out, to, -1);
    rmq_buf_free(&out);
}

static void put_topic(rmq_broker_t *b, const char *name, int q)
{
    rmq_topic_config_t t = {(char *)name, q, q, 6, 0, 0, false};
    rmq_topic_put(&b->topics, &t);
}

Test(ha_meta, topics_and_groups_follow_the_master)
{
    node_t m, s;
    node_init(&m, false);
    node_init(&s, true);
    put_topic(m.b, "T1", 4);
    put_topic(m.b, "T2", 8);
    put_topic(s.b, "OnlySlave", 1); /* not on the master: goes */
    rmq_sub_group_t g;
    rmq_sub_group_defaults(&g, "G1");
    g.retry_max_times = 3;
    g.which_broker_when_consume_slowly = 1;
    rmq_sub_group_put(&m.b->groups, &g);
    rmq_buf_t out;
    rmq_buf_init(&out);
    int64_t lo = -1;
    rmq_ha_meta_encode_all(m.ha, &out, &lo);
    cr_assert_geq(deliver(&out, &s, -1), 4, "one frame per table at least");
    cr_assert_not_null(rmq_topic_get(&s.b->topics, "T1"));
    cr_assert_eq(rmq_topic_get(&s.b->topics, "T2")->read_queues, 8);
    cr_assert_null(rmq_topic_get(&s.b->topics, "OnlySlave"), "a topic the master lacks is deleted");
    rmq_sub_group_t *sg = rmq_sub_group_get(&s.b->groups, "G1");
    cr_assert_not_null(sg);
    cr_assert_eq(sg->retry_max_times, 3);
    cr_assert_eq(sg->which_broker_when_consume_slowly, 1);
    /* a topic deleted on the master goes from the slave at the next snapshot */
    rmq_topic_del(&m.b->topics, "T1");
    out.len = 0;
    rmq_ha_meta_encode(m.ha, RMQ_HA_META_TOPICS, &out, NULL);
    deliver(&out, &s, -1);
    cr_assert_null(rmq_topic_get(&s.b->topics, "T1"));
    cr_assert_not_null(rmq_topic_get(&s.b->topics, "T2"));
    rmq_buf_free(&out);
    node_fini(&m);
    node_fini(&s);
}

Test(ha_meta, large_tables_come_in_parts, .timeout = 60)
{
    node_t m, s;
    node_init(&m, false);
    node_init(&s, true);
    rmq_ha_meta_part_bytes = 64 * 1024; /* parts from a table of a few thousand topics */
    enum { N = 3000 };
    char name[128];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "Topic-%06d-%0100d", i, 0);
        put_topic(m.b, name, 1 + i % 16);
    }
    rmq_buf_t out;
    rmq_buf_init(&out);
    rmq_ha_meta_encode(m.ha, RMQ_HA_META_TOPICS, &out, NULL);
    cr_assert_gt(out.len, 2 * rmq_ha_meta_part_bytes, "the table is larger than two parts");
    /* without its last part nothing is applied */
    int frames = deliver(&out, &s, 1);
    cr_assert_geq(frames, 3);
    size_t before = rmq_map_count(&s.b->topics.map);
    cr_assert_lt(before, 100, "an incomplete snapshot changed the table (%zu topics)", before);
    /* complete: every topic */
    deliver(&out, &s, -1);
    cr_assert_eq(rmq_map_count(&s.b->topics.map), rmq_map_count(&m.b->topics.map));
    snprintf(name, sizeof(name), "Topic-%06d-%0100d", N - 1, 0);
    cr_assert_eq(rmq_topic_get(&s.b->topics, name)->read_queues, 1 + (N - 1) % 16);
    rmq_buf_free(&out);
    node_fini(&m);
    node_fini(&s);
}

Test(ha_meta, slave_offsets_larger_wins)
{
    node_t m, s;
    node_init(&m, false);
    node_init(&s, true);
    rmq_offset_commit(&m.b->offsets, "G", "T", 0, 10);
    rmq_offset_commit(&m.b->offsets, "G", "T", 1, 20);
    rmq_buf_t out;
    rmq_buf_init(&out);
    rmq_ha_meta_encode(m.ha, RMQ_HA_META_OFFSETS, &out, NULL);
    deliver(&out, &s, -1);
    cr_assert_eq(rmq_offset_query(&s.b->offsets, "G", "T", 0), 10);
    cr_assert_eq(rmq_offset_query(&s.b->offsets, "G", "T", 1), 20);

    /* the master is away; clients commit to the slave */
    rmq_offset_commit(&s.b->offsets, "G", "T", 0, 15);
    rmq_ha_local_offset(s.ha, "G", "T", 0, 15);
    rmq_offset_commit(&s.b->offsets, "G2", "T", 3, 7);
    rmq_ha_local_offset(s.ha, "G2", "T", 3, 7);
    /* the master's (older) snapshot does not lower them */
    deliver(&out, &s, -1);
    cr_assert_eq(rmq_offset_query(&s.b->offsets, "G", "T", 0), 15);
    cr_assert_eq(rmq_offset_query(&s.b->offsets, "G2", "T", 3), 7);
    cr_assert_eq(rmq_offset_query(&s.b->offsets, "G", "T", 1), 20);

    /* the slave reports them; the master keeps the larger */
    rmq_offset_commit(&m.b->offsets, "G", "T", 0, 12); /* the master moved too, less far */
    rmq_buf_t changes;
    rmq_buf_init(&changes);
    rmq_ha_meta_encode_local(s.ha, &changes);
    cr_assert_gt(changes.len, 0);
    deliver(&changes, &m, -1);
    cr_assert_eq(rmq_offset_query(&m.b->offsets, "G", "T", 0), 15);
    cr_assert_eq(rmq_offset_query(&m.b->offsets, "G2", "T", 3), 7);
    rmq_offset_commit(&m.b->offsets, "G", "T", 1, 25);
    deliver(&changes, &m, -1); /* again: nothing lowers */
    cr_assert_eq(rmq_offset_query(&m.b->offsets, "G", "T", 1), 25);

    /* once the master holds as much, the slave's own entries are dropped: a
     * later reset on the master then reaches the slave */
    out.len = 0;
    rmq_ha_meta_encode(m.ha, RMQ_HA_META_OFFSETS, &out, NULL);
    deliver(&out, &s, -1);
    cr_assert_eq(rmq_map_count(&s.ha->local_offsets), 0);
    rmq_offset_commit(&m.b->offsets, "G", "T", 0, 2);
    out.len = 0;
    rmq_ha_meta_encode(m.ha, RMQ_HA_META_OFFSETS, &out, NULL);
    deliver(&out, &s, -1);
    cr_assert_eq(rmq_offset_query(&s.b->offsets, "G", "T", 0), 2);
    rmq_buf_t none;
    rmq_buf_init(&none);
    rmq_ha_meta_encode_local(s.ha, &none);
    cr_assert_eq(none.len, 0, "nothing left to report");
    rmq_buf_free(&none);
    rmq_buf_free(&changes);
    rmq_buf_free(&out);
    node_fini(&m);
    node_fini(&s);
}

Test(ha_meta, parts_out_of_order_are_dropped)
{
    node_t s;
    node_init(&s, true);
    Comet__Ha__TopicConfig t = COMET__HA__TOPIC_CONFIG__INIT;
    t.name = "X";
    t.read_queues = t.write_queues = 1;
    Comet__Ha__TopicConfig *ts[] = {&t};
    Comet__Ha__Metadata md = COMET__HA__METADATA__INIT;
    md.kind = COMET__HA__METADATA__KIND__TOPICS;
    md.part = 1; /* part 0 never came */
    md.last_part = true;
    md.n_topics = 1;
    md.topics = ts;
    put_topic(s.b, "Keep", 1);
    deliver_metadata(&md, &s);
    cr_assert_not_null(rmq_topic_get(&s.b->topics, "Keep"),
                       "the table was not replaced by a partial snapshot");
    cr_assert_null(rmq_topic_get(&s.b->topics, "X"));
    node_fini(&s);
}

Test(ha_meta, delay_progress)
{
    node_t m, s;
    node_init(&m, false);
    node_init(&s, true);
    Comet__Ha__DelayOffset d1 = COMET__HA__DELAY_OFFSET__INIT, d2 = COMET__HA__DELAY_OFFSET__INIT,
                           bad = COMET__HA__DELAY_OFFSET__INIT;
    d1.level = 1;
    d1.offset = 5;
    d2.level = 3;
    d2.offset = 9;
    bad.level = 999; /* out of range: ignored */
    bad.offset = 1;
    Comet__Ha__DelayOffset *ds[] = {&d1, &d2, &bad};
    Comet__Ha__Metadata md = COMET__HA__METADATA__INIT;
    md.kind = COMET__HA__METADATA__KIND__DELAY_OFFSETS;
    md.last_part = true;
    md.n_delay_offsets = 3;
    md.delay_offsets = ds;
    deliver_metadata(&md, &s);
    cr_assert_eq(s.b->schedule->offsets[1], 5);
    cr_assert_eq(s.b->schedule->durable[3], 9);
    cr_assert(s.b->schedule->dirty, "to be persisted");
    node_fini(&m);
    node_fini(&s);
}
