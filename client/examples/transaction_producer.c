/* transaction_producer.c - libcomet example: transactional messages
 * (RocketMQ's TransactionMQProducer). Each message is stored as a half
 * message, invisible to consumers; the local transaction runs in the execute
 * callback; COMMIT delivers the message, ROLLBACK drops it, UNKNOWN leaves
 * the decision to the broker's check-back, answered by the check callback.
 *
 *   example_transaction_producer <namesrv host:port> <topic> [count]
 *
 * Message i commits when i % 3 == 0, rolls back when i % 3 == 1, and says
 * UNKNOWN when i % 3 == 2; the check callback then commits it (the "local
 * database" here is an array of outcomes). The program waits until every
 * UNKNOWN transaction was checked back (broker setting transactionTimeOut,
 * 6 s by default, and transactionCheckInterval, 60 s by default), at most
 * 3 minutes.
 *
 * Threads: the execute callback runs on the main thread (inside
 * comet_producer_send_in_transaction); the check callback on the producer's
 * callback thread - hence the mutex around the shared table. */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <comet/comet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "example_common.h"

#define MAX_TX 1000

typedef struct local_db_s {
    pthread_mutex_t lock;
    char ids[MAX_TX][COMET_MSGID_MAX]; /* transaction id (the message's msgId) */
    int state[MAX_TX];                 /* what the local transaction decided */
    int n;
    int checks;    /* check-backs answered */
    int undecided; /* UNKNOWN answers still to be checked back */
} local_db_t;

static local_db_t db = {PTHREAD_MUTEX_INITIALIZER, {{0}}, {0}, 0, 0, 0};

static comet_txn_state_t execute(comet_producer_t *p, const comet_message_t *msg,
                                 const comet_send_result_t *half, void *arg, void *opaque)
{
    (void)p;
    (void)msg;
    (void)opaque;
    int i = *(const int *)arg;
    comet_txn_state_t st = i % 3 == 0   ? COMET_TXN_COMMIT
                           : i % 3 == 1 ? COMET_TXN_ROLLBACK
                                        : COMET_TXN_UNKNOWN;
    pthread_mutex_lock(&db.lock);
    if (db.n < MAX_TX) {
        snprintf(db.ids[db.n], COMET_MSGID_MAX, "%s", half->msg_id);
        /* the local transaction "committed" for UNKNOWN too: the check says so */
        db.state[db.n++] = st == COMET_TXN_ROLLBACK ? COMET_TXN_ROLLBACK : COMET_TXN_COMMIT;
        if (st == COMET_TXN_UNKNOWN)
            db.undecided++;
    }
    pthread_mutex_unlock(&db.lock);
    return st;
}

static comet_txn_state_t check(comet_producer_t *p, const comet_message_ext_t *msg, void *opaque)
{
    (void)p;
    (void)opaque;
    const char *id = comet_message_ext_msg_id(msg);
    comet_txn_state_t st = COMET_TXN_UNKNOWN; /* not ours (yet): ask again later */
    pthread_mutex_lock(&db.lock);
    for (int i = 0; i < db.n; i++)
        if (!strcmp(db.ids[i], id)) {
            st = (comet_txn_state_t)db.state[i];
            db.checks++;
            db.undecided--;
            break;
        }
    pthread_mutex_unlock(&db.lock);
    printf("check-back for %s (topic %s): %s\n", id, comet_message_ext_topic(msg), comet_txn_state_name(st));
    return st;
}

int main(int argc, char **argv)
{
    if (!example_args(argc, argv, 2, "<namesrv host:port> <topic> [count]"))
        return 2;
    int count = argc > 3 ? atoi(argv[3]) : 6;
    if (count < 0 || count > MAX_TX)
        count = MAX_TX;
    char errstr[512];
    comet_conf_t *conf = example_conf(errstr, sizeof(errstr), "namesrvAddr", argv[1], "producerGroup",
                                      "example_transaction_group", NULL);
    if (!conf)
        return 1;
    comet_conf_set_transaction_listener(conf, execute, check);
    comet_producer_t *p = example_producer(conf); /* owns conf now */
    if (!p)
        return 1;
    int failures = 0;
    for (int i = 0; i < count; i++) {
        comet_message_t *m = example_message(argv[2], "order %d paid", i, "TagTx", "order-example");
        comet_send_result_t res;
        comet_txn_state_t st;
        comet_err_t e = comet_producer_send_in_transaction(p, m, &i, &res, &st, -1);
        comet_message_destroy(m);
        if (e) {
            fprintf(stderr, "transaction %d: half message not stored: %s (%s)\n", i, comet_err2str(e),
                    res.errstr);
            failures++;
            continue;
        }
        printf("transaction %d: %s, local transaction said %s\n", i, res.msg_id, comet_txn_state_name(st));
    }
    /* wait for the check-backs of the UNKNOWN ones (bounded) */
    time_t deadline = time(NULL) + 180;
    for (;;) {
        pthread_mutex_lock(&db.lock);
        int left = db.undecided;
        pthread_mutex_unlock(&db.lock);
        if (left <= 0 || time(NULL) >= deadline) {
            if (left > 0) {
                fprintf(stderr, "%d transaction(s) not checked back within 3 minutes\n", left);
                failures++;
            }
            break;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    printf("%d check-back(s) answered\n", db.checks);
    comet_producer_destroy(p);
    return failures ? 1 : 0;
}
