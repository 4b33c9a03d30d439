/* test_etcd_codec.c - the parts of the etcd client that need no etcd:
 * base64 both ways (RFC 4648 vectors, bad input), endpoint lists, request
 * builders (prefix ranges), answer decoding (int64 as strings, kvs). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "controller/etcd.h"

Test(etcd_codec, base64_vectors)
{
    const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *enc[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *e = rmq_b64_encode(plain[i], strlen(plain[i]));
        cr_assert_str_eq(e, enc[i], "encode(%s)", plain[i]);
        size_t n = 99;
        char *d = rmq_b64_decode(enc[i], &n);
        cr_assert(d, "decode(%s) failed", enc[i]);
        cr_assert_eq(n, strlen(plain[i]));
        cr_assert_str_eq(d, plain[i]);
        free(e);
        free(d);
    }
    /* all byte values survive */
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    char *e = rmq_b64_encode(all, sizeof(all));
    size_t n;
    char *d = rmq_b64_decode(e, &n);
    cr_assert(d && n == 256 && memcmp(d, all, 256) == 0, "256 byte values did not round-trip");
    free(e);
    free(d);
}

Test(etcd_codec, base64_refuses_bad_input)
{
    const char *bad[] = {"Zg=", "Zm9", "Z===", "Zg==Zg==", "Zm9v!A==", "=Zg=", "Zm=v"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_null(rmq_b64_decode(bad[i], NULL), "'%s' decoded", bad[i]);
}

Test(etcd_codec, endpoint_lists)
{
    char err[256];
    cr_assert(rmq_etcd_endpoints_valid("http://h1:2379,http://h2:2379;h3:2379 http://10.0.0.1:1/", err,
                                       sizeof(err)),
              "%s", err);
    const char *bad[] = {"",
                         "  ,",
                         "https://h1:2379",
                         "h1",
                         "http://h1",
                         "http://h1:0",
                         "http://h1:65536",
                         "http://h1:2379/v3",
                         "http://:2379",
                         "http://h1:23x9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        cr_assert(!rmq_etcd_endpoints_valid(bad[i], err, sizeof(err)), "'%s' accepted", bad[i]);
        cr_assert(err[0], "'%s' refused without a reason", bad[i]);
    }
}

Test(etcd_codec, range_prefix_end)
{
    json_t *r = rmq_etcd_range_prefix("/comet/c/b/");
    char *k = rmq_b64_decode(json_string_value(json_object_get(r, "key")), NULL);
    char *e = rmq_b64_decode(json_string_value(json_object_get(r, "range_end")), NULL);
    cr_assert_str_eq(k, "/comet/c/b/");
    cr_assert_str_eq(e, "/comet/c/b0", "the end of a prefix is the prefix with its last byte + 1");
    free(k);
    free(e);
    json_decref(r);
}

Test(etcd_codec, answers)
{
    json_error_t je;
    json_t *a = json_loads("{\"kvs\":[{\"key\":\"L2E=\",\"value\":\"eA==\",\"create_revision\":\"7\","
                           "\"mod_revision\":\"9\",\"version\":\"2\",\"lease\":\"123456789012\"},"
                           "{\"key\":\"L2I=\",\"mod_revision\":4}],\"count\":\"2\"}",
                           0, &je);
    cr_assert(a);
    rmq_etcd_kv_t *kvs;
    size_t n;
    cr_assert(rmq_etcd_kvs(a, &kvs, &n));
    cr_assert_eq(n, 2);
    cr_assert_str_eq(kvs[0].key, "/a");
    cr_assert_str_eq(kvs[0].value, "x");
    cr_assert_eq(kvs[0].create_revision, 7);
    cr_assert_eq(kvs[0].mod_revision, 9);
    cr_assert_eq(kvs[0].lease, 123456789012LL);
    cr_assert_str_eq(kvs[1].value, "", "a key without a value (etcd omits empty fields) is empty");
    cr_assert_eq(kvs[1].mod_revision, 4, "numbers as JSON integers are read too");
    rmq_etcd_kvs_free(kvs, n);
    cr_assert_eq(rmq_etcd_i64(a, "count", -1), 2);
    cr_assert_eq(rmq_etcd_i64(a, "missing", -1), -1);
    json_decref(a);
    /* a key that is not base64 makes the answer undecodable, not a crash */
    json_t *b = json_loads("{\"kvs\":[{\"key\":\"***\"}]}", 0, &je);
    cr_assert(!rmq_etcd_kvs(b, &kvs, &n));
    json_decref(b);
    /* no kvs: an empty range */
    json_t *c = json_loads("{\"header\":{}}", 0, &je);
    cr_assert(rmq_etcd_kvs(c, &kvs, &n));
    cr_assert_eq(n, 0);
    rmq_etcd_kvs_free(kvs, n);
    json_decref(c);
}
