/* test_hdr_fields.c - the request-header table against Java.
 *
 * Ground truth comes from Java itself (tests/data/java-rules, printed by a
 * JVM) and from RocketMQ 4.9.8's header classes
 * (tests/data/rocketmq-4.9.8/header-fields.tsv). The main test is generated
 * from the table: for every field of every header and every spelling, the
 * decision Comet takes (value, Java's default, refusal and its remark) must
 * be the one Java's rule gives for that field's type and decoding path.
 * No sockets. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_cmd.h"
#include "rmq_hdr_fields.h"

#define MAX_ROWS 256

/* ---- data files ---- */

static char *slurp(const char *rel)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", COMET_TEST_DATA, rel);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = '\0';
    fclose(f);
    return s;
}

static void put_utf8(char **o, unsigned cp)
{
    unsigned char *p = (unsigned char *)*o;
    if (cp < 0x80) {
        *p++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *p++ = (unsigned char)(0xc0 | cp >> 6);
        *p++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        *p++ = (unsigned char)(0xe0 | cp >> 12);
        *p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *p++ = (unsigned char)(0x80 | (cp & 0x3f));
    } else {
        *p++ = (unsigned char)(0xf0 | cp >> 18);
        *p++ = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
        *p++ = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        *p++ = (unsigned char)(0x80 | (cp & 0x3f));
    }
    *o = (char *)p;
}

/* The TSV's escapes (\\, \uXXXX UTF-16 units) to UTF-8. *has_nul: the text
 * holds U+0000, which a C string cannot. */
static char *unescape(const char *s, size_t n, bool *has_nul)
{
    char *out = malloc(n * 3 + 1), *o = out;
    *has_nul = false;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\\' && i + 1 < n && s[i + 1] == '\\') {
            *o++ = '\\';
            i++;
        } else if (s[i] == '\\' && i + 5 < n + 0 && s[i + 1] == 'u') {
            unsigned u = (unsigned)strtoul((char[]){s[i + 2], s[i + 3], s[i + 4], s[i + 5], 0}, NULL, 16);
            i += 5;
            if (u >= 0xd800 && u < 0xdc00 && i + 6 < n && s[i + 1] == '\\' && s[i + 2] == 'u') {
                unsigned lo =
                    (unsigned)strtoul((char[]){s[i + 3], s[i + 4], s[i + 5], s[i + 6], 0}, NULL, 16);
                u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
                i += 6;
            }
            if (!u)
                *has_nul = true;
            put_utf8(&o, u);
        } else {
            *o++ = s[i];
        }
    }
    *o = '\0';
    return out;
}

typedef struct {
    char *text;                   /* the spelling (UTF-8) */
    bool int_ok, long_ok, bool_v; /* Java's results */
    int32_t int_v;
    int64_t long_v;
    char *int_err, *long_err; /* NumberFormatException.toString() */
    bool has_nul;
} spelling_t;

static spelling_t sp[MAX_ROWS];
static size_t n_sp;

/* Split a line into tab-separated columns (in place). */
static int split_tabs(char *line, char **col, int max)
{
    int n = 0;
    col[n++] = line;
    for (char *p = line; *p && n < max; p++)
        if (*p == '\t') {
            *p = '\0';
            col[n++] = p + 1;
        }
    return n;
}

static void load_spellings(void)
{
    if (n_sp)
        return;
    char *data = slurp("java-rules/field-spellings.tsv");
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        char *col[4];
        cr_assert_eq(split_tabs(line, col, 4), 4, "bad row %s", line);
        spelling_t *s = &sp[n_sp++];
        bool nul;
        s->text = unescape(col[0], strlen(col[0]), &s->has_nul);
        s->int_ok = !strncmp(col[1], "OK ", 3);
        s->long_ok = !strncmp(col[2], "OK ", 3);
        if (s->int_ok)
            s->int_v = (int32_t)strtoll(col[1] + 3, NULL, 10);
        else
            s->int_err = unescape(col[1] + 4, strlen(col[1] + 4), &nul);
        if (s->long_ok)
            s->long_v = strtoll(col[2] + 3, NULL, 10);
        else
            s->long_err = unescape(col[2] + 4, strlen(col[2] + 4), &nul);
        s->bool_v = !strcmp(col[3], "true");
    }
    free(data);
    cr_assert(n_sp > 50, "only %zu spellings", n_sp);
}

