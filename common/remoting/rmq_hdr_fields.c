/* rmq_hdr_fields.c - the request-header table and Java's field decoding rules
 * (Integer.parseInt, Long.parseLong, Boolean.parseBoolean, reflective vs
 * FastCodesHeader decoding). See rmq_hdr_fields.h.
 * Pure functions over memory: any thread, no allocation. */
#include "rmq_hdr_fields.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ---- Java's value parsers ---- */

/* The code points c of the Basic Multilingual Plane with
 * Character.digit(c, 10) == 0 (Java 17, Unicode 13); each starts a run of ten
 * digits 0..9. Integer.parseInt walks UTF-16 units, so digits outside the
 * BMP (surrogate pairs) are never digits. */
static const uint16_t unicode_zeros[] = {
    0x0030, 0x0660, 0x06f0, 0x07c0, 0x0966, 0x09e6, 0x0a66, 0x0ae6, 0x0b66, 0x0be6, 0x0c66, 0x0ce6, 0x0d66,
    0x0de6, 0x0e50, 0x0ed0, 0x0f20, 0x1040, 0x1090, 0x17e0, 0x1810, 0x1946, 0x19d0, 0x1a80, 0x1a90, 0x1b50,
    0x1bb0, 0x1c40, 0x1c50, 0xa620, 0xa8d0, 0xa900, 0xa9d0, 0xa9f0, 0xaa50, 0xabf0, 0xff10,
};

/* Next code point of a UTF-8 string; -1 for malformed UTF-8 (Java would have
 * decoded it to U+FFFD, which is not a digit either). */
static int32_t next_cp(const unsigned char **pp)
{
    const unsigned char *p = *pp;
    int32_t c = p[0];
    int n;
    if (c < 0x80) {
        *pp = p + 1;
        return c;
    } else if ((c & 0xe0) == 0xc0) {
        n = 1;
        c &= 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
        n = 2;
        c &= 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
        n = 3;
        c &= 0x07;
    } else {
        return -1;
    }
    for (int i = 1; i <= n; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return -1;
        c = (c << 6) | (p[i] & 0x3f);
    }
    *pp = p + n + 1;
    return c;
}

static int java_digit(int32_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c < 0x80 || c > 0xffff)
        return -1;
    for (size_t i = 0; i < sizeof(unicode_zeros) / sizeof(unicode_zeros[0]); i++)
        if (c >= unicode_zeros[i] && c <= unicode_zeros[i] + 9)
            return c - unicode_zeros[i];
    return -1;
}

