/* ha_frame.c - length-prefixed protobuf frames of the replication stream.
 * Owns: nothing (pure functions). Runs on the HA thread and in tests.
 * Never: trusts a length before checking it against the maximum, or hands
 * out a frame whose message the receiver cannot know. */
#include "ha/ha_frame.h"

#include <stdio.h>
#include <string.h>

#include "rmq_alloc.h"

void rmq_ha_frame_encode(const rmq_ha_frame_t *f, rmq_buf_t *out)
{
    size_t n = comet__ha__frame__get_packed_size(f);
    rmq_buf_reserve(out, n + 4);
    rmq_buf_put_u32(out, (uint32_t)n);
    comet__ha__frame__pack(f, out->data + out->len);
    out->len += n;
}

static size_t varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* protobuf wire tags: (field << 3) | type; 0 varint, 2 length-delimited */
#define TAG(field, type) ((uint8_t)(((field) << 3) | (type)))

size_t rmq_ha_data_header(uint8_t hdr[RMQ_HA_DATA_HDR_MAX], int64_t start_offset, int64_t master_end_offset,
                          int64_t epoch, size_t records_len)
{
    /* Data: fields 1..3 (omitted when 0, as protobuf-c packs them), then
     * records (4). Frame: field 3 (data), length-delimited. */
    uint8_t data[40];
    size_t d = 0;
    if (start_offset) {
        data[d++] = TAG(1, 0);
        d += varint(data + d, (uint64_t)start_offset);
    }
    if (master_end_offset) {
        data[d++] = TAG(2, 0);
        d += varint(data + d, (uint64_t)master_end_offset);
    }
    if (epoch) {
        data[d++] = TAG(3, 0);
        d += varint(data + d, (uint64_t)epoch);
    }
    size_t rec_hdr = records_len ? 1 + varint_len(records_len) : 0;
    size_t data_len = d + rec_hdr + records_len;
    size_t frame_len = 1 + varint_len(data_len) + data_len;
    size_t h = 0;
    rmq_wbe32(hdr, (uint32_t)frame_len);
    h += 4;
    hdr[h++] = TAG(3, 2);
    h += varint(hdr + h, data_len);
    memcpy(hdr + h, data, d);
    h += d;
    if (records_len) {
        hdr[h++] = TAG(4, 2);
        h += varint(hdr + h, records_len);
    }
    return h;
}

rmq_ha_frame_status_t rmq_ha_frame_peek(const uint8_t *p, size_t avail, size_t max, size_t *total, char *why,
                                        size_t why_size)
{
    if (avail < 4)
        return RMQ_HA_FRAME_MORE;
    uint32_t len = rmq_be32(p);
    if (len == 0 || len > max) {
        snprintf(why, why_size, "frame length %u outside 1..%zu", len, max);
        return RMQ_HA_FRAME_BAD;
    }
    if (avail < (size_t)len + 4)
        return RMQ_HA_FRAME_MORE;
    *total = (size_t)len + 4;
    return RMQ_HA_FRAME_OK;
}

rmq_ha_frame_t *rmq_ha_frame_decode(const uint8_t *body, size_t len, char *why, size_t why_size)
{
    rmq_ha_frame_t *f = comet__ha__frame__unpack(NULL, len, body);
    if (!f) {
        snprintf(why, why_size, "a %zu-byte frame that does not decode", len);
        return NULL;
    }
    bool ok = false;
    switch (f->msg_case) {
    case COMET__HA__FRAME__MSG_HELLO:
    case COMET__HA__FRAME__MSG_WELCOME:
    case COMET__HA__FRAME__MSG_DATA:
    case COMET__HA__FRAME__MSG_ACK:
    case COMET__HA__FRAME__MSG_METADATA:
    case COMET__HA__FRAME__MSG_HEARTBEAT:
    case COMET__HA__FRAME__MSG_REFUSAL:
        ok = true;
        break;
    default:
        break;
    }
    if (!ok) {
        snprintf(why, why_size, "a %zu-byte frame without a known message", len);
        comet__ha__frame__free_unpacked(f, NULL);
        return NULL;
    }
    return f;
}

void rmq_ha_frame_free(rmq_ha_frame_t *f)
{
    if (f)
        comet__ha__frame__free_unpacked(f, NULL);
}

const char *rmq_ha_frame_name(const rmq_ha_frame_t *f)
{
    switch (f ? f->msg_case : 0) {
    case COMET__HA__FRAME__MSG_HELLO:
        return "Hello";
    case COMET__HA__FRAME__MSG_WELCOME:
        return "Welcome";
    case COMET__HA__FRAME__MSG_DATA:
        return "Data";
    case COMET__HA__FRAME__MSG_ACK:
        return "Ack";
    case COMET__HA__FRAME__MSG_METADATA:
        return "Metadata";
    case COMET__HA__FRAME__MSG_HEARTBEAT:
        return "Heartbeat";
    case COMET__HA__FRAME__MSG_REFUSAL:
        return "Refusal";
    default:
        return "nothing";
    }
}
