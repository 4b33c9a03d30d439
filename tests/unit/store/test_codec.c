/* test_codec.c - golden tests of the stored-message codec (rmq_msg_codec)
 * against records written by real RocketMQ brokers (tests/data/store/). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_msg_codec.h"

static uint8_t *load(const char *name, size_t *len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/store/%s", COMET_TEST_DATA, name);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)n);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

static char *prop(const rmq_msg_rec_t *r, const char *key)
{
    const char *v;
    size_t vl;
    if (!rmq_msg_props_find(r->props, r->props_len, key, &v, &vl))
        return NULL;
    return rmq_strndup(v, vl);
}

static void id_of(const rmq_msg_rec_t *r, char *out)
{
    rmq_msg_id_create(out, &r->store_host, r->commitlog_offset);
}

Test(codec, ali_ons_message)
{
    size_t len;
    uint8_t *b = load("message.bin", &len);
    rmq_msg_rec_t r;
    cr_assert_eq(rmq_msg_decode(b, len, true, &r), RMQ_OK);
    char id[RMQ_MSG_ID_MAX];
    id_of(&r, id);
    cr_assert_str_eq(id, "0ADA91A6000029CC0000006500E59F3E");
    cr_assert_eq(r.topic_len, 9);
    cr_assert(memcmp(r.topic, "TopicTest", 9) == 0);
    char *tags = prop(&r, "TAGS");
    cr_assert_str_eq(tags, "TagA");
    free(tags);
    cr_assert_null(prop(&r, "KEYS"));
    cr_assert_eq(r.body_len, (int32_t)strlen("{\"room\":\"1\",\"msg\":\"1\"}"));
    cr_assert(memcmp(r.body, "{\"room\":\"1\",\"msg\":\"1\"}", (size_t)r.body_len) == 0);
    /* re-encode: byte-identical */
    size_t sz =
        rmq_msg_rec_size(r.born_host.v6, r.store_host.v6, (size_t)r.body_len, r.topic_len, r.props_len);
    cr_assert_eq(sz, (size_t)r.total_size);
    uint8_t *enc = malloc(sz);
    rmq_msg_encode(enc, &r);
    cr_assert(memcmp(enc, b, sz) == 0);
    free(enc);
    free(b);
}

Test(codec, ali_ons_compressed)
{
    size_t len;
    uint8_t *b = load("message_compress.bin", &len);
    rmq_msg_rec_t r;
    /* this (old) broker wrote a TOTALSIZE of 125 for 133 bytes of fields and
     * computed BODYCRC over the uncompressed body: the strict (store) decode
     * refuses it, Java's field walk (lenient) reads it */
    cr_assert_eq(rmq_msg_decode(b, len, false, &r), RMQ_ERR__CORRUPT);
    size_t used = 0;
    cr_assert_eq(rmq_msg_decode_lenient(b, len, true, &r, &used), RMQ_ERR__CORRUPT);
    cr_assert_eq(rmq_msg_decode_lenient(b, len, false, &r, &used), RMQ_OK);
    cr_assert_eq(used, 133);
    cr_assert_eq(r.total_size, 125);
    cr_assert(r.sys_flag & RMQ_SYSFLAG_COMPRESSED);
    char id[RMQ_MSG_ID_MAX];
    id_of(&r, id);
    cr_assert_str_eq(id, "0ADA91A6000029CC000000661A586D98");
    rmq_buf_t out;
    rmq_buf_init(&out);
    cr_assert_eq(rmq_msg_inflate(r.body, (size_t)r.body_len, &out, 0), RMQ_OK);
    cr_assert_eq(out.len, strlen("Hello MetaQ !!!"));
    cr_assert(memcmp(out.data, "Hello MetaQ !!!", out.len) == 0);
    cr_assert_eq(r.body_crc, rmq_msg_body_crc(out.data, out.len));
    rmq_buf_free(&out);
    rmq_buf_init(&out);
    cr_assert_eq(rmq_msg_inflate(r.body, (size_t)r.body_len - 3, &out, 0), RMQ_ERR__CORRUPT);
    rmq_buf_free(&out);
    free(b);
}

