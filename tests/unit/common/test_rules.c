/* test_rules.c - the single sources of domain rules in common/: the error
 * list (RMQ_ERRORS and the tables made from it) and the topic-name rule. */
#include <criterion/criterion.h>
#include <string.h>

#include "rmq_err.h"
#include "rmq_topic.h"

typedef struct {
    int val;
    const char *name, *desc;
} err_row_t;

#define ROW(sfx, val, desc) {RMQ_ERR_##sfx, #sfx, desc},
static const err_row_t rows[] = {RMQ_ERRORS(ROW)};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

Test(rules, error_tables_follow_the_list)
{
    for (size_t i = 0; i < NROWS; i++) {
        cr_expect_str_eq(rmq_err2name(rows[i].val), rows[i].name, "name of %d", rows[i].val);
        cr_expect_str_eq(rmq_err2str(rows[i].val), rows[i].desc, "description of %s", rows[i].name);
        for (size_t j = 0; j < i; j++)
            cr_expect_neq(rows[i].val, rows[j].val, "%s and %s share a value", rows[i].name, rows[j].name);
        if (rows[i].val < 0) {
            cr_expect_eq(rows[i].name[0], '_', "local error %s must start with _", rows[i].name);
            cr_expect(rows[i].val > RMQ_ERR__BEGIN && rows[i].val < RMQ_ERR__END,
                      "%s outside the local range", rows[i].name);
        }
    }
    cr_expect_str_eq(rmq_err2name(RMQ_OK), "SUCCESS");
    cr_expect_str_eq(rmq_err2name(RMQ_ERR__DISK_FULL), "_DISK_FULL");
    cr_expect_str_eq(rmq_err2name(RMQ_ERR_FLUSH_DISK_TIMEOUT), "FLUSH_DISK_TIMEOUT");
    cr_expect_eq(RMQ_ERR_FLUSH_DISK_TIMEOUT, 10, "response codes are RocketMQ's numbers");
    cr_expect_str_eq(rmq_err2name(12345), "UNKNOWN", "an unlisted code has a name");
    cr_expect_str_eq(rmq_err2str(-12345), "unknown error");
}

static bool valid(const char *t)
{
    return rmq_topic_valid(t, strlen(t));
}

Test(rules, topic_names_at_the_limits)
{
    char t[RMQ_TOPIC_MAX_LEN + 2];
    memset(t, 'a', sizeof(t));
    t[RMQ_TOPIC_MAX_LEN] = '\0';
    cr_expect(valid(t), "exactly %d characters is the longest valid name", RMQ_TOPIC_MAX_LEN);
    cr_expect_null(rmq_topic_invalid(t, (char[256]){0}, 256));
    t[RMQ_TOPIC_MAX_LEN] = 'a';
    t[RMQ_TOPIC_MAX_LEN + 1] = '\0';
    cr_expect_not(valid(t), "one more is too long");
    char why[256];
    cr_expect_not_null(rmq_topic_invalid(t, why, sizeof(why)));
    cr_expect_not_null(strstr(why, "longer than topic max length 127"), "%s", why);
    cr_expect_not(valid(""), "empty");
    cr_expect_str_eq(rmq_topic_invalid("", why, sizeof(why)), "The specified topic is blank.");
    cr_expect_str_eq(rmq_topic_invalid(NULL, why, sizeof(why)), "The specified topic is blank.");
    cr_expect_not(rmq_topic_valid(NULL, 0));
    cr_expect(valid("a"), "one character");
    cr_expect(valid("%RETRY%group_1-x|y"), "every allowed punctuation");
    cr_expect(valid("AZaz09"));
    static const char *const bad[] = {"a b",         "a.b",       "a/b",  "a:b", "a*",
                                      "caf\xc3\xa9", "\xe9t\xe9", "a\tb", "a\nb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_not(valid(bad[i]), "\"%s\" must be rejected", bad[i]);
        cr_expect_not_null(rmq_topic_invalid(bad[i], why, sizeof(why)));
        cr_expect_not_null(strstr(why, "contains illegal characters"), "%s", why);
    }
    /* a length, not a NUL, ends the name */
    cr_expect(rmq_topic_valid("abc def", 3));
    cr_expect_not(rmq_topic_valid("abc def", 4));
}

Test(rules, retry_topics)
{
    cr_expect(rmq_topic_is_retry("%RETRY%g"));
    cr_expect_not(rmq_topic_is_retry("%RETRY"));
    cr_expect_not(rmq_topic_is_retry("%DLQ%g"));
    cr_expect_not(rmq_topic_is_retry("t%RETRY%"));
}
