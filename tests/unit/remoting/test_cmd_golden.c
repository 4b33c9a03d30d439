/* test_cmd_golden.c - decode every frame captured from Java RocketMQ 4.9.8
 * (tests/data/rocketmq-4.9.8) and check it against the decoded sidecars; then
 * re-encode and decode again. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_util.h"
#include "rmq_conf.h" /* rmq_file_read_all */

#define DATA COMET_TEST_DATA "/rocketmq-4.9.8"

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static int is_bin(const struct dirent *e)
{
    size_t l = strlen(e->d_name);
    return l >= 5 && strcmp(e->d_name + l - 4, ".bin") == 0;
}

/* Sorted list of the *.bin files of a directory (free_list frees it). */
static struct dirent **list_bins(const char *dir, size_t *count)
{
    struct dirent **v;
    int n = scandir(dir, &v, is_bin, alphasort);
    cr_assert_geq(n, 0, "cannot open %s", dir);
    *count = (size_t)n;
    return v;
}

static void free_list(struct dirent **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    char *data = NULL;
    rmq_err_t r = rmq_file_read_all(path, &data, len);
    cr_assert_eq(r, RMQ_OK, "cannot read %s", path);
    return (uint8_t *)data;
}

/* Check a decoded command against the "header" object of a sidecar. The
 * sidecars keep the wire order of extFields, so the order is checked too. */
static void expect_header(const rmq_cmd_t *c, json_t *h, bool rocketmq, const char *file)
{
    cr_expect_eq(c->code, json_integer_value(json_object_get(h, "code")), "%s: code", file);
    cr_expect_eq(c->flag, json_integer_value(json_object_get(h, "flag")), "%s: flag", file);
    cr_expect_eq(c->opaque, json_integer_value(json_object_get(h, "opaque")), "%s: opaque", file);
    cr_expect_eq(c->version, json_integer_value(json_object_get(h, "version")), "%s: version", file);
    json_t *lang = json_object_get(h, "language");
    if (rocketmq)
        cr_expect_eq(c->language, json_integer_value(lang), "%s: language", file);
    else
        cr_expect_str_eq(rmq_lang_name(c->language), json_string_value(lang), "%s: language", file);
    cr_expect_eq(c->serialize, rocketmq ? RMQ_SERIALIZE_ROCKETMQ : RMQ_SERIALIZE_JSON, "%s: serialize", file);

    json_t *remark = json_object_get(h, "remark");
    if (remark) {
        cr_expect_not_null(c->remark, "%s: remark missing", file);
        if (c->remark)
            cr_expect_str_eq(c->remark, json_string_value(remark), "%s: remark", file);
    } else {
        cr_expect_null(c->remark, "%s: unexpected remark", file);
    }

    json_t *ext = json_object_get(h, "extFields");
    /* ROCKETMQ cannot express an empty map (extLen 0 => none). */
    bool want_ext = ext && !(rocketmq && json_object_size(ext) == 0);
    cr_expect_eq(c->has_ext, want_ext, "%s: has_ext", file);
    size_t want_n = ext ? json_object_size(ext) : 0;
    cr_expect_eq(c->ext_n, want_n, "%s: ext_n %zu, sidecar has %zu", file, c->ext_n, want_n);
    if (ext) {
        const char *k;
        json_t *v;
        size_t i = 0;
        json_object_foreach(ext, k, v)
        {
            const char *got = rmq_cmd_ext(c, k);
            cr_expect_not_null(got, "%s: ext %s missing", file, k);
            if (got) {
                cr_expect_eq(strlen(got), json_string_length(v), "%s: ext %s length", file, k);
                cr_expect_str_eq(got, json_string_value(v), "%s: ext %s", file, k);
            }
            if (i < c->ext_n)
                cr_expect_str_eq(c->ext[i].key, k, "%s: ext order at %zu", file, i);
            i++;
        }
    }
}

