/* test_cmd_edge.c - encode/decode round trips of edge cases for both
 * serializations, and the decoding quirks of docs/protocol.md §1.3 (extFields
 * values as JSON numbers/booleans/null, any key order, unknown keys). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "cmd_util.h"

static const uint8_t sers[] = {RMQ_SERIALIZE_JSON, RMQ_SERIALIZE_ROCKETMQ};
#define FOR_EACH_SER(s)                                                                                      \
    for (size_t s##_i = 0, s = sers[0]; s##_i < 2; s##_i++, s = s##_i < 2 ? sers[s##_i] : 0)

static void base_cmd(rmq_cmd_t *c, uint8_t ser)
{
    rmq_cmd_init_request(c, 310);
    c->serialize = ser;
    c->opaque = 42;
    c->flag = RMQ_FLAG_ONEWAY;
}

TestSuite(edge, .timeout = 30);

Test(edge, minimal_both)
{
    FOR_EACH_SER(ser)
    {
        rmq_cmd_t c, d;
        base_cmd(&c, (uint8_t)ser);
        cmd_roundtrip(&c, &d, "minimal");
        cr_expect_null(d.body);
        cr_expect_eq(d.body_len, 0);
        cr_expect_null(d.remark);
        cr_expect_not(d.has_ext);
        rmq_cmd_deinit(&d);
        rmq_cmd_deinit(&c);
    }
}

Test(edge, empty_body_and_set_body_zero)
{
    FOR_EACH_SER(ser)
    {
        rmq_cmd_t c, d;
        base_cmd(&c, (uint8_t)ser);
        rmq_cmd_set_body(&c, "x", 0);
        cr_expect_null(c.body);
        cmd_roundtrip(&c, &d, "empty body");
        cr_expect_eq(d.body_len, 0);
        rmq_cmd_deinit(&d);
        /* a body, then replaced by an empty one */
        rmq_cmd_set_body(&c, "abc", 3);
        rmq_cmd_set_body(&c, NULL, 0);
        cmd_roundtrip(&c, &d, "emptied body");
        rmq_cmd_deinit(&d);
        rmq_cmd_deinit(&c);
    }
}

Test(edge, binary_body_with_nuls)
{
    uint8_t body[300];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (uint8_t)(i * 7);
    FOR_EACH_SER(ser)
    {
        rmq_cmd_t c, d;
        base_cmd(&c, (uint8_t)ser);
        rmq_cmd_set_body(&c, body, sizeof(body));
        cmd_roundtrip(&c, &d, "binary body");
        rmq_cmd_deinit(&d);
        rmq_cmd_deinit(&c);
    }
}

/* JSON keeps "" apart from absent; ROCKETMQ cannot (length 0 decodes as
 * null in Java, RocketMQSerializable.readStr), so "" comes back as NULL. */
Test(edge, empty_remark_vs_no_remark)
{
    FOR_EACH_SER(ser)
    {
        rmq_cmd_t c, d;
        base_cmd(&c, (uint8_t)ser);
        rmq_cmd_set_remark(&c, "%s", "");
        cr_assert_not_null(c.remark);
        rmq_buf_t wire;
        cr_assert_eq(cmd_reencode(&c, &d, &wire), RMQ_OK);
        if (ser == RMQ_SERIALIZE_JSON) {
            cr_assert_not_null(d.remark, "JSON must keep an empty remark");
            cr_expect_str_eq(d.remark, "");
            cr_expect_not_null(memmem(wire.data, wire.len, "\"remark\":\"\"", 11));
        } else {
            cr_expect_null(d.remark, "ROCKETMQ empty remark decodes as null");
        }
        rmq_buf_free(&wire);
        rmq_cmd_deinit(&d);
        /* no remark at all: JSON omits the key */
        free(c.remark);
        c.remark = NULL;
        cr_assert_eq(cmd_reencode(&c, &d, &wire), RMQ_OK);
        cr_expect_null(d.remark);
        if (ser == RMQ_SERIALIZE_JSON)
            cr_expect_null(memmem(wire.data, wire.len, "remark", 6));
        rmq_buf_free(&wire);
        rmq_cmd_deinit(&d);
        rmq_cmd_deinit(&c);
    }
}