Test(codec, ali_ons_batch)
{
    size_t len;
    uint8_t *b = load("batch_message.bin", &len);
    const char *ids[] = {"0ADA91A6000029CC000000659560A2AA", "0ADA91A6000029CC000000659560D349",
                         "0ADA91A6000029CC000000659560D578"};
    size_t pos = 0;
    for (int i = 0; i < 3; i++) {
        rmq_msg_rec_t r;
        cr_assert_eq(rmq_msg_decode(b + pos, len - pos, true, &r), RMQ_OK, "record %d", i);
        char id[RMQ_MSG_ID_MAX];
        id_of(&r, id);
        cr_assert_str_eq(id, ids[i]);
        if (i == 0)
            cr_assert(r.body_len == 15 && memcmp(r.body, "Hello MetaQ !!!", 15) == 0);
        pos += (size_t)r.total_size;
    }
    /* what follows is zeros: the scanner calls it the end */
    rmq_msg_rec_t r;
    cr_assert_eq(rmq_msg_check(b + pos, len - pos, true, 0, &r), RMQ_MSG_CHECK_END);
    free(b);
}

Test(codec, msg_id_parse)
{
    rmq_msg_host_t h;
    int64_t off;
    cr_assert_eq(rmq_msg_id_parse("0ADA91A6000029CC0000006504009B6F", 32, &h, &off), RMQ_OK);
    cr_assert_eq(h.v6, 0);
    cr_assert(h.addr[0] == 10 && h.addr[1] == 218 && h.addr[2] == 145 && h.addr[3] == 166);
    cr_assert_eq(h.port, 10700);
    cr_assert_eq(off, 433858845551LL);
    char out[RMQ_MSG_ID_MAX];
    rmq_msg_host_t h2 = {.v6 = 0, .addr = {192, 168, 1, 10}, .port = 10911};
    rmq_msg_id_create(out, &h2, 4096);
    cr_assert_str_eq(out, "C0A8010A00002A9F0000000000001000");
    rmq_msg_host_t h6 = {.v6 = 1, .addr = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}, .port = 1};
    cr_assert_eq(rmq_msg_id_create(out, &h6, 7), 56);
    cr_assert_eq(rmq_msg_id_parse(out, 56, &h, &off), RMQ_OK);
    cr_assert(h.v6 && h.addr[0] == 0xfd && h.addr[15] == 2 && h.port == 1 && off == 7);
    cr_assert_eq(rmq_msg_id_parse("XYZ", 3, &h, &off), RMQ_ERR__INVALID_ARG);
    cr_assert_eq(rmq_msg_id_parse("0ADA91A6000029CC0000006504009BZZ", 32, &h, &off), RMQ_ERR__INVALID_ARG);
}

/* Frame: int32 len, int32 (type<<24|headerLen), header, body */
static const uint8_t *frame_body(const uint8_t *b, size_t len, size_t *blen)
{
    cr_assert(len >= 8);
    uint32_t total = rmq_be32(b);
    uint32_t hl = rmq_be32(b + 4) & 0xFFFFFF;
    cr_assert_eq(total + 4, len);
    *blen = total - 4 - hl;
    return b + 8 + hl;
}

