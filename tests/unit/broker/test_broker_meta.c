/* test_broker_meta.c - broker metadata without sockets: config loading (a
 * stock RocketMQ 4.9 broker.conf), atomic snapshots and their corruption
 * fallback, msgpack round trips, RocketMQ JSON import, TAG subscriptions. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"
#include "broker_conf.h"
#include "meta/consumer_offset.h"
#include "rmq_alloc.h"
#include "rmq_json.h"
#include "rmq_msg_codec.h"
#include "meta/snapshot.h"
#include "meta/sub_group.h"
#include "client/subscription.h"
#include "meta/topic_config.h"

static char dir[256];

static void mkdir_tmp(void)
{
    cr_assert(th_tmpdir(dir, sizeof(dir), "meta"));
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

TestSuite(broker_meta, .init = mkdir_tmp, .timeout = 20);

Test(broker_meta, stock_broker_conf_loads)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/broker.conf", dir);
    /* distribution/conf/broker.conf of RocketMQ 4.9 */
    write_file(path, "brokerClusterName = DefaultCluster\nbrokerName = broker-a\nbrokerId = 0\n"
                     "deleteWhen = 04\nfileReservedTime = 48\nbrokerRole = ASYNC_MASTER\n"
                     "flushDiskType = ASYNC_FLUSH\n# a comment\nsomeUnknownKey = 1\n");
    rmq_broker_conf_t bc;
    rmq_store_config_t sc;
    memset(&sc, 0, sizeof(sc));
    rmq_broker_conf_init(&bc);
    rmq_store_config_init(&sc);
    char err[256] = "";
    cr_assert_eq(rmq_broker_conf_load(&bc, &sc, path, err, sizeof(err)), RMQ_OK, "%s", err);
    cr_assert_str_eq(bc.brokerName, "broker-a");
    cr_assert_str_eq(bc.brokerClusterName, "DefaultCluster");
    cr_assert_eq(bc.brokerId, 0);
    cr_assert_eq(sc.fileReservedTime, 48);
    cr_assert_str_eq(sc.deleteWhen, "04");
    cr_assert_eq(sc.brokerRole, RMQ_ROLE_ASYNC_MASTER);
    cr_assert_eq(sc.flushDiskType, RMQ_FLUSH_ASYNC);
    cr_assert_eq(bc.listenPort, 10911);
    cr_assert_eq(bc.registerNameServerPeriod, 30000);
    rmq_broker_conf_finish(&bc, &sc);
    cr_assert_eq(bc.haListenPort, 10912);
    cr_assert(bc.brokerIP1 && *bc.brokerIP1);
    /* bad values are refused with the key named */
    cr_assert_eq(rmq_broker_conf_set(&bc, &sc, "listenPort", "many", err, sizeof(err)), RMQ_ERR__INVALID_ARG);
    cr_assert_not_null(strstr(err, "listenPort"));
    cr_assert_eq(rmq_broker_conf_set(&bc, &sc, "flushDiskType", "SOMETIMES", err, sizeof(err)),
                 RMQ_ERR__INVALID_ARG);
    cr_assert_eq(rmq_broker_conf_set(&bc, &sc, "noSuchKey", "1", err, sizeof(err)), RMQ_ERR__NOENT);
    rmq_broker_conf_deinit(&bc);
    rmq_store_config_deinit(&sc);
}

Test(broker_meta, snapshot_roundtrip_and_corruption_fallback)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/topics.msgpack", dir);
    cr_assert_eq(rmq_snapshot_write(path, "first", 5), RMQ_OK);
    cr_assert_eq(rmq_snapshot_write(path, "second", 6), RMQ_OK);
    uint8_t *p = NULL;
    size_t n = 0;
    cr_assert_eq(rmq_snapshot_read(path, &p, &n), RMQ_OK);
    cr_assert_eq(n, 6);
    cr_assert(!memcmp(p, "second", 6));
    free(p);
    /* torn write: truncate the current file => previous good one */
    cr_assert_eq(truncate(path, 18), 0);
    cr_assert_eq(rmq_snapshot_read(path, &p, &n), RMQ_OK);
    cr_assert_eq(n, 5);
    cr_assert(!memcmp(p, "first", 5));
    free(p);
    /* flipped payload byte => CRC mismatch => previous */
    cr_assert_eq(rmq_snapshot_write(path, "third", 5), RMQ_OK);
    FILE *f = fopen(path, "r+");
    fseek(f, 17, SEEK_SET);
    fputc('X', f);
    fclose(f);
    cr_assert_eq(rmq_snapshot_read(path, &p, &n), RMQ_OK);
    cr_assert_eq(n, 5);
    cr_assert(!memcmp(p, "first", 5), "the .bak holds the snapshot before \"third\"");
    free(p);
    /* both bad => CORRUPT; none => NOENT */
    char bak[600];
    snprintf(bak, sizeof(bak), "%s.bak", path);
    write_file(bak, "garbage");
    cr_assert_eq(rmq_snapshot_read(path, &p, &n), RMQ_ERR__CORRUPT);
    char none[600];
    snprintf(none, sizeof(none), "%s/none.msgpack", dir);
    cr_assert_eq(rmq_snapshot_read(none, &p, &n), RMQ_ERR__NOENT);
}

