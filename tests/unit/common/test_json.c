/* test_json.c - fastjson-style writer, lenient parser (bare integer keys)
 * and rmq_java_hash. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <string.h>

#include "rmq_buf.h"
#include "rmq_json.h"

/* Compare a buffer's bytes with a C string. */
#define expect_buf(b, want)                                                                                  \
    do {                                                                                                     \
        const char *w_ = (want);                                                                             \
        cr_expect(strcmp(rmq_buf_cstr(b), w_) == 0, "got  %s\nwant %s", (char *)(b)->data, w_);              \
    } while (0)

/* Each jw test writes with w into b, set up and freed around it. */
static rmq_buf_t b;
static rmq_jw_t w;

static void jw_setup(void)
{
    rmq_buf_init(&b);
    rmq_jw_init(&w, &b);
}

static void jw_teardown(void)
{
    rmq_buf_free(&b);
}

TestSuite(jw, .init = jw_setup, .fini = jw_teardown, .timeout = 10);

Test(jw, nested_objects_arrays_commas)
{
    rmq_jw_obj_begin(&w);
    rmq_jw_kstr(&w, "clientID", "127.0.0.1@1");
    rmq_jw_key(&w, "consumerDataSet");
    rmq_jw_arr_begin(&w);
    rmq_jw_obj_begin(&w);
    rmq_jw_kstr(&w, "groupName", "g");
    rmq_jw_key(&w, "codeSet");
    rmq_jw_arr_begin(&w);
    rmq_jw_int(&w, 2598919);
    rmq_jw_int(&w, -2598920);
    rmq_jw_arr_end(&w);
    rmq_jw_key(&w, "tagsSet");
    rmq_jw_arr_begin(&w);
    rmq_jw_arr_end(&w);
    rmq_jw_kbool(&w, "unitMode", false);
    rmq_jw_obj_end(&w);
    rmq_jw_obj_begin(&w);
    rmq_jw_obj_end(&w);
    rmq_jw_arr_end(&w);
    rmq_jw_key(&w, "empty");
    rmq_jw_obj_begin(&w);
    rmq_jw_obj_end(&w);
    rmq_jw_kint(&w, "n", INT64_MIN);
    rmq_jw_key(&w, "raw");
    rmq_jw_raw(&w, "{\"x\":[1]}");
    rmq_jw_kbool(&w, "t", true);
    rmq_jw_kstr(&w, "nul", NULL);
    rmq_jw_obj_end(&w);
    expect_buf(&b,
               "{\"clientID\":\"127.0.0.1@1\",\"consumerDataSet\":[{\"groupName\":\"g\",\"codeSet\":[2598919,"
               "-2598920],\"tagsSet\":[],\"unitMode\":false},{}],\"empty\":{},\"n\":-9223372036854775808,"
               "\"raw\":{\"x\":[1]},\"t\":true,\"nul\":\"\"}");
    /* what we write, jansson reads */
    json_error_t e;
    json_t *j = json_loadb((const char *)b.data, b.len, 0, &e);
    cr_expect_not_null(j, "%s", e.text);
    json_decref(j);
}

Test(jw, top_level_array_of_values)
{
    rmq_jw_arr_begin(&w);
    rmq_jw_str(&w, "a");
    rmq_jw_strn(&w, "bcd", 2);
    rmq_jw_int(&w, 0);
    rmq_jw_bool(&w, true);
    rmq_jw_arr_begin(&w);
    rmq_jw_arr_begin(&w);
    rmq_jw_arr_end(&w);
    rmq_jw_arr_end(&w);
    rmq_jw_raw(&w, "null");
    rmq_jw_arr_end(&w);
    expect_buf(&b, "[\"a\",\"bc\",0,true,[[]],null]");
}

/* rmq_jw_init_obj: a fresh writer with its root object open. */
Test(jw, init_obj_opens_the_root_object)
{
    rmq_jw_init_obj(&w, &b);
    rmq_jw_kint(&w, "a", 1);
    rmq_jw_kbool(&w, "b", false);
    rmq_jw_obj_end(&w);
    expect_buf(&b, "{\"a\":1,\"b\":false}");
}

/* Deep nesting up to the writer's limit keeps commas right. */
Test(jw, deep_nesting)
{
    for (int i = 0; i < 30; i++) {
        rmq_jw_arr_begin(&w);
        rmq_jw_int(&w, i);
    }
    for (int i = 0; i < 30; i++)
        rmq_jw_arr_end(&w);
    json_error_t e;
    json_t *j = json_loadb((const char *)b.data, b.len, 0, &e);
    cr_expect_not_null(j, "%s: %.*s", e.text, (int)b.len, (char *)b.data);
    json_decref(j);
    cr_expect_eq(strncmp((char *)b.data, "[0,[1,[2,", 9), 0);
}

