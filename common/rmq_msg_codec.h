/* rmq_msg_codec.h - the stored-message record codec (docs/protocol.md §5).
 *
 * One codec for the commit-log record format shared by the store (append,
 * recovery, dispatch), the broker (pull / query / view bodies, batch sends)
 * and the client (decoding pull bodies). Pure functions over caller buffers:
 * any thread, no I/O, no global state. Decoded records borrow the bytes they
 * were decoded from. */
#ifndef RMQ_MSG_CODEC_H
#define RMQ_MSG_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_buf.h"
#include "rmq_err.h"

#define RMQ_MSG_MAGIC 0xDAA320A7u       /* MESSAGE_MAGIC_CODE (-626843481) */
#define RMQ_MSG_BLANK_MAGIC 0xCBD43194u /* BLANK_MAGIC_CODE (-875286124) */
#define RMQ_MSG_END_FILE_MIN_BLANK 8    /* END_FILE_MIN_BLANK_LENGTH */

/* Byte positions inside a record (MessageDecoder constants). */
#define RMQ_MSG_POS_QUEUE_OFFSET 20
#define RMQ_MSG_POS_PHY_OFFSET 28
#define RMQ_MSG_POS_SYSFLAG 36
#define RMQ_MSG_POS_BORN_TS 40
#define RMQ_MSG_POS_BORN_HOST 48

/* sysFlag bits (MessageSysFlag.java) */
#define RMQ_SYSFLAG_COMPRESSED 0x1
#define RMQ_SYSFLAG_MULTI_TAGS 0x2
#define RMQ_SYSFLAG_TRANSACTION_MASK 0xC
#define RMQ_SYSFLAG_TRANSACTION_NOT_TYPE 0x0
#define RMQ_SYSFLAG_TRANSACTION_PREPARED 0x4
#define RMQ_SYSFLAG_TRANSACTION_COMMIT 0x8
#define RMQ_SYSFLAG_TRANSACTION_ROLLBACK 0xC
#define RMQ_SYSFLAG_BORNHOST_V6 0x10
#define RMQ_SYSFLAG_STOREHOST_V6 0x20
#define RMQ_SYSFLAG_COMPRESSION_TYPE_MASK 0x700

#define RMQ_MSG_MAX_PROPS_LEN 32767

/* Property names (MessageConst.java) used by the store and broker. */
#define RMQ_PROP_KEYS "KEYS"
#define RMQ_PROP_TAGS "TAGS"
#define RMQ_PROP_WAIT "WAIT"
#define RMQ_PROP_DELAY "DELAY"
#define RMQ_PROP_REAL_TOPIC "REAL_TOPIC"
#define RMQ_PROP_REAL_QID "REAL_QID"
#define RMQ_PROP_UNIQ_KEY "UNIQ_KEY"
#define RMQ_PROP_TRAN_MSG "TRAN_MSG"
#define RMQ_PROP_CLUSTER "CLUSTER"
#define RMQ_PROP_MIN_OFFSET "MIN_OFFSET"
#define RMQ_PROP_MAX_OFFSET "MAX_OFFSET"

#define RMQ_PROP_NAME_SEP '\001' /* NAME_VALUE_SEPARATOR */
#define RMQ_PROP_PAIR_SEP '\002' /* PROPERTY_SEPARATOR */

/* A born / store host: 4-byte IPv4 or 16-byte IPv6 plus port. */
typedef struct rmq_msg_host_s {
    uint8_t v6;       /* 0 = IPv4 (addr[0..3]), 1 = IPv6 (addr[0..15]) */
    uint8_t addr[16]; /* network order */
    int32_t port;
} rmq_msg_host_t;

/* A record, decoded or to be encoded. Pointers borrow the record's bytes
 * (decode) or the caller's buffers (encode). */
typedef struct rmq_msg_rec_s {
    int32_t total_size;
    uint32_t magic;
    int32_t body_crc;
    int32_t queue_id;
    int32_t flag;
    int64_t queue_offset;
    int64_t commitlog_offset;
    int32_t sys_flag; /* v6 bits are derived from the hosts on encode */
    int64_t born_timestamp;
    rmq_msg_host_t born_host;
    int64_t store_timestamp;
    rmq_msg_host_t store_host;
    int32_t reconsume_times;
    int64_t prepared_transaction_offset;
    const uint8_t *body;
    int32_t body_len;
    const char *topic;
    size_t topic_len;
    const char *props;
    size_t props_len;
} rmq_msg_rec_t;

/* ---- records ---- */

/* Size of a record with these lengths (91 + body + topic + props for v4/v4). */
size_t rmq_msg_rec_size(bool born_v6, bool store_v6, size_t body_len, size_t topic_len, size_t props_len);

/* Encode rec into dst, which has room for rmq_msg_rec_size(...) bytes. The
 * magic, total size and v6 sysFlag bits are set here; body_crc is written as
 * given (compute it with rmq_msg_body_crc). Returns the bytes written. */
size_t rmq_msg_encode(uint8_t *dst, const rmq_msg_rec_t *rec);

/* Decode one record at p (len bytes available). Checks magic, that
 * TOTALSIZE matches the field lengths and fits in len, and the body CRC when
 * check_crc. RMQ_ERR__CORRUPT on any mismatch (out is then unspecified). */
rmq_err_t rmq_msg_decode(const uint8_t *p, size_t len, bool check_crc, rmq_msg_rec_t *out);

