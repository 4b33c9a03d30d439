/* test_buf.c - rmq_buf_t growth, the bounds-checked rmq_rd_t reader, the
 * escape and array-growth helpers. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"

TestSuite(buf, .timeout = 10);

Test(buf, put_and_grow)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    cr_expect_null(b.data);
    rmq_buf_put(&b, NULL, 0);
    cr_expect_eq(b.len, 0);
    for (int i = 0; i < 10000; i++)
        rmq_buf_putc(&b, (char)('a' + i % 26));
    cr_expect_eq(b.len, 10000);
    cr_expect_geq(b.cap, b.len);
    cr_expect_eq(b.data[9999], 'a' + 9999 % 26);
    rmq_buf_puts(&b, "xyz");
    cr_expect_eq(b.len, 10003);
    char *s = rmq_buf_cstr(&b);
    cr_expect_eq(strlen(s), 10003, "cstr terminates without counting the NUL");
    cr_expect_eq(b.len, 10003);
    rmq_buf_free(&b);
    cr_expect_null(b.data);
    cr_expect_eq(b.len, 0);
    rmq_buf_free(&b); /* twice is fine */
}

Test(buf, reserve_exact_boundaries)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_buf_reserve(&b, 0);
    cr_expect_gt(b.cap, 0);
    size_t cap = b.cap;
    /* fill to exactly cap-1: still room for a NUL */
    uint8_t tmp[4096];
    memset(tmp, 'x', sizeof(tmp));
    rmq_buf_put(&b, tmp, cap - 1);
    cr_expect_eq(b.cap, cap);
    rmq_buf_cstr(&b);
    cr_expect_eq(b.data[cap - 1], '\0');
    rmq_buf_put(&b, tmp, 1);
    cr_expect_gt(b.cap, b.len);
    rmq_buf_reserve(&b, 100000);
    cr_expect_gt(b.cap - b.len, 100000);
    rmq_buf_free(&b);
}

Test(buf, printf_short_and_long)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_buf_printf(&b, "%d-%s", 42, "x");
    cr_expect_eq(b.len, 4);
    char big[1000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    rmq_buf_printf(&b, "[%s]", big); /* longer than the internal 256-byte buffer */
    cr_expect_eq(b.len, 4 + 2 + 999);
    cr_expect_eq(memcmp(b.data, "42-x[qqq", 8), 0);
    cr_expect_eq(b.data[b.len - 1], ']');
    rmq_buf_printf(&b, "%s", "");
    cr_expect_eq(b.len, 1005);
    rmq_buf_free(&b);
}

Test(buf, big_endian_put_and_read)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_buf_put_u8(&b, 0xAB);
    rmq_buf_put_u16(&b, 0x1234);
    rmq_buf_put_u32(&b, 0xDEADBEEF);
    rmq_buf_put_u64(&b, 0x0102030405060708ULL);
    const uint8_t want[] = {0xAB, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3, 4, 5, 6, 7, 8};
    cr_assert_eq(b.len, sizeof(want));
    cr_expect_eq(memcmp(b.data, want, sizeof(want)), 0);
    cr_expect_eq(rmq_be16(b.data + 1), 0x1234);
    cr_expect_eq(rmq_be32(b.data + 3), 0xDEADBEEF);
    cr_expect_eq(rmq_be64(b.data + 7), 0x0102030405060708ULL);
    uint8_t w[8];
    rmq_wbe16(w, 0xFFFE);
    cr_expect_eq(rmq_be16(w), 0xFFFE);
    rmq_wbe32(w, 0x80000001);
    cr_expect_eq(rmq_be32(w), 0x80000001);
    rmq_wbe64(w, UINT64_MAX - 1);
    cr_expect_eq(rmq_be64(w), UINT64_MAX - 1);

    rmq_rd_t r;
    rmq_rd_init(&r, b.data, b.len);
    cr_expect_eq(rmq_rd_u8(&r), 0xAB);
    cr_expect_eq(rmq_rd_u16(&r), 0x1234);
    cr_expect_eq(rmq_rd_u32(&r), 0xDEADBEEF);
    cr_expect_eq(rmq_rd_left(&r), 8);
    cr_expect_eq(rmq_rd_u64(&r), 0x0102030405060708ULL);
    cr_expect_eq(rmq_rd_left(&r), 0);
    cr_expect_not(r.err);
    rmq_buf_free(&b);
}