/* An empty extFields object survives JSON; ROCKETMQ writes extLen 0, which
 * means "no extFields". */
Test(edge, no_ext_vs_empty_ext)
{
    FOR_EACH_SER(ser)
    {
        rmq_cmd_t c, d;
        base_cmd(&c, (uint8_t)ser);
        cmd_roundtrip(&c, &d, "no ext");
        cr_expect_not(d.has_ext);
        rmq_cmd_deinit(&d);

        rmq_cmd_set_ext(&c, "k", NULL); /* marks extFields present, adds nothing */
        cr_assert(c.has_ext);
        cr_assert_eq(c.ext_n, 0);
        rmq_buf_t wire;
        cr_assert_eq(cmd_reencode(&c, &d, &wire), RMQ_OK);
        if (ser == RMQ_SERIALIZE_JSON) {
            cr_expect(d.has_ext);
            cr_expect_not_null(memmem(wire.data, wire.len, "\"extFields\":{}", 14));
        } else {
            cr_expect_not(d.has_ext);
        }
        cr_expect_eq(d.ext_n, 0);
        rmq_buf_free(&wire);
        rmq_cmd_deinit(&d);
        rmq_cmd_deinit(&c);
    }
}

Test(edge, ext_many_keys_order_kept)
{
    static const char *const keys[] = {"zeta", "b", "A", "consumerGroup", "a", "_x", "queueId", "1"};
    FOR_EACH_SER(ser)
    {
        rmq_cmd_t c, d;
        base_cmd(&c, (uint8_t)ser);
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
            rmq_cmd_set_ext_i64(&c, keys[i], (int64_t)i - 3);
        rmq_cmd_set_ext_bool(&c, "unitMode", true);
        rmq_cmd_set_ext(&c, "b", "replaced"); /* replace keeps position */
        cr_expect_str_eq(c.ext[1].val, "replaced");
        cmd_roundtrip(&c, &d, "ext order");
        cr_expect_str_eq(d.ext[0].key, "zeta");
        cr_expect_str_eq(rmq_cmd_ext(&d, "a"), "1");
        cr_expect_str_eq(rmq_cmd_ext(&d, "zeta"), "-3");
        cr_expect_str_eq(rmq_cmd_ext(&d, "unitMode"), "true");
        rmq_cmd_deinit(&d);
        rmq_cmd_deinit(&c);
    }
}

Test(edge, non_ascii_everywhere)
{
    const char *txt = "caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80 \xE2\x82\xAC";
    FOR_EACH_SER(ser)
    {
        rmq_cmd_t c, d;
        base_cmd(&c, (uint8_t)ser);
        rmq_cmd_set_remark(&c, "remark %s", txt);
        rmq_cmd_set_ext(&c, txt, txt);
        rmq_cmd_set_ext(&c, "topic", "\xE4\xB8\xBB\xE9\xA2\x98");
        rmq_cmd_set_body(&c, txt, strlen(txt));
        cmd_roundtrip(&c, &d, "non-ASCII");
        cr_expect_str_eq(rmq_cmd_ext(&d, txt), txt);
        rmq_cmd_deinit(&d);
        rmq_cmd_deinit(&c);
    }
}

/* Message properties travel in ext "i"/"properties" separated by \x01 and
 * \x02; control characters and quotes must survive both serializations. */
Test(edge, control_chars_in_ext)
{
    const char *props = "KEYS\001k1 k2\002TAGS\001TagA\002WAIT\001true\002q\001\"quoted\" \\ /\t\n\r\b\f\x1f";
    FOR_EACH_SER(ser)
    {
        rmq_cmd_t c, d;
        base_cmd(&c, (uint8_t)ser);
        rmq_cmd_set_ext(&c, "i", props);
        rmq_cmd_set_remark(&c, "%s", props);
        rmq_buf_t wire;
        cr_assert_eq(cmd_reencode(&c, &d, &wire), RMQ_OK);
        cmd_expect_equal(&c, &d, "control chars");
        if (ser == RMQ_SERIALIZE_JSON)
            cr_expect_not_null(memmem(wire.data, wire.len, "KEYS\\u0001k1 k2\\u0002TAGS", 25),
                               "\\u0001/\\u0002 escapes expected in the JSON header");
        rmq_buf_free(&wire);
        rmq_cmd_deinit(&d);
        rmq_cmd_deinit(&c);
    }
}

