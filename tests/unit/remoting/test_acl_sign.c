/* test_acl_sign.c - ACL signatures byte for byte against vectors the JDK
 * computed with RocketMQ 4.9's algorithm (tests/data/acl/AclVectors.java:
 * TreeMap order, HmacSHA1, Base64), and Java's UTF-8 round trip of invalid
 * input against the JDK's own decoder. No sockets. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_acl_sign.h"
#include "rmq_cmd.h"
#include "rmq_conf.h"

#define ACLDATA COMET_TEST_DATA "/acl"

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
    if (!strcmp(h, "-"))
        return 0;
    size_t n = strlen(h) / 2;
    cr_assert(n <= cap, "hex too long");
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

static char *unhex_str(const char *h)
{
    size_t n = strcmp(h, "-") ? strlen(h) / 2 : 0;
    char *s = malloc(n + 1);
    unhex(h, (uint8_t *)s, n + 1);
    s[n] = '\0';
    return s;
}

static char *next_tok(char **save)
{
    return strtok_r(NULL, " \n", save);
}

/* Every vector: rmq_acl_content equals the JDK's content bytes, and both
 * rmq_acl_signature and a sign-then-verify round trip give the JDK's
 * signature. Fails on the first differing byte or signature. */
Test(acl_sign, jdk_vectors)
{
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(rmq_file_read_all(ACLDATA "/signature_vectors.txt", &text, &len), RMQ_OK);
    int checked = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *ls = NULL;
        char *name = strtok_r(line, " ", &ls);
        char *side = next_tok(&ls);
        char *sk = unhex_str(next_tok(&ls));
        int n = atoi(next_tok(&ls));
        rmq_cmd_t cmd;
        rmq_cmd_init_request(&cmd, 310);
        for (int i = 0; i < n; i++) {
            char *k = unhex_str(next_tok(&ls));
            char *v = unhex_str(next_tok(&ls));
            rmq_cmd_set_ext(&cmd, k, v);
            free(k);
            free(v);
        }
        static uint8_t body[1 << 16], content[1 << 16];
        size_t bl = unhex(next_tok(&ls), body, sizeof(body));
        if (bl)
            rmq_cmd_set_body(&cmd, body, bl);
        size_t cl = unhex(next_tok(&ls), content, sizeof(content));
        const char *want = next_tok(&ls);
        rmq_acl_side_t sd = strcmp(side, "broker") == 0 ? RMQ_ACL_SIDE_BROKER : RMQ_ACL_SIDE_CLIENT;

        rmq_buf_t got;
        rmq_buf_init(&got);
        rmq_acl_content(&cmd, sd, &got);
        cr_expect_eq(got.len, cl, "%s: content length %zu, JDK %zu", name, got.len, cl);
        if (got.len == cl)
            cr_expect(memcmp(got.data, content, cl) == 0, "%s: content differs from the JDK's", name);
        rmq_buf_free(&got);

        char sig[RMQ_ACL_SIG_LEN + 1];
        cr_assert(rmq_acl_signature(&cmd, sd, sk, sig));
        cr_expect_str_eq(sig, want, "%s: signature %s, JDK %s", name, sig, want);
        cr_expect(rmq_acl_sig_equal(sig, want));

        /* client side: signing a copy without the Signature field gives the
         * same signature for a client-side vector */
        if (sd == RMQ_ACL_SIDE_CLIENT) {
            rmq_cmd_t c2;
            rmq_cmd_init_request(&c2, 310);
            for (size_t i = 0; i < cmd.ext_n; i++)
                if (strcmp(cmd.ext[i].key, RMQ_ACL_ACCESS_KEY) && strcmp(cmd.ext[i].key, RMQ_ACL_SIGNATURE))
                    rmq_cmd_set_ext(&c2, cmd.ext[i].key, cmd.ext[i].val);
            if (cmd.body_len)
                rmq_cmd_set_body(&c2, cmd.body, cmd.body_len);
            rmq_acl_sign(&c2, rmq_cmd_ext(&cmd, RMQ_ACL_ACCESS_KEY), sk, NULL, RMQ_ACL_SIDE_CLIENT);
            cr_expect_str_eq(rmq_cmd_ext(&c2, RMQ_ACL_SIGNATURE), want, "%s: rmq_acl_sign", name);
            rmq_cmd_deinit(&c2);
        }
        rmq_cmd_deinit(&cmd);
        free(sk);
        checked++;
    }
    free(text);
    cr_assert_geq(checked, 14, "only %d vectors read", checked);
}

