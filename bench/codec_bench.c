/* codec_bench.c - cost of the remoting frame codec on the send path.
 *
 * Decodes and encodes the SEND_MESSAGE_V2 request the Java 4.9.8 client sent
 * (tests/data golden frame) with its JSON header (what Java clients and
 * ali-ons use; parsed by rmq_hdr_json), the same header parsed into a jansson
 * DOM (the general-purpose library the project uses for bodies: why headers
 * have their own parser), and the same command with the ROCKETMQ binary
 * header (the baseline: no JSON at all), in one run; prints operations per
 * second and the ratios.
 *
 * usage: codec_bench [seconds-per-case]   (single thread)
 * Under valgrind --tool=callgrind the instruction counts per function (e.g.
 * rmq_hdr_json_decode inclusive / calls) are a load-independent measure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "rmq_cmd.h"
#include "rmq_time.h"

static uint8_t *load(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc((size_t)len);
    if (fread(p, 1, (size_t)len, f) != (size_t)len)
        exit(1);
    fclose(f);
    *n = (size_t)len;
    return p;
}

typedef struct {
    double decode_ops, encode_ops;
} result_t;

static result_t run(const uint8_t *frame, size_t n, double seconds)
{
    result_t r;
    rmq_cmd_t c;
    int64_t end = rmq_mono_us() + (int64_t)(seconds * 1e6);
    long ops = 0;
    int64_t t0 = rmq_mono_us();
    while (rmq_mono_us() < end) {
        for (int i = 0; i < 1000; i++) {
            if (rmq_cmd_decode(&c, frame + 4, n - 4, NULL, 0) != RMQ_OK)
                exit(2);
            rmq_cmd_deinit(&c);
        }
        ops += 1000;
    }
    r.decode_ops = ops / ((rmq_mono_us() - t0) / 1e6);

    rmq_cmd_decode(&c, frame + 4, n - 4, NULL, 0);
    rmq_buf_t b;
    rmq_buf_init(&b);
    ops = 0;
    end = rmq_mono_us() + (int64_t)(seconds * 1e6);
    t0 = rmq_mono_us();
    while (rmq_mono_us() < end) {
        for (int i = 0; i < 1000; i++) {
            b.len = 0;
            rmq_cmd_encode_header(&c, c.body_len, &b);
        }
        ops += 1000;
    }
    r.encode_ops = ops / ((rmq_mono_us() - t0) / 1e6);
    rmq_buf_free(&b);
    rmq_cmd_deinit(&c);
    return r;
}

/* jansson: parse the header into a DOM and read the fields a handler needs. */
static double run_jansson(const uint8_t *frame, size_t n, double seconds)
{
    size_t hl = rmq_be32(frame + 4) & 0xFFFFFF;
    const char *h = (const char *)frame + 8;
    int64_t end = rmq_mono_us() + (int64_t)(seconds * 1e6);
    long ops = 0;
    int64_t t0 = rmq_mono_us();
    while (rmq_mono_us() < end) {
        for (int i = 0; i < 1000; i++) {
            json_t *j = json_loadb(h, hl, 0, NULL);
            if (!j)
                exit(3);
            json_t *ext = json_object_get(j, "extFields");
            const char *k;
            json_t *v;
            size_t total = 0;
            json_object_foreach(ext, k, v) total += json_string_length(v);
            if (!total || json_integer_value(json_object_get(j, "code")) != 310)
                exit(3);
            json_decref(j);
        }
        ops += 1000;
    }
    return ops / ((rmq_mono_us() - t0) / 1e6);
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    size_t n;
    uint8_t *json = load(COMET_TEST_DATA "/rocketmq-4.9.8/json/310_SEND_MESSAGE_V2_req.bin", &n);
    /* the same command with a binary header */
    rmq_cmd_t c;
    if (rmq_cmd_decode(&c, json + 4, n - 4, NULL, 0) != RMQ_OK)
        return 2;
    c.serialize = RMQ_SERIALIZE_ROCKETMQ;
    rmq_buf_t bin;
    rmq_buf_init(&bin);
    rmq_cmd_encode(&c, &bin);
    rmq_cmd_deinit(&c);

    result_t rj = run(json, n, secs);
    double jansson = run_jansson(json, n, secs);
    result_t rb = run(bin.data, bin.len, secs);
    printf("SEND_MESSAGE_V2 header, %zu-byte JSON frame vs %zu-byte ROCKETMQ frame, %.1f s per case\n", n,
           bin.len, secs);
    printf("%-28s %14s %14s\n", "case", "decode ops/s", "encode ops/s");
    printf("%-28s %14.0f %14.0f\n", "JSON header (rmq_hdr_json)", rj.decode_ops, rj.encode_ops);
    printf("%-28s %14.0f %14s\n", "JSON header (jansson DOM)", jansson, "-");
    printf("%-28s %14.0f %14.0f\n", "ROCKETMQ header (baseline)", rb.decode_ops, rb.encode_ops);
    printf("ratio JSON/baseline: decode %.2f, encode %.2f; rmq_hdr_json/jansson decode %.2f\n",
           rj.decode_ops / rb.decode_ops, rj.encode_ops / rb.encode_ops, rj.decode_ops / jansson);
    printf("per frame: JSON decode %.2f us, encode %.2f us\n", 1e6 / rj.decode_ops, 1e6 / rj.encode_ops);
    free(json);
    rmq_buf_free(&bin);
    return 0;
}