Test(broker_meta, snapshot_writer_thread)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/w.msgpack", dir);
    rmq_file_writer_t *w = rmq_snapshot_writer_start();
    for (int i = 0; i < 50; i++) {
        char *d = rmq_asprintf("v%d", i);
        rmq_file_writer_submit(w, path, (uint8_t *)d, strlen(d));
    }
    rmq_file_writer_stop(w);
    uint8_t *p = NULL;
    size_t n = 0;
    cr_assert_eq(rmq_snapshot_read(path, &p, &n), RMQ_OK);
    cr_assert_eq(n, 3);
    cr_assert(!memcmp(p, "v49", 3), "the last submitted payload wins");
    free(p);
}

Test(broker_meta, topic_table_pack_json_import)
{
    rmq_topic_mgr_t m, m2;
    rmq_topic_mgr_init(&m);
    rmq_topic_config_t t = {"TopicA", 4, 4, 6, 0, 0, false};
    rmq_topic_put(&m, &t);
    rmq_topic_config_t t2 = {"TBW102", 8, 8, 7, 1, 0, true};
    rmq_topic_put(&m, &t2);
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_topic_meta_ops.pack(&m, &b);
    rmq_topic_mgr_init(&m2);
    cr_assert_eq(rmq_topic_meta_ops.unpack(&m2, b.data, b.len), RMQ_OK);
    rmq_topic_config_t *g = rmq_topic_get(&m2, "TBW102");
    cr_assert_not_null(g);
    cr_assert_eq(g->perm, 7);
    cr_assert_eq(g->filter_type, 1);
    cr_assert(g->order);
    cr_assert_eq(m2.dv.counter, m.dv.counter);
    cr_assert_eq(rmq_topic_meta_ops.unpack(&m2, b.data, b.len / 2), RMQ_ERR__CORRUPT);
    rmq_buf_free(&b);
    /* fastjson wrapper */
    rmq_buf_init(&b);
    rmq_topic_json_wrapper(&b, &m);
    cr_assert_not_null(
        strstr(rmq_buf_cstr(&b),
               "\"TopicA\":{\"order\":false,\"perm\":6,\"readQueueNums\":4,\"topicFilterType\":"
               "\"SINGLE_TAG\",\"topicName\":\"TopicA\",\"topicSysFlag\":0,\"writeQueueNums\":4}"));
    /* RocketMQ topics.json import */
    rmq_topic_mgr_t m3;
    rmq_topic_mgr_init(&m3);
    cr_assert_eq(rmq_topic_meta_ops.import_json(&m3, (const char *)b.data, b.len), RMQ_OK);
    cr_assert_not_null(rmq_topic_get(&m3, "TopicA"));
    cr_assert_eq(rmq_topic_get(&m3, "TopicA")->read_queues, 4);
    cr_assert_eq(rmq_topic_meta_ops.import_json(&m3, "{oops", 5), RMQ_ERR__CORRUPT);
    rmq_buf_free(&b);
    rmq_topic_mgr_deinit(&m);
    rmq_topic_mgr_deinit(&m2);
    rmq_topic_mgr_deinit(&m3);
}

