/* test_metrics.c - Prometheus text writer: escaping of hostile label values,
 * histogram buckets, metricsLabel parsing, the /proc reader. */
#include <criterion/criterion.h>
#include <string.h>

#include "rmq_buf.h"
#include "rmq_metrics.h"

TestSuite(prom, .timeout = 10);

Test(prom, family_and_samples_with_common_labels)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_prom_t w;
    rmq_prom_init(&w, &b, "cluster=\"c\",node_type=\"broker\"");
    rmq_prom_family(&w, "rocketmq_messages_in_total", "counter", "Total number of incoming messages");
    const char *l[] = {"topic", "T", "message_type", "normal", NULL};
    rmq_prom_int(&w, l, 42);
    rmq_prom_int(&w, NULL, 7);
    const char *want = "# HELP rocketmq_messages_in_total Total number of incoming messages\n"
                       "# TYPE rocketmq_messages_in_total counter\n"
                       "rocketmq_messages_in_total{cluster=\"c\",node_type=\"broker\",topic=\"T\","
                       "message_type=\"normal\"} 42\n"
                       "rocketmq_messages_in_total{cluster=\"c\",node_type=\"broker\"} 7\n";
    cr_expect_str_eq(rmq_buf_cstr(&b), want);
    rmq_buf_free(&b);
}

Test(prom, no_labels_no_braces)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_prom_t w;
    rmq_prom_init(&w, &b, "");
    rmq_prom_family(&w, "x", "gauge", "h");
    rmq_prom_int(&w, NULL, -3);
    cr_expect_str_eq(rmq_buf_cstr(&b), "# HELP x h\n# TYPE x gauge\nx -3\n");
    rmq_buf_free(&b);
}

/* A group or topic name is chosen by clients: quotes, backslashes,
 * newlines and invalid UTF-8 must not break the line format. */
Test(prom, hostile_label_values_escaped)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_prom_t w;
    rmq_prom_init(&w, &b, "");
    rmq_prom_family(&w, "m", "gauge", "help with \\ and\nnewline");
    const char *l[] = {"consumer_group",
                       "a\"b\\c\nd\xff\xfe"
                       "e",
                       NULL};
    rmq_prom_int(&w, l, 1);
    const char *want = "# HELP m help with \\\\ and\\nnewline\n# TYPE m gauge\n"
                       "m{consumer_group=\"a\\\"b\\\\c\\nd\xEF\xBF\xBD\xEF\xBF\xBD"
                       "e\"} 1\n";
    cr_expect_str_eq(rmq_buf_cstr(&b), want);
    rmq_buf_free(&b);
}

Test(prom, histogram_cumulative_buckets)
{
    static const int64_t bounds[] = {1, 10, 100};
    rmq_hist_t h;
    rmq_hist_init(&h, bounds, 3);
    rmq_hist_observe(&h, 0);
    rmq_hist_observe(&h, 1);
    rmq_hist_observe(&h, 5);
    rmq_hist_observe(&h, 100);
    rmq_hist_observe(&h, 1000);
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_prom_t w;
    rmq_prom_init(&w, &b, "");
    rmq_prom_family(&w, "lat", "histogram", "h");
    const char *l[] = {"code", "x", NULL};
    rmq_prom_hist(&w, l, &h);
    const char *want = "# HELP lat h\n# TYPE lat histogram\n"
                       "lat_bucket{code=\"x\",le=\"1\"} 2\n"
                       "lat_bucket{code=\"x\",le=\"10\"} 3\n"
                       "lat_bucket{code=\"x\",le=\"100\"} 4\n"
                       "lat_bucket{code=\"x\",le=\"+Inf\"} 5\n"
                       "lat_sum{code=\"x\"} 1106\n"
                       "lat_count{code=\"x\"} 5\n";
    cr_expect_str_eq(rmq_buf_cstr(&b), want);
    rmq_buf_free(&b);
}

Test(prom, label_list_parsing)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    char err[128];
    cr_assert(rmq_prom_parse_label_list("instance_id:i1,uid:u\"2", &b, err, sizeof(err)));
    cr_expect_str_eq(rmq_buf_cstr(&b), "instance_id=\"i1\",uid=\"u\\\"2\"");
    rmq_buf_free(&b);
    rmq_buf_init(&b);
    cr_expect(!rmq_prom_parse_label_list("novalue", &b, err, sizeof(err)), "a pair without ':' is refused");
    cr_expect(strstr(err, "novalue") != NULL);
    cr_expect(!rmq_prom_parse_label_list("1bad:v", &b, err, sizeof(err)),
              "a label name may not start with a digit");
    cr_expect(!rmq_prom_parse_label_list("__x:v", &b, err, sizeof(err)), "__ names are Prometheus' own");
    cr_expect(!rmq_prom_parse_label_list("a:b:c", &b, err, sizeof(err)), "two colons are ambiguous");
    cr_expect(rmq_prom_parse_label_list("", &b, err, sizeof(err)), "empty is fine");
    rmq_buf_free(&b);
}

Test(prom, process_stats_from_proc)
{
    rmq_proc_stats_t st;
    cr_assert(rmq_proc_stats_read(&st), "/proc/self/stat is readable on Linux");
    cr_expect(st.rss_bytes > 0, "a running process has resident pages");
    cr_expect(st.open_fds >= 3, "stdin/stdout/stderr at least: %lld", (long long)st.open_fds);
    cr_expect(st.threads >= 1);
    cr_expect(st.start_time > 1.5e9, "start time is an epoch in seconds: %f", st.start_time);
}
