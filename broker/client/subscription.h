/* subscription.h - a consumer subscription (SubscriptionData) and TAG
 * expression parsing (FilterAPI): "*" / "" => all, else "A || B" => tag
 * set and their String.hashCode codes. Pure functions, any thread. */
#ifndef RMQ_SUBSCRIPTION_H
#define RMQ_SUBSCRIPTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_buf.h"
#include "rmq_err.h"

typedef struct rmq_subscription_s {
    char *topic;
    char *sub_string;      /* "*" for all */
    char *expression_type; /* "TAG" (SQL92 is refused) */
    char **tags;
    int64_t *codes;
    size_t n; /* 0 => all */
    int64_t sub_version;
} rmq_subscription_t;

/* Parse a TAG expression. RMQ_ERR__INVALID_ARG for unsupported types
 * (errstr says why). */
rmq_err_t rmq_subscription_build(rmq_subscription_t *s, const char *topic, const char *expr, const char *type,
                                 int64_t sub_version, char *errstr, size_t n);
void rmq_subscription_deinit(rmq_subscription_t *s);
void rmq_subscription_copy(rmq_subscription_t *dst, const rmq_subscription_t *src);
/* Does a consume-queue tagsCode match? */
bool rmq_subscription_match_code(const rmq_subscription_t *s, int64_t tags_code);
/* fastjson SubscriptionData object. */
void rmq_subscription_json(rmq_buf_t *out, const rmq_subscription_t *s);

#endif
