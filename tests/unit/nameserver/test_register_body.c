/* test_register_body.c - REGISTER_BROKER body decoding without sockets: the
 * Java 4.9.8 broker's body, a Java-style incremental body, the one-pass
 * decoder against a whole-document jansson reading of the same bodies (the
 * decoder the name server had before; any difference fails), and bodies
 * that must be refused without crashing. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "register_body.h"
#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_json.h"

/* The body of tests/data/rocketmq-4.9.8/json/103_REGISTER_BROKER_req.json
 * (a Java 4.9.8 broker's first registration), two of its eight topics. */
#define JAVA_BODY                                                                                            \
    "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":0,"              \
    "\"timestamp\":"                                                                                         \
    "1795505866597},\"topicConfigTable\":{\"SCHEDULE_TOPIC_XXXX\":{\"order\":false,\"perm\":6,"              \
    "\"readQueueNums\":18,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"SCHEDULE_TOPIC_XXXX\","         \
    "\"topicSysFlag\":0,\"writeQueueNums\":18},\"TBW102\":{\"order\":false,\"perm\":7,\"readQueueNums\":8,"  \
    "\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"TBW102\",\"topicSysFlag\":0,\"writeQueueNums\":8}}}" \
    "}"

static bool parse(const char *body, bool wrapped, ns_reg_body_t *b, char *err, size_t es)
{
    return ns_reg_body_parse((const uint8_t *)body, strlen(body), false, wrapped, b, err, es);
}

static const ns_topic_conf_t *find(const ns_reg_body_t *b, const char *name)
{
    for (size_t i = 0; i < b->n_topics; i++)
        if (!strcmp(b->topics[i].name, name))
            return &b->topics[i];
    return NULL;
}

Test(register_body, java_broker_body)
{
    ns_reg_body_t b;
    char err[256];
    cr_assert(parse(JAVA_BODY, true, &b, err, sizeof(err)), "%s", err);
    cr_assert_eq(b.n_topics, 2);
    cr_assert_eq(b.dv.counter, 0);
    cr_assert_eq(b.dv.timestamp, 1795505866597LL);
    const ns_topic_conf_t *t = find(&b, "TBW102");
    cr_assert_not_null(t);
    cr_assert_eq(t->read_queue_nums, 8);
    cr_assert_eq(t->write_queue_nums, 8);
    cr_assert_eq(t->perm, 7);
    cr_assert_eq(find(&b, "SCHEDULE_TOPIC_XXXX")->read_queue_nums, 18);
    cr_assert_null(b.filter_servers, "an empty filterServerList is none");
    ns_reg_body_free(&b);
}

/* BrokerController.registerIncrementBrokerData: the same wrapper holding
 * only the changed topic, with the table's data version. */
Test(register_body, java_incremental_body)
{
    const char *inc =
        "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":7,"
        "\"timestamp\":1795505867000},\"topicConfigTable\":{\"NewTopic\":{\"order\":false,\"perm\":6,"
        "\"readQueueNums\":8,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":\"NewTopic\","
        "\"topicSysFlag\":0,\"writeQueueNums\":8}}}}";
    ns_reg_body_t b;
    char err[256];
    cr_assert(parse(inc, true, &b, err, sizeof(err)), "%s", err);
    cr_assert_eq(b.n_topics, 1);
    cr_assert_eq(b.dv.counter, 7);
    cr_assert_str_eq(b.topics[0].name, "NewTopic");
    ns_reg_body_free(&b);
}

/* ---- the reference: one jansson document of the whole body ---- */

/* A TopicConfig number, or its default when absent. */
static int32_t num(const json_t *tc, const char *key, int64_t dflt)
{
    rmq_json_int(tc, key, &dflt);
    return (int32_t)dflt;
}

static bool ref_parse(const char *body, bool wrapped, ns_reg_body_t *b)
{
    memset(b, 0, sizeof(*b));
    json_t *j = rmq_json_parse(body, strlen(body), NULL, 0);
    if (!j)
        return false;
    json_t *wrap = wrapped ? json_object_get(j, "topicConfigSerializeWrapper") : j;
    bool ok = json_is_object(wrap);
    if (ok) {
        json_t *dv = json_object_get(wrap, "dataVersion");
        if (json_is_object(dv)) {
            rmq_json_int(dv, "counter", &b->dv.counter);
            rmq_json_int(dv, "timestamp", &b->dv.timestamp);
        }
        json_t *tbl = json_object_get(wrap, "topicConfigTable");
        if (tbl && !json_is_object(tbl))
            ok = false;
        const char *key;
        json_t *tc;
        json_object_foreach(tbl, key, tc)
        {
            if (!ok || !json_is_object(tc)) {
                ok = false;
                break;
            }
            const char *name = rmq_json_str(tc, "topicName");
            b->topics = rmq_realloc(b->topics, (b->n_topics + 1) * sizeof(*b->topics));
            b->topics[b->n_topics++] = (ns_topic_conf_t){
                .name = rmq_strdup(name ? name : key),
                .read_queue_nums = num(tc, "readQueueNums", 16),
                .write_queue_nums = num(tc, "writeQueueNums", 16),
                .perm = num(tc, "perm", 6),
                .topic_sys_flag = num(tc, "topicSysFlag", 0),
            };
        }
    }
    json_decref(j);
    return ok;
}