Test(edge, json_u0001_escapes_decoded)
{
    rmq_cmd_t c;
    char err[256] = "";
    cr_assert_eq(
        json_frame_decode(&c,
                          "{\"code\":310,\"extFields\":{\"i\":\"KEYS\\u0001k\\u0002TAGS\\u0001T\\u0002\","
                          "\"u\":\"\\u00e9\\ud83d\\ude00\\/\"},\"flag\":0}",
                          NULL, err, sizeof(err)),
        RMQ_OK, "%s", err);
    cr_expect_str_eq(rmq_cmd_ext(&c, "i"), "KEYS\001k\002TAGS\001T\002");
    cr_expect_str_eq(rmq_cmd_ext(&c, "u"), "\xC3\xA9\xF0\x9F\x98\x80/");
    rmq_cmd_t d;
    cmd_roundtrip(&c, &d, "escapes");
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&c);
}

/* ali-ons sends extFields values with their JS types; they must become the
 * text Java's fastjson gives them (what Java's processors and its ACL
 * signature check see): an integer keeps its literal, other numbers
 * BigDecimal.toString(). */
Test(edge, json_ext_value_types)
{
    rmq_cmd_t c;
    char err[256] = "";
    const char *hdr = "{\"code\":310,\"language\":\"JAVA\",\"opaque\":7,\"flag\":0,\"version\":121,"
                      "\"extFields\":{\"a\":\"grp\",\"e\":3,\"k\":false,\"t\":true,\"g\":1700000000000,"
                      "\"neg\":-1,\"zero\":0,\"nul\":null,\"f\":1.5,\"f2\":0.1,\"f3\":-2.25,\"f4\":1.0,"
                      "\"f5\":1e3,\"big\":9007199254740993,\"max\":9223372036854775807,"
                      "\"min\":-9223372036854775808,\"s\":\"str\"}}";
    cr_assert_eq(json_frame_decode(&c, hdr, NULL, err, sizeof(err)), RMQ_OK, "%s", err);
    cr_expect_eq(c.version, 121);
    cr_expect_str_eq(rmq_cmd_ext(&c, "a"), "grp");
    cr_expect_str_eq(rmq_cmd_ext(&c, "e"), "3");
    cr_expect_str_eq(rmq_cmd_ext(&c, "k"), "false");
    cr_expect_str_eq(rmq_cmd_ext(&c, "t"), "true");
    cr_expect_str_eq(rmq_cmd_ext(&c, "g"), "1700000000000");
    cr_expect_str_eq(rmq_cmd_ext(&c, "neg"), "-1");
    cr_expect_str_eq(rmq_cmd_ext(&c, "zero"), "0");
    cr_expect_null(rmq_cmd_ext(&c, "nul"), "null => absent");
    cr_expect_str_eq(rmq_cmd_ext(&c, "f"), "1.5");
    cr_expect_str_eq(rmq_cmd_ext(&c, "f2"), "0.1");
    cr_expect_str_eq(rmq_cmd_ext(&c, "f3"), "-2.25");
    cr_expect_str_eq(rmq_cmd_ext(&c, "f4"), "1.0");
    cr_expect_str_eq(rmq_cmd_ext(&c, "f5"), "1E+3");
    cr_expect_str_eq(rmq_cmd_ext(&c, "big"), "9007199254740993");
    cr_expect_str_eq(rmq_cmd_ext(&c, "max"), "9223372036854775807");
    cr_expect_str_eq(rmq_cmd_ext(&c, "min"), "-9223372036854775808");
    cr_expect_str_eq(rmq_cmd_ext(&c, "s"), "str");
    cr_expect_eq(c.ext_n, 16);
    /* the wire order is kept, null dropped */
    cr_expect_str_eq(c.ext[0].key, "a");
    cr_expect_str_eq(c.ext[1].key, "e");
    cr_expect_str_eq(c.ext[6].key, "zero");
    cr_expect_str_eq(c.ext[7].key, "f");

    int64_t v;
    int32_t v32;
    bool b;
    cr_expect_eq(rmq_cmd_ext_i64(&c, "g", &v), RMQ_OK);
    cr_expect_eq(v, 1700000000000LL);
    cr_expect_eq(rmq_cmd_ext_i32(&c, "g", &v32), RMQ_ERR__INVALID_ARG);
    cr_expect_eq(rmq_cmd_ext_i32(&c, "neg", &v32), RMQ_OK);
    cr_expect_eq(v32, -1);
    cr_expect_eq(rmq_cmd_ext_bool(&c, "k", &b), RMQ_OK);
    cr_expect_not(b);
    cr_expect_eq(rmq_cmd_ext_bool(&c, "e", &b), RMQ_ERR__INVALID_ARG);
    cr_expect_eq(rmq_cmd_ext_i64(&c, "f", &v), RMQ_ERR__INVALID_ARG);
    cr_expect_eq(rmq_cmd_ext_i64(&c, "nul", &v), RMQ_ERR__NOENT);

    /* everything is a string on the way out */
    rmq_cmd_t d;
    rmq_buf_t wire;
    cr_assert_eq(cmd_reencode(&c, &d, &wire), RMQ_OK);
    cmd_expect_equal(&c, &d, "typed ext");
    cr_expect_not_null(memmem(wire.data, wire.len, "\"g\":\"1700000000000\"", 19));
    rmq_buf_free(&wire);
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&c);
}

