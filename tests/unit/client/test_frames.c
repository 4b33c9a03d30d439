/* test_frames.c - libcomet's requests against the frames the Java 4.9.8
 * client sent (tests/data/rocketmq-4.9.8/json): SEND_MESSAGE_V2,
 * PULL_MESSAGE and HEART_BEAT are built from the same inputs and compared
 * field by field (and byte for byte where the header is deterministic). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comet_int.h"
#include "rmq_json.h"

static size_t load(const char *name, uint8_t *buf, size_t cap)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/rocketmq-4.9.8/json/%s", COMET_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void golden(const char *name, rmq_cmd_t *c)
{
    static uint8_t buf[65536];
    size_t n = load(name, buf, sizeof(buf));
    char err[256];
    cr_assert_eq(rmq_cmd_decode(c, buf + 4, n - 4, err, sizeof(err)), RMQ_OK, "%s: %s", name, err);
}

static void same_ext(const rmq_cmd_t *want, const rmq_cmd_t *got)
{
    cr_expect_eq(got->code, want->code);
    cr_expect_eq(got->ext_n, want->ext_n, "ext field count %zu, Java sends %zu", got->ext_n, want->ext_n);
    for (size_t i = 0; i < want->ext_n; i++) {
        const char *v = rmq_cmd_ext(got, want->ext[i].key);
        cr_expect_not_null(v, "missing ext field %s", want->ext[i].key);
        if (v)
            cr_expect_str_eq(v, want->ext[i].val, "ext field %s", want->ext[i].key);
    }
}

static void same_frame(const rmq_cmd_t *want, rmq_cmd_t *got)
{
    got->opaque = want->opaque;
    rmq_buf_t a, b;
    rmq_buf_init(&a);
    rmq_buf_init(&b);
    rmq_cmd_encode(want, &a);
    rmq_cmd_encode(got, &b);
    cr_expect_eq(a.len, b.len, "frame length %zu, Java %zu", b.len, a.len);
    cr_expect(a.len == b.len && memcmp(a.data, b.data, a.len) == 0,
              "frame bytes differ from Java's:\n%.*s\n%.*s", (int)a.len - 8, a.data + 8, (int)b.len - 8,
              b.data + 8);
    rmq_buf_free(&a);
    rmq_buf_free(&b);
}

static comet_conf_t *conf_with(const char *k1, const char *v1, const char *k2, const char *v2)
{
    comet_conf_t *c = comet_conf_new();
    char err[128];
    comet_conf_set(c, "namesrvAddr", "127.0.0.1:1", err, sizeof(err));
    comet_conf_set(c, "clientIP", "127.0.0.1", err, sizeof(err));
    if (k1)
        cr_assert_eq(comet_conf_set(c, k1, v1, err, sizeof(err)), COMET_CONF_OK, "%s", err);
    if (k2)
        cr_assert_eq(comet_conf_set(c, k2, v2, err, sizeof(err)), COMET_CONF_OK, "%s", err);
    return c;
}

Test(frames, send_message_v2_like_java)
{
    rmq_cmd_t want;
    golden("310_SEND_MESSAGE_V2_req.bin", &want);
    comet_conf_t *conf = conf_with("producerGroup", "golden_pg_json", NULL, NULL);
    int64_t born = 0;
    rmq_cmd_ext_i64(&want, "g", &born);
    rmq_cmd_t *got = cm_send_cmd_new(&conf->s, 310, "GoldenTopic_json", 0, 0, born, 0,
                                     rmq_cmd_ext(&want, "i"), false, "broker-g", want.body, want.body_len);
    same_ext(&want, got);
    same_frame(&want, got);
    rmq_cmd_destroy(got);
    rmq_cmd_deinit(&want);
    comet_conf_destroy(conf);
}

/* The send path writes binary frames field by field (cm_send_frame_binary):
 * byte for byte the generic encoding of the same request, with negative
 * numbers, empty values and an absent broker name too. */