Test(broker_meta, groups_and_offsets)
{
    rmq_sub_group_mgr_t g, g2;
    rmq_sub_group_mgr_init(&g);
    rmq_sub_group_t sg;
    char err[128];
    const char *body = "{\"groupName\":\"G1\",\"retryMaxTimes\":3,\"consumeBroadcastEnable\":false}";
    cr_assert_eq(rmq_sub_group_from_json(&sg, body, strlen(body), err, sizeof(err)), RMQ_OK);
    rmq_sub_group_put(&g, &sg);
    free(sg.name);
    cr_assert_eq(rmq_sub_group_from_json(&sg, "{\"retryMaxTimes\":3}", 18, err, sizeof(err)),
                 RMQ_ERR__INVALID_ARG);
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_sub_group_meta_ops.pack(&g, &b);
    rmq_sub_group_mgr_init(&g2);
    cr_assert_eq(rmq_sub_group_meta_ops.unpack(&g2, b.data, b.len), RMQ_OK);
    cr_assert_eq(rmq_sub_group_get(&g2, "G1")->retry_max_times, 3);
    cr_assert_not(rmq_sub_group_get(&g2, "G1")->consume_broadcast_enable);
    rmq_buf_free(&b);
    /* RocketMQ subscriptionGroup.json import */
    rmq_buf_init(&b);
    rmq_sub_group_json_wrapper(&b, &g);
    rmq_sub_group_mgr_t g3;
    rmq_sub_group_mgr_init(&g3);
    cr_assert_eq(rmq_sub_group_meta_ops.import_json(&g3, (const char *)b.data, b.len), RMQ_OK);
    cr_assert_not_null(rmq_sub_group_get(&g3, "G1"));
    cr_assert_eq(rmq_sub_group_get(&g3, "G1")->retry_max_times, 3);
    cr_assert_eq(rmq_sub_group_meta_ops.import_json(&g3, "{oops", 5), RMQ_ERR__CORRUPT);
    rmq_buf_free(&b);
    rmq_sub_group_mgr_deinit(&g);
    rmq_sub_group_mgr_deinit(&g2);
    rmq_sub_group_mgr_deinit(&g3);

    rmq_offset_mgr_t o, o2;
    rmq_offset_mgr_init(&o);
    rmq_offset_commit(&o, "G1", "T", 0, 12);
    rmq_offset_commit(&o, "G1", "T", 3, -1);
    rmq_offset_commit(&o, "G2", "T", 1, 7);
    cr_assert_eq(rmq_offset_query(&o, "G1", "T", 0), 12);
    cr_assert_eq(rmq_offset_query(&o, "G1", "T", 9), -1);
    rmq_buf_init(&b);
    rmq_offset_meta_ops.pack(&o, &b);
    rmq_offset_mgr_init(&o2);
    cr_assert_eq(rmq_offset_meta_ops.unpack(&o2, b.data, b.len), RMQ_OK);
    cr_assert_eq(rmq_offset_query(&o2, "G2", "T", 1), 7);
    cr_assert_eq(rmq_offset_query(&o2, "G1", "T", 3), -1);
    rmq_buf_free(&b);
    /* RocketMQ consumerOffset.json (fastjson int keys) */
    rmq_buf_init(&b);
    rmq_offset_json(&b, &o);
    cr_assert_not_null(strstr(rmq_buf_cstr(&b), "\"T@G2\":{1:7}"));
    rmq_offset_mgr_t o3;
    rmq_offset_mgr_init(&o3);
    cr_assert_eq(rmq_offset_meta_ops.import_json(&o3, (const char *)b.data, b.len), RMQ_OK);
    cr_assert_eq(rmq_offset_query(&o3, "G1", "T", 0), 12);
    rmq_offset_remove_group(&o3, "G1");
    cr_assert_eq(rmq_offset_query(&o3, "G1", "T", 0), -1);
    cr_assert_eq(rmq_offset_query(&o3, "G2", "T", 1), 7);
    rmq_buf_free(&b);
    rmq_offset_mgr_deinit(&o);
    rmq_offset_mgr_deinit(&o2);
    rmq_offset_mgr_deinit(&o3);
}

Test(broker_meta, tag_subscriptions)
{
    rmq_subscription_t s;
    char err[128];
    cr_assert_eq(rmq_subscription_build(&s, "T", "TagA || TagB ||  TagC ", NULL, 1, err, sizeof(err)),
                 RMQ_OK);
    cr_assert_eq(s.n, 3);
    cr_assert_str_eq(s.tags[2], "TagC");
    cr_assert(rmq_subscription_match_code(&s, rmq_msg_tags_code("TagB", 4)));
    cr_assert_not(rmq_subscription_match_code(&s, rmq_msg_tags_code("TagD", 4)));
    cr_assert_not(rmq_subscription_match_code(&s, 0), "untagged messages do not match a tag subscription");
    rmq_subscription_deinit(&s);
    cr_assert_eq(rmq_subscription_build(&s, "T", "*", "", 1, err, sizeof(err)), RMQ_OK);
    cr_assert(rmq_subscription_match_code(&s, 12345));
    rmq_subscription_deinit(&s);
    cr_assert_eq(rmq_subscription_build(&s, "T", "a > 1", "SQL92", 1, err, sizeof(err)),
                 RMQ_ERR__INVALID_ARG);
    cr_assert_not_null(strstr(err, "SQL92"));
    cr_assert_eq(rmq_subscription_build(&s, "T", "||", NULL, 1, err, sizeof(err)),
                 RMQ_ERR_SUBSCRIPTION_PARSE_FAILED);
    /* codes as Java computes them (golden heartbeat: TagA => 2598919) */
    cr_assert_eq(rmq_subscription_build(&s, "T", "TagA", "TAG", 1, err, sizeof(err)), RMQ_OK);
    cr_assert_eq(s.codes[0], 2598919);
    rmq_subscription_deinit(&s);
}
