/* comet_interop.c - the libcomet side of the ali-ons interop test
 * (tests/compat/client/interop.js drives it).
 *
 *   comet_interop produce <ns> <topic> <count> [first]
 *       sends body "comet-<i>" for i = first (0) .. first+count-1 (every 10th padded past 4096 bytes, so it
 * is zlib-compressed), tags TagA/TagB, keys "ck-<i>", property idx=<i>; prints "SENT <i> <msgId>
 * <offsetMsgId> <status> <brokerName>" per message (status: SEND_OK, or SLAVE_NOT_AVAILABLE & co., which
 * store the message but say a slave does not hold it yet); exit 1 on any failure. comet_interop consume <ns>
 * <topic> <group> <count> <timeout_s> push consumer from the first offset; prints "GOT <tags> <keys> <idx
 * property> <body length> <body prefix>" per message until <count> distinct bodies arrived (exit 0) or the
 * timeout (exit 1). count 0: consume for timeout_s seconds, then exit 0 (a member of a mixed group; "ASSIGNED
 * <n>" lines report its queue count). Main thread sends; the consume callback runs on the library's consume
 * threads. */
#include <comet/comet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static comet_conf_t *conf_for(const char *ns, const char *key, const char *group)
{
    char err[256];
    comet_conf_t *c = comet_conf_new();
    comet_conf_set(c, "namesrvAddr", ns, err, sizeof(err));
    comet_conf_set(c, key, group, err, sizeof(err));
    comet_conf_set(c, "logLevel", "ERROR", err, sizeof(err));
    return c;
}

static int produce(const char *ns, const char *topic, int first, int count)
{
    char err[256];
    comet_producer_t *p =
        comet_producer_new(conf_for(ns, "producerGroup", "PID_COMET_INTEROP"), err, sizeof(err));
    if (!p || comet_producer_start(p, err, sizeof(err))) {
        fprintf(stderr, "producer: %s\n", err);
        return 1;
    }
    int rc = 0;
    for (int i = first; i < first + count; i++) {
        char body[6000];
        int n = snprintf(body, sizeof(body), "comet-%d", i);
        if (i % 10 == 9) { /* compressed on the wire */
            memset(body + n, 'z', 5000);
            n += 5000;
        }
        comet_message_t *m = comet_message_new(topic, body, (size_t)n, COMET_MSG_F_COPY);
        comet_message_set_tags(m, i % 2 ? "TagB" : "TagA");
        char k[32], idx[16];
        snprintf(k, sizeof(k), "ck-%d", i);
        snprintf(idx, sizeof(idx), "%d", i);
        comet_message_set_keys(m, k);
        comet_message_set_property(m, "idx", idx);
        comet_send_result_t res;
        if (comet_producer_send(p, m, &res, 10000)) {
            fprintf(stderr, "send %d: %s (%s)\n", i, comet_err2str(res.err), res.errstr);
            rc = 1;
        } else {
            printf("SENT %d %s %s %s %s\n", i, res.msg_id, res.offset_msg_id,
                   comet_send_status_name(res.status), res.queue.broker_name);
        }
        comet_message_destroy(m);
    }
    fflush(stdout);
    comet_producer_destroy(p);
    return rc;
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char **seen;
static int nseen;

static comet_consume_status_t on_msgs(comet_push_consumer_t *c, const comet_message_ext_t *const *msgs,
                                      size_t cnt, void *opaque)
{
    pthread_mutex_lock(&lock);
    for (size_t i = 0; i < cnt; i++) {
        size_t len;
        const char *b = comet_message_ext_body(msgs[i], &len);
        char prefix[64];
        size_t pl = len < sizeof(prefix) - 1 ? len : sizeof(prefix) - 1;
        memcpy(prefix, b, pl);
        prefix[pl] = 0;
        for (char *q = prefix; *q; q++)
            if (*q == ' ' || *q == '\n')
                *q = '_';
        const char *tags = comet_message_ext_tags(msgs[i]), *keys = comet_message_ext_keys(msgs[i]);
        const char *idx = comet_message_ext_property(msgs[i], "idx");
        printf("GOT %s %s %s %zu %s\n", tags ? tags : "-", keys ? keys : "-", idx ? idx : "-", len, prefix);
        bool dup = false;
        for (int k = 0; k < nseen && !dup; k++)
            dup = strcmp(seen[k], prefix) == 0;
        if (!dup) {
            seen = realloc(seen, (size_t)(nseen + 1) * sizeof(char *));
            seen[nseen++] = strdup(prefix);
        }
    }
    fflush(stdout);
    pthread_mutex_unlock(&lock);
    return COMET_CONSUME_SUCCESS;
}

static int consume(const char *ns, const char *topic, const char *group, int count, int timeout_s)
{
    char err[256];
    comet_conf_t *conf = conf_for(ns, "consumerGroup", group);
    comet_conf_set(conf, "consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET", err, sizeof(err));
    comet_conf_set(conf, "rebalanceInterval", "2000", err, sizeof(err));
    comet_push_consumer_t *c = comet_push_consumer_new(conf, on_msgs, NULL, err, sizeof(err));
    if (!c) {
        fprintf(stderr, "consumer: %s\n", err);
        return 1;
    }
    comet_push_consumer_subscribe(c, topic, "*");
    if (comet_push_consumer_start(c, err, sizeof(err))) {
        fprintf(stderr, "consumer start: %s\n", err);
        return 1;
    }
    time_t end = time(NULL) + timeout_s;
    int n = 0, assigned = -1;
    while (time(NULL) < end) {
        pthread_mutex_lock(&lock);
        n = nseen;
        pthread_mutex_unlock(&lock);
        if (count > 0 && n >= count)
            break;
        int a = comet_push_consumer_assigned_count(c);
        if (a != assigned) {
            printf("ASSIGNED %d\n", a);
            assigned = a;
        }
        usleep(100000);
    }
    comet_push_consumer_destroy(c);
    fprintf(stderr, "consumed %d distinct%s%d\n", n, count > 0 ? " of " : ", queues ",
            count > 0 ? count : assigned);
    return count == 0 || n >= count ? 0 : 1;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if ((argc == 5 || argc == 6) && strcmp(argv[1], "produce") == 0)
        return produce(argv[2], argv[3], argc == 6 ? atoi(argv[5]) : 0, atoi(argv[4]));
    if (argc == 7 && strcmp(argv[1], "consume") == 0)
        return consume(argv[2], argv[3], argv[4], atoi(argv[5]), atoi(argv[6]));
    fprintf(stderr, "usage: comet_interop produce <ns> <topic> <count> [first]\n"
                    "       comet_interop consume <ns> <topic> <group> <count> <timeout_s>\n");
    return 2;
}