Test(frames, binary_send_frame_is_the_generic_encoding)
{
    comet_conf_t *conf = conf_with("producerGroup", "pg_bin", NULL, NULL);
    static const uint8_t body[] = "binary\0body";
    struct {
        int code;
        int32_t qid, sys_flag, flag;
        int64_t born;
        const char *props, *broker;
        bool batch;
    } cases[] = {
        {310, 3, 0, 0, 1700000000123LL, "TAGS\001a\002UNIQ_KEY\001X", "broker-a", false},
        {310, -1, 1 << 16, -7, 0, "", "b", false},
        {320, 0, 0, 2147483647, -1, "WAIT\001true", NULL, true},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rmq_cmd_t *c = cm_send_cmd_new(&conf->s, cases[i].code, "TopicBin", cases[i].qid, cases[i].sys_flag,
                                       cases[i].born, cases[i].flag, cases[i].props, cases[i].batch,
                                       cases[i].broker, body, sizeof(body));
        c->serialize = RMQ_SERIALIZE_ROCKETMQ;
        c->opaque = 4242 + (int32_t)i;
        rmq_buf_t want;
        rmq_buf_init(&want);
        rmq_cmd_encode(c, &want);
        cm_frame_t got;
        cm_send_frame_binary(&conf->s, cases[i].code, c->opaque, "TopicBin", cases[i].qid, cases[i].sys_flag,
                             cases[i].born, cases[i].flag, cases[i].props, cases[i].batch, cases[i].broker,
                             body, sizeof(body), &got);
        cr_expect_eq(got.len, want.len, "case %zu: %zu bytes, generic %zu", i, got.len, want.len);
        cr_expect(got.len == want.len && memcmp(got.data, want.data, want.len) == 0, "case %zu: bytes differ",
                  i);
        cr_expect_eq(got.opaque, c->opaque);
        free(got.data);
        rmq_buf_free(&want);
        rmq_cmd_destroy(c);
    }
    comet_conf_destroy(conf);
}

Test(frames, batch_like_java)
{
    rmq_cmd_t want;
    golden("320_SEND_BATCH_MESSAGE_req.bin", &want);
    comet_conf_t *conf = conf_with("producerGroup", "golden_pg_json", NULL, NULL);
    int64_t born = 0;
    rmq_cmd_ext_i64(&want, "g", &born);
    /* the body: the same three messages encoded by us */
    rmq_buf_t body;
    rmq_buf_init(&body);
    rmq_msg_batch_item_t *items;
    size_t n;
    cr_assert_eq(rmq_msg_batch_decode(want.body, want.body_len, &items, &n), RMQ_OK);
    cr_assert_eq(n, 3);
    for (size_t i = 0; i < n; i++)
        rmq_msg_batch_encode_one(&body, items[i].flag, items[i].body, (size_t)items[i].body_len,
                                 items[i].props, items[i].props_len);
    free(items);
    rmq_cmd_t *got = cm_send_cmd_new(&conf->s, 320, "GoldenTopic_json", 0, 0, born, 0, "WAIT\001true", true,
                                     "broker-g", body.data, body.len);
    same_ext(&want, got);
    same_frame(&want, got);
    rmq_buf_free(&body);
    rmq_cmd_destroy(got);
    rmq_cmd_deinit(&want);
    comet_conf_destroy(conf);
}

Test(frames, pull_message_like_java)
{
    rmq_cmd_t want;
    golden("11_PULL_MESSAGE_found_req.bin", &want);
    int64_t subver = 0;
    rmq_cmd_ext_i64(&want, "subVersion", &subver);
    rmq_cmd_t *got = cm_pull_cmd_new("golden_cg_json", "GoldenTopic_json", 0, 0, 32, 2, 0, 15000, NULL,
                                     subver, "broker-g");
    same_ext(&want, got);
    rmq_cmd_destroy(got);
    rmq_cmd_deinit(&want);
}

