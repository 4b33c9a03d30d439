/* subscription.c - TAG subscriptions (FilterAPI.build / ExpressionMessageFilter).
 * Owns nothing shared; pure helpers on caller structs. Any thread.
 * Never: evaluates SQL92 (refused with a clear error). */
#include "client/subscription.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_json.h"
#include "rmq_msg_codec.h"

void rmq_subscription_deinit(rmq_subscription_t *s)
{
    free(s->topic);
    free(s->sub_string);
    free(s->expression_type);
    for (size_t i = 0; i < s->n; i++)
        free(s->tags[i]);
    free(s->tags);
    free(s->codes);
    memset(s, 0, sizeof(*s));
}

rmq_err_t rmq_subscription_build(rmq_subscription_t *s, const char *topic, const char *expr, const char *type,
                                 int64_t sub_version, char *errstr, size_t n)
{
    memset(s, 0, sizeof(*s));
    if (type && *type && strcmp(type, "TAG") != 0) {
        snprintf(errstr, n, "The broker does not support consumer to filter message by %s", type);
        return RMQ_ERR__INVALID_ARG;
    }
    s->topic = rmq_strdup(topic ? topic : "");
    s->expression_type = rmq_strdup("TAG");
    s->sub_version = sub_version;
    if (!expr || !*expr || !strcmp(expr, "*")) {
        s->sub_string = rmq_strdup("*");
        return RMQ_OK;
    }
    s->sub_string = rmq_strdup(expr);
    const char *p = expr;
    while (*p) {
        const char *e = strstr(p, "||");
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *a = p, *b = p + len;
        while (a < b && (*a == ' ' || *a == '\t'))
            a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
            b--;
        if (b > a) {
            s->tags = rmq_realloc(s->tags, (s->n + 1) * sizeof(char *));
            s->codes = rmq_realloc(s->codes, (s->n + 1) * sizeof(int64_t));
            s->tags[s->n] = rmq_strndup(a, (size_t)(b - a));
            s->codes[s->n] = rmq_msg_tags_code(a, (size_t)(b - a));
            s->n++;
        }
        if (!e)
            break;
        p = e + 2;
    }
    if (s->n == 0) {
        /* only separators: Java yields an empty set that matches nothing */
        snprintf(errstr, n, "subscription expression \"%s\" has no tag", expr);
        rmq_subscription_deinit(s);
        return RMQ_ERR_SUBSCRIPTION_PARSE_FAILED;
    }
    return RMQ_OK;
}

void rmq_subscription_copy(rmq_subscription_t *d, const rmq_subscription_t *s)
{
    memset(d, 0, sizeof(*d));
    d->topic = rmq_strdup(s->topic);
    d->sub_string = rmq_strdup(s->sub_string);
    d->expression_type = rmq_strdup(s->expression_type ? s->expression_type : "TAG");
    d->sub_version = s->sub_version;
    d->n = s->n;
    if (s->n) {
        d->tags = rmq_malloc(s->n * sizeof(char *));
        d->codes = rmq_malloc(s->n * sizeof(int64_t));
        for (size_t i = 0; i < s->n; i++) {
            d->tags[i] = rmq_strdup(s->tags[i]);
            d->codes[i] = s->codes[i];
        }
    }
}

bool rmq_subscription_match_code(const rmq_subscription_t *s, int64_t code)
{
    if (s->n == 0)
        return true;
    for (size_t i = 0; i < s->n; i++)
        if ((int32_t)s->codes[i] == (int32_t)code)
            return true;
    return false;
}

void rmq_subscription_json(rmq_buf_t *out, const rmq_subscription_t *s)
{
    rmq_jw_t w;
    rmq_jw_init_obj(&w, out);
    rmq_jw_kbool(&w, "classFilterMode", false);
    rmq_jw_key(&w, "codeSet");
    rmq_jw_arr_begin(&w);
    for (size_t i = 0; i < s->n; i++)
        rmq_jw_int(&w, (int32_t)s->codes[i]);
    rmq_jw_arr_end(&w);
    rmq_jw_kstr(&w, "expressionType", s->expression_type ? s->expression_type : "TAG");
    rmq_jw_kstr(&w, "subString", s->sub_string);
    rmq_jw_kint(&w, "subVersion", s->sub_version);
    rmq_jw_key(&w, "tagsSet");
    rmq_jw_arr_begin(&w);
    for (size_t i = 0; i < s->n; i++)
        rmq_jw_str(&w, s->tags[i]);
    rmq_jw_arr_end(&w);
    rmq_jw_kstr(&w, "topic", s->topic);
    rmq_jw_obj_end(&w);
}