/* fastjson reads a non-integer JSON number into a String field as
 * BigDecimal.toString(): plain notation unless the scale is negative or the
 * adjusted exponent below -6, then d.dddE(+|-)x (texts printed by a JVM). */
Test(edge, json_ext_float_text_bigdecimal_rules)
{
    static const struct {
        const char *json, *want;
    } cases[] = {
        {"0.5", "0.5"},
        {"123.456", "123.456"},
        {"-0.0", "0.0"},
        {"0.000001", "0.000001"},
        {"0.0000001", "1E-7"},
        {"1.5e-7", "1.5E-7"},
        {"0.00001", "0.00001"},
        {"1e21", "1E+21"},
        {"1e20", "1E+20"},
        {"1.25e22", "1.25E+22"},
        {"5e-324", "5E-324"},
        {"1.7976931348623157e308", "1.7976931348623157E+308"},
        {"0.30000000000000004", "0.30000000000000004"},
        {"123456789012.5", "123456789012.5"},
        {"2.5E3", "2.5E+3"},
        {"-1e-10", "-1E-10"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char hdr[256], err[256] = "";
        snprintf(hdr, sizeof(hdr), "{\"code\":1,\"extFields\":{\"x\":%s}}", cases[i].json);
        rmq_cmd_t c;
        cr_assert_eq(json_frame_decode(&c, hdr, NULL, err, sizeof(err)), RMQ_OK, "%s: %s", hdr, err);
        const char *got = rmq_cmd_ext(&c, "x");
        cr_expect_not_null(got, "%s", hdr);
        if (got)
            cr_expect_str_eq(got, cases[i].want, "JSON %s => \"%s\", want \"%s\"", cases[i].json, got,
                             cases[i].want);
        rmq_cmd_deinit(&c);
    }
}

Test(edge, json_nested_ext_value_kept_as_text)
{
    rmq_cmd_t c, d;
    char err[256] = "";
    cr_assert_eq(json_frame_decode(&c, "{\"code\":1,\"extFields\":{\"o\":{\"a\":1},\"l\":[1,\"x\"]}}", NULL,
                                   err, sizeof(err)),
                 RMQ_OK, "%s", err);
    cr_expect_str_eq(rmq_cmd_ext(&c, "o"), "{\"a\":1}");
    cr_expect_str_eq(rmq_cmd_ext(&c, "l"), "[1,\"x\"]");
    cmd_roundtrip(&c, &d, "nested ext");
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&c);
}

