/* ha_frame.h - framing of the replication stream (proto/comet_ha.proto):
 * a 4-byte big-endian length, then one encoded comet.ha.Frame. Pure
 * functions over caller buffers: any thread, no I/O. */
#ifndef RMQ_HA_FRAME_H
#define RMQ_HA_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "comet_ha.pb-c.h"
#include "rmq_buf.h"
#include "rmq_err.h"

#define RMQ_HA_PROTOCOL_VERSION 1
/* Largest frame either side accepts (length prefix excluded). A Data frame
 * holds at most haTransferBatchSize bytes or one record (maxMessageSize plus
 * its header); metadata tables larger than this are sent in parts. */
#define RMQ_HA_MAX_FRAME (64u << 20)
/* Metadata parts are cut at about this size. */
#define RMQ_HA_META_PART_BYTES (4u << 20)
/* Room for the envelope rmq_ha_data_header writes. */
#define RMQ_HA_DATA_HDR_MAX 64

typedef Comet__Ha__Frame rmq_ha_frame_t;

/* Append the length prefix and the encoding of f to out. */
void rmq_ha_frame_encode(const rmq_ha_frame_t *f, rmq_buf_t *out);

/* The length prefix and the envelope of a Data frame whose `records` field
 * (records_len bytes) follows directly: writing hdr and then the record
 * bytes is exactly rmq_ha_frame_encode of that frame, so the records can be
 * handed to the socket by reference. Returns the header length. */
size_t rmq_ha_data_header(uint8_t hdr[RMQ_HA_DATA_HDR_MAX], int64_t start_offset, int64_t master_end_offset,
                          int64_t epoch, size_t records_len);

typedef enum {
    RMQ_HA_FRAME_MORE = 0, /* not a whole frame yet */
    RMQ_HA_FRAME_OK = 1,
    RMQ_HA_FRAME_BAD = -1, /* why says what; the connection must close */
} rmq_ha_frame_status_t;

/* Look at the start of a stream: MORE with fewer than 4 bytes or fewer than
 * the announced length; BAD when the announced length is 0 or above max;
 * OK with *total = 4 + length when the whole frame is there. */
rmq_ha_frame_status_t rmq_ha_frame_peek(const uint8_t *p, size_t avail, size_t max, size_t *total, char *why,
                                        size_t why_size);
/* Decode one frame body (without its prefix). NULL, with why, when it does
 * not decode or carries no message this version knows. Free with
 * rmq_ha_frame_free. */
rmq_ha_frame_t *rmq_ha_frame_decode(const uint8_t *body, size_t len, char *why, size_t why_size);
void rmq_ha_frame_free(rmq_ha_frame_t *f);
/* "Hello", "Data", ... for logs. */
const char *rmq_ha_frame_name(const rmq_ha_frame_t *f);

#endif
