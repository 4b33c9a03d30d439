/* test_rxbatch.c - pull answers decoded in place (cm_rxbatch_t): every
 * field of every message as the copying decoder gives it, properties with
 * Java's odd cases, the last record's bytes at the end of the body, messages
 * outliving each other and the batch's decoder reference, dup, compressed
 * and malformed bodies. Run under ASan (scripts/test.sh) a view that
 * outlived its batch, or a batch never freed, fails here. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "comet_int.h"

/* Append one record (store host 127.0.0.1:10911) to b. */
static void add_rec(rmq_buf_t *b, const char *topic, const void *body, size_t body_len, const char *props,
                    size_t props_len, int64_t qoff, int32_t sys_flag)
{
    rmq_msg_rec_t r;
    memset(&r, 0, sizeof(r));
    r.queue_id = 3;
    r.flag = 7;
    r.queue_offset = qoff;
    r.commitlog_offset = 1000 + qoff * 200;
    r.sys_flag = sys_flag;
    r.born_timestamp = 1700000000000 + qoff;
    r.store_timestamp = 1700000000500 + qoff;
    r.born_host.addr[0] = 10;
    r.born_host.port = 5555;
    r.store_host.addr[0] = 127;
    r.store_host.addr[3] = 1;
    r.store_host.port = 10911;
    r.reconsume_times = 2;
    r.body = body;
    r.body_len = (int32_t)body_len;
    r.body_crc = rmq_msg_body_crc(body, body_len);
    r.topic = topic;
    r.topic_len = strlen(topic);
    r.props = props;
    r.props_len = props_len;
    size_t n = rmq_msg_rec_size(false, false, body_len, r.topic_len, props_len);
    rmq_buf_reserve(b, n);
    rmq_msg_encode(b->data + b->len, &r);
    b->len += n;
}

/* The body as a heap copy of exactly its bytes (the batch takes it). */
static uint8_t *heap_body(const rmq_buf_t *b)
{
    uint8_t *p = malloc(b->len ? b->len : 1);
    memcpy(p, b->data, b->len);
    return p;
}

/* Every field of a batch message equals the copying decoder's message. */
static void expect_same(const comet_message_ext_t *v, const comet_message_ext_t *c)
{
    cr_expect_str_eq(comet_message_ext_topic(v), comet_message_ext_topic(c));
    cr_expect_str_eq(v->real_topic, c->real_topic);
    size_t lv, lc;
    const uint8_t *bv = comet_message_ext_body(v, &lv), *bc = comet_message_ext_body(c, &lc);
    cr_expect_eq(lv, lc);
    cr_expect_eq(memcmp(bv, bc, lc), 0, "body bytes differ");
    cr_expect_eq(bv[lv], 0, "no NUL after the body");
    cr_expect_str_eq(comet_message_ext_msg_id(v), comet_message_ext_msg_id(c));
    cr_expect_str_eq(comet_message_ext_offset_msg_id(v), comet_message_ext_offset_msg_id(c));
    cr_expect_str_eq(comet_message_ext_broker_name(v), comet_message_ext_broker_name(c));
    cr_expect_eq(comet_message_ext_queue_id(v), comet_message_ext_queue_id(c));
    cr_expect_eq(comet_message_ext_queue_offset(v), comet_message_ext_queue_offset(c));
    cr_expect_eq(comet_message_ext_commitlog_offset(v), comet_message_ext_commitlog_offset(c));
    cr_expect_eq(comet_message_ext_born_timestamp(v), comet_message_ext_born_timestamp(c));
    cr_expect_eq(comet_message_ext_store_timestamp(v), comet_message_ext_store_timestamp(c));
    cr_expect_eq(comet_message_ext_reconsume_times(v), comet_message_ext_reconsume_times(c));
    cr_expect_eq(comet_message_ext_flag(v), comet_message_ext_flag(c));
    /* the same property set (the batch adds MIN_OFFSET / MAX_OFFSET) */
    for (size_t i = 0; i < c->props.n; i++) {
        const char *k = c->props.items[i].key;
        const char *val = comet_message_ext_property(v, k);
        cr_expect(val != NULL, "property %s missing", k);
        if (val)
            cr_expect_str_eq(val, c->props.items[i].value, "property %s", k);
    }
    size_t extra = 0;
    for (size_t i = 0; i < v->props.n; i++)
        if (!rmq_msg_props_get(&c->props, v->props.items[i].key))
            extra++;
    cr_expect_leq(extra, 2, "%zu properties the copying decoder does not have", extra);
}