/* ali-ons key order, unknown top-level keys, whitespace, remark null. */
Test(edge, json_any_key_order_unknown_keys)
{
    rmq_cmd_t c, d;
    char err[256] = "";
    const char *hdr =
        " {\n \"version\" : 121, \"extFields\":{\"z\":\"1\",\"a\":\"2\",\"m\":\"3\"},\"remark\":null,"
        "\"unknownKey\":{\"deep\":[1,2,{\"x\":null}]},\"flag\":1,\"opaque\":-5,"
        "\"serializeTypeCurrentRPC\":\"JSON\",\"language\":\"GO\",\"code\":\"17\",\"x\":true } ";
    cr_assert_eq(json_frame_decode(&c, hdr, "body", err, sizeof(err)), RMQ_OK, "%s", err);
    cr_expect_eq(c.code, 17, "string code accepted leniently");
    cr_expect_eq(c.version, 121);
    cr_expect_eq(c.flag, 1);
    cr_expect(rmq_cmd_is_response(&c));
    cr_expect_not(rmq_cmd_is_oneway(&c));
    cr_expect_eq(c.opaque, -5);
    cr_expect_eq(c.language, RMQ_LANG_GO);
    cr_expect_null(c.remark);
    cr_expect_eq(c.ext_n, 3);
    cr_expect_str_eq(c.ext[0].key, "z");
    cr_expect_str_eq(c.ext[1].key, "a");
    cr_expect_str_eq(c.ext[2].key, "m");
    cr_expect_eq(c.body_len, 4);
    cmd_roundtrip(&c, &d, "key order");
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&c);
}

Test(edge, json_missing_fields_default)
{
    rmq_cmd_t c;
    char err[256] = "";
    cr_assert_eq(json_frame_decode(&c, "{}", NULL, err, sizeof(err)), RMQ_OK, "%s", err);
    cr_expect_eq(c.code, 0);
    cr_expect_eq(c.language, RMQ_LANG_JAVA);
    cr_expect_eq(c.version, RMQ_VERSION_CURRENT);
    cr_expect_eq(c.opaque, 0);
    cr_expect_eq(c.flag, 0);
    cr_expect_not(c.has_ext);
    rmq_cmd_deinit(&c);
    cr_assert_eq(
        json_frame_decode(&c, "{\"code\":null,\"extFields\":null,\"language\":null}", NULL, err, sizeof(err)),
        RMQ_OK, "%s", err);
    cr_expect_not(c.has_ext);
    rmq_cmd_deinit(&c);
}

Test(edge, language_names)
{
    static const char *const names[] = {"JAVA",  "CPP",  "DOTNET", "PYTHON", "DELPHI", "ERLANG", "RUBY",
                                        "OTHER", "HTTP", "GO",     "PHP",    "OMS",    "RUST",   "NODE_JS"};
    for (int i = 0; i < 14; i++) {
        cr_expect_str_eq(rmq_lang_name(i), names[i]);
        cr_expect_eq(rmq_lang_parse(names[i]), i);
    }
    cr_expect_eq(rmq_lang_parse("COBOL"), RMQ_LANG_OTHER);
    cr_expect_eq(rmq_lang_parse("java"), RMQ_LANG_OTHER);
    cr_expect_eq(rmq_lang_parse(""), RMQ_LANG_OTHER);
    cr_expect_str_eq(rmq_lang_name(-1), "OTHER");
    cr_expect_str_eq(rmq_lang_name(99), "OTHER");

    rmq_cmd_t c, d;
    char err[256] = "";
    cr_assert_eq(json_frame_decode(&c, "{\"code\":1,\"language\":\"COBOL\"}", NULL, err, sizeof(err)),
                 RMQ_OK);
    cr_expect_eq(c.language, RMQ_LANG_OTHER);
    cmd_roundtrip(&c, &d, "lang OTHER");
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&c);
    /* a numeric language in JSON: known ordinals are taken, unknown => OTHER */
    cr_assert_eq(json_frame_decode(&c, "{\"code\":1,\"language\":9}", NULL, err, sizeof(err)), RMQ_OK);
    cr_expect_eq(c.language, RMQ_LANG_GO);
    rmq_cmd_deinit(&c);
    cr_assert_eq(json_frame_decode(&c, "{\"code\":1,\"language\":99}", NULL, err, sizeof(err)), RMQ_OK);
    cr_expect_eq(c.language, RMQ_LANG_OTHER);
    cmd_roundtrip(&c, &d, "numeric lang");
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&c);
    /* a language that is neither string nor number keeps the default */
    cr_assert_eq(json_frame_decode(&c, "{\"code\":1,\"language\":[]}", NULL, err, sizeof(err)), RMQ_OK);
    cr_expect_eq(c.language, RMQ_LANG_JAVA);
    rmq_cmd_deinit(&c);
}

