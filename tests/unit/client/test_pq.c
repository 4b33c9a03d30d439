/* test_pq.c - the process queue's at-least-once rule: the committable
 * offset never passes the oldest message still being consumed. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "comet_int.h"

static comet_message_ext_t *msg_at(int64_t off)
{
    comet_message_ext_t *m = calloc(1, sizeof(*m));
    m->queue_offset = off;
    m->topic = strdup("T");
    m->real_topic = strdup("T");
    m->body = malloc(10);
    m->body_len = 10;
    rmq_msg_props_init(&m->props);
    return m;
}

Test(pq, commit_offset_is_oldest_in_flight)
{
    cm_pq_t *pq = cm_pq_new();
    comet_message_ext_t *v[5];
    for (int i = 0; i < 5; i++)
        v[i] = msg_at(10 + i);
    cm_pq_add(pq, v, 5);
    size_t cnt, bytes;
    int64_t span;
    cm_pq_stats(pq, &cnt, &bytes, &span);
    cr_expect_eq(cnt, 5);
    cr_expect_eq(bytes, 50);
    cr_expect_eq(span, 4);
    int64_t o = 12;
    cr_expect_eq(cm_pq_remove(pq, &o, 1), 10, "10 is still in flight");
    comet_message_ext_destroy(v[2]);
    int64_t two[] = {10, 11};
    cr_expect_eq(cm_pq_remove(pq, two, 2), 13);
    comet_message_ext_destroy(v[0]);
    comet_message_ext_destroy(v[1]);
    int64_t rest[] = {14, 13};
    cr_expect_eq(cm_pq_remove(pq, rest, 2), 15, "empty: max + 1");
    comet_message_ext_destroy(v[3]);
    comet_message_ext_destroy(v[4]);
    /* duplicates of already-seen offsets are refused */
    comet_message_ext_t *d = msg_at(12);
    cm_pq_add(pq, &d, 1);
    cr_expect_null(d);
    cm_pq_stats(pq, &cnt, NULL, NULL);
    cr_expect_eq(cnt, 0);
    cm_pq_release(pq);
}

Test(pq, grows_and_frees_unconsumed)
{
    cm_pq_t *pq = cm_pq_new();
    for (int round = 0; round < 10; round++) {
        comet_message_ext_t *v[50];
        for (int i = 0; i < 50; i++)
            v[i] = msg_at(round * 50 + i);
        cm_pq_add(pq, v, 50);
        /* consume the first half of each round */
        for (int i = 0; i < 25; i++) {
            int64_t o = round * 50 + i;
            cm_pq_remove(pq, &o, 1);
            comet_message_ext_destroy(v[i]);
        }
    }
    size_t cnt;
    cm_pq_stats(pq, &cnt, NULL, NULL);
    cr_expect_eq(cnt, 250);
    int64_t o = 0;
    cr_expect_eq(cm_pq_remove(pq, &o, 0), 25);
    cm_pq_release(pq); /* frees the 250 cached messages */
}