/* ---- Java's parsers ---- */

Test(java_rules, parsers_match_the_jvm)
{
    load_spellings();
    size_t checked = 0;
    for (size_t i = 0; i < n_sp; i++) {
        spelling_t *s = &sp[i];
        if (s->has_nul)
            continue; /* extFields values are C strings: see README compatibility notes */
        int32_t iv = 0;
        int64_t lv = 0;
        cr_expect_eq(rmq_java_parse_int(s->text, &iv), s->int_ok, "Integer.parseInt(\"%s\")", s->text);
        if (s->int_ok)
            cr_expect_eq(iv, s->int_v, "Integer.parseInt(\"%s\")", s->text);
        cr_expect_eq(rmq_java_parse_long(s->text, &lv), s->long_ok, "Long.parseLong(\"%s\")", s->text);
        if (s->long_ok)
            cr_expect_eq(lv, s->long_v, "Long.parseLong(\"%s\")", s->text);
        cr_expect_eq(rmq_java_parse_bool(s->text), s->bool_v, "Boolean.parseBoolean(\"%s\")", s->text);
        checked++;
    }
    cr_assert(checked > 50);
}

/* ---- the table against RocketMQ's header classes ---- */

typedef struct {
    char cls[64], name[48], type[16], init[16];
    bool notnull;
} jfield_t;

static jfield_t jf[MAX_ROWS];
static size_t n_jf;
static char decode_keys[8][2][512]; /* class, keys */
static size_t n_dk;

static void load_java_headers(void)
{
    if (n_jf)
        return;
    char *data = slurp("rocketmq-4.9.8/header-fields.tsv");
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        char *col[6];
        if (line[0] == '#')
            continue;
        int n = split_tabs(line, col, 6);
        if (!strcmp(col[0], "field")) {
            cr_assert_eq(n, 6);
            jfield_t *f = &jf[n_jf++];
            snprintf(f->cls, sizeof(f->cls), "%s", col[1]);
            snprintf(f->name, sizeof(f->name), "%s", col[2]);
            snprintf(f->type, sizeof(f->type), "%s", col[3]);
            f->notnull = !strcmp(col[4], "!");
            snprintf(f->init, sizeof(f->init), "%s", col[5]);
        } else if (!strcmp(col[0], "decode")) {
            cr_assert_eq(n, 3);
            snprintf(decode_keys[n_dk][0], sizeof(decode_keys[0][0]), "%s", col[1]);
            snprintf(decode_keys[n_dk][1], sizeof(decode_keys[0][1]), "%s", col[2]);
            n_dk++;
        }
    }
    free(data);
}

/* Classes that share another row's field list (see rmq_hdr_fields.h). */
static const struct {
    const char *cls;
    rmq_hdr_id_t id;
} also[] = {
    {"GetMinOffsetRequestHeader", RMQ_HDR_QUEUE},
    {"GetEarliestMsgStoretimeRequestHeader", RMQ_HDR_QUEUE},
    {"QueryTopicConsumeByWhoRequestHeader", RMQ_HDR_TOPIC},
    {"GetConsumerListByGroupRequestHeader", RMQ_HDR_CONSUMER_GROUP},
    {"AddWritePermOfBrokerRequestHeader", RMQ_HDR_WRITE_PERM},
    {"GetKVConfigRequestHeader", RMQ_HDR_KV},
    {"DeleteKVConfigRequestHeader", RMQ_HDR_KV},
};

static const rmq_hdr_field_t *find_field(const rmq_hdr_def_t *def, const char *key, int *idx)
{
    for (size_t i = 0; i < def->n; i++)
        if (!strcmp(rmq_hdr_key(def, (int)i), key)) {
            *idx = (int)i;
            return &def->fields[i];
        }
    return NULL;
}

/* Every Java field of cls is in def with the same type, boxing,
 * @CFNotNull and initial value; exact: and nothing else. */