/* ROCKETMQ carries the language as a byte; every value round-trips. */
Test(edge, rocketmq_language_bytes)
{
    for (int lang = 0; lang < 256; lang += 17) {
        rmq_cmd_t c, d;
        base_cmd(&c, RMQ_SERIALIZE_ROCKETMQ);
        c.language = lang;
        cmd_roundtrip(&c, &d, "lang byte");
        rmq_cmd_deinit(&d);
        rmq_cmd_deinit(&c);
    }
}

/* int32 fields at their limits; ROCKETMQ code/version are int16 on the wire. */
Test(edge, integer_limits)
{
    FOR_EACH_SER(ser)
    {
        rmq_cmd_t c, d;
        base_cmd(&c, (uint8_t)ser);
        c.opaque = INT32_MIN;
        c.flag = INT32_MAX;
        c.code = -32768;
        c.version = 32767;
        cmd_roundtrip(&c, &d, "limits");
        rmq_cmd_deinit(&d);
        c.opaque = INT32_MAX;
        c.flag = -1;
        c.code = 32767;
        c.version = -1;
        cmd_roundtrip(&c, &d, "limits 2");
        rmq_cmd_deinit(&d);
        rmq_cmd_deinit(&c);
    }
    /* JSON keeps full int32 codes; ROCKETMQ truncates to 16 bits like Java */
    rmq_cmd_t c, d;
    base_cmd(&c, RMQ_SERIALIZE_ROCKETMQ);
    c.code = 70000;
    rmq_buf_t wire;
    cr_assert_eq(cmd_reencode(&c, &d, &wire), RMQ_OK);
    cr_expect_eq(d.code, (int16_t)70000);
    rmq_buf_free(&wire);
    rmq_cmd_deinit(&d);
    c.serialize = RMQ_SERIALIZE_JSON;
    cmd_roundtrip(&c, &d, "json int32 code");
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&c);
}

/* ROCKETMQ: a zero-length key or value is null in Java and skipped. */
Test(edge, rocketmq_empty_ext_value_skipped)
{
    rmq_cmd_t c, d;
    base_cmd(&c, RMQ_SERIALIZE_ROCKETMQ);
    rmq_cmd_set_ext(&c, "empty", "");
    rmq_cmd_set_ext(&c, "k", "v");
    rmq_buf_t wire;
    cr_assert_eq(cmd_reencode(&c, &d, &wire), RMQ_OK);
    cr_expect_null(rmq_cmd_ext(&d, "empty"));
    cr_expect_str_eq(rmq_cmd_ext(&d, "k"), "v");
    cr_expect_eq(d.ext_n, 1);
    rmq_buf_free(&wire);
    rmq_cmd_deinit(&d);
    /* JSON keeps it */
    c.serialize = RMQ_SERIALIZE_JSON;
    cmd_roundtrip(&c, &d, "json empty value");
    cr_expect_str_eq(rmq_cmd_ext(&d, "empty"), "");
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&c);
}

/* The header length is 24 bits: a header of exactly 0xFFFFFF bytes is the
 * largest that can be framed. (A larger one cannot be framed at all - Java's
 * markProtocolType masks it the same way - and no receiver would take such a
 * frame anyway: Netty's maxFrameLength is 16 MiB including the prefix.) */