/* Java's parse over [min, max] as a magnitude with a sign. */
static bool java_parse(const char *s, uint64_t max_pos, int64_t *out)
{
    const unsigned char *p = (const unsigned char *)s;
    if (!p || !*p)
        return false;
    bool neg = false;
    if (*p == '-' || *p == '+') {
        neg = *p == '-';
        p++;
        if (!*p)
            return false; /* a lone sign */
    }
    uint64_t limit = neg ? max_pos + 1 : max_pos, v = 0;
    while (*p) {
        int d = java_digit(next_cp(&p));
        if (d < 0)
            return false;
        if (v > (limit - (uint64_t)d) / 10)
            return false;
        v = v * 10 + (uint64_t)d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

bool rmq_java_parse_int(const char *s, int32_t *out)
{
    int64_t v;
    if (!java_parse(s, INT32_MAX, &v))
        return false;
    *out = (int32_t)v;
    return true;
}

bool rmq_java_parse_long(const char *s, int64_t *out)
{
    return java_parse(s, INT64_MAX, out);
}

bool rmq_java_parse_bool(const char *s)
{
    return s && strcasecmp(s, "true") == 0;
}

/* ---- the table ---- */

#define ROW_(h, name, v2, type, flags, dflt) {#name, v2, type, flags, dflt},
#define FIELDS_(id, cls, fast, v2, list) static const rmq_hdr_field_t id##_fields[] = {list(ROW_)};
RMQ_HDR_LIST(FIELDS_)
#undef FIELDS_

#define DEF_(id, cls, fast, v2, list)                                                                        \
    {RMQ_HDR_##id, cls, fast, v2, id##_fields, sizeof(id##_fields) / sizeof(id##_fields[0])},
static const rmq_hdr_def_t defs[RMQ_HDR__COUNT] = {RMQ_HDR_LIST(DEF_)};
#undef DEF_
#undef ROW_

/* Every list fits rmq_hdr_t. */
#define SIZE_CHECK_(id, cls, fast, v2, list)                                                                 \
    _Static_assert(sizeof(id##_fields) / sizeof(id##_fields[0]) <= RMQ_HDR_MAX_FIELDS,                       \
                   #id " has too many fields");
RMQ_HDR_LIST(SIZE_CHECK_)
#undef SIZE_CHECK_

const rmq_hdr_def_t *rmq_hdr_def(rmq_hdr_id_t id)
{
    return id < RMQ_HDR__COUNT ? &defs[id] : NULL;
}

const char *rmq_hdr_key(const rmq_hdr_def_t *def, int f)
{
    return def->v2_names && def->fields[f].v2_name ? def->fields[f].v2_name : def->fields[f].name;
}

const char *rmq_hdr_java_type(const rmq_hdr_field_t *f)
{
    bool boxed = f->flags & RMQ_HF_BOXED;
    switch (f->type) {
    case RMQ_HT_STRING:
        return "String";
    case RMQ_HT_INT:
        return boxed ? "Integer" : "int";
    case RMQ_HT_LONG:
        return boxed ? "Long" : "long";
    case RMQ_HT_BOOL:
        return boxed ? "Boolean" : "boolean";
    }
    return "?";
}

/* ---- decoding ---- */

bool rmq_hdr_decode(rmq_hdr_t *h, rmq_hdr_id_t id, const rmq_cmd_t *cmd, char *remark, size_t n)
{
    const rmq_hdr_def_t *def = rmq_hdr_def(id);
    memset(h, 0, sizeof(*h));
    h->def = def;
    size_t hint = 0; /* clients send a header's fields in one order: each lookup starts after the last hit */
    for (size_t i = 0; i < def->n; i++) {
        const rmq_hdr_field_t *f = &def->fields[i];
        rmq_hv_t *v = &h->v[i];
        v->s = rmq_cmd_ext_from(cmd, rmq_hdr_key(def, (int)i), &hint);
        if (!v->s)
            continue; /* absent: Java logs @CFNotNull and keeps the initial value */
        bool ok = true;
        int32_t i32;
        switch (f->type) {
        case RMQ_HT_STRING:
            break;
        case RMQ_HT_INT:
            ok = rmq_java_parse_int(v->s, &i32);
            v->i = i32;
            break;
        case RMQ_HT_LONG:
            ok = rmq_java_parse_long(v->s, &v->i);
            break;
        case RMQ_HT_BOOL:
            v->i = rmq_java_parse_bool(v->s);
            break;
        }
        if (ok) {
            v->state = RMQ_HV_SET;
            continue;
        }
        if (def->fast) { /* FastCodesHeader.decode: the exception escapes */
            snprintf(remark, n, "java.lang.NumberFormatException: For input string: \"%s\"", v->s);
            return false;
        }
        v->state = RMQ_HV_INVALID; /* reflective: logged, the field keeps its initial value */
    }
    return true;
}

bool rmq_hdr_need(const rmq_hdr_t *h, int f, char *remark, size_t n)
{
    const rmq_hv_t *v = &h->v[f];
    if (v->state == RMQ_HV_SET)
        return true;
    const rmq_hdr_def_t *def = h->def;
    const char *key = rmq_hdr_key(def, f);
    char also[80] = "";
    if (strcmp(key, def->fields[f].name) != 0)
        snprintf(also, sizeof(also), " (%s)", def->fields[f].name);
    if (v->state == RMQ_HV_ABSENT)
        snprintf(remark, n, "the custom field <%s>%s is null", key, also);
    else
        snprintf(remark, n, "the custom field <%s>%s is null: \"%s\" is not a valid %s", key, also, v->s,
                 rmq_hdr_java_type(&def->fields[f]));
    return false;
}

bool rmq_hdr_check_needed(const rmq_hdr_t *h, char *remark, size_t n)
{
    for (size_t i = 0; i < h->def->n; i++)
        if ((h->def->fields[i].flags & RMQ_HF_NEED) && !rmq_hdr_need(h, (int)i, remark, n))
            return false;
    return true;
}