Test(buf, detach)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_buf_puts(&b, "hello");
    size_t n = 0;
    uint8_t *p = rmq_buf_detach(&b, &n);
    cr_expect_eq(n, 5);
    cr_expect_eq(memcmp(p, "hello", 5), 0);
    cr_expect_null(b.data);
    cr_expect_eq(b.len, 0);
    free(p);
    rmq_buf_t e;
    rmq_buf_init(&e);
    cr_expect_null(rmq_buf_detach(&e, NULL));
}

/* Every reader fails cleanly one byte short, and sticks to the error. */
Test(rd, bounds)
{
    const uint8_t d[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    rmq_rd_t r;
    for (size_t n = 0; n < 8; n++) {
        rmq_rd_init(&r, d, n);
        cr_expect_eq(rmq_rd_u64(&r), 0, "u64 of %zu bytes", n);
        cr_expect(r.err);
        cr_expect_eq(rmq_rd_left(&r), 0, "left is 0 after an error");
        cr_expect_eq(r.pos, 0, "position unchanged by a failed read");
    }
    rmq_rd_init(&r, d, 3);
    cr_expect_eq(rmq_rd_u16(&r), 0x0102);
    cr_expect_eq(rmq_rd_u16(&r), 0);
    cr_expect(r.err);
    cr_expect_eq(rmq_rd_u8(&r), 0, "sticky: even a read that would fit fails");
    rmq_rd_init(&r, d, 3);
    cr_expect_eq(rmq_rd_u32(&r), 0);
    cr_expect(r.err);
    rmq_rd_init(&r, d, 0);
    cr_expect_eq(rmq_rd_u8(&r), 0);
    cr_expect(r.err);
    rmq_rd_init(&r, NULL, 0);
    cr_expect_eq(rmq_rd_left(&r), 0);
    cr_expect(rmq_rd_need(&r, 0));
    cr_expect_not(r.err, "needing nothing at the end is fine");
}

Test(rd, bytes)
{
    const uint8_t d[6] = {'a', 'b', 'c', 'd', 'e', 'f'};
    rmq_rd_t r;
    rmq_rd_init(&r, d, sizeof(d));
    const uint8_t *p = rmq_rd_bytes(&r, 2);
    cr_expect_eq(p, d);
    cr_expect_eq(rmq_rd_left(&r), 4);
    cr_expect_null(rmq_rd_bytes(&r, 5));
    cr_expect(r.err);
    rmq_rd_init(&r, d, sizeof(d));
    cr_expect_null(rmq_rd_bytes(&r, SIZE_MAX), "huge length does not wrap");
    rmq_rd_init(&r, d, sizeof(d));
    rmq_rd_bytes(&r, 5);
    cr_expect_null(rmq_rd_bytes(&r, SIZE_MAX), "huge length near the end does not wrap");
    cr_expect_eq(rmq_rd_bytes(&(rmq_rd_t){d, 6, 6, false}, 0), d + 6);
}

Test(rd, short_ints_read_zero_and_set_err)
{
    const uint8_t d[3] = {1, 2, 3};
    rmq_rd_t r;
    rmq_rd_init(&r, d, sizeof(d));
    cr_expect_eq(rmq_rd_u16(&r), 0x0102);
    cr_expect_eq(rmq_rd_u32(&r), 0, "1 byte left: no u32");
    cr_expect(r.err);
    cr_expect_eq(rmq_rd_u8(&r), 0, "an error sticks");
}

Test(buf, ctrl_escape)
{
    cr_expect_eq(rmq_ctrl_escape('t'), '\t');
    cr_expect_eq(rmq_ctrl_escape('n'), '\n');
    cr_expect_eq(rmq_ctrl_escape('r'), '\r');
    cr_expect_eq(rmq_ctrl_escape('f'), '\f');
    cr_expect_eq(rmq_ctrl_escape('b'), -1, "\\b is JSON's own (properties read it as b)");
    cr_expect_eq(rmq_ctrl_escape('x'), -1);
}

Test(buf, array_grow)
{
    int *a = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 100; i++) {
        a = rmq_array_grow(a, n, &cap, 4, sizeof(*a));
        cr_assert_lt(n, cap);
        a[n++] = i;
    }
    cr_expect_eq(cap, 128, "4, doubled to 128");
    for (int i = 0; i < 100; i++)
        cr_expect_eq(a[i], i);
    cr_expect_eq(rmq_array_grow(a, 5, &cap, 4, sizeof(*a)), a, "room left: the same array");
    free(a);
}