static void compare_class(const char *cls, const rmq_hdr_def_t *def, bool exact)
{
    size_t seen = 0;
    for (size_t i = 0; i < n_jf; i++) {
        const jfield_t *j = &jf[i];
        if (strcmp(j->cls, cls) != 0)
            continue;
        if (def->fast && !strcmp(j->name, "bname") && def->v2_names)
            continue; /* inherited, but SendMessageRequestHeaderV2.decode never reads it */
        int idx;
        const rmq_hdr_field_t *f = find_field(def, j->name, &idx);
        cr_expect_not_null(f, "%s.%s is missing from Comet's table", cls, j->name);
        if (!f)
            continue;
        seen++;
        cr_expect_str_eq(rmq_hdr_java_type(f), j->type, "%s.%s: Java type", cls, j->name);
        cr_expect_eq((f->flags & RMQ_HF_NOTNULL) != 0, j->notnull, "%s.%s: @CFNotNull", cls, j->name);
        if (strcmp(j->init, "-") != 0) {
            int64_t want = !strcmp(j->init, "false")  ? 0
                           : !strcmp(j->init, "true") ? 1
                                                      : strtoll(j->init, NULL, 10);
            cr_expect_eq(f->dflt, want, "%s.%s: initial value %s", cls, j->name, j->init);
        } else if (!(f->flags & RMQ_HF_BOXED) && f->type != RMQ_HT_STRING) {
            cr_expect_eq(f->dflt, 0, "%s.%s: a primitive starts at 0/false", cls, j->name);
        }
        /* a field Comet refuses when unset must be one Java declares @CFNotNull */
        if (f->flags & RMQ_HF_NEED)
            cr_expect(j->notnull, "%s.%s: refused when missing, but optional in Java", cls, j->name);
    }
    if (exact)
        cr_expect_eq(seen, def->n, "%s: Comet has %zu fields, Java %zu", cls, def->n, seen);
}

Test(java_rules, table_matches_rocketmq_header_classes)
{
    load_java_headers();
    cr_assert(n_jf > 100);
    for (int id = 0; id < RMQ_HDR__COUNT; id++) {
        const rmq_hdr_def_t *def = rmq_hdr_def((rmq_hdr_id_t)id);
        cr_assert_leq(def->n, RMQ_HDR_MAX_FIELDS);
        compare_class(def->java_class, def, true);
    }
    for (size_t i = 0; i < sizeof(also) / sizeof(also[0]); i++)
        compare_class(also[i].cls, rmq_hdr_def(also[i].id), false);
    /* FastCodesHeader classes: Comet reads the same keys in the same order
     * (the first unparsable one is the one Java reports) */
    size_t fast = 0;
    for (int id = 0; id < RMQ_HDR__COUNT; id++) {
        const rmq_hdr_def_t *def = rmq_hdr_def((rmq_hdr_id_t)id);
        if (!def->fast)
            continue;
        fast++;
        char keys[512] = "";
        for (size_t i = 0; i < def->n; i++)
            snprintf(keys + strlen(keys), sizeof(keys) - strlen(keys), "%s%s", i ? " " : "",
                     rmq_hdr_key(def, (int)i));
        bool found = false;
        for (size_t k = 0; k < n_dk; k++)
            if (!strcmp(decode_keys[k][0], def->java_class)) {
                found = true;
                cr_expect_str_eq(keys, decode_keys[k][1], "%s decode order", def->java_class);
            }
        cr_expect(found, "%s is a FastCodesHeader in Comet only", def->java_class);
    }
    cr_expect_eq(fast, n_dk, "FastCodesHeader classes: Comet %zu, Java %zu", fast, n_dk);
}

/* ---- generated: every field of every header, every spelling ---- */

/* A valid value for a field of this type. */
static const char *valid(rmq_hdr_type_t t)
{
    return t == RMQ_HT_STRING ? "v" : t == RMQ_HT_BOOL ? "true" : "1";
}

static void build(rmq_cmd_t *c, const rmq_hdr_def_t *def, int skip, const char *value)
{
    rmq_cmd_init_request(c, 0);
    for (size_t i = 0; i < def->n; i++) {
        if ((int)i == skip) {
            if (value)
                rmq_cmd_set_ext(c, rmq_hdr_key(def, (int)i), value);
        } else {
            rmq_cmd_set_ext(c, rmq_hdr_key(def, (int)i), valid(def->fields[i].type));
        }
    }
    rmq_cmd_set_ext(c, "unknownExtraField", "ignored"); /* unknown keys never matter */
}

/* The field is unset: Java's default, and a refusal exactly when the table
 * says Java's processor needs it. */