Test(rxbatch, every_field_as_the_copying_decoder)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    const char p0[] = "UNIQ_KEY\001AC11000100002A9F00000001\002TAGS\001TagA\002KEYS\001k1 k2\002WAIT\001true";
    const char p2[] = "TAGS\001TagC";
    add_rec(&b, "TopicA", "hello", 5, p0, sizeof(p0) - 1, 40, 0);
    add_rec(&b, "TopicA", "", 0, "", 0, 41, 0); /* empty body, no properties */
    add_rec(&b, "TopicA", "third body", 10, p2, sizeof(p2) - 1, 42, 0);
    size_t len = b.len;
    cm_rxbatch_t *rx = cm_rxbatch_decode(heap_body(&b), len, "broker-a", 40, 99);
    cr_assert_not_null(rx);
    cr_assert_eq(cm_rxbatch_count(rx), 3);
    size_t pos = 0;
    for (size_t i = 0; i < 3; i++) {
        rmq_msg_rec_t rec;
        size_t used;
        cr_assert_eq(rmq_msg_decode_lenient(b.data + pos, len - pos, false, &rec, &used), RMQ_OK);
        pos += used;
        comet_message_ext_t *c = cm_message_ext_from_rec(&rec, "broker-a");
        comet_message_ext_t *v = cm_rxbatch_msg(rx, i);
        cr_expect_not(v->undecodable);
        expect_same(v, c);
        cr_expect_str_eq(comet_message_ext_property(v, "MIN_OFFSET"), "40");
        cr_expect_str_eq(comet_message_ext_property(v, "MAX_OFFSET"), "99");
        comet_message_ext_destroy(c);
    }
    cr_expect_str_eq(comet_message_ext_msg_id(cm_rxbatch_msg(rx, 0)), "AC11000100002A9F00000001");
    cr_expect_str_eq(comet_message_ext_tags(cm_rxbatch_msg(rx, 0)), "TagA");
    cr_expect_str_eq(comet_message_ext_keys(cm_rxbatch_msg(rx, 0)), "k1 k2");
    cr_expect_null(comet_message_ext_tags(cm_rxbatch_msg(rx, 1)));
    /* no UNIQ_KEY: the offset msg id */
    cr_expect_str_eq(comet_message_ext_msg_id(cm_rxbatch_msg(rx, 1)),
                     comet_message_ext_offset_msg_id(cm_rxbatch_msg(rx, 1)));
    /* the last record's last value ended at the end of the body */
    cr_expect_str_eq(comet_message_ext_tags(cm_rxbatch_msg(rx, 2)), "TagC");
    cm_rxbatch_release(rx); /* nothing handed out: freed here */
    rmq_buf_free(&b);
}

/* Java's string2messageProperties cases, against the copying parser. */
Test(rxbatch, properties_with_odd_bytes)
{
#define CASE(lit)                                                                                            \
    {                                                                                                        \
        lit, sizeof(lit) - 1                                                                                 \
    }
    static const struct {
        const char *s;
        size_t len;
    } cases[] = {
        CASE("A\001x\002\001empty-key\002B\001\002C\001y"), /* empty key, empty value dropped */
        CASE("K\001first\002K\001second\002"),              /* later duplicate wins, trailing 0x02 */
        CASE("K\001v\001with\001names\002Z\001z"),          /* NAME separators inside a value */
        CASE("N\001a\0b\002M\001m"),                        /* NUL inside a value */
        CASE("\002\002ab\002\001\001\001\002Q\001q"),       /* short and separator-only segments */
        CASE("L\001last-without-terminator"),
    };
#undef CASE
    for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
        rmq_buf_t b;
        rmq_buf_init(&b);
        add_rec(&b, "T", "b", 1, cases[ci].s, cases[ci].len, 1, 0);
        add_rec(&b, "T", "b", 1, cases[ci].s, cases[ci].len, 2, 0); /* the same at the end of the body */
        rmq_msg_props_t ref;
        rmq_msg_props_init(&ref);
        rmq_msg_props_parse(&ref, cases[ci].s, cases[ci].len);
        cm_rxbatch_t *rx = cm_rxbatch_decode(heap_body(&b), b.len, "bn", 0, 0);
        cr_assert_not_null(rx, "case %zu", ci);
        for (size_t m = 0; m < 2; m++) {
            const comet_message_ext_t *v = cm_rxbatch_msg(rx, m);
            cr_expect_eq(v->props.n, ref.n + 2, "case %zu: %zu pairs, want %zu", ci, v->props.n, ref.n + 2);
            for (size_t i = 0; i < ref.n; i++) {
                const char *val = comet_message_ext_property(v, ref.items[i].key);
                cr_expect(val && strcmp(val, ref.items[i].value) == 0, "case %zu: %s is %s, want %s", ci,
                          ref.items[i].key, val ? val : "(none)", ref.items[i].value);
            }
            cr_expect_str_eq(comet_message_ext_topic(v), "T");
        }
        rmq_msg_props_free(&ref);
        cm_rxbatch_release(rx);
        rmq_buf_free(&b);
    }
}

/* Messages handed out outlive the decoder's reference and each other; the
 * last one frees the batch (ASan: no use after free, no leak). */
