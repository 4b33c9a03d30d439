/* rmq_json.h - JSON helpers for RocketMQ's fastjson-flavoured bodies.
 *
 * Writing: rmq_jw_* appends JSON text to an rmq_buf_t (no DOM, no sorting:
 * callers emit keys in fastjson's alphabetical order). Map keys may be written
 * unquoted (fastjson's integer-keyed maps).
 * Reading: jansson, after a pre-pass that quotes bare integer keys so that
 * `{0:"a"}` parses as `{"0":"a"}`.
 * Also Java's String.hashCode over UTF-8 input. Any thread. */
#ifndef RMQ_JSON_H
#define RMQ_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_buf.h"

typedef struct rmq_jw_s {
    rmq_buf_t *b;
    int depth;
    bool need_comma[32];
    bool ascii_only; /* escape non-ASCII as \uXXXX (fastjson BrowserCompatible) */
} rmq_jw_t;

void rmq_jw_init(rmq_jw_t *w, rmq_buf_t *b);
/* rmq_jw_init, then open the root object (what almost every writer starts with). */
void rmq_jw_init_obj(rmq_jw_t *w, rmq_buf_t *b);
void rmq_jw_obj_begin(rmq_jw_t *w);
void rmq_jw_obj_end(rmq_jw_t *w);
void rmq_jw_arr_begin(rmq_jw_t *w);
void rmq_jw_arr_end(rmq_jw_t *w);
void rmq_jw_key(rmq_jw_t *w, const char *key);
/* fastjson Map<Long,..> key: written unquoted unless `quoted`. */
void rmq_jw_key_int(rmq_jw_t *w, int64_t key, bool quoted);
void rmq_jw_str(rmq_jw_t *w, const char *s);
void rmq_jw_strn(rmq_jw_t *w, const char *s, size_t n);
void rmq_jw_int(rmq_jw_t *w, int64_t v);
void rmq_jw_bool(rmq_jw_t *w, bool v);
void rmq_jw_raw(rmq_jw_t *w, const char *json); /* a pre-encoded value */
/* Shorthands: key + value. */
void rmq_jw_kstr(rmq_jw_t *w, const char *key, const char *s);
void rmq_jw_kint(rmq_jw_t *w, const char *key, int64_t v);
void rmq_jw_kbool(rmq_jw_t *w, const char *key, bool v);
/* Escape a string as a JSON string literal (with quotes) into b. */
void rmq_json_escape(rmq_buf_t *b, const char *s, size_t n, bool ascii_only);

/* Parse a body leniently (bare integer keys accepted). NULL on error, with a
 * reason in errstr. The caller json_decref()s the result. */
json_t *rmq_json_parse(const char *text, size_t len, char *errstr, size_t errstr_size);

/* Typed getters that tolerate strings holding numbers and vice versa. */
const char *rmq_json_str(const json_t *obj, const char *key); /* NULL if absent/not string */
bool rmq_json_int(const json_t *obj, const char *key, int64_t *out);
bool rmq_json_bool(const json_t *obj, const char *key, bool *out);
/* The keys of an object in byte order (for stable output), NULL-terminated,
 * *n of them; they live as long as obj. The caller free()s the array. */
const char **rmq_json_sorted_keys(json_t *obj, size_t *n);

/* Decode the UTF-8 sequence at s: its length, or 0 when it is not valid
 * UTF-8 (bad or truncated sequence, overlong form, surrogate, > U+10FFFF). */
size_t rmq_utf8_decode(const uint8_t *s, size_t n, uint32_t *cp);

/* Java String.hashCode of UTF-8 text (UTF-16 code units, 32-bit wrap). */
int32_t rmq_java_hash(const char *s, size_t n);

#endif