Test(codec, java_pull_body)
{
    size_t len, blen;
    uint8_t *b = load("11_PULL_MESSAGE_found_resp.bin", &len);
    const uint8_t *body = frame_body(b, len, &blen);
    rmq_msg_rec_t *recs;
    size_t n;
    cr_assert_eq(rmq_msg_decode_all(body, blen, true, &recs, &n), RMQ_OK);
    cr_assert_eq(n, 6);
    int64_t offs[] = {0, 252, 518, 754, 1006, 1258};
    for (size_t i = 0; i < n; i++) {
        cr_assert_eq(recs[i].commitlog_offset, offs[i]);
        cr_assert_eq(recs[i].queue_offset, (int64_t)i);
        cr_assert_eq(recs[i].queue_id, 0);
        cr_assert(recs[i].topic_len == 16 && memcmp(recs[i].topic, "GoldenTopic_json", 16) == 0);
        char *c = prop(&recs[i], "CLUSTER");
        cr_assert_str_eq(c, "GoldenCluster");
        free(c);
    }
    cr_assert_eq(recs[0].born_timestamp, 1795505874067LL);
    cr_assert_eq(recs[0].store_timestamp, 1795505874100LL);
    cr_assert(recs[0].body_len == 14 && memcmp(recs[0].body, "hello golden 1", 14) == 0);
    char *k = prop(&recs[0], "KEYS");
    cr_assert_str_eq(k, "KEY-1 KEY-ONE");
    free(k);
    k = prop(&recs[1], "TAGS");
    cr_assert_str_eq(k, "TagB");
    free(k);
    /* tagsCode of TagA = String.hashCode("TagA") */
    cr_assert_eq(rmq_msg_tags_code("TagA", 4), 2598919LL);
    cr_assert_eq(rmq_msg_tags_code("", 0), 0);
    /* a flipped body byte fails the CRC */
    uint8_t *copy = malloc(blen);
    memcpy(copy, body, blen);
    copy[recs[0].body - body] ^= 0x40;
    rmq_msg_rec_t r;
    cr_assert_eq(rmq_msg_decode(copy, blen, true, &r), RMQ_ERR__CORRUPT);
    cr_assert_eq(rmq_msg_decode(copy, blen, false, &r), RMQ_OK);
    /* a truncated record is corrupt */
    cr_assert_eq(rmq_msg_decode(body, 100, false, &r), RMQ_ERR__CORRUPT);
    cr_assert_eq(rmq_msg_check(body, 100, false, 0, &r), RMQ_MSG_CHECK_CORRUPT);
    free(copy);
    free(recs);
    free(b);
}

Test(codec, java_batch_body)
{
    size_t len, blen;
    uint8_t *b = load("320_SEND_BATCH_MESSAGE_req.bin", &len);
    const uint8_t *body = frame_body(b, len, &blen);
    rmq_msg_batch_item_t *items;
    size_t n;
    cr_assert_eq(rmq_msg_batch_decode(body, blen, &items, &n), RMQ_OK);
    cr_assert_eq(n, 3);
    cr_assert(items[1].body_len == 12 && memcmp(items[1].body, "batch body 1", 12) == 0);
    rmq_msg_props_t p;
    rmq_msg_props_init(&p);
    rmq_msg_props_parse(&p, items[2].props, items[2].props_len);
    cr_assert_str_eq(rmq_msg_props_get(&p, "KEYS"), "BKEY-2");
    cr_assert_str_eq(rmq_msg_props_get(&p, "TAGS"), "TagBatch");
    rmq_msg_props_free(&p);
    /* re-encode element by element: identical bytes */
    rmq_buf_t out;
    rmq_buf_init(&out);
    for (size_t i = 0; i < n; i++)
        rmq_msg_batch_encode_one(&out, items[i].flag, items[i].body, (size_t)items[i].body_len,
                                 items[i].props, items[i].props_len);
    cr_assert_eq(out.len, blen);
    cr_assert(memcmp(out.data, body, blen) == 0);
    rmq_buf_free(&out);
    free(items);
    cr_assert_eq(rmq_msg_batch_decode(body, blen - 1, &items, &n), RMQ_ERR__CORRUPT);
    free(b);
}

Test(codec, properties_java_rules)
{
    const char s[] = "A\001x\002\001emptykey\002novalue\001\002B\001y\002A\001z\002";
    rmq_msg_props_t p;
    rmq_msg_props_init(&p);
    rmq_msg_props_parse(&p, s, sizeof(s) - 1);
    cr_assert_eq(p.n, 2);
    cr_assert_str_eq(rmq_msg_props_get(&p, "A"), "z"); /* later duplicate wins */
    cr_assert_str_eq(rmq_msg_props_get(&p, "B"), "y");
    const char *v;
    size_t vl;
    cr_assert(rmq_msg_props_find(s, sizeof(s) - 1, "A", &v, &vl) && vl == 1 && *v == 'z');
    cr_assert(!rmq_msg_props_find(s, sizeof(s) - 1, "novalue", &v, &vl));
    rmq_buf_t out;
    rmq_buf_init(&out);
    rmq_msg_props_encode(&p, &out);
    cr_assert_eq(out.len, 7);
    cr_assert(memcmp(out.data, "A\001z\002B\001y", 7) == 0); /* 4.9.8: no trailing 0x02 */
    rmq_buf_free(&out);
    cr_assert(rmq_msg_props_del(&p, "A"));
    cr_assert_null(rmq_msg_props_get(&p, "A"));
    rmq_msg_props_free(&p);
}

