/* rmq_cmd.h - RocketMQ RemotingCommand: the frame codec (docs/protocol.md §1).
 *
 * A frame is int32 length (not counting itself), int32 header word
 * (serialize type << 24 | header length), header (JSON or ROCKETMQ binary),
 * body. Decoding accepts every quirk real clients send (extFields values as
 * numbers/booleans/null, \u escapes, any key order, unknown keys); encoding
 * writes what Java writes (fastjson key order, strings only).
 * No I/O, no libevent: usable from any thread and from the fuzzer. */
#ifndef RMQ_CMD_H
#define RMQ_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_buf.h"
#include "rmq_err.h"

#define RMQ_SERIALIZE_JSON 0
#define RMQ_SERIALIZE_ROCKETMQ 1

#define RMQ_FLAG_RESPONSE 0x1
#define RMQ_FLAG_ONEWAY 0x2

/* Default maximum frame (Netty maxFrameLength 16 MiB incl. the length field). */
#define RMQ_FRAME_MAX_DEFAULT (16 * 1024 * 1024 - 4)
/* Our version on the wire: MQVersion V4_9_8. */
#define RMQ_VERSION_CURRENT 409

/* LanguageCode (4.9.8 + NODE_JS from 5.x). */
typedef enum {
    RMQ_LANG_JAVA = 0,
    RMQ_LANG_CPP = 1,
    RMQ_LANG_DOTNET = 2,
    RMQ_LANG_PYTHON = 3,
    RMQ_LANG_DELPHI = 4,
    RMQ_LANG_ERLANG = 5,
    RMQ_LANG_RUBY = 6,
    RMQ_LANG_OTHER = 7,
    RMQ_LANG_HTTP = 8,
    RMQ_LANG_GO = 9,
    RMQ_LANG_PHP = 10,
    RMQ_LANG_OMS = 11,
    RMQ_LANG_RUST = 12,
    RMQ_LANG_NODE_JS = 13,
} rmq_lang_t;

const char *rmq_lang_name(int lang);
int rmq_lang_parse(const char *name); /* unknown => RMQ_LANG_OTHER */

typedef struct rmq_kv_s {
    char *key;
    char *val;
} rmq_kv_t;

typedef struct rmq_cmd_s {
    int32_t code;
    int32_t language; /* rmq_lang_t */
    int32_t version;
    int32_t opaque;
    int32_t flag;
    char *remark;  /* NULL when absent */
    rmq_kv_t *ext; /* extFields; keys and values live in strs */
    size_t ext_n;
    size_t ext_cap;
    bool has_ext; /* extFields present (possibly empty) */
    char *strs;   /* every extFields key and value, NUL-terminated, one allocation */
    size_t strs_len, strs_cap;
    uint8_t serialize; /* RMQ_SERIALIZE_* the frame used / will use */
    uint8_t *body;     /* owned; NULL when empty */
    size_t body_len;
} rmq_cmd_t;

/* Zero everything: language JAVA, version RMQ_VERSION_CURRENT, JSON. */
void rmq_cmd_init(rmq_cmd_t *c);
/* Free owned memory; the struct can be re-initialised. */
void rmq_cmd_deinit(rmq_cmd_t *c);
rmq_cmd_t *rmq_cmd_new(void);
void rmq_cmd_destroy(rmq_cmd_t *c);

/* New request / response shells. A response copies the request's opaque and
 * serialize type and sets the RESPONSE flag. */
void rmq_cmd_init_request(rmq_cmd_t *c, int32_t code);
void rmq_cmd_init_response(rmq_cmd_t *resp, const rmq_cmd_t *req, int32_t code, const char *remark);

static inline bool rmq_cmd_is_response(const rmq_cmd_t *c)
{
    return (c->flag & RMQ_FLAG_RESPONSE) != 0;
}
static inline bool rmq_cmd_is_oneway(const rmq_cmd_t *c)
{
    return (c->flag & RMQ_FLAG_ONEWAY) != 0;
}

/* extFields access. Getters return borrowed pointers valid until the command
 * is modified or freed; NULL when absent. */
const char *rmq_cmd_ext(const rmq_cmd_t *c, const char *key);
/* The same, scanning from entry *hint (wrapping around) and leaving *hint
 * after the entry found: looking up fields in the order they were sent costs
 * one comparison each. */
const char *rmq_cmd_ext_from(const rmq_cmd_t *c, const char *key, size_t *hint);
void rmq_cmd_set_ext(rmq_cmd_t *c, const char *key, const char *val);
void rmq_cmd_set_ext_i64(rmq_cmd_t *c, const char *key, int64_t val);
void rmq_cmd_set_ext_bool(rmq_cmd_t *c, const char *key, bool val);
void rmq_cmd_set_remark(rmq_cmd_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Body: copy bytes in, or take ownership of a malloc'd buffer. */
void rmq_cmd_set_body(rmq_cmd_t *c, const void *p, size_t n);
void rmq_cmd_take_body(rmq_cmd_t *c, uint8_t *p, size_t n);

/* Typed ext getters: RMQ_OK, RMQ_ERR__NOENT (absent), RMQ_ERR__INVALID_ARG (not
 * a number/bool). */
rmq_err_t rmq_cmd_ext_i64(const rmq_cmd_t *c, const char *key, int64_t *out);
rmq_err_t rmq_cmd_ext_i32(const rmq_cmd_t *c, const char *key, int32_t *out);
rmq_err_t rmq_cmd_ext_bool(const rmq_cmd_t *c, const char *key, bool *out);

/* Decode one frame *without* its 4-byte length prefix: `p` points at the
 * header word and `len` is the frame length from the prefix. The body is
 * copied. On failure returns RMQ_ERR__CORRUPT (or _UNSUPPORTED for an unknown
 * serialize type) and writes a reason to errstr. */
rmq_err_t rmq_cmd_decode(rmq_cmd_t *c, const uint8_t *p, size_t len, char *errstr, size_t errstr_size);

/* Encode the complete frame (length, header word, header, body) appending to
 * out, in c->serialize. */
void rmq_cmd_encode(const rmq_cmd_t *c, rmq_buf_t *out);
/* Encode length + header word + header for a body of body_len bytes that the
 * caller sends separately (zero-copy bodies). */
void rmq_cmd_encode_header(const rmq_cmd_t *c, size_t body_len, rmq_buf_t *out);

#endif