static void expect_unset(const rmq_hdr_t *h, int f, const char *why)
{
    const rmq_hdr_field_t *fd = &h->def->fields[f];
    char remark[512] = "";
    cr_expect(!rmq_hdr_has(h, f), "%s", why);
    if (fd->type == RMQ_HT_STRING)
        cr_expect_null(rmq_hdr_str(h, f), "%s", why);
    else
        cr_expect_eq(rmq_hdr_i64(h, f), fd->dflt, "%s: default", why);
    bool ok = rmq_hdr_check_needed(h, remark, sizeof(remark));
    cr_expect_eq(ok, !(fd->flags & RMQ_HF_NEED), "%s: refused iff needed (%s)", why, remark);
    if (!ok) {
        char want[128];
        snprintf(want, sizeof(want), "the custom field <%s>", rmq_hdr_key(h->def, f));
        cr_expect(strstr(remark, want) == remark, "%s: remark \"%s\"", why, remark);
        cr_expect(strstr(remark, "is null"), "%s: remark \"%s\"", why, remark);
    }
}

Test(java_rules, every_field_every_spelling)
{
    load_spellings();
    size_t decisions = 0;
    for (int id = 0; id < RMQ_HDR__COUNT; id++) {
        const rmq_hdr_def_t *def = rmq_hdr_def((rmq_hdr_id_t)id);
        for (size_t fi = 0; fi < def->n; fi++) {
            const rmq_hdr_field_t *fd = &def->fields[fi];
            const char *key = rmq_hdr_key(def, (int)fi);
            char why[256];
            rmq_cmd_t c;
            rmq_hdr_t h;
            char remark[512] = "";
            /* absent */
            snprintf(why, sizeof(why), "%s.%s absent", def->java_class, key);
            build(&c, def, (int)fi, NULL);
            cr_expect(rmq_hdr_decode(&h, def->id, &c, remark, sizeof(remark)), "%s: %s", why, remark);
            expect_unset(&h, (int)fi, why);
            rmq_cmd_deinit(&c);
            decisions++;
            for (size_t si = 0; si < n_sp; si++) {
                const spelling_t *s = &sp[si];
                if (s->has_nul)
                    continue;
                snprintf(why, sizeof(why), "%s.%s = \"%s\"", def->java_class, key, s->text);
                build(&c, def, (int)fi, s->text);
                remark[0] = '\0';
                bool decoded = rmq_hdr_decode(&h, def->id, &c, remark, sizeof(remark));
                decisions++;
                bool num = fd->type == RMQ_HT_INT || fd->type == RMQ_HT_LONG;
                bool java_ok = fd->type == RMQ_HT_INT    ? s->int_ok
                               : fd->type == RMQ_HT_LONG ? s->long_ok
                                                         : true;
                if (num && !java_ok && def->fast) {
                    /* FastCodesHeader.decode: NumberFormatException => SYSTEM_ERROR */
                    const char *err = fd->type == RMQ_HT_INT ? s->int_err : s->long_err;
                    cr_expect(!decoded, "%s: Java throws %s", why, err);
                    cr_expect_str_eq(remark, err, "%s", why);
                } else if (num && !java_ok) {
                    /* reflective: logged by Java, the field keeps its initial value */
                    cr_expect(decoded, "%s: %s", why, remark);
                    cr_expect_eq(h.v[fi].state, RMQ_HV_INVALID, "%s", why);
                    expect_unset(&h, (int)fi, why);
                    if (fd->flags & RMQ_HF_NEED) {
                        rmq_hdr_check_needed(&h, remark, sizeof(remark));
                        cr_expect(strstr(remark, s->text) != NULL, "%s: remark names the value: %s", why,
                                  remark);
                    }
                } else {
                    cr_expect(decoded, "%s: %s", why, remark);
                    cr_expect(rmq_hdr_has(&h, (int)fi), "%s", why);
                    switch (fd->type) {
                    case RMQ_HT_STRING:
                        cr_expect_str_eq(rmq_hdr_str(&h, (int)fi), s->text, "%s", why);
                        break;
                    case RMQ_HT_INT:
                        cr_expect_eq(rmq_hdr_i32(&h, (int)fi), s->int_v, "%s", why);
                        break;
                    case RMQ_HT_LONG:
                        cr_expect_eq(rmq_hdr_i64(&h, (int)fi), s->long_v, "%s", why);
                        break;
                    case RMQ_HT_BOOL:
                        cr_expect_eq(rmq_hdr_bool(&h, (int)fi), s->bool_v, "%s", why);
                        break;
                    }
                    cr_expect(rmq_hdr_check_needed(&h, remark, sizeof(remark)), "%s: %s", why, remark);
                }
                rmq_cmd_deinit(&c);
            }
        }
    }
    cr_log_info("%zu decisions compared", decisions);
    cr_assert(decisions > 5000, "only %zu decisions", decisions);
}

