/* fuzz_ns_body.c - libFuzzer target for the name server's REGISTER_BROKER
 * body decoder (nameserver/register_body.c).
 *
 * The first input byte picks the form (bit 0: a RegisterBrokerBody rather
 * than a bare wrapper; bit 1: compressed), the rest is the body. Checks:
 * - no crash, leak or UB, whatever the bytes;
 * - the one-pass decoder is never more lenient than a jansson document of
 *   the whole body (what the name server used before): when it accepts,
 *   rmq_json_parse accepts the body too;
 * - on strict JSON (no duplicate member names, no raw NUL byte) it gives
 *   exactly what that document gives: the same verdict, data version and
 *   topics, entry by entry in document order (entries may share a
 *   topicName). */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "register_body.h"
#include "rmq_json.h"

#define CHECK(cond, ...)                                                                                     \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "fuzz_ns_body: check failed: %s: ", #cond);                                      \
            fprintf(stderr, __VA_ARGS__);                                                                    \
            fprintf(stderr, "\n");                                                                           \
            abort();                                                                                         \
        }                                                                                                    \
    } while (0)

/* A TopicConfig number, or its default when absent. */
static int32_t num(const json_t *tc, const char *key, int64_t dflt)
{
    rmq_json_int(tc, key, &dflt);
    return (int32_t)dflt;
}

/* The reference reading of a parsed document; false when it is refused. */
static bool reference(json_t *j, bool wrapped, ns_reg_body_t *b, size_t *n)
{
    json_t *wrap = wrapped ? json_object_get(j, "topicConfigSerializeWrapper") : j;
    *n = 0;
    memset(b, 0, sizeof(*b));
    if (!json_is_object(wrap))
        return false;
    json_t *dv = json_object_get(wrap, "dataVersion");
    if (json_is_object(dv)) {
        rmq_json_int(dv, "counter", &b->dv.counter);
        rmq_json_int(dv, "timestamp", &b->dv.timestamp);
    }
    json_t *tbl = json_object_get(wrap, "topicConfigTable");
    if (tbl && !json_is_object(tbl))
        return false;
    const char *key;
    json_t *tc;
    json_object_foreach(tbl, key, tc)
    {
        if (!json_is_object(tc))
            return false;
        (*n)++;
    }
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    bool wrapped = data[0] & 1, compressed = data[0] & 2;
    const uint8_t *p = data + 1;
    size_t n = size - 1;
    ns_reg_body_t b;
    char err[256];
    bool ok = ns_reg_body_parse(p, n, compressed, wrapped, &b, err, sizeof(err));
    if (compressed || n == 0) {
        ns_reg_body_free(&b);
        return 0;
    }
    if (ok) {
        json_t *lenient = rmq_json_parse((const char *)p, n, NULL, 0);
        CHECK(lenient != NULL, "the decoder accepts what jansson refuses");
        json_decref(lenient);
    }
    /* JSON text never holds a raw NUL byte (inside strings it is escaped),
     * yet jansson takes one after a number for the number's end and accepts
     * {"dataVersion":2<NUL>}: such bodies are not JSON to compare against */
    json_error_t je;
    json_t *strict =
        memchr(p, 0, n)
            ? NULL
            : json_loadb((const char *)p, n, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
    if (strict) {
        ns_reg_body_t r;
        size_t rn;
        bool rok = reference(strict, wrapped, &r, &rn);
        CHECK(ok == rok, "decoder %s, the document %s (%s)", ok ? "accepts" : "refuses",
              rok ? "accepts" : "refuses", ok ? "" : err);
        if (ok) {
            CHECK(b.n_topics == rn, "%zu topics, the document has %zu", b.n_topics, rn);
            CHECK(b.dv.counter == r.dv.counter && b.dv.timestamp == r.dv.timestamp, "data version differs");
            json_t *wrap = wrapped ? json_object_get(strict, "topicConfigSerializeWrapper") : strict;
            /* entry by entry, in document order (two entries may carry one
             * topicName: each is its own TopicConfig, applied in turn) */
            const char *key;
            json_t *tc;
            size_t i = 0;
            json_object_foreach(json_object_get(wrap, "topicConfigTable"), key, tc)
            {
                const char *name = rmq_json_str(tc, "topicName");
                const ns_topic_conf_t *t = &b.topics[i++];
                CHECK(!strcmp(t->name, name ? name : key), "entry %zu is %s, the document's is %s", i - 1,
                      t->name, name ? name : key);
                CHECK(t->read_queue_nums == num(tc, "readQueueNums", 16) &&
                          t->write_queue_nums == num(tc, "writeQueueNums", 16) &&
                          t->perm == num(tc, "perm", 6) && t->topic_sys_flag == num(tc, "topicSysFlag", 0),
                      "topic %s (entry %zu) differs", t->name, i - 1);
            }
        }
        json_decref(strict);
    }
    ns_reg_body_free(&b);
    return 0;
}