static void same_as_reference(const char *body, bool wrapped)
{
    ns_reg_body_t a, r;
    char err[256] = "";
    bool ok = parse(body, wrapped, &a, err, sizeof(err));
    bool rok = ref_parse(body, wrapped, &r);
    cr_assert_eq(ok, rok, "decoder %s, jansson %s: %s (%s)", ok ? "accepts" : "refuses",
                 rok ? "accepts" : "refuses", body, err);
    if (ok) {
        cr_assert_eq(a.n_topics, r.n_topics, "topic count differs: %s", body);
        cr_assert_eq(a.dv.counter, r.dv.counter, "%s", body);
        cr_assert_eq(a.dv.timestamp, r.dv.timestamp, "%s", body);
        for (size_t i = 0; i < r.n_topics; i++) {
            const ns_topic_conf_t *x = find(&a, r.topics[i].name), *y = &r.topics[i];
            cr_assert_not_null(x, "topic %s missing: %s", y->name, body);
            cr_assert(x->read_queue_nums == y->read_queue_nums &&
                          x->write_queue_nums == y->write_queue_nums && x->perm == y->perm &&
                          x->topic_sys_flag == y->topic_sys_flag,
                      "topic %s differs (%d/%d/%d/%d against %d/%d/%d/%d): %s", y->name, x->read_queue_nums,
                      x->write_queue_nums, x->perm, x->topic_sys_flag, y->read_queue_nums,
                      y->write_queue_nums, y->perm, y->topic_sys_flag, body);
        }
    } else {
        cr_assert(err[0], "a refusal says why: %s", body);
    }
    ns_reg_body_free(&a);
    ns_reg_body_free(&r);
}

Test(register_body, same_result_as_a_whole_document)
{
    static const char *const topics[] = {
        /* what brokers send */
        "{\"order\":false,\"perm\":6,\"readQueueNums\":4,\"topicFilterType\":\"SINGLE_TAG\",\"topicName\":"
        "\"T\","
        "\"topicSysFlag\":0,\"writeQueueNums\":4}",
        /* other member order, white space */
        "{ \"writeQueueNums\" : 3 ,\n\t\"topicName\":\"T\", \"readQueueNums\":5,\"perm\":2 }",
        /* defaults when absent; no topicName: the key */
        "{}",
        "{\"order\":true}",
        /* numbers as strings, reals, negative, big */
        "{\"readQueueNums\":\"7\",\"writeQueueNums\":7.0,\"perm\":-1,\"topicSysFlag\":123456789012}",
        /* booleans / null where numbers go; a number where the name goes */
        "{\"readQueueNums\":true,\"writeQueueNums\":null,\"topicName\":5}",
        /* escapes and non-ASCII in the name, duplicate members (the last wins) */
        "{\"topicName\":\"A\\u0042\\\"C\"}",
        "{\"topicName\":\"caf\xc3\xa9\"}",
        "{\"perm\":2,\"perm\":4,\"topicName\":\"X\",\"topicName\":\"Y\"}",
        /* nested members the decoder does not use */
        "{\"attributes\":{\"a\":[1,{\"b\":\"}\"}]},\"readQueueNums\":9}",
        /* not an object */
        "[1,2]",
        "\"T\"",
        /* broken */
        "{\"readQueueNums\":}",
        "{\"readQueueNums\":1,}",
        "{\"readQueueNums\":01}",
        "{\"topicName\":\"bad\xff\"}",
        "{\"readQueueNums\" 1}",
    };
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++) {
        char body[1024];
        snprintf(body, sizeof(body),
                 "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":3,"
                 "\"timestamp\":17},\"topicConfigTable\":{\"K%zu\":%s,\"Z\":{\"readQueueNums\":2}}}}",
                 i, topics[i]);
        same_as_reference(body, true);
    }
    static const char *const bodies[] = {
        JAVA_BODY,
        "{}",
        "{\"topicConfigSerializeWrapper\":null}",
        "{\"topicConfigSerializeWrapper\":{}}",
        "{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":[1,2]}}",
        "{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":null}}",
        "{\"topicConfigSerializeWrapper\":{\"dataVersion\":5,\"topicConfigTable\":{}}}",
        "{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":{}}} trailing",
        "{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":{}},\"x\":[1,,2]}",
        "{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":{\"a\":{}}",
        "{\"topicConfigSerializeWrapper\":{\"topicConfigTable\":{\"a\\u0041\":{}}}}",
        "{\"topic\\u0043onfigSerializeWrapper\":{\"topicConfigTable\":{\"a\":{}}}}",
        "{not json",
        "[]",
        "\"str\"",
        "{\"a\":\"unterminated",
        "{\"a\":\"ctl\x01\"}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++)
        same_as_reference(bodies[i], true);
    /* a bare TopicConfigSerializeWrapper (brokers before V3_0_11) */
    same_as_reference("{\"dataVersion\":{\"counter\":2,\"timestamp\":1},\"topicConfigTable\":{\"T\":{}}}",
                      false);
    same_as_reference("[]", false);
}

