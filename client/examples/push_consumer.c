/* push_consumer.c - libcomet example: a clustering push consumer that
 * prints what it receives for a number of seconds.
 *
 *   example_push_consumer <namesrv host:port> <topic> <group> [seconds]
 *
 * The consume callback runs on the consumer's consume threads. */
#include <comet/comet.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "example_common.h"

static atomic_long received;

static comet_consume_status_t on_messages(comet_push_consumer_t *c, const comet_message_ext_t *const *msgs,
                                          size_t cnt, void *opaque)
{
    (void)c;
    (void)opaque;
    for (size_t i = 0; i < cnt; i++) {
        size_t len;
        const char *body = comet_message_ext_body(msgs[i], &len);
        printf("%s queue %s/%d offset %lld tags=%s: %.*s\n", comet_message_ext_msg_id(msgs[i]),
               comet_message_ext_broker_name(msgs[i]), comet_message_ext_queue_id(msgs[i]),
               (long long)comet_message_ext_queue_offset(msgs[i]),
               comet_message_ext_tags(msgs[i]) ? comet_message_ext_tags(msgs[i]) : "-", (int)len, body);
        atomic_fetch_add(&received, 1);
    }
    return COMET_CONSUME_SUCCESS;
}

int main(int argc, char **argv)
{
    if (!example_args(argc, argv, 3, "<namesrv host:port> <topic> <group> [seconds]"))
        return 2;
    int seconds = argc > 4 ? atoi(argv[4]) : 10;
    char errstr[512];
    comet_conf_t *conf = example_consumer_conf(argv[1], argv[3], errstr, sizeof(errstr));
    if (!conf)
        return 1;
    comet_push_consumer_t *c = comet_push_consumer_new(conf, on_messages, NULL, errstr, sizeof(errstr));
    if (!c) {
        fprintf(stderr, "comet_push_consumer_new: %s\n", errstr);
        comet_conf_destroy(conf);
        return 1;
    }
    comet_push_consumer_subscribe(c, argv[2], "*");
    if (comet_push_consumer_start(c, errstr, sizeof(errstr)) != COMET_ERR_NO_ERROR) {
        fprintf(stderr, "start: %s\n", errstr);
        comet_push_consumer_destroy(c);
        return 1;
    }
    sleep((unsigned)seconds);
    comet_push_consumer_destroy(c); /* commits offsets and unregisters */
    printf("received %ld messages\n", (long)atomic_load(&received));
    return 0;
}