/* The SEND_MESSAGE_V2 one-letter names and the long names of SEND_MESSAGE
 * decode to the same fields. */
Test(java_rules, send_v1_and_v2_names_agree)
{
    const rmq_hdr_def_t *v1 = rmq_hdr_def(RMQ_HDR_SEND), *v2 = rmq_hdr_def(RMQ_HDR_SEND_V2);
    cr_assert_eq(v1->n, v2->n);
    cr_assert(!v1->fast && v2->fast && v2->v2_names && !v1->v2_names);
    static const char *const letters = "abcdefghijklmn";
    for (size_t i = 0; i < v2->n; i++) {
        char l[2] = {letters[i], 0};
        cr_expect_str_eq(rmq_hdr_key(v2, (int)i), l);
        cr_expect_str_eq(rmq_hdr_key(v1, (int)i), v1->fields[i].name);
    }
    cr_expect_str_eq(rmq_hdr_key(v2, RMQ_F_SEND_batch), "m");
    cr_expect_str_eq(rmq_hdr_key(v1, RMQ_F_SEND_batch), "batch");
}

/* m as real clients spell it: only a case-insensitive "true" is a batch. */
Test(java_rules, batch_flag_spellings)
{
    static const struct {
        const char *m;
        bool batch;
    } cases[] = {{"0", false},   {"1", false}, {"false", false}, {"TRUE", true}, {"true", true},
                 {"True", true}, {"", false},  {"yes", false},   {NULL, false}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        rmq_cmd_t c;
        rmq_hdr_t h;
        char remark[256];
        build(&c, rmq_hdr_def(RMQ_HDR_SEND_V2), RMQ_F_SEND_batch, cases[i].m);
        cr_assert(rmq_hdr_decode(&h, RMQ_HDR_SEND_V2, &c, remark, sizeof(remark)));
        cr_expect_eq(rmq_hdr_bool(&h, RMQ_F_SEND_batch), cases[i].batch, "m=%s",
                     cases[i].m ? cases[i].m : "(absent)");
        rmq_cmd_deinit(&c);
    }
}

/* ---- extFields values that are JSON numbers/booleans/null (ali-ons) ---- */

static rmq_err_t decode_json(rmq_cmd_t *c, const char *hdr)
{
    size_t hl = strlen(hdr);
    uint8_t *f = malloc(4 + hl);
    f[0] = 0;
    f[1] = (uint8_t)(hl >> 16);
    f[2] = (uint8_t)(hl >> 8);
    f[3] = (uint8_t)hl;
    memcpy(f + 4, hdr, hl);
    char err[256];
    rmq_err_t r = rmq_cmd_decode(c, f, 4 + hl, err, sizeof(err));
    free(f);
    return r;
}

/* A number keeps its literal text when it is an integer (fastjson's
 * StringCodec) and is BigDecimal.toString() otherwise; the BigDecimal texts
 * come from the JVM. */
