/* test_ha_proto.c - the replication stream's framing (broker/ha/ha_frame.c):
 * encode/decode round trips, the zero-copy Data envelope against
 * protobuf-c's own encoding, and bad input (truncated, oversize, zero
 * length, garbage, a frame without a known message). No sockets. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "ha/ha_frame.h"
#include "rmq_buf.h"

/* f encoded into b (initialised here). */
static void encode(const rmq_ha_frame_t *f, rmq_buf_t *b)
{
    rmq_buf_init(b);
    rmq_ha_frame_encode(f, b);
}

static rmq_ha_frame_t *roundtrip(const rmq_ha_frame_t *f)
{
    rmq_buf_t b;
    encode(f, &b);
    size_t total = 0;
    char why[256];
    cr_assert_eq(rmq_ha_frame_peek(b.data, b.len, RMQ_HA_MAX_FRAME, &total, why, sizeof(why)),
                 RMQ_HA_FRAME_OK);
    cr_assert_eq(total, b.len);
    rmq_ha_frame_t *d = rmq_ha_frame_decode(b.data + 4, b.len - 4, why, sizeof(why));
    cr_assert_not_null(d, "%s", why);
    rmq_buf_free(&b);
    return d;
}

Test(ha_frame, hello_roundtrip)
{
    Comet__Ha__EpochEntry e1 = COMET__HA__EPOCH_ENTRY__INIT, e2 = COMET__HA__EPOCH_ENTRY__INIT;
    e1.epoch = 1;
    e2.epoch = 3;
    e2.start_offset = 1 << 30;
    Comet__Ha__EpochEntry *eps[] = {&e1, &e2};
    Comet__Ha__Hello h = COMET__HA__HELLO__INIT;
    h.protocol_version = RMQ_HA_PROTOCOL_VERSION;
    h.cluster = "C";
    h.broker_name = "broker-a";
    h.broker_id = 1;
    h.role = COMET__HA__ROLE__ROLE_SLAVE;
    h.end_offset = 123456789012LL;
    h.epoch = 3;
    h.n_epochs = 2;
    h.epochs = eps;
    h.segment_size = 1 << 30;
    h.broker_addr = "10.0.0.2:10911";
    rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
    f.msg_case = COMET__HA__FRAME__MSG_HELLO;
    f.hello = &h;
    rmq_ha_frame_t *d = roundtrip(&f);
    cr_assert_str_eq(rmq_ha_frame_name(d), "Hello");
    cr_assert_eq(d->hello->end_offset, 123456789012LL);
    cr_assert_eq(d->hello->n_epochs, 2);
    cr_assert_eq(d->hello->epochs[1]->start_offset, 1 << 30);
    cr_assert_str_eq(d->hello->broker_name, "broker-a");
    rmq_ha_frame_free(d);
}

/* The hand-written Data envelope plus the record bytes is byte for byte
 * what protobuf-c encodes for the same message. */
static void data_envelope_case(int64_t start, int64_t end, int64_t epoch, size_t n)
{
    uint8_t *records = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        records[i] = (uint8_t)(i * 31 + 7);
    Comet__Ha__Data dm = COMET__HA__DATA__INIT;
    dm.start_offset = start;
    dm.master_end_offset = end;
    dm.epoch = epoch;
    dm.records.data = records;
    dm.records.len = n;
    rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
    f.msg_case = COMET__HA__FRAME__MSG_DATA;
    f.data = &dm;
    rmq_buf_t ref;
    encode(&f, &ref);
    uint8_t hdr[RMQ_HA_DATA_HDR_MAX];
    size_t hl = rmq_ha_data_header(hdr, start, end, epoch, n);
    cr_assert_eq(hl + n, ref.len, "start %lld end %lld epoch %lld len %zu", (long long)start, (long long)end,
                 (long long)epoch, n);
    cr_assert(memcmp(hdr, ref.data, hl) == 0, "envelope differs");
    cr_assert(memcmp(records, ref.data + hl, n) == 0);
    rmq_buf_free(&ref);
    free(records);
}

Test(ha_frame, data_envelope_matches_protobuf)
{
    data_envelope_case(0, 0, 0, 0);
    data_envelope_case(0, 1, 1, 1);
    data_envelope_case(4096, 8192, 2, 127);
    data_envelope_case(4096, 8192, 2, 128);
    data_envelope_case((1LL << 40) + 3, (1LL << 41), 99999, 32768);
    data_envelope_case(1LL << 62, INT64_MAX, INT64_MAX, 300000);
}