Test(register_body, filter_servers_and_empty_body)
{
    ns_reg_body_t b;
    char err[256];
    cr_assert(parse("{\"filterServerList\":[\"127.0.0.1:1\"],\"topicConfigSerializeWrapper\":{}}", true, &b,
                    err, sizeof(err)),
              "%s", err);
    cr_assert_str_eq(b.filter_servers, "[\"127.0.0.1:1\"]");
    ns_reg_body_free(&b);
    cr_assert(ns_reg_body_parse(NULL, 0, false, true, &b, err, sizeof(err)),
              "an empty body is an empty wrapper");
    cr_assert_eq(b.n_topics, 0);
    ns_reg_body_free(&b);
}

/* A member name holding \u0000 has no C string: refused with a reason, as
 * jansson refuses it in any object key (found by fuzz_ns_body: the name was
 * cut at the NUL and the body accepted). Fails if either name is accepted. */
Test(register_body, nul_in_member_name_refused)
{
    static const char *bodies[] = {
        "{\"topicConfigTable\":{\"T\\u0000X\":{\"topicName\":\"T\",\"perm\":6}}}",
        "{\"topicConfigTable\":{\"T\":{\"topicName\":\"T\",\"x\\u0000\":1}}}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        ns_reg_body_t b;
        char err[256] = "";
        cr_assert(!parse(bodies[i], false, &b, err, sizeof(err)), "body %zu accepted: %s", i, bodies[i]);
        cr_assert(strstr(err, "bad member name") || strstr(err, "NUL byte in object key"),
                  "body %zu: reason %s", i, err);
        ns_reg_body_free(&b);
    }
    ns_reg_body_t b;
    char err[256] = "";
    cr_assert(parse("{\"topicConfigTable\":{\"T\\u0041\":{\"perm\":6}}}", false, &b, err, sizeof(err)), "%s",
              err);
    cr_assert_eq(b.n_topics, 1);
    cr_assert_str_eq(b.topics[0].name, "TA", "an escaped name other than \\u0000 is decoded");
    ns_reg_body_free(&b);
}

Test(register_body, deep_nesting_is_refused_not_recursed)
{
    /* 100,000 levels inside a member the decoder skips: refused, no crash */
    size_t depth = 100000;
    rmq_buf_t body;
    rmq_buf_init(&body);
    rmq_buf_puts(&body, "{\"x\":");
    for (size_t i = 0; i < depth; i++)
        rmq_buf_putc(&body, '[');
    for (size_t i = 0; i < depth; i++)
        rmq_buf_putc(&body, ']');
    rmq_buf_puts(&body, ",\"topicConfigSerializeWrapper\":{}}");
    ns_reg_body_t b;
    char err[256] = "";
    cr_assert(!ns_reg_body_parse(body.data, body.len, false, true, &b, err, sizeof(err)));
    cr_assert(strstr(err, "nested too deeply"), "reason: %s", err);
    ns_reg_body_free(&b);
    rmq_buf_free(&body);
}

Test(register_body, many_topics)
{
    rmq_buf_t body;
    rmq_buf_init(&body);
    rmq_buf_puts(&body,
                 "{\"filterServerList\":[],\"topicConfigSerializeWrapper\":{\"dataVersion\":{\"counter\":1,"
                 "\"timestamp\":2},\"topicConfigTable\":{");
    size_t n = 20000;
    for (size_t i = 0; i < n; i++)
        rmq_buf_printf(&body,
                       "%s\"T%zu\":{\"order\":false,\"perm\":6,\"readQueueNums\":%zu,\"topicFilterType\":"
                       "\"SINGLE_TAG\",\"topicName\":\"T%zu\",\"topicSysFlag\":0,\"writeQueueNums\":8}",
                       i ? "," : "", i, i % 16 + 1, i);
    rmq_buf_puts(&body, "}}}");
    ns_reg_body_t b;
    char err[256];
    cr_assert(ns_reg_body_parse(body.data, body.len, false, true, &b, err, sizeof(err)), "%s", err);
    cr_assert_eq(b.n_topics, n);
    for (size_t i = 0; i < n; i += 997) {
        char name[32];
        snprintf(name, sizeof(name), "T%zu", i);
        const ns_topic_conf_t *t = find(&b, name);
        cr_assert_not_null(t, "%s missing", name);
        cr_assert_eq(t->read_queue_nums, (int32_t)(i % 16 + 1));
    }
    ns_reg_body_free(&b);
    rmq_buf_free(&body);
}
