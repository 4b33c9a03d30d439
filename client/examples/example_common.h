/* example_common.h - what the examples share: a configuration from name /
 * value pairs (the first refused setting printed), the command line's usage,
 * the consumers' configuration, a started producer and a numbered message.
 * Static inline functions of the public API only: an example builds from its
 * file and this header, cc producer.c -lcomet (tests/install_check.sh). */
#ifndef COMET_EXAMPLE_COMMON_H
#define COMET_EXAMPLE_COMMON_H

#include <comet/comet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>

/* True when the command line has at least `need` arguments; otherwise
 * "usage: <program> <usage>" is printed. */
static inline bool example_args(int argc, char **argv, int need, const char *usage)
{
    if (argc > need)
        return true;
    fprintf(stderr, "usage: %s %s\n", argv[0], usage);
    return false;
}

/* example_conf(errstr, sizeof(errstr), "namesrvAddr", addr, ..., NULL):
 * NULL, the reason printed, when a setting is refused. */
static inline comet_conf_t *example_conf(char *errstr, size_t errstr_size, ...) __attribute__((sentinel));
static inline comet_conf_t *example_conf(char *errstr, size_t errstr_size, ...)
{
    comet_conf_t *conf = comet_conf_new();
    va_list ap;
    va_start(ap, errstr_size);
    for (const char *name; conf && (name = va_arg(ap, const char *)) != NULL;) {
        const char *value = va_arg(ap, const char *);
        if (comet_conf_set(conf, name, value, errstr, errstr_size) != COMET_CONF_OK) {
            fprintf(stderr, "%s\n", errstr);
            comet_conf_destroy(conf);
            conf = NULL;
        }
    }
    va_end(ap);
    return conf;
}

/* The consumers' configuration: group on the name server at namesrv, from
 * the first offset of queues the group has no offset for yet. */
static inline comet_conf_t *example_consumer_conf(const char *namesrv, const char *group, char *errstr,
                                                  size_t errstr_size)
{
    return example_conf(errstr, errstr_size, "namesrvAddr", namesrv, "consumerGroup", group,
                        "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", NULL);
}

/* A started producer on conf (which it owns from then on, or which is
 * destroyed on failure); NULL, the reason printed, when it cannot start. */
static inline comet_producer_t *example_producer(comet_conf_t *conf)
{
    char errstr[512];
    comet_producer_t *p = comet_producer_new(conf, errstr, sizeof(errstr));
    if (!p) {
        fprintf(stderr, "comet_producer_new: %s\n", errstr);
        comet_conf_destroy(conf); /* still ours on failure */
        return NULL;
    }
    if (comet_producer_start(p, errstr, sizeof(errstr)) != COMET_ERR_NO_ERROR) {
        fprintf(stderr, "start: %s\n", errstr);
        comet_producer_destroy(p);
        return NULL;
    }
    return p;
}

/* Message i of a run: its body printf(body_fmt, i), its tags and keys. */
static inline comet_message_t *example_message(const char *topic, const char *body_fmt, int i,
                                               const char *tags, const char *keys)
{
    char body[64];
    int n = snprintf(body, sizeof(body), body_fmt, i);
    comet_message_t *m = comet_message_new(topic, body, (size_t)n, COMET_MSG_F_COPY);
    comet_message_set_tags(m, tags);
    comet_message_set_keys(m, keys);
    return m;
}

#endif