/* Compare the body with the sidecar's text rendering of it, when it has one.
 * A text holding U+FFFD was decoded lossily from binary (batch bodies): only
 * the length can be checked then. */
static int expect_body(const rmq_cmd_t *c, json_t *meta, const char *file)
{
    cr_expect_eq(c->body_len, (size_t)json_integer_value(json_object_get(meta, "body_len")), "%s: body_len",
                 file);
    cr_expect_eq(c->body == NULL, c->body_len == 0, "%s: body pointer", file);
    static const char *const keys[] = {"body_json_text", "body_utf8", "body_text"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *t = json_object_get(meta, keys[i]);
        if (!json_is_string(t))
            continue;
        const char *s = json_string_value(t);
        size_t n = json_string_length(t);
        if (memmem(s, n, "\xEF\xBF\xBD", 3))
            return 0; /* lossy */
        cr_expect_eq(n, c->body_len, "%s: %s length %zu != body %zu", file, keys[i], n, c->body_len);
        if (n == c->body_len)
            cr_expect(memcmp(s, c->body, n) == 0, "%s: body bytes differ from %s", file, keys[i]);
        return 1;
    }
    return 0;
}

/* Decode one .bin and check it against meta; re-encode it and decode again.
 * For ROCKETMQ the re-encoded frame must be byte-identical to Java's: our
 * extFields keep the wire order and Java writes remark/ext the same way. The
 * JSON header is checked for byte equality too: Java's extFields is a HashMap
 * written in its iteration order, which we keep, and the rest of the header is
 * fastjson's fixed alphabetical order. Returns the number of bodies compared. */
static int check_frame(const char *dir, const char *file, json_t *meta, bool rocketmq)
{
    char *path = path_join(dir, file);
    size_t len;
    uint8_t *raw = read_file(path, &len);
    free(path);
    cr_assert_geq(len, 8, "%s: too short", file);
    cr_expect_eq(rmq_be32(raw), len - 4, "%s: length prefix", file);
    cr_expect_eq(len, (size_t)json_integer_value(json_object_get(meta, "frame_len")), "%s: frame_len", file);
    cr_expect_eq(rmq_be32(raw + 4) & 0xFFFFFF, json_integer_value(json_object_get(meta, "header_len")),
                 "%s: header_len", file);

    rmq_cmd_t c, d;
    char err[256] = "";
    rmq_err_t r = rmq_cmd_decode(&c, raw + 4, len - 4, err, sizeof(err));
    cr_assert_eq(r, RMQ_OK, "%s: decode failed: %s", file, err);
    expect_header(&c, json_object_get(meta, "header"), rocketmq, file);
    int bodies = expect_body(&c, meta, file);

    rmq_buf_t wire;
    if (cmd_reencode(&c, &d, &wire) == RMQ_OK) {
        cmd_expect_equal(&c, &d, file);
        cr_expect_eq(wire.len, len, "%s: re-encoded %zu bytes, Java wrote %zu", file, wire.len, len);
        if (wire.len == len)
            cr_expect(memcmp(wire.data, raw, len) == 0, "%s: re-encoded bytes differ from Java's", file);
    }
    rmq_buf_free(&wire);
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&c);
    free(raw);
    return bodies;
}

/* json/ and rocketmq/: one sidecar per frame. */
static void check_sidecar_dir(const char *sub, bool rocketmq, size_t want_frames)
{
    char *dir = path_join(DATA, sub);
    size_t n;
    struct dirent **bins = list_bins(dir, &n);
    cr_expect_eq(n, want_frames, "%s: %zu frames", sub, n);
    int bodies = 0;
    for (size_t i = 0; i < n; i++) {
        const char *bin = bins[i]->d_name;
        char side[4096];
        snprintf(side, sizeof(side), "%s/%.*s.json", dir, (int)strlen(bin) - 4, bin);
        json_error_t jerr;
        json_t *meta = json_load_file(side, JSON_ALLOW_NUL, &jerr);
        cr_assert_not_null(meta, "%s: %s", side, jerr.text);
        cr_expect_str_eq(json_string_value(json_object_get(meta, "file")), bin);
        cr_expect_str_eq(json_string_value(json_object_get(meta, "serialize")),
                         rocketmq ? "rocketmq" : "json");
        bodies += check_frame(dir, bin, meta, rocketmq);
        json_decref(meta);
    }
    cr_expect_geq(bodies, 13, "%s: only %d bodies compared", sub, bodies);
    free_list(bins, n);
    free(dir);
}