Test(java_rules, json_numbers_get_fastjson_text)
{
    char *data = slurp("java-rules/json-decimals.tsv");
    size_t n = 0;
    for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '#')
            continue;
        char *col[2];
        cr_assert_eq(split_tabs(line, col, 2), 2);
        char hdr[256];
        snprintf(hdr, sizeof(hdr), "{\"code\":310,\"extFields\":{\"e\":%s},\"flag\":0}", col[0]);
        rmq_cmd_t c;
        cr_assert_eq(decode_json(&c, hdr), RMQ_OK, "%s", hdr);
        cr_expect_str_eq(rmq_cmd_ext(&c, "e"), col[1], "JSON %s", col[0]);
        rmq_cmd_deinit(&c);
        n++;
    }
    free(data);
    cr_assert(n > 20);
    static const struct {
        const char *json, *text;
    } ints[] = {{"3", "3"},
                {"-0", "-0"},
                {"007", "007"}, /* fastjson's lexer takes leading zeros; parseInt then reads 7 */
                {"1700000000000", "1700000000000"},
                {"9223372036854775808", "9223372036854775808"},
                {"123456789012345678901234567890", "123456789012345678901234567890"},
                {"true", "true"},
                {"false", "false"}};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        char hdr[256];
        snprintf(hdr, sizeof(hdr), "{\"code\":310,\"extFields\":{\"e\":%s},\"flag\":0}", ints[i].json);
        rmq_cmd_t c;
        cr_assert_eq(decode_json(&c, hdr), RMQ_OK, "%s", hdr);
        cr_expect_str_eq(rmq_cmd_ext(&c, "e"), ints[i].text, "JSON %s", ints[i].json);
        rmq_cmd_deinit(&c);
    }
    rmq_cmd_t c;
    cr_assert_eq(decode_json(&c, "{\"code\":310,\"extFields\":{\"e\":null},\"flag\":0}"), RMQ_OK);
    cr_expect_null(rmq_cmd_ext(&c, "e"), "null is absent");
    rmq_cmd_deinit(&c);
}

/* What the decoder then makes of them, through the table: 5.0 is not an
 * Integer for Java, 5 and "5" are; "e":true is not a number. */
Test(java_rules, json_typed_values_through_the_table)
{
    static const struct {
        const char *json;
        bool ok;
        int32_t v;
    } cases[] = {{"5", true, 5},           {"\"5\"", true, 5},  {"-0", true, 0},   {"5.0", false, 0},
                 {"5e0", true, 5},         {"0.5e1", true, 5},  {"1e3", false, 0}, {"true", false, 0},
                 {"2147483648", false, 0}, {"\"+5\"", true, 5}, {"007", true, 7},  {"\" 5\"", false, 0}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char hdr[256];
        snprintf(hdr, sizeof(hdr),
                 "{\"code\":310,\"extFields\":{\"a\":\"PG\",\"b\":\"T\",\"c\":\"TBW102\",\"d\":4,\"e\":%s,"
                 "\"f\":0,\"g\":1700000000000,\"h\":0,\"k\":false},\"flag\":0}",
                 cases[i].json);
        rmq_cmd_t c;
        rmq_hdr_t h;
        char remark[256] = "";
        cr_assert_eq(decode_json(&c, hdr), RMQ_OK, "%s", hdr);
        bool ok = rmq_hdr_decode(&h, RMQ_HDR_SEND_V2, &c, remark, sizeof(remark));
        cr_expect_eq(ok, cases[i].ok, "e=%s: %s", cases[i].json, remark);
        if (ok) {
            cr_expect_eq(rmq_hdr_i32(&h, RMQ_F_SEND_queueId), cases[i].v, "e=%s", cases[i].json);
            cr_expect_eq(rmq_hdr_i32(&h, RMQ_F_SEND_defaultTopicQueueNums), 4);
            cr_expect_eq(rmq_hdr_i64(&h, RMQ_F_SEND_bornTimestamp), 1700000000000LL);
            cr_expect(!rmq_hdr_bool(&h, RMQ_F_SEND_unitMode));
        } else {
            cr_expect(strstr(remark, "java.lang.NumberFormatException: For input string: ") == remark, "%s",
                      remark);
        }
        rmq_cmd_deinit(&c);
    }
}

/* The fuzzer's dictionary knows every key of the table. */
Test(java_rules, fuzz_dictionary_has_every_field)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/../fuzz/fuzz_cmd.dict", COMET_TEST_DATA);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    static char dict[65536];
    size_t n = fread(dict, 1, sizeof(dict) - 1, f);
    fclose(f);
    dict[n] = '\0';
    for (int id = 0; id < RMQ_HDR__COUNT; id++) {
        const rmq_hdr_def_t *def = rmq_hdr_def((rmq_hdr_id_t)id);
        for (size_t i = 0; i < def->n; i++) {
            char entry[96];
            snprintf(entry, sizeof(entry), "\"\\\"%s\\\":\"", rmq_hdr_key(def, (int)i));
            cr_expect_not_null(strstr(dict, entry), "tests/fuzz/fuzz_cmd.dict lacks %s", entry);
        }
    }
}