Test(edge, max_header_length, .timeout = 60)
{
    const size_t max = 0xFFFFFF;
    FOR_EACH_SER(ser)
    {
        rmq_cmd_t c, d;
        base_cmd(&c, (uint8_t)ser);
        /* measure the header without remark, then size the remark to fill it */
        c.remark = strdup("r");
        rmq_buf_t w;
        rmq_buf_init(&w);
        rmq_cmd_encode(&c, &w);
        size_t base = (rmq_be32(w.data + 4) & 0xFFFFFF) - 1;
        rmq_buf_free(&w);
        free(c.remark);
        size_t rl = max - base;
        c.remark = malloc(rl + 1);
        memset(c.remark, 'r', rl);
        c.remark[rl] = '\0';
        rmq_cmd_set_body(&c, "tail", 4);
        rmq_buf_t wire;
        cr_assert_eq(cmd_reencode(&c, &d, &wire), RMQ_OK);
        cr_expect_eq(rmq_be32(wire.data + 4), ((uint32_t)ser << 24) | 0xFFFFFF, "header word %08x",
                     rmq_be32(wire.data + 4));
        cmd_expect_equal(&c, &d, "max header");
        /* one byte short of the header: the frame claims more than it has */
        char err[128] = "";
        rmq_cmd_t e;
        cr_expect_eq(rmq_cmd_decode(&e, wire.data + 4, 4 + max - 1, err, sizeof(err)), RMQ_ERR__CORRUPT);
        cr_expect_neq(err[0], '\0');
        /* exactly the header, no body */
        cr_expect_eq(rmq_cmd_decode(&e, wire.data + 4, 4 + max, err, sizeof(err)), RMQ_OK, "%s", err);
        cr_expect_eq(e.body_len, 0);
        rmq_cmd_deinit(&e);
        rmq_buf_free(&wire);
        rmq_cmd_deinit(&d);
        rmq_cmd_deinit(&c);
    }
}

/* The type byte never leaks into the header length and vice versa. */
Test(edge, header_word_split)
{
    rmq_cmd_t c, d;
    base_cmd(&c, RMQ_SERIALIZE_ROCKETMQ);
    rmq_cmd_set_ext(&c, "k", "v");
    rmq_buf_t wire;
    cr_assert_eq(cmd_reencode(&c, &d, &wire), RMQ_OK);
    cr_expect_eq(wire.data[4], 1);
    cr_expect_eq(rmq_be32(wire.data + 4) & 0xFFFFFF, wire.len - 8);
    rmq_buf_free(&wire);
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&c);
}

Test(edge, encode_header_then_body)
{
    FOR_EACH_SER(ser)
    {
        rmq_cmd_t c, d;
        base_cmd(&c, (uint8_t)ser);
        rmq_cmd_set_ext(&c, "topic", "T");
        rmq_cmd_set_body(&c, "0123456789", 10);
        rmq_buf_t full, split;
        rmq_buf_init(&full);
        rmq_buf_init(&split);
        rmq_cmd_encode(&c, &full);
        rmq_buf_put(&split, "junk", 4); /* encoding appends */
        rmq_cmd_encode_header(&c, c.body_len, &split);
        rmq_buf_put(&split, c.body, c.body_len);
        cr_assert_eq(split.len, full.len + 4);
        cr_expect(memcmp(split.data + 4, full.data, full.len) == 0);
        char err[128];
        cr_assert_eq(rmq_cmd_decode(&d, split.data + 8, split.len - 8, err, sizeof(err)), RMQ_OK);
        cmd_expect_equal(&c, &d, "split encode");
        rmq_cmd_deinit(&d);
        rmq_buf_free(&full);
        rmq_buf_free(&split);
        rmq_cmd_deinit(&c);
    }
}

Test(edge, response_shell)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 11);
    req.opaque = 99;
    req.serialize = RMQ_SERIALIZE_ROCKETMQ;
    rmq_cmd_init_response(&resp, &req, RMQ_ERR_PULL_NOT_FOUND, "no msg");
    cr_expect_eq(resp.opaque, 99);
    cr_expect(rmq_cmd_is_response(&resp));
    cr_expect_eq(resp.serialize, RMQ_SERIALIZE_ROCKETMQ);
    cr_expect_str_eq(resp.remark, "no msg");
    cr_expect_eq(resp.code, 19);
    rmq_cmd_t d;
    cmd_roundtrip(&resp, &d, "response");
    rmq_cmd_deinit(&d);
    rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&req);

    rmq_cmd_t *h = rmq_cmd_new();
    rmq_cmd_set_ext(h, "a", "b");
    uint8_t *body = malloc(3);
    memcpy(body, "xyz", 3);
    rmq_cmd_take_body(h, body, 3);
    cr_expect_eq(h->body, body);
    rmq_cmd_take_body(h, malloc(1), 0);
    cr_expect_null(h->body);
    rmq_cmd_destroy(h);
    rmq_cmd_destroy(NULL);
}