/* raw-json/ and raw-rocketmq/: frames.jsonl describes every frame. */
static void check_raw_dir(const char *sub, bool rocketmq, size_t want_frames)
{
    char *dir = path_join(DATA, sub);
    char *idx = path_join(dir, "frames.jsonl");
    size_t len;
    char *text = (char *)read_file(idx, &len);
    size_t frames = 0;
    int bodies = 0;
    for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        size_t ll = nl ? (size_t)(nl - line) : strlen(line);
        if (ll == 0)
            continue;
        json_error_t jerr;
        json_t *meta = json_loadb(line, ll, JSON_ALLOW_NUL, &jerr);
        cr_assert_not_null(meta, "%s line %zu: %s", idx, frames + 1, jerr.text);
        cr_expect_eq(json_integer_value(json_object_get(meta, "seq")), (json_int_t)frames + 1);
        bodies += check_frame(dir, json_string_value(json_object_get(meta, "file")), meta, rocketmq);
        json_decref(meta);
        frames++;
    }
    cr_expect_eq(frames, want_frames, "%s: %zu frames in frames.jsonl", sub, frames);
    size_t nbins;
    struct dirent **bins = list_bins(dir, &nbins);
    cr_expect_eq(nbins, frames, "%s: %zu .bin files but %zu described", sub, nbins, frames);
    cr_expect_gt(bodies, 20, "%s: only %d bodies compared", sub, bodies);
    free_list(bins, nbins);
    free(text);
    free(idx);
    free(dir);
}

TestSuite(golden, .timeout = 60);

Test(golden, json_sidecars)
{
    check_sidecar_dir("json", false, 55);
}
Test(golden, rocketmq_sidecars)
{
    check_sidecar_dir("rocketmq", true, 55);
}
Test(golden, raw_json_capture)
{
    check_raw_dir("raw-json", false, 244);
}
Test(golden, raw_rocketmq_capture)
{
    check_raw_dir("raw-rocketmq", true, 242);
}

/* INDEX.md lists every json/ and rocketmq/ frame with its size in bytes. */
Test(golden, index_byte_counts)
{
    char *idx = path_join(DATA, "INDEX.md");
    size_t len;
    char *text = (char *)read_file(idx, &len);
    int rows = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "| json/", 7) != 0 && strncmp(line, "| rocketmq/", 11) != 0)
            continue;
        /* | file | code | part | sender | serialization | bytes | description | */
        char *cols[8] = {0};
        int nc = 0;
        for (char *p = line; *p && nc < 8; p++)
            if (*p == '|')
                cols[nc++] = p + 1;
        cr_assert_geq(nc, 7, "INDEX.md row: %s", line);
        char file[256];
        cr_assert_eq(sscanf(cols[0], " %255s", file), 1);
        long bytes = strtol(cols[5], NULL, 10);
        char *path = path_join(DATA, file);
        size_t flen;
        uint8_t *raw = read_file(path, &flen);
        cr_expect_eq((long)flen, bytes, "%s: INDEX.md says %ld bytes, file has %zu", file, bytes, flen);
        free(raw);
        free(path);
        rows++;
    }
    cr_expect_eq(rows, 110, "INDEX.md lists %d frames", rows);
    free(text);
    free(idx);
}
