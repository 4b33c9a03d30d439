/* test_fault.c - the latency / not-available-duration table and queue
 * selection that avoids the broker of the last failed attempt. */
#include <criterion/criterion.h>
#include <string.h>

#include "comet_int.h"

Test(fault, duration_table)
{
    static const int64_t cases[][2] = {
        {0, 0},         {49, 0},         {50, 0},         {99, 0},         {100, 0},       {549, 0},
        {550, 30000},   {999, 30000},    {1000, 60000},   {1999, 60000},   {2000, 120000}, {2999, 120000},
        {3000, 180000}, {14999, 180000}, {15000, 600000}, {30000, 600000},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        cr_expect_eq(cm_fault_duration(cases[i][0]), cases[i][1], "latency %lld", (long long)cases[i][0]);
}

Test(fault, isolation_keeps_broker_out)
{
    cm_fault_t f;
    cm_fault_init(&f);
    cr_expect(cm_fault_available(&f, "a", 1000));
    cm_fault_update(&f, "a", 10, true, 1000); /* exception: counts as 30 s => 600 s out */
    cr_expect_not(cm_fault_available(&f, "a", 1000));
    cr_expect_not(cm_fault_available(&f, "a", 1000 + 599999));
    cr_expect(cm_fault_available(&f, "a", 1000 + 600000));
    cm_fault_update(&f, "b", 700, false, 1000); /* slow: 30 s out */
    cr_expect_not(cm_fault_available(&f, "b", 30999));
    cr_expect(cm_fault_available(&f, "b", 31000));
    cm_fault_update(&f, "b", 20, false, 2000); /* fast again */
    cr_expect(cm_fault_available(&f, "b", 2000));
    char pick[64];
    cr_expect(cm_fault_pick_one(&f, 3000, 7, pick, sizeof(pick)));
    cr_expect_str_eq(pick, "b", "the better half is the available broker");
    cm_fault_deinit(&f);
}

static cm_route_t *two_brokers(void)
{
    const char *json =
        "{\"brokerDatas\":[{\"brokerAddrs\":{0:\"127.0.0.1:1\"},\"brokerName\":\"a\",\"cluster\":\"c\"},"
        "{\"brokerAddrs\":{0:\"127.0.0.1:2\"},\"brokerName\":\"b\",\"cluster\":\"c\"}],"
        "\"filterServerTable\":{},\"queueDatas\":[{\"brokerName\":\"b\",\"perm\":6,\"readQueueNums\":4,"
        "\"topicSysFlag\":0,\"writeQueueNums\":4},{\"brokerName\":\"a\",\"perm\":6,\"readQueueNums\":4,"
        "\"topicSysFlag\":0,\"writeQueueNums\":4}]}";
    char err[128];
    cm_route_t *r = cm_route_parse("T", json, strlen(json), err, sizeof(err));
    cr_assert_not_null(r, "%s", err);
    return r;
}

Test(select, round_robin_covers_all_queues)
{
    cm_route_t *r = two_brokers();
    _Atomic uint32_t counter = 12345;
    int seen[8] = {0};
    for (int i = 0; i < 8; i++) {
        int idx = cm_select_queue(r, &counter, NULL, false, NULL, 0, NULL, 0, NULL);
        cr_assert(idx >= 0 && idx < 8);
        seen[idx]++;
    }
    for (int i = 0; i < 8; i++)
        cr_expect_eq(seen[i], 1, "queue %d chosen once in a round", i);
    cm_route_release(r);
}

Test(select, avoids_last_failed_broker)
{
    cm_route_t *r = two_brokers();
    _Atomic uint32_t counter = 0;
    for (int i = 0; i < 200; i++) {
        int idx = cm_select_queue(r, &counter, "a", false, NULL, 0, NULL, 0, NULL);
        cr_assert(idx >= 0);
        cr_expect_str_eq(r->pub[idx].broker_name, "b");
        idx = cm_select_queue(r, &counter, "b", false, NULL, 0, NULL, 0, NULL);
        cr_expect_str_eq(r->pub[idx].broker_name, "a");
    }
    cm_route_release(r);
}

Test(select, single_broker_falls_back_to_it)
{
    const char *json =
        "{\"brokerDatas\":[{\"brokerAddrs\":{\"0\":\"127.0.0.1:1\"},\"brokerName\":\"a\"}],"
        "\"queueDatas\":[{\"brokerName\":\"a\",\"perm\":6,\"readQueueNums\":2,\"writeQueueNums\":2}]}";
    char err[128];
    cm_route_t *r = cm_route_parse("T", json, strlen(json), err, sizeof(err));
    cr_assert_not_null(r);
    _Atomic uint32_t counter = 0;
    int idx = cm_select_queue(r, &counter, "a", false, NULL, 0, NULL, 0, NULL);
    cr_expect(idx >= 0 && idx < 2);
    cm_route_release(r);
}

Test(select, fault_mode_skips_unavailable_broker)
{
    cm_route_t *r = two_brokers();
    cm_fault_t f;
    cm_fault_init(&f);
    cm_fault_update(&f, "a", 5000, false, 0); /* 5 s latency: out for 180 s */
    _Atomic uint32_t counter = 99;
    char alt[64];
    int32_t altq;
    for (int i = 0; i < 100; i++) {
        int idx = cm_select_queue(r, &counter, NULL, true, &f, 1000, alt, sizeof(alt), &altq);
        cr_assert(idx >= 0);
        cr_expect_eq(altq, -1);
        cr_expect_str_eq(r->pub[idx].broker_name, "b");
    }
    /* both out: one of the better half, with a queue id on it */
    cm_fault_update(&f, "b", 20000, false, 0);
    int idx = cm_select_queue(r, &counter, NULL, true, &f, 1000, alt, sizeof(alt), &altq);
    cr_expect(idx >= 0);
    cr_expect(altq >= 0 && altq < 4);
    cr_expect_str_eq(alt, "a", "a (180 s) is better than b (600 s)");
    /* recovered after the not-available duration */
    idx = cm_select_queue(r, &counter, "b", true, &f, 200000, alt, sizeof(alt), &altq);
    cr_expect_str_eq(r->pub[idx].broker_name, "a");
    cm_fault_deinit(&f);
    cm_route_release(r);
}
