/* pull_consumer.c - libcomet example: assign every queue of a topic, poll,
 * commit.
 *
 *   example_pull_consumer <namesrv host:port> <topic> <group> [max_messages]
 *
 * Everything runs on the main thread. */
#include <comet/comet.h>
#include <stdio.h>
#include <stdlib.h>

#include "example_common.h"

int main(int argc, char **argv)
{
    if (!example_args(argc, argv, 3, "<namesrv host:port> <topic> <group> [max_messages]"))
        return 2;
    long max = argc > 4 ? atol(argv[4]) : 100;
    char errstr[512];
    comet_conf_t *conf = example_consumer_conf(argv[1], argv[3], errstr, sizeof(errstr));
    if (!conf)
        return 1;
    comet_pull_consumer_t *c = comet_pull_consumer_new(conf, errstr, sizeof(errstr));
    if (!c) {
        fprintf(stderr, "comet_pull_consumer_new: %s\n", errstr);
        comet_conf_destroy(conf);
        return 1;
    }
    if (comet_pull_consumer_start(c, errstr, sizeof(errstr)) != COMET_ERR_NO_ERROR) {
        fprintf(stderr, "start: %s\n", errstr);
        comet_pull_consumer_destroy(c);
        return 1;
    }
    comet_message_queue_t *mqs = NULL;
    size_t n = 0;
    comet_err_t err = comet_pull_consumer_fetch_queues(c, argv[2], &mqs, &n);
    if (err) {
        fprintf(stderr, "fetch queues of %s: %s\n", argv[2], comet_err2str(err));
        comet_pull_consumer_destroy(c);
        return 1;
    }
    comet_pull_consumer_assign(c, mqs, n);
    free(mqs);
    long got = 0;
    int idle = 0;
    while (got < max && idle < 5) {
        comet_message_ext_t *msgs[32];
        size_t cnt = 0;
        comet_pull_consumer_poll(c, 1000, msgs, 32, &cnt);
        idle = cnt ? 0 : idle + 1;
        for (size_t i = 0; i < cnt; i++) {
            size_t len;
            const char *body = comet_message_ext_body(msgs[i], &len);
            printf("%s/%d@%lld: %.*s\n", comet_message_ext_broker_name(msgs[i]),
                   comet_message_ext_queue_id(msgs[i]), (long long)comet_message_ext_queue_offset(msgs[i]),
                   (int)len, body);
            comet_message_ext_destroy(msgs[i]);
        }
        got += (long)cnt;
        comet_pull_consumer_commit(c, true);
    }
    comet_pull_consumer_commit(c, false);
    comet_pull_consumer_destroy(c);
    printf("polled %ld messages\n", got);
    return 0;
}