Test(rxbatch, views_outlive_the_decoder_and_each_other)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    char body[64];
    for (int i = 0; i < 150; i++) { /* past the decoder's 64 records on the stack, twice */
        int n = snprintf(body, sizeof(body), "message-%d", i);
        add_rec(&b, "Views", body, (size_t)n, "TAGS\001t", 6, i, 0);
    }
    cm_rxbatch_t *rx = cm_rxbatch_decode(heap_body(&b), b.len, "bn", 0, 149);
    cr_assert_not_null(rx);
    cr_assert_eq(cm_rxbatch_count(rx), 150);
    comet_message_ext_t *m[150];
    for (int i = 0; i < 150; i++)
        m[i] = cm_rxbatch_msg(rx, (size_t)i);
    cm_rxbatch_hold(rx, 150);
    cm_rxbatch_release(rx);
    comet_message_ext_t *copy = comet_message_ext_dup(m[17]);
    /* odd ones first, then the even ones from the end: each body still reads */
    for (int pass = 0; pass < 2; pass++)
        for (int i = pass ? 148 : 1; pass ? i >= 0 : i < 150; i += pass ? -2 : 2) {
            char want[64];
            snprintf(want, sizeof(want), "message-%d", i);
            cr_expect_str_eq((const char *)comet_message_ext_body(m[i], NULL), want);
            comet_message_ext_destroy(m[i]);
        }
    /* the dup owns its bytes */
    cr_expect_str_eq((const char *)comet_message_ext_body(copy, NULL), "message-17");
    cr_expect_str_eq(comet_message_ext_tags(copy), "t");
    cr_expect_str_eq(comet_message_ext_property(copy, "MAX_OFFSET"), "149");
    cr_expect_str_eq(comet_message_ext_broker_name(copy), "bn");
    cr_expect_str_eq(comet_message_ext_msg_id(copy), comet_message_ext_offset_msg_id(copy));
    comet_message_ext_destroy(copy);
    rmq_buf_free(&b);
}

Test(rxbatch, retry_topic_and_compressed_bodies)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    const char rp[] = "RETRY_TOPIC\001Orig\002UNIQ_KEY\001U1";
    add_rec(&b, "%RETRY%grp", "r", 1, rp, sizeof(rp) - 1, 0, 0);
    char text[2000];
    for (size_t i = 0; i < sizeof(text); i++)
        text[i] = (char)('a' + i % 7);
    uLongf zl = compressBound(sizeof(text));
    uint8_t *z = malloc(zl);
    cr_assert_eq(compress(z, &zl, (const Bytef *)text, sizeof(text)), Z_OK);
    add_rec(&b, "Z", z, zl, "", 0, 1, RMQ_SYSFLAG_COMPRESSED);
    add_rec(&b, "Z", "not zlib", 8, "", 0, 2, RMQ_SYSFLAG_COMPRESSED);
    free(z);
    cm_rxbatch_t *rx = cm_rxbatch_decode(heap_body(&b), b.len, "bn", 0, 2);
    cr_assert_not_null(rx);
    comet_message_ext_t *r = cm_rxbatch_msg(rx, 0);
    cr_expect_str_eq(comet_message_ext_topic(r), "Orig");
    cr_expect_str_eq(r->real_topic, "%RETRY%grp");
    cr_expect_str_eq(comet_message_ext_msg_id(r), "U1");
    comet_message_ext_t *c = cm_rxbatch_msg(rx, 1);
    size_t len;
    const char *body = comet_message_ext_body(c, &len);
    cr_expect_not(c->undecodable);
    cr_expect_eq(len, sizeof(text));
    cr_expect_eq(memcmp(body, text, sizeof(text)), 0);
    cr_expect_eq(body[len], 0);
    cr_expect(cm_rxbatch_msg(rx, 2)->undecodable, "a corrupt compressed body is flagged");
    cm_rxbatch_hold(rx, 1);
    cm_rxbatch_release(rx);
    comet_message_ext_destroy(c); /* the inflated body goes with the batch */
    rmq_buf_free(&b);
}

Test(rxbatch, malformed_bodies_are_refused)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    add_rec(&b, "T", "body", 4, "A\001b", 3, 0, 0);
    add_rec(&b, "T", "body", 4, "A\001b", 3, 1, 0);
    /* cut inside the second record */
    cr_expect_null(cm_rxbatch_decode(heap_body(&b), b.len - 3, "bn", 0, 0));
    /* a bad magic in the first */
    uint8_t *bad = heap_body(&b);
    bad[5] ^= 0xFF;
    cr_expect_null(cm_rxbatch_decode(bad, b.len, "bn", 0, 0));
    /* cut inside the 100th record, after the decoder's record table grew */
    rmq_buf_t many;
    rmq_buf_init(&many);
    for (int i = 0; i < 100; i++)
        add_rec(&many, "T", "body", 4, "A\001b", 3, i, 0);
    cr_expect_null(cm_rxbatch_decode(heap_body(&many), many.len - 1, "bn", 0, 0));
    rmq_buf_free(&many);
    /* nothing at all: an empty batch */
    cm_rxbatch_t *rx = cm_rxbatch_decode(malloc(1), 0, "bn", 0, 0);
    cr_assert_not_null(rx);
    cr_expect_eq(cm_rxbatch_count(rx), 0);
    cm_rxbatch_release(rx);
    /* an answer without a body (FOUND never has one, but the decoder takes it) */
    rx = cm_rxbatch_decode(NULL, 0, "bn", 0, 0);
    cr_assert_not_null(rx);
    cr_expect_eq(cm_rxbatch_count(rx), 0);
    cm_rxbatch_release(rx);
    rmq_buf_free(&b);
}