/* fastjson Map<Integer/Long,..> keys: unquoted unless asked. */
Test(jw, int_keys)
{
    rmq_jw_obj_begin(&w);
    rmq_jw_key(&w, "brokerAddrs");
    rmq_jw_obj_begin(&w);
    rmq_jw_key_int(&w, 0, false);
    rmq_jw_str(&w, "127.0.0.2:20911");
    rmq_jw_key_int(&w, 1, false);
    rmq_jw_str(&w, "127.0.0.2:20921");
    rmq_jw_key_int(&w, -1, true);
    rmq_jw_int(&w, 5);
    rmq_jw_obj_end(&w);
    rmq_jw_obj_end(&w);
    expect_buf(&b, "{\"brokerAddrs\":{0:\"127.0.0.2:20911\",1:\"127.0.0.2:20921\",\"-1\":5}}");
    /* and it reads back through the lenient parser */
    char err[128];
    json_t *j = rmq_json_parse((const char *)b.data, b.len, err, sizeof(err));
    cr_assert_not_null(j, "%s", err);
    json_t *addrs = json_object_get(j, "brokerAddrs");
    cr_expect_str_eq(rmq_json_str(addrs, "0"), "127.0.0.2:20911");
    cr_expect_str_eq(rmq_json_str(addrs, "1"), "127.0.0.2:20921");
    int64_t v;
    cr_expect(rmq_json_int(addrs, "-1", &v));
    cr_expect_eq(v, 5);
    json_decref(j);
}

static void escape_eq(const char *in, size_t n, bool ascii_only, const char *want)
{
    rmq_buf_t out;
    rmq_buf_init(&out);
    rmq_json_escape(&out, in, n, ascii_only);
    expect_buf(&out, want);
    rmq_buf_free(&out);
}

