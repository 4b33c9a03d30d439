/* register_body.h - decoding of REGISTER_BROKER's body (RocketMQ's
 * RegisterBrokerBody / TopicConfigSerializeWrapper, JSON or the compressed
 * form) into the topic configs the route table takes.
 *
 * The JSON form is read in one pass without building a document of the
 * whole body: every topic config is parsed on its own, so a registration of
 * N topics needs memory for one topic config at a time beyond the result,
 * not a tree of the whole table. Any thread; pure. */
#ifndef NS_REGISTER_BODY_H
#define NS_REGISTER_BODY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "route_info.h"

typedef struct ns_reg_body_s {
    ns_data_version_t dv;
    ns_topic_conf_t *topics;
    size_t n_topics, cap;
    char *filter_servers; /* JSON array text, NULL when none or empty */
} ns_reg_body_t;

/* Decode body (len bytes; empty = empty wrapper, data version 0/0).
 * wrapped: a RegisterBrokerBody (clients >= V3_0_11), else a bare
 * TopicConfigSerializeWrapper. False with the reason in err. b is always
 * initialised (free it with ns_reg_body_free). */
bool ns_reg_body_parse(const uint8_t *body, size_t len, bool compressed, bool wrapped, ns_reg_body_t *b,
                       char *err, size_t errsize);
void ns_reg_body_free(ns_reg_body_t *b);

#endif