Test(ha_frame, truncated_frames_wait_for_more)
{
    Comet__Ha__Ack a = COMET__HA__ACK__INIT;
    a.written_offset = 77;
    rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
    f.msg_case = COMET__HA__FRAME__MSG_ACK;
    f.ack = &a;
    rmq_buf_t b;
    encode(&f, &b);
    char why[128];
    size_t total = 0;
    for (size_t n = 0; n < b.len; n++)
        cr_assert_eq(rmq_ha_frame_peek(b.data, n, RMQ_HA_MAX_FRAME, &total, why, sizeof(why)),
                     RMQ_HA_FRAME_MORE, "%zu of %zu bytes", n, b.len);
    cr_assert_eq(rmq_ha_frame_peek(b.data, b.len, RMQ_HA_MAX_FRAME, &total, why, sizeof(why)),
                 RMQ_HA_FRAME_OK);
    /* a body cut short does not decode */
    cr_assert_null(rmq_ha_frame_decode(b.data + 4, b.len - 5, why, sizeof(why)));
    rmq_buf_free(&b);
}

Test(ha_frame, oversize_and_zero_length_refused)
{
    uint8_t p[8] = {0};
    char why[128] = "";
    size_t total;
    rmq_wbe32(p, RMQ_HA_MAX_FRAME + 1);
    cr_assert_eq(rmq_ha_frame_peek(p, 4, RMQ_HA_MAX_FRAME, &total, why, sizeof(why)), RMQ_HA_FRAME_BAD);
    cr_assert(strstr(why, "outside"), "%s", why);
    rmq_wbe32(p, 0);
    cr_assert_eq(rmq_ha_frame_peek(p, 8, RMQ_HA_MAX_FRAME, &total, why, sizeof(why)), RMQ_HA_FRAME_BAD);
    rmq_wbe32(p, 0xFFFFFFFFu);
    cr_assert_eq(rmq_ha_frame_peek(p, 8, RMQ_HA_MAX_FRAME, &total, why, sizeof(why)), RMQ_HA_FRAME_BAD);
}

Test(ha_frame, garbage_does_not_decode)
{
    char why[128];
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(0xF7 ^ (i * 13));
    cr_assert_null(rmq_ha_frame_decode(junk, sizeof(junk), why, sizeof(why)));
    /* "GET / HTTP/1.1" is not a frame either */
    const char *http = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_null(rmq_ha_frame_decode((const uint8_t *)http, strlen(http), why, sizeof(why)));
    /* a valid protobuf message with no known field: no message */
    uint8_t unknown[] = {0x78, 0x01}; /* field 15, varint 1 */
    cr_assert_null(rmq_ha_frame_decode(unknown, sizeof(unknown), why, sizeof(why)));
    cr_assert(strstr(why, "without a known message"), "%s", why);
}

Test(ha_frame, metadata_roundtrip)
{
    Comet__Ha__TopicConfig t = COMET__HA__TOPIC_CONFIG__INIT;
    t.name = "TopicA";
    t.read_queues = t.write_queues = 8;
    t.perm = 6;
    Comet__Ha__TopicConfig *ts[] = {&t};
    Comet__Ha__ConsumerOffset o = COMET__HA__CONSUMER_OFFSET__INIT;
    o.topic = "TopicA";
    o.group = "G";
    o.queue_id = 3;
    o.offset = 42;
    Comet__Ha__ConsumerOffset *os[] = {&o};
    Comet__Ha__Metadata m = COMET__HA__METADATA__INIT;
    m.kind = COMET__HA__METADATA__KIND__TOPICS;
    m.epoch = 2;
    m.last_part = true;
    m.n_topics = 1;
    m.topics = ts;
    m.n_offsets = 1;
    m.offsets = os;
    rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
    f.msg_case = COMET__HA__FRAME__MSG_METADATA;
    f.metadata = &m;
    rmq_ha_frame_t *d = roundtrip(&f);
    cr_assert_eq(d->metadata->kind, COMET__HA__METADATA__KIND__TOPICS);
    cr_assert_eq(d->metadata->topics[0]->read_queues, 8);
    cr_assert_eq(d->metadata->offsets[0]->offset, 42);
    cr_assert(d->metadata->last_part);
    rmq_ha_frame_free(d);
}
