/* rmq_buf.c - growable byte buffer. Any thread; a buffer is not shared. */
#include "rmq_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "rmq_alloc.h"

void rmq_buf_init(rmq_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void rmq_buf_free(rmq_buf_t *b)
{
    free(b->data);
    rmq_buf_init(b);
}

void rmq_buf_reserve(rmq_buf_t *b, size_t extra)
{
    if (b->cap - b->len > extra)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len <= extra)
        cap *= 2;
    b->data = rmq_realloc(b->data, cap);
    b->cap = cap;
}

/* Grow len by n; returns where the n new (unset) bytes start. */
static uint8_t *extend(rmq_buf_t *b, size_t n)
{
    rmq_buf_reserve(b, n);
    uint8_t *p = b->data + b->len;
    b->len += n;
    return p;
}

void rmq_buf_put(rmq_buf_t *b, const void *p, size_t n)
{
    if (!n)
        return;
    memcpy(extend(b, n), p, n);
}

void rmq_buf_puts(rmq_buf_t *b, const char *s)
{
    rmq_buf_put(b, s, strlen(s));
}

void rmq_buf_putc(rmq_buf_t *b, char c)
{
    *extend(b, 1) = (uint8_t)c;
}

void rmq_buf_put_kv(rmq_buf_t *b, const char *key, const char *fmt, ...)
{
    char v[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v, sizeof(v), fmt, ap);
    va_end(ap);
    rmq_buf_put(b, key, strlen(key) + 1);
    rmq_buf_put(b, v, strlen(v) + 1);
}

void rmq_buf_vprintf(rmq_buf_t *b, const char *fmt, va_list ap)
{
    va_list again;
    va_copy(again, ap);
    char tmp[256];
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    if (n >= 0 && (size_t)n < sizeof(tmp)) {
        rmq_buf_put(b, tmp, (size_t)n);
    } else if (n >= 0) {
        rmq_buf_reserve(b, (size_t)n + 1);
        vsnprintf((char *)b->data + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
}

void rmq_buf_printf(rmq_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rmq_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void rmq_buf_put_u8(rmq_buf_t *b, uint8_t v)
{
    rmq_buf_put(b, &v, 1);
}

void rmq_buf_put_u16(rmq_buf_t *b, uint16_t v)
{
    rmq_wbe16(extend(b, 2), v);
}

void rmq_buf_put_u32(rmq_buf_t *b, uint32_t v)
{
    rmq_wbe32(extend(b, 4), v);
}

void rmq_buf_put_u64(rmq_buf_t *b, uint64_t v)
{
    rmq_wbe64(extend(b, 8), v);
}

void rmq_buf_put_utf8(rmq_buf_t *b, uint32_t cp)
{
    uint8_t t[4];
    size_t n;
    if (cp < 0x80) {
        t[0] = (uint8_t)cp;
        n = 1;
    } else if (cp < 0x800) {
        t[0] = (uint8_t)(0xC0 | (cp >> 6));
        t[1] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        t[0] = (uint8_t)(0xE0 | (cp >> 12));
        t[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        t[0] = (uint8_t)(0xF0 | (cp >> 18));
        t[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        t[3] = (uint8_t)(0x80 | (cp & 0x3F));
        n = 4;
    }
    rmq_buf_put(b, t, n);
}

void rmq_buf_put_dec(rmq_buf_t *b, int64_t v)
{
    char t[21];
    size_t i = sizeof(t);
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        t[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        t[--i] = '-';
    rmq_buf_put(b, t + i, sizeof(t) - i);
}

char *rmq_buf_cstr(rmq_buf_t *b)
{
    rmq_buf_reserve(b, 1);
    b->data[b->len] = '\0';
    return (char *)b->data;
}

uint8_t *rmq_buf_detach(rmq_buf_t *b, size_t *len)
{
    uint8_t *p = b->data;
    if (len)
        *len = b->len;
    rmq_buf_init(b);
    return p;
}
