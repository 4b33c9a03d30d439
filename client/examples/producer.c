/* producer.c - libcomet example: send messages synchronously and
 * asynchronously, then flush and destroy.
 *
 *   example_producer <namesrv host:port> <topic> [count]
 *
 * Runs on the main thread; the delivery callback runs on the producer's
 * callback thread. */
#include <comet/comet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "example_common.h"

static void on_sent(comet_producer_t *p, const comet_send_result_t *res, void *msg_opaque, void *opaque)
{
    (void)p;
    (void)opaque;
    if (res->err)
        fprintf(stderr, "async message %ld failed: %s (%s)\n", (long)(intptr_t)msg_opaque,
                comet_err2str(res->err), res->errstr);
    else
        printf("async message %ld: %s %s queue %s/%d offset %lld\n", (long)(intptr_t)msg_opaque,
               comet_send_status_name(res->status), res->msg_id, res->queue.broker_name, res->queue.queue_id,
               (long long)res->queue_offset);
}

int main(int argc, char **argv)
{
    if (!example_args(argc, argv, 2, "<namesrv host:port> <topic> [count]"))
        return 2;
    int count = argc > 3 ? atoi(argv[3]) : 10;
    char errstr[512];
    comet_conf_t *conf = example_conf(errstr, sizeof(errstr), "namesrvAddr", argv[1], "producerGroup",
                                      "example_producer_group", NULL);
    if (!conf)
        return 1;
    comet_conf_set_send_cb(conf, on_sent);
    comet_producer_t *p = example_producer(conf); /* owns conf now */
    if (!p)
        return 1;
    int failures = 0;
    for (int i = 0; i < count; i++) {
        comet_message_t *m = example_message(argv[2], "hello comet %d", i, "TagA", "example-key");
        comet_send_result_t res;
        if (i % 2 == 0) {
            if (comet_producer_send(p, m, &res, -1) != COMET_ERR_NO_ERROR) {
                fprintf(stderr, "send %d failed: %s (%s)\n", i, comet_err2str(res.err), res.errstr);
                failures++;
            } else {
                printf("sync message %d: %s %s\n", i, comet_send_status_name(res.status), res.msg_id);
            }
        } else if (comet_producer_send_async(p, m, (void *)(intptr_t)i) != COMET_ERR_NO_ERROR) {
            failures++;
        }
        comet_message_destroy(m); /* sends serialize the message: destroy at once */
    }
    if (comet_producer_flush(p, 10000) != COMET_ERR_NO_ERROR)
        fprintf(stderr, "flush timed out\n");
    comet_producer_destroy(p);
    return failures ? 1 : 0;
}