Test(frames, producer_heartbeat_like_java)
{
    rmq_cmd_t want;
    golden("34_HEART_BEAT_producer_req.bin", &want);
    comet_conf_t *conf = conf_with("producerGroup", "golden_pg_json", "instanceName", "producer_json");
    char err[256];
    cm_instance_t *inst = cm_instance_new(conf, err, sizeof(err));
    cr_assert_not_null(inst, "%s", err);
    cm_role_t role = {0};
    role.producer_group = conf->s.producerGroup;
    cm_instance_set_role(inst, &role);
    rmq_buf_t b;
    rmq_buf_init(&b);
    cm_heartbeat_body(inst, &b);
    cr_expect_eq(b.len, want.body_len);
    cr_expect(b.len == want.body_len && memcmp(b.data, want.body, b.len) == 0, "ours: %.*s\njava: %.*s",
              (int)b.len, b.data, (int)want.body_len, want.body);
    rmq_buf_free(&b);
    cm_instance_destroy(inst);
    rmq_cmd_deinit(&want);
    comet_conf_destroy(conf);
}

static int deliver_none(cm_consumer_t *c, cm_mqstate_t *mq)
{
    return 0;
}

/* Same keys everywhere and the same values except subVersion and set order. */
static void same_json(json_t *want, json_t *got, const char *path)
{
    if (json_is_object(want)) {
        cr_assert(json_is_object(got), "%s: not an object", path);
        cr_expect_eq(json_object_size(got), json_object_size(want), "%s: keys", path);
        const char *k;
        json_t *v;
        json_object_foreach(want, k, v)
        {
            char p[256];
            snprintf(p, sizeof(p), "%s.%s", path, k);
            json_t *g = json_object_get(got, k);
            cr_expect_not_null(g, "%s missing", p);
            if (g && strcmp(k, "subVersion") != 0)
                same_json(v, g, p);
        }
    } else if (json_is_array(want)) {
        cr_assert(json_is_array(got), "%s: not an array", path);
        cr_assert_eq(json_array_size(got), json_array_size(want), "%s: size", path);
        /* sets: every element of want appears in got */
        for (size_t i = 0; i < json_array_size(want); i++) {
            json_t *w = json_array_get(want, i);
            bool found = false;
            for (size_t j = 0; j < json_array_size(got) && !found; j++) {
                json_t *g = json_array_get(got, j);
                if (json_is_object(w))
                    found = json_equal(json_object_get(w, "topic"), json_object_get(g, "topic")) ||
                            json_equal(json_object_get(w, "groupName"), json_object_get(g, "groupName"));
                else
                    found = json_equal(w, g);
                if (found && json_is_object(w)) {
                    char p[256];
                    snprintf(p, sizeof(p), "%s[%zu]", path, i);
                    same_json(w, g, p);
                }
            }
            cr_expect(found, "%s: element %zu of Java's array not found", path, i);
        }
    } else {
        cr_expect(json_equal(want, got), "%s differs", path);
    }
}

Test(frames, consumer_heartbeat_like_java)
{
    rmq_cmd_t want;
    golden("34_HEART_BEAT_consumer_req.bin", &want);
    comet_conf_t *conf = conf_with("consumerGroup", "golden_cg_json", "instanceName", "consumer_json");
    char err[256];
    comet_conf_set(conf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", err, sizeof(err));
    cm_instance_t *inst = cm_instance_new(conf, err, sizeof(err));
    cr_assert_not_null(inst);
    cm_consumer_t c;
    cm_consumer_ops_t ops = {NULL, deliver_none};
    cm_consumer_init(&c, inst, &conf->s, true, NULL, &ops);
    cm_consumer_subscribe(&c, "GoldenTopic_json", "TagA || TagB || TagBatch");
    cm_consumer_attach(&c);
    rmq_buf_t b;
    rmq_buf_init(&b);
    cm_heartbeat_body(inst, &b);
    json_t *g = rmq_json_parse((const char *)b.data, b.len, err, sizeof(err));
    json_t *w = rmq_json_parse((const char *)want.body, want.body_len, err, sizeof(err));
    cr_assert_not_null(g, "%s: %.*s", err, (int)b.len, b.data);
    same_json(w, g, "$");
    json_decref(g);
    json_decref(w);
    rmq_buf_free(&b);
    c.running = false;
    cm_instance_destroy(inst);
    cm_consumer_deinit(&c);
    rmq_cmd_deinit(&want);
    comet_conf_destroy(conf);
}
