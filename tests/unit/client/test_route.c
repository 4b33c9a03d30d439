/* test_route.c - TopicRouteData parsing: fastjson's unquoted integer keys,
 * standard JSON, the golden Java 4.9.8 name-server answer, and the derived
 * publish / subscribe queue lists. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comet_int.h"
#include "rmq_cmd.h"

static cm_route_t *parse(const char *json)
{
    char err[256] = "";
    cm_route_t *r = cm_route_parse("TopicA", json, strlen(json), err, sizeof(err));
    cr_assert_not_null(r, "parse failed: %s", err);
    return r;
}

Test(route, fastjson_unquoted_keys)
{
    cm_route_t *r =
        parse("{\"brokerDatas\":[{\"brokerAddrs\":{0:\"192.168.1.10:10911\",1:\"192.168.1.11:10911\"},"
              "\"brokerName\":\"broker-a\",\"cluster\":\"DefaultCluster\"}],\"filterServerTable\":{},"
              "\"queueDatas\":[{\"brokerName\":\"broker-a\",\"perm\":6,\"readQueueNums\":4,"
              "\"topicSysFlag\":0,\"writeQueueNums\":4}]}");
    cr_expect_eq(r->nbds, 1);
    cr_expect_eq(r->bds[0].naddrs, 2);
    cr_expect_str_eq(cm_route_master_addr(r, "broker-a"), "192.168.1.10:10911");
    cr_expect_eq(r->npub, 4);
    cr_expect_eq(r->nsub, 4);
    cr_expect_str_eq(r->pub[3].broker_name, "broker-a");
    cr_expect_eq(r->pub[3].queue_id, 3);
    cm_route_release(r);
}

Test(route, standard_json_and_perms)
{
    /* b is listed first but sorts after a; c is read-only; d has no master */
    cm_route_t *r = parse(
        "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"10.0.0.2:10911\"},\"brokerName\":\"b\",\"cluster\":"
        "\"C\"},"
        "{\"brokerAddrs\":{\"0\":\"10.0.0.1:10911\"},\"brokerName\":\"a\",\"cluster\":\"C\"},"
        "{\"brokerAddrs\":{\"0\":\"10.0.0.3:10911\"},\"brokerName\":\"c\",\"cluster\":\"C\"},"
        "{\"brokerAddrs\":{\"1\":\"10.0.0.4:10911\"},\"brokerName\":\"d\",\"cluster\":\"C\"}],"
        "\"filterServerTable\":{},\"queueDatas\":["
        "{\"brokerName\":\"b\",\"perm\":6,\"readQueueNums\":2,\"topicSysFlag\":0,\"writeQueueNums\":2},"
        "{\"brokerName\":\"a\",\"perm\":6,\"readQueueNums\":3,\"topicSysFlag\":0,\"writeQueueNums\":2},"
        "{\"brokerName\":\"c\",\"perm\":4,\"readQueueNums\":1,\"topicSysFlag\":0,\"writeQueueNums\":1},"
        "{\"brokerName\":\"d\",\"perm\":6,\"readQueueNums\":1,\"topicSysFlag\":0,\"writeQueueNums\":1}]}");
    /* publish: a0 a1 b0 b1 (c read-only, d without master) */
    cr_assert_eq(r->npub, 4);
    cr_expect_str_eq(r->pub[0].broker_name, "a");
    cr_expect_str_eq(r->pub[2].broker_name, "b");
    /* subscribe: a0 a1 a2 b0 b1 c0 d0 */
    cr_assert_eq(r->nsub, 7);
    cr_expect_eq(r->sub[2].queue_id, 2);
    cr_expect_str_eq(r->sub[5].broker_name, "c");
    cr_expect_str_eq(r->sub[6].broker_name, "d");
    cr_expect_null(cm_route_master_addr(r, "d"));
    cr_expect_str_eq(cm_route_any_addr(r, "d"), "10.0.0.4:10911");
    cm_route_release(r);
}

Test(route, order_topic_conf)
{
    cm_route_t *r =
        parse("{\"orderTopicConf\":\"b:2;a:1\",\"brokerDatas\":["
              "{\"brokerAddrs\":{0:\"h:1\"},\"brokerName\":\"a\"},{\"brokerAddrs\":{0:\"h:2\"},"
              "\"brokerName\":\"b\"}],"
              "\"queueDatas\":[{\"brokerName\":\"a\",\"perm\":6,\"readQueueNums\":8,\"writeQueueNums\":8},"
              "{\"brokerName\":\"b\",\"perm\":6,\"readQueueNums\":8,\"writeQueueNums\":8}]}");
    cr_assert_eq(r->npub, 3);
    cr_expect_str_eq(r->pub[0].broker_name, "b");
    cr_expect_eq(r->pub[1].queue_id, 1);
    cr_expect_str_eq(r->pub[2].broker_name, "a");
    cm_route_release(r);
}

Test(route, rejects_garbage)
{
    char err[128];
    cr_expect_null(cm_route_parse("T", "{\"queueDatas\":[]}", 16, err, sizeof(err)));
    cr_expect_null(cm_route_parse("T", "not json", 8, err, sizeof(err)));
    const char *bad =
        "{\"brokerDatas\":[],\"queueDatas\":[{\"brokerName\":\"a\",\"perm\":6,\"readQueueNums\":-5,"
        "\"writeQueueNums\":99999999}]}";
    cr_expect_null(cm_route_parse("T", bad, strlen(bad), err, sizeof(err)));
}

Test(route, golden_java_namesrv_answer)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/rocketmq-4.9.8/json/105_GET_ROUTEINFO_BY_TOPIC_resp.bin",
             COMET_TEST_DATA);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    uint8_t buf[4096];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    rmq_cmd_t c;
    char err[256];
    cr_assert_eq(rmq_cmd_decode(&c, buf + 4, n - 4, err, sizeof(err)), RMQ_OK, "%s", err);
    cm_route_t *r = cm_route_parse("GoldenTopic_json", (const char *)c.body, c.body_len, err, sizeof(err));
    cr_assert_not_null(r, "%s", err);
    cr_expect_str_eq(cm_route_master_addr(r, "broker-g"), "127.0.0.2:20911");
    cr_expect_eq(r->npub, 2);
    cr_expect_eq(r->nsub, 2);
    cr_expect_str_eq(r->bds[0].cluster, "GoldenCluster");
    cm_route_release(r);
    rmq_cmd_deinit(&c);
}