Test(codec, encode_ipv6_roundtrip)
{
    rmq_msg_rec_t r = {
        .body_crc = rmq_msg_body_crc("abc", 3),
        .queue_id = 3,
        .flag = 7,
        .queue_offset = 42,
        .commitlog_offset = 1234,
        .sys_flag = 0x301,
        .born_timestamp = 111,
        .born_host = {.v6 = 1, .addr = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}, .port = 5},
        .store_timestamp = 222,
        .store_host = {.v6 = 0, .addr = {127, 0, 0, 1}, .port = 10911},
        .reconsume_times = 2,
        .prepared_transaction_offset = 9,
        .body = (const uint8_t *)"abc",
        .body_len = 3,
        .topic = "T",
        .topic_len = 1,
        .props = "K\001V",
        .props_len = 3,
    };
    size_t sz = rmq_msg_rec_size(true, false, 3, 1, 3);
    cr_assert_eq(sz, 91 + 12 + 3 + 1 + 3);
    uint8_t buf[256];
    cr_assert_eq(rmq_msg_encode(buf, &r), sz);
    rmq_msg_rec_t d;
    cr_assert_eq(rmq_msg_decode(buf, sz, true, &d), RMQ_OK);
    cr_assert_eq(d.sys_flag, 0x301 | RMQ_SYSFLAG_BORNHOST_V6);
    cr_assert(d.born_host.v6 && d.born_host.addr[15] == 16 && d.born_host.port == 5);
    cr_assert(!d.store_host.v6 && d.store_host.port == 10911);
    cr_assert_eq(d.store_timestamp, 222);
    cr_assert_eq(d.prepared_transaction_offset, 9);
    cr_assert_eq(d.reconsume_times, 2);
    /* CRC: java.util.zip.CRC32("abc") = 0x352441C2 */
    cr_assert_eq(rmq_msg_body_crc("abc", 3), 0x352441C2 & 0x7FFFFFFF);
    /* blank marker */
    uint8_t blank[8];
    rmq_wbe32(blank, 64);
    rmq_wbe32(blank + 4, RMQ_MSG_BLANK_MAGIC);
    cr_assert_eq(rmq_msg_check(blank, 8, true, 0, &d), RMQ_MSG_CHECK_BLANK);
}

/* Mutated and truncated records never crash the decoders (bounded loop;
 * run under ASan in CI). */
Test(codec, mutated_input_is_rejected_safely)
{
    size_t len, blen;
    uint8_t *b = load("11_PULL_MESSAGE_found_resp.bin", &len);
    const uint8_t *body = frame_body(b, len, &blen);
    uint8_t *m = malloc(blen);
    srand(4242);
    int decoded = 0;
    for (int it = 0; it < 20000; it++) {
        memcpy(m, body, blen);
        int flips = 1 + rand() % 4;
        for (int k = 0; k < flips; k++)
            m[rand() % blen] = (uint8_t)rand();
        size_t n = (size_t)(rand() % 8 == 0 ? rand() % (int)blen : (int)blen);
        rmq_msg_rec_t r, *recs;
        size_t cnt, used;
        if (rmq_msg_decode(m, n, it % 2, &r) == RMQ_OK) {
            cr_assert((size_t)r.total_size <= n);
            cr_assert(r.body + r.body_len <= m + n);
            cr_assert((const uint8_t *)r.props + r.props_len <= m + n);
            decoded++;
        }
        if (rmq_msg_decode_lenient(m, n, false, &r, &used) == RMQ_OK)
            cr_assert(used <= n);
        (void)rmq_msg_check(m, n, true, 4096, &r);
        if (rmq_msg_decode_all(m, n, false, &recs, &cnt) == RMQ_OK)
            free(recs);
        rmq_msg_batch_item_t *items;
        if (rmq_msg_batch_decode(m, n, &items, &cnt) == RMQ_OK)
            free(items);
        rmq_msg_props_t p;
        rmq_msg_props_init(&p);
        rmq_msg_props_parse(&p, (const char *)m, n);
        rmq_msg_props_free(&p);
    }
    cr_assert(decoded > 0);
    free(m);
    free(b);
}
