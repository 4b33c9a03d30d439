/* fuzz_cmd.c - libFuzzer target for the RemotingCommand decoder.
 *
 * Input: one frame WITHOUT its 4-byte length prefix, i.e. exactly what
 * rmq_cmd_decode() takes (header word, header, body); the length is the input
 * size. The seed corpus is built from tests/data by make_corpus.sh, which
 * strips the prefix of every golden frame.
 *
 * Checks, beyond "no crash, no leak, no UB" (ASan/UBSan/LSan):
 *   - a failed decode leaves an empty command and a non-empty errstr;
 *   - whatever decodes re-encodes (same serialization) into a frame with a
 *     correct length prefix that decodes again to an equal command with a
 *     byte-identical body;
 *   - encoding is then stable: encode(decode(encode(x))) == encode(x);
 *   - every header of the request-header table decodes the command: only a
 *     FastCodesHeader refuses (Java's NumberFormatException text), every set
 *     field holds what Java's parser makes of its extFields text, and the
 *     needed-field check always produces a remark when it refuses. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_buf.h"
#include "rmq_cmd.h"
#include "rmq_hdr_fields.h"

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "fuzz_cmd: check failed: %s: ", #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fprintf(stderr, "\n");                                                                           \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

static int str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void expect_equal(const rmq_cmd_t *a, const rmq_cmd_t *b)
{
    CHECK(a->code == b->code, "code %d != %d", a->code, b->code);
    CHECK(a->language == b->language, "language %d != %d", a->language, b->language);
    CHECK(a->version == b->version, "version %d != %d", a->version, b->version);
    CHECK(a->opaque == b->opaque, "opaque %d != %d", a->opaque, b->opaque);
    CHECK(a->flag == b->flag, "flag %d != %d", a->flag, b->flag);
    CHECK(a->serialize == b->serialize, "serialize %u != %u", a->serialize, b->serialize);
    CHECK(str_eq(a->remark, b->remark), "remark \"%s\" != \"%s\"", a->remark ? a->remark : "(null)",
          b->remark ? b->remark : "(null)");
    CHECK(a->has_ext == b->has_ext, "has_ext %d != %d", a->has_ext, b->has_ext);
    CHECK(a->ext_n == b->ext_n, "ext_n %zu != %zu", a->ext_n, b->ext_n);
    for (size_t i = 0; i < a->ext_n; i++) {
        CHECK(strcmp(a->ext[i].key, b->ext[i].key) == 0, "ext[%zu] key \"%s\" != \"%s\"", i, a->ext[i].key,
              b->ext[i].key);
        CHECK(strcmp(a->ext[i].val, b->ext[i].val) == 0, "ext[%zu] value \"%s\" != \"%s\"", i, a->ext[i].val,
              b->ext[i].val);
    }
    CHECK(a->body_len == b->body_len, "body_len %zu != %zu", a->body_len, b->body_len);
    CHECK(a->body_len == 0 || memcmp(a->body, b->body, a->body_len) == 0, "body bytes differ");
}

static void encode_checked(const rmq_cmd_t *c, rmq_buf_t *w)
{
    rmq_buf_init(w);
    rmq_cmd_encode(c, w);
    CHECK(w->len >= 8, "encoded %zu bytes", w->len);
    CHECK(rmq_be32(w->data) == w->len - 4, "length prefix %u for %zu bytes", rmq_be32(w->data), w->len);
    CHECK(w->data[4] == c->serialize, "type byte %u", w->data[4]);
}

/* The command through every header of the table. */
static void check_table(const rmq_cmd_t *c)
{
    for (int id = 0; id < RMQ_HDR__COUNT; id++) {
        const rmq_hdr_def_t *def = rmq_hdr_def((rmq_hdr_id_t)id);
        rmq_hdr_t h;
        char remark[512] = "";
        if (!rmq_hdr_decode(&h, (rmq_hdr_id_t)id, c, remark, sizeof(remark))) {
            CHECK(def->fast, "%s refused: %s", def->java_class, remark);
            CHECK(strncmp(remark, "java.lang.NumberFormatException: For input string: \"", 52) == 0, "%s: %s",
                  def->java_class, remark);
            continue;
        }
        for (size_t i = 0; i < def->n; i++) {
            const rmq_hv_t *v = &h.v[i];
            const char *text = rmq_cmd_ext(c, rmq_hdr_key(def, (int)i));
            CHECK((v->state == RMQ_HV_ABSENT) == (text == NULL), "%s.%s presence", def->java_class,
                  def->fields[i].name);
            if (v->state != RMQ_HV_SET)
                continue;
            int32_t i32;
            int64_t i64;
            switch (def->fields[i].type) {
            case RMQ_HT_STRING:
                CHECK(strcmp(v->s, text) == 0, "%s.%s text", def->java_class, def->fields[i].name);
                break;
            case RMQ_HT_INT:
                CHECK(rmq_java_parse_int(text, &i32) && i32 == v->i, "%s.%s int", def->java_class,
                      def->fields[i].name);
                break;
            case RMQ_HT_LONG:
                CHECK(rmq_java_parse_long(text, &i64) && i64 == v->i, "%s.%s long", def->java_class,
                      def->fields[i].name);
                break;
            case RMQ_HT_BOOL:
                CHECK(v->i == rmq_java_parse_bool(text), "%s.%s bool", def->java_class, def->fields[i].name);
                break;
            }
        }
        remark[0] = '\0';
        if (!rmq_hdr_check_needed(&h, remark, sizeof(remark)))
            CHECK(strncmp(remark, "the custom field <", 18) == 0, "%s: %s", def->java_class, remark);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rmq_cmd_t c, d, e;
    char err[256];
    err[0] = '\0';
    rmq_err_t r = rmq_cmd_decode(&c, data, size, err, sizeof(err));
    if (r != RMQ_OK) {
        CHECK(r == RMQ_ERR__CORRUPT || r == RMQ_ERR__UNSUPPORTED, "unexpected error %d", r);
        CHECK(err[0] != '\0', "empty errstr");
        CHECK(!c.remark && !c.ext && !c.body && c.ext_n == 0, "failed decode left data behind");
        return 0;
    }
    CHECK(r == RMQ_OK, "?");

    check_table(&c);

    rmq_buf_t w1, w2;
    encode_checked(&c, &w1);
    err[0] = '\0';
    r = rmq_cmd_decode(&d, w1.data + 4, w1.len - 4, err, sizeof(err));
    CHECK(r == RMQ_OK, "re-decode failed: %s", err);
    expect_equal(&c, &d);

    encode_checked(&d, &w2);
    CHECK(w1.len == w2.len && memcmp(w1.data, w2.data, w1.len) == 0, "encoding not stable (%zu vs %zu bytes)",
          w1.len, w2.len);
    r = rmq_cmd_decode(&e, w2.data + 4, w2.len - 4, err, sizeof(err));
    CHECK(r == RMQ_OK, "third decode failed: %s", err);
    expect_equal(&d, &e);

    rmq_buf_free(&w1);
    rmq_buf_free(&w2);
    rmq_cmd_deinit(&e);
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&c);
    return 0;
}