/* The exact JSON text Java writes (docs/protocol.md §1.3). */
Test(edge, json_header_text_like_fastjson)
{
    rmq_cmd_t c;
    rmq_cmd_init_request(&c, 310);
    c.opaque = 42;
    rmq_cmd_set_ext(&c, "a", "PG");
    rmq_cmd_set_ext(&c, "b", "TopicTest");
    rmq_buf_t w;
    rmq_buf_init(&w);
    rmq_cmd_encode(&c, &w);
    const char *want =
        "{\"code\":310,\"extFields\":{\"a\":\"PG\",\"b\":\"TopicTest\"},\"flag\":0,"
        "\"language\":\"JAVA\",\"opaque\":42,\"serializeTypeCurrentRPC\":\"JSON\",\"version\":409}";
    cr_assert_eq(w.len, 8 + strlen(want));
    cr_expect(memcmp(w.data + 8, want, strlen(want)) == 0, "got %.*s", (int)w.len - 8,
              (const char *)w.data + 8);
    cr_expect_eq(rmq_be32(w.data + 4), strlen(want));
    rmq_buf_free(&w);
    rmq_cmd_deinit(&c);
}

/* Regression (fuzz_cmd): a number that ends exactly at the end of the header
 * buffer must not be read past it. The frame is copied into an exact-size
 * heap block so AddressSanitizer sees any overread. */
Test(edge, number_at_end_of_buffer)
{
    static const char *const headers[] = {
        "{\"code\":1,\"language\":222",
        "{\"code\":1,\"language\":9",
        "{\"code\":1,\"extFields\":{\"a\":12",
        "{\"code\":31",
        "{\"code\":1,\"x\":-1.5e",
    };
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        size_t hl = strlen(headers[i]);
        uint8_t *p = malloc(4 + hl);
        rmq_wbe32(p, (uint32_t)hl);
        memcpy(p + 4, headers[i], hl);
        rmq_cmd_t c;
        char err[200] = "";
        cr_expect_eq(rmq_cmd_decode(&c, p, 4 + hl, err, sizeof(err)), RMQ_ERR__CORRUPT, "%s", headers[i]);
        cr_expect(err[0], "reason given for %s", headers[i]);
        free(p);
    }
}

/* rmq_cmd_ext_from finds what rmq_cmd_ext finds from any starting hint
 * (wrapping around), moves the hint past the entry found, and leaves it on
 * a miss; fails if a lookup in an order other than the sent one misses or
 * returns another field's value. */
Test(edge, ext_from_any_order)
{
    rmq_cmd_t c;
    rmq_cmd_init_request(&c, 310);
    rmq_cmd_set_ext(&c, "a", "1");
    rmq_cmd_set_ext(&c, "b", "2");
    rmq_cmd_set_ext(&c, "bb", "3");
    rmq_cmd_set_ext(&c, "c", "4");
    size_t hint = 0;
    cr_expect_str_eq(rmq_cmd_ext_from(&c, "a", &hint), "1");
    cr_expect_eq(hint, 1);
    cr_expect_str_eq(rmq_cmd_ext_from(&c, "bb", &hint), "3");
    cr_expect_eq(hint, 3);
    cr_expect_str_eq(rmq_cmd_ext_from(&c, "b", &hint), "2"); /* behind the hint: wraps */
    cr_expect_eq(hint, 2);
    cr_expect_null(rmq_cmd_ext_from(&c, "d", &hint));
    cr_expect_eq(hint, 2);
    hint = 99; /* out of range: from the start */
    cr_expect_str_eq(rmq_cmd_ext_from(&c, "c", &hint), "4");
    rmq_cmd_deinit(&c);
    rmq_cmd_t e;
    rmq_cmd_init_request(&e, 310);
    hint = 0;
    cr_expect_null(rmq_cmd_ext_from(&e, "a", &hint));
    rmq_cmd_deinit(&e);
}