Test(jw, escaping)
{
    escape_eq("", 0, false, "\"\"");
    escape_eq("plain text", 10, false, "\"plain text\"");
    escape_eq("q\"b\\s/", 6, false, "\"q\\\"b\\\\s/\"");
    escape_eq("\b\f\n\r\t", 5, false, "\"\\b\\f\\n\\r\\t\"");
    escape_eq("\x01\x02\x1f\x7f", 4, false, "\"\\u0001\\u0002\\u001f\x7f\"");
    escape_eq("a\0b", 3, false, "\"a\\u0000b\"");
    const char *u = "caf\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80";
    escape_eq(u, strlen(u), false, "\"caf\xC3\xA9 \xE4\xB8\xAD \xF0\x9F\x98\x80\"");
    escape_eq(u, strlen(u), true, "\"caf\\u00e9 \\u4e2d \\ud83d\\ude00\"");
    /* invalid UTF-8 becomes U+FFFD; a truncated sequence too */
    escape_eq("a\xFF"
              "b",
              3, false, "\"a\\ufffdb\"");
    escape_eq("a\xC3", 2, true, "\"a\\ufffd\"");
    escape_eq("\xE4\xB8", 2, false, "\"\\ufffd\\ufffd\"");
    /* not UTF-8 although well-formed bit patterns: overlong NUL, an encoded
     * surrogate (CESU-8), a code point past U+10FFFF - one U+FFFD per byte,
     * so that the output stays valid JSON for strict parsers */
    escape_eq("\xC0\x80", 2, false, "\"\\ufffd\\ufffd\"");
    escape_eq("\xED\xA0\x80", 3, false, "\"\\ufffd\\ufffd\\ufffd\"");
    escape_eq("\xF4\x90\x80\x80", 4, true, "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
    escape_eq("\xF4\x8F\xBF\xBF", 4, true, "\"\\udbff\\udfff\"");
    escape_eq("\xEF\xBF\xBD", 3, false, "\"\\ufffd\"");
}

Test(jw, ascii_only_writer)
{
    w.ascii_only = true;
    rmq_jw_obj_begin(&w);
    rmq_jw_kstr(&w, "t\xC3\xA9", "\xE2\x82\xAC\x01");
    rmq_jw_obj_end(&w);
    expect_buf(&b, "{\"t\\u00e9\":\"\\u20ac\\u0001\"}");
    json_t *j = rmq_json_parse((const char *)b.data, b.len, NULL, 0);
    cr_assert_not_null(j);
    cr_expect_str_eq(rmq_json_str(j, "t\xC3\xA9"), "\xE2\x82\xAC\x01");
    json_decref(j);
}

TestSuite(jparse, .timeout = 10);

static json_t *parse(const char *s)
{
    char err[256] = "";
    json_t *j = rmq_json_parse(s, strlen(s), err, sizeof(err));
    cr_assert_not_null(j, "parse %s: %s", s, err);
    return j;
}

Test(jparse, bare_integer_keys)
{
    json_t *j = parse("{0:\"a\",1:\"b\", -1 : \"neg\",\n 42\t:\"x\"}");
    cr_expect_str_eq(rmq_json_str(j, "0"), "a");
    cr_expect_str_eq(rmq_json_str(j, "1"), "b");
    cr_expect_str_eq(rmq_json_str(j, "-1"), "neg");
    cr_expect_str_eq(rmq_json_str(j, "42"), "x");
    json_decref(j);
}

Test(jparse, nested_and_in_arrays)
{
    json_t *j =
        parse("{\"brokerDatas\":[{\"brokerAddrs\":{0:\"127.0.0.1:10911\",1:\"h:1\"},\"brokerName\":\"b\"},"
              "{\"brokerAddrs\":{}}],\"m\":{1:{2:{3:[4,5]}}}}");
    json_t *bd = json_array_get(json_object_get(j, "brokerDatas"), 0);
    cr_expect_str_eq(rmq_json_str(json_object_get(bd, "brokerAddrs"), "0"), "127.0.0.1:10911");
    cr_expect_str_eq(rmq_json_str(json_object_get(bd, "brokerAddrs"), "1"), "h:1");
    json_t *m3 = json_object_get(json_object_get(json_object_get(json_object_get(j, "m"), "1"), "2"), "3");
    cr_expect(json_is_array(m3));
    cr_expect_eq(json_array_size(m3), 2);
    json_decref(j);
}

/* Numbers that are values, and digits:colons inside strings, stay as they are. */
Test(jparse, values_and_strings_untouched)
{
    json_t *j = parse("{\"a\":1,\"b\":[1,2,-3],\"s\":\"{0:1,\\\"x\\\":2, 3:4}\",\"addr\":\"10.0.0.1:10911\","
                      "\"e\":\"\\\\\",\"f\":-0.5,\"g\":[{1:2}]}");
    int64_t v;
    cr_expect(rmq_json_int(j, "a", &v));
    cr_expect_eq(v, 1);
    cr_expect_str_eq(rmq_json_str(j, "s"), "{0:1,\"x\":2, 3:4}");
    cr_expect_str_eq(rmq_json_str(j, "addr"), "10.0.0.1:10911");
    cr_expect_str_eq(rmq_json_str(j, "e"), "\\");
    cr_expect_eq(json_integer_value(json_array_get(json_object_get(j, "b"), 2)), -3);
    cr_expect_eq(json_integer_value(json_object_get(json_array_get(json_object_get(j, "g"), 0), "1")), 2);
    json_decref(j);
}

Test(jparse, standard_json_and_scalars)
{
    json_t *j = parse("{\"0\":\"quoted\"}");
    cr_expect_str_eq(rmq_json_str(j, "0"), "quoted");
    json_decref(j);
    j = parse("[1,2]");
    cr_expect(json_is_array(j));
    json_decref(j);
    j = parse("42");
    cr_expect_eq(json_integer_value(j), 42);
    json_decref(j);
    j = parse("\"s\"");
    cr_expect_str_eq(json_string_value(j), "s");
    json_decref(j);
}

Test(jparse, errors)
{
    static const char *const bad[] = {"", "{", "{a:1}", "{1.5:2}", "{\"a\":}", "[1,]", "{0:1,}", "nul"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char err[256] = "";
        json_t *j = rmq_json_parse(bad[i], strlen(bad[i]), err, sizeof(err));
        cr_expect_null(j, "\"%s\" should not parse", bad[i]);
        cr_expect_neq(err[0], '\0', "\"%s\": no error text", bad[i]);
        json_decref(j);
    }
    /* no errstr buffer */
    cr_expect_null(rmq_json_parse("{", 1, NULL, 0));
}

/* The parser takes a length, not a C string. */
Test(jparse, length_bounded)
{
    const char *s = "{0:\"a\"}garbage";
    json_t *j = rmq_json_parse(s, 7, NULL, 0);
    cr_assert_not_null(j);
    cr_expect_str_eq(rmq_json_str(j, "0"), "a");
    json_decref(j);
}

Test(jparse, typed_getters)
{
    json_t *j = parse("{\"i\":5,\"r\":2.9,\"s\":\"17\",\"sx\":\"1x\",\"e\":\"\",\"t\":true,\"f\":false,"
                      "\"st\":\"true\",\"sf\":\"nope\",\"n\":null,\"o\":{}}");
    int64_t v = -1;
    cr_expect(rmq_json_int(j, "i", &v));
    cr_expect_eq(v, 5);
    cr_expect(rmq_json_int(j, "r", &v));
    cr_expect_eq(v, 2);
    cr_expect(rmq_json_int(j, "s", &v));
    cr_expect_eq(v, 17);
    cr_expect_not(rmq_json_int(j, "sx", &v));
    cr_expect_not(rmq_json_int(j, "e", &v));
    cr_expect_not(rmq_json_int(j, "n", &v));
    cr_expect_not(rmq_json_int(j, "missing", &v));
    cr_expect_not(rmq_json_int(j, "o", &v));
    bool flag = false;
    cr_expect(rmq_json_bool(j, "t", &flag));
    cr_expect(flag);
    cr_expect(rmq_json_bool(j, "f", &flag));
    cr_expect_not(flag);
    cr_expect(rmq_json_bool(j, "st", &flag));
    cr_expect(flag);
    cr_expect(rmq_json_bool(j, "sf", &flag));
    cr_expect_not(flag);
    cr_expect_not(rmq_json_bool(j, "i", &flag));
    cr_expect_not(rmq_json_bool(j, "missing", &flag));
    cr_expect_null(rmq_json_str(j, "i"));
    cr_expect_null(rmq_json_str(j, "missing"));
    cr_expect_str_eq(rmq_json_str(j, "s"), "17");
    json_decref(j);
}

/* A real beyond int64_t's range (a fuzzer found one in a registration's
 * dataVersion.timestamp) is not an integer: it is refused, never cast (the
 * cast is undefined behaviour). Fails if the getter accepts it. */
Test(jparse, real_outside_int64_refused)
{
    json_t *j = parse("{\"big\":179000000000000550586.597,\"neg\":-1e19,\"edge\":9.2233720368547758e18,"
                      "\"min\":-9.2233720368547758e18,\"neg_frac\":-2.9}");
    int64_t v = 7;
    cr_expect_not(rmq_json_int(j, "big", &v), "1.79e20 accepted as an int64");
    cr_expect_not(rmq_json_int(j, "neg", &v), "-1e19 accepted as an int64");
    cr_expect_not(rmq_json_int(j, "edge", &v), "2^63 accepted as an int64");
    cr_expect_eq(v, 7, "a refused value was still written: %" PRId64, v);
    cr_expect(rmq_json_int(j, "min", &v), "-2^63 is an int64 and was refused");
    cr_expect_eq(v, INT64_MIN);
    cr_expect(rmq_json_int(j, "neg_frac", &v));
    cr_expect_eq(v, -2, "reals truncate toward zero as Java's longValue(): got %" PRId64, v);
    json_decref(j);
}

TestSuite(javahash, .timeout = 10);

static int32_t jh(const char *s)
{
    return rmq_java_hash(s, strlen(s));
}

Test(javahash, known_values)
{
    cr_expect_eq(jh("TagA"), 2598919);
    cr_expect_eq(jh("TagB"), 2598920);
    cr_expect_eq(jh(""), 0);
    cr_expect_eq(jh("hello"), 99162322);
    /* 32-bit wrap-around */
    cr_expect_eq(jh("%RETRY%golden_cg_json"), -1307605457);
    /* "café": c a f U+00E9 = ((99*31+97)*31+102)*31+233 */
    cr_expect_eq(jh("caf\xC3\xA9"), 3045921);
    /* "中文": U+4E2D*31 + U+6587 = 20013*31 + 25991 */
    cr_expect_eq(jh("\xE4\xB8\xAD\xE6\x96\x87"), 646394);
    /* U+1F600 is the UTF-16 pair D83D DE00: 55357*31 + 56832 */
    cr_expect_eq(jh("\xF0\x9F\x98\x80"), 1772899);
    cr_expect_eq(jh("a\xF0\x9F\x98\x80"
                    "b"),
                 57849694);
    /* invalid UTF-8 hashes as U+FFFD, as Java's decoder replaces it */
    cr_expect_eq(rmq_java_hash("\xFF", 1), 65533);
    /* an encoded surrogate is three malformed bytes: 65533 * (31*31 + 31 + 1) */
    cr_expect_eq(rmq_java_hash("\xED\xA0\x80", 3), 65074269);
    /* the length is honoured, not the NUL */
    cr_expect_eq(rmq_java_hash("TagAxyz", 4), 2598919);
}
