/* test_rebalance.c - AllocateMessageQueueAveragely gives Java's answers. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "comet_int.h"

/* expected[c] = "0,1,2" style lists (indexes into the sorted queue list) */
static void check_case(size_t nmq, size_t ncid, const char *const *expected)
{
    char names[16][32];
    const char *cids[16];
    for (size_t i = 0; i < ncid; i++) {
        snprintf(names[i], sizeof(names[i]), "10.0.0.%zu@%zu", i + 1, 100 + i);
        cids[i] = names[i];
    }
    size_t covered = 0;
    for (size_t c = 0; c < ncid; c++) {
        size_t out[64];
        size_t n = cm_allocate_averagely(nmq, cids, ncid, cids[c], out);
        char got[256] = "";
        for (size_t i = 0; i < n; i++)
            snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%zu", i ? "," : "", out[i]);
        cr_expect_str_eq(got, expected[c], "%zu queues / %zu consumers, consumer %zu: got {%s} want {%s}",
                         nmq, ncid, c, got, expected[c]);
        covered += n;
    }
    if (nmq >= ncid)
        cr_expect_eq(covered, nmq, "every queue assigned exactly once");
}

Test(allocate, java_table)
{
    check_case(8, 3, (const char *const[]){"0,1,2", "3,4,5", "6,7"});
    check_case(3, 5, (const char *const[]){"0", "1", "2", "", ""});
    check_case(4, 2, (const char *const[]){"0,1", "2,3"});
    check_case(5, 2, (const char *const[]){"0,1,2", "3,4"});
    check_case(10, 4, (const char *const[]){"0,1,2", "3,4,5", "6,7", "8,9"});
    check_case(1, 1, (const char *const[]){"0"});
    check_case(16, 3, (const char *const[]){"0,1,2,3,4,5", "6,7,8,9,10", "11,12,13,14,15"});
    check_case(8, 8, (const char *const[]){"0", "1", "2", "3", "4", "5", "6", "7"});
    check_case(9, 8, (const char *const[]){"0,1", "2", "3", "4", "5", "6", "7", "8"});
    check_case(2, 3, (const char *const[]){"0", "1", ""});
    check_case(7, 1, (const char *const[]){"0,1,2,3,4,5,6"});
}

Test(allocate, unknown_consumer_gets_nothing)
{
    const char *cids[] = {"a@1", "b@2"};
    size_t out[8];
    cr_expect_eq(cm_allocate_averagely(4, cids, 2, "c@3", out), 0);
    cr_expect_eq(cm_allocate_averagely(0, cids, 2, "a@1", out), 0);
    cr_expect_eq(cm_allocate_averagely(4, cids, 0, "a@1", out), 0);
}

Test(allocate, sort_orders_match_java)
{
    char *ids[] = {strdup("192.168.0.2@9"), strdup("10.0.0.1@5"), strdup("192.168.0.10@1")};
    cm_sort_strings(ids, 3);
    cr_expect_str_eq(ids[0], "10.0.0.1@5");
    cr_expect_str_eq(ids[1], "192.168.0.10@1");
    cr_expect_str_eq(ids[2], "192.168.0.2@9");
    for (int i = 0; i < 3; i++)
        free(ids[i]);
    cm_mq_t mqs[] = {{"T", "b", 0}, {"T", "a", 10}, {"T", "a", 2}, {"S", "z", 0}};
    cm_sort_mqs(mqs, 4);
    cr_expect_str_eq(mqs[0].topic, "S");
    cr_expect_str_eq(mqs[1].broker_name, "a");
    cr_expect_eq(mqs[1].queue_id, 2);
    cr_expect_eq(mqs[2].queue_id, 10);
    cr_expect_str_eq(mqs[3].broker_name, "b");
}

Test(subscription, tag_expressions)
{
    cm_sub_t s;
    cm_sub_build(&s, "T", "TagA || TagB ||  TagA|| ");
    cr_expect_eq(s.ntags, 2);
    cr_expect_str_eq(s.tags[0], "TagA");
    cr_expect_eq(s.codes[0], 2598919); /* Java "TagA".hashCode() */
    cr_expect(cm_sub_match(&s, "TagB"));
    cr_expect_not(cm_sub_match(&s, "TagC"));
    cr_expect_not(cm_sub_match(&s, NULL));
    cm_sub_free(&s);
    cm_sub_build(&s, "T", "*");
    cr_expect_eq(s.ntags, 0);
    cr_expect_str_eq(s.expr, "*");
    cr_expect(cm_sub_match(&s, NULL));
    cm_sub_free(&s);
}