/* A request signed by rmq_acl_sign verifies on the broker side after a JSON
 * and a ROCKETMQ-binary encode/decode round trip; changing one byte of the
 * body or one field breaks it. */
Test(acl_sign, sign_verify_roundtrip)
{
    for (int ser = 0; ser < 2; ser++) {
        rmq_cmd_t req;
        rmq_cmd_init_request(&req, 310);
        req.serialize = (uint8_t)ser;
        rmq_cmd_set_ext(&req, "a", "PG");
        rmq_cmd_set_ext(&req, "b", "Topic\xc3\xa9");
        rmq_cmd_set_body(&req, "payload", 7);
        rmq_acl_sign(&req, "RocketMQ", "12345678", "tok", RMQ_ACL_SIDE_BROKER);
        rmq_buf_t wire;
        rmq_buf_init(&wire);
        rmq_cmd_encode(&req, &wire);
        rmq_cmd_t got;
        char err[128];
        cr_assert_eq(rmq_cmd_decode(&got, wire.data + 4, wire.len - 4, err, sizeof(err)), RMQ_OK, "%s", err);
        char sig[RMQ_ACL_SIG_LEN + 1];
        cr_assert(rmq_acl_signature(&got, RMQ_ACL_SIDE_BROKER, "12345678", sig));
        cr_expect(rmq_acl_sig_equal(sig, rmq_cmd_ext(&got, RMQ_ACL_SIGNATURE)));
        got.body[0] ^= 1; /* tampered body */
        cr_assert(rmq_acl_signature(&got, RMQ_ACL_SIDE_BROKER, "12345678", sig));
        cr_expect(!rmq_acl_sig_equal(sig, rmq_cmd_ext(&got, RMQ_ACL_SIGNATURE)));
        got.body[0] ^= 1;
        rmq_cmd_set_ext(&got, "b", "Other"); /* tampered field */
        cr_assert(rmq_acl_signature(&got, RMQ_ACL_SIDE_BROKER, "12345678", sig));
        cr_expect(!rmq_acl_sig_equal(sig, rmq_cmd_ext(&got, RMQ_ACL_SIGNATURE)));
        cr_assert(rmq_acl_signature(&got, RMQ_ACL_SIDE_BROKER, "wrong-key", sig));
        cr_expect(!rmq_acl_sig_equal(sig, rmq_cmd_ext(&got, RMQ_ACL_SIGNATURE)));
        rmq_cmd_deinit(&got);
        rmq_buf_free(&wire);
        rmq_cmd_deinit(&req);
    }
}

/* Every line of the JDK table: the same bytes out of rmq_acl_java_utf8. */
Test(acl_sign, jdk_utf8_roundtrip)
{
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(rmq_file_read_all(ACLDATA "/utf8_roundtrip.txt", &text, &len), RMQ_OK);
    int checked = 0, bad = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *ls = NULL;
        char *in_h = strtok_r(line, " ", &ls), *out_h = strtok_r(NULL, " ", &ls);
        uint8_t in[64], want[256];
        size_t il = unhex(in_h, in, sizeof(in)), wl = unhex(out_h, want, sizeof(want));
        rmq_buf_t o;
        rmq_buf_init(&o);
        rmq_acl_java_utf8(in, il, &o);
        if (o.len != wl || memcmp(o.data, want, wl) != 0) {
            if (bad++ < 10)
                cr_log_error("input %s: JDK %s, got %zu bytes", in_h, out_h, o.len);
        }
        rmq_buf_free(&o);
        checked++;
    }
    free(text);
    cr_expect_eq(bad, 0, "%d of %d inputs differ from the JDK", bad, checked);
    cr_assert_geq(checked, 3000);
}

/* Java String.compareTo: UTF-16 order, not code-point order. */
Test(acl_sign, java_string_order)
{
    cr_expect_lt(rmq_acl_java_strcmp("AccessKey", "a"), 0);
    cr_expect_lt(rmq_acl_java_strcmp("B", "a"), 0);
    cr_expect_lt(rmq_acl_java_strcmp("k", "k\xc3\xa9"), 0);
    /* U+1F600 (surrogates D83D DE00) < U+FF21 */
    cr_expect_lt(rmq_acl_java_strcmp("k\xf0\x9f\x98\x80", "k\xef\xbc\xa1"), 0);
    cr_expect_gt(rmq_acl_java_strcmp("k\xef\xbc\xa1", "k\xf0\x9f\x98\x80"), 0);
    cr_expect_eq(rmq_acl_java_strcmp("same", "same"), 0);
    cr_expect_lt(rmq_acl_java_strcmp("", "x"), 0);
}
