/* rmq_buf.h - growable byte buffer and big-endian readers/writers.
 *
 * rmq_buf_t is an owned, growable buffer (aborts on OOM). rmq_rd_t is a
 * bounds-checked cursor over borrowed bytes: a read past the end sets `err`
 * and returns 0, so decoders check once at the end. Any thread; not shared. */
#ifndef RMQ_BUF_H
#define RMQ_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct rmq_buf_s {
    uint8_t *data;
    size_t len;
    size_t cap;
} rmq_buf_t;

void rmq_buf_init(rmq_buf_t *b);
void rmq_buf_free(rmq_buf_t *b);
void rmq_buf_reserve(rmq_buf_t *b, size_t extra);
void rmq_buf_put(rmq_buf_t *b, const void *p, size_t n);
void rmq_buf_puts(rmq_buf_t *b, const char *s);
void rmq_buf_putc(rmq_buf_t *b, char c);
void rmq_buf_printf(rmq_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rmq_buf_vprintf(rmq_buf_t *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* Append key and a printf'd value, each NUL-terminated: the "k\0v\0..."
 * lists a service thread hands to a status reader (the value is cut at 511
 * bytes). */
void rmq_buf_put_kv(rmq_buf_t *b, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void rmq_buf_put_u8(rmq_buf_t *b, uint8_t v);
void rmq_buf_put_u16(rmq_buf_t *b, uint16_t v);
void rmq_buf_put_u32(rmq_buf_t *b, uint32_t v);
void rmq_buf_put_u64(rmq_buf_t *b, uint64_t v);
/* UTF-8 encoding of code point cp (<= U+10FFFF). */
void rmq_buf_put_utf8(rmq_buf_t *b, uint32_t cp);
/* Decimal text of v (no printf: on the header-encoding path). */
void rmq_buf_put_dec(rmq_buf_t *b, int64_t v);
/* Make sure data is NUL-terminated (not counted in len) and return it. */
char *rmq_buf_cstr(rmq_buf_t *b);
/* Hand the bytes to the caller (who frees them); the buffer becomes empty. */
uint8_t *rmq_buf_detach(rmq_buf_t *b, size_t *len);

/* The value of a hexadecimal digit, -1 for any other character. */
static inline int rmq_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The control character of the one-letter escapes JSON and Java properties
 * both know (\t \n \r \f), -1 for any other character. */
static inline int rmq_ctrl_escape(int c)
{
    switch (c) {
    case 't':
        return '\t';
    case 'n':
        return '\n';
    case 'r':
        return '\r';
    case 'f':
        return '\f';
    default:
        return -1;
    }
}

static inline uint16_t rmq_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t rmq_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t rmq_be64(const uint8_t *p)
{
    return ((uint64_t)rmq_be32(p) << 32) | rmq_be32(p + 4);
}
static inline void rmq_wbe16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}
static inline void rmq_wbe32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}
static inline void rmq_wbe64(uint8_t *p, uint64_t v)
{
    rmq_wbe32(p, (uint32_t)(v >> 32));
    rmq_wbe32(p + 4, (uint32_t)v);
}

typedef struct rmq_rd_s {
    const uint8_t *p;
    size_t len;
    size_t pos;
    bool err;
} rmq_rd_t;

static inline void rmq_rd_init(rmq_rd_t *r, const void *p, size_t len)
{
    r->p = (const uint8_t *)p;
    r->len = len;
    r->pos = 0;
    r->err = false;
}
static inline size_t rmq_rd_left(const rmq_rd_t *r)
{
    return r->err ? 0 : r->len - r->pos;
}
static inline bool rmq_rd_need(rmq_rd_t *r, size_t n)
{
    if (r->err || r->len - r->pos < n) {
        r->err = true;
        return false;
    }
    return true;
}
static inline uint8_t rmq_rd_u8(rmq_rd_t *r)
{
    if (!rmq_rd_need(r, 1))
        return 0;
    return r->p[r->pos++];
}
/* Borrow n bytes; NULL (and err) if not available. */
static inline const uint8_t *rmq_rd_bytes(rmq_rd_t *r, size_t n)
{
    if (!rmq_rd_need(r, n))
        return NULL;
    const uint8_t *p = r->p + r->pos;
    r->pos += n;
    return p;
}
static inline uint16_t rmq_rd_u16(rmq_rd_t *r)
{
    const uint8_t *p = rmq_rd_bytes(r, 2);
    return p ? rmq_be16(p) : 0;
}
static inline uint32_t rmq_rd_u32(rmq_rd_t *r)
{
    const uint8_t *p = rmq_rd_bytes(r, 4);
    return p ? rmq_be32(p) : 0;
}
static inline uint64_t rmq_rd_u64(rmq_rd_t *r)
{
    const uint8_t *p = rmq_rd_bytes(r, 8);
    return p ? rmq_be64(p) : 0;
}

#endif