/* Java's MessageDecoder.decode: walk the fields without requiring TOTALSIZE
 * to match them (some brokers wrote inconsistent sizes, e.g. ali-ons'
 * compressed fixture). *consumed = bytes the fields occupy. For pull bodies
 * only; the store always uses the strict rmq_msg_decode. */
rmq_err_t rmq_msg_decode_lenient(const uint8_t *p, size_t len, bool check_crc, rmq_msg_rec_t *out,
                                 size_t *consumed);

/* What is at a commit-log position (recovery / dispatch scanning). */
typedef enum {
    RMQ_MSG_CHECK_RECORD = 0, /* a valid record; *out filled */
    RMQ_MSG_CHECK_BLANK,      /* end-of-file blank marker: continue with next file */
    RMQ_MSG_CHECK_END,        /* zeros / nothing: end of valid data */
    RMQ_MSG_CHECK_CORRUPT,    /* something that is not a valid record (torn tail) */
} rmq_msg_check_t;
rmq_msg_check_t rmq_msg_check(const uint8_t *p, size_t avail, bool check_crc, int32_t max_size,
                              rmq_msg_rec_t *out);

/* Decode a concatenation of records (a PULL / QUERY / VIEW body), walking
 * fields like Java (rmq_msg_decode_lenient). On success
 * *recs is a heap array (rmq_free it with free()) of *n records borrowing p. */
rmq_err_t rmq_msg_decode_all(const uint8_t *p, size_t len, bool check_crc, rmq_msg_rec_t **recs, size_t *n);

/* crc32(body) & 0x7FFFFFFF (UtilAll.crc32). */
int32_t rmq_msg_body_crc(const void *body, size_t len);

/* tagsCode of a tag (String.hashCode, sign-extended); 0 for an empty tag. */
int64_t rmq_msg_tags_code(const char *tags, size_t len);

/* Inflate a zlib (RFC 1950) body into out (appended); at most max_out bytes
 * (0 = no limit). RMQ_ERR__CORRUPT on bad data, RMQ_ERR__TOO_LARGE past max. */
rmq_err_t rmq_msg_inflate(const void *in, size_t len, rmq_buf_t *out, size_t max_out);

/* ---- offset message id (docs/protocol.md §5.5) ---- */

#define RMQ_MSG_ID_MAX 57 /* 56 hex chars (IPv6) + NUL */
/* hex(host ip ‖ port ‖ offset), upper case; out has RMQ_MSG_ID_MAX bytes.
 * Returns the length (32 or 56). */
size_t rmq_msg_id_create(char *out, const rmq_msg_host_t *store_host, int64_t commitlog_offset);
rmq_err_t rmq_msg_id_parse(const char *id, size_t len, rmq_msg_host_t *store_host, int64_t *commitlog_offset);

/* ---- properties string (docs/protocol.md §5.1) ---- */

typedef struct rmq_msg_prop_s {
    char *key;
    char *value;
} rmq_msg_prop_t;

typedef struct rmq_msg_props_s {
    rmq_msg_prop_t *items; /* insertion order; keys unique */
    size_t n, cap;
} rmq_msg_props_t;

void rmq_msg_props_init(rmq_msg_props_t *p);
void rmq_msg_props_free(rmq_msg_props_t *p);
/* Java string2messageProperties: pairs with an empty key or value are
 * dropped, a trailing 0x02 is accepted, later duplicates win. Appends to p. */
void rmq_msg_props_parse(rmq_msg_props_t *p, const char *s, size_t len);
/* The same over a writable string, without allocating: every kept pair's
 * key and value are NUL-terminated where their separators were, and s[len]
 * (which must be writable, e.g. the first byte of the next record) becomes
 * NUL; p's items point into s and come from items[0..cap) (p->cap = cap; p
 * must not be passed to rmq_msg_props_free). Appends to p (p->n <= cap). */
void rmq_msg_props_parse_inplace(rmq_msg_props_t *p, char *s, size_t len, rmq_msg_prop_t *items, size_t cap);
/* How many pairs parse_inplace may store for s at most (separators + 1). */
size_t rmq_msg_props_max_pairs(const char *s, size_t len);
/* Borrowed value or NULL; valid until p changes. */
const char *rmq_msg_props_get(const rmq_msg_props_t *p, const char *key);
void rmq_msg_props_set(rmq_msg_props_t *p, const char *key, const char *value);
bool rmq_msg_props_del(rmq_msg_props_t *p, const char *key);
/* Java 4.9.8 messageProperties2String: no trailing 0x02. Appends to out. */
void rmq_msg_props_encode(const rmq_msg_props_t *p, rmq_buf_t *out);
/* Allocation-free lookup in an encoded string with decode's rules (the last
 * occurrence wins). */
bool rmq_msg_props_find(const char *s, size_t len, const char *key, const char **val, size_t *vlen);

/* ---- SEND_BATCH_MESSAGE body (docs/protocol.md §4.5) ---- */

typedef struct rmq_msg_batch_item_s {
    int32_t flag;
    const uint8_t *body;
    int32_t body_len;
    const char *props;
    size_t props_len;
} rmq_msg_batch_item_t;

/* Decode a batch body into a heap array (free()) borrowing p. */
rmq_err_t rmq_msg_batch_decode(const uint8_t *p, size_t len, rmq_msg_batch_item_t **items, size_t *n);
/* Encode one batch element (MessageDecoder.encodeMessage), appended to out. */
void rmq_msg_batch_encode_one(rmq_buf_t *out, int32_t flag, const void *body, size_t body_len,
                              const char *props, size_t props_len);

#endif
