/* rmq_topic.h - the topic-name rule and the reserved topic names
 * (RocketMQ's TopicValidator and MixAll), one copy for the client, the
 * broker and the store. Pure functions, any thread. */
#ifndef RMQ_TOPIC_H
#define RMQ_TOPIC_H

#include <stdbool.h>
#include <stddef.h>

/* TopicValidator.TOPIC_MAX_LENGTH */
#define RMQ_TOPIC_MAX_LEN 127

/* Reserved names and prefixes (MixAll, TopicValidator) */
#define RMQ_TOPIC_TBW102 "TBW102" /* auto-create template */
#define RMQ_TOPIC_SELF_TEST "SELF_TEST_TOPIC"
#define RMQ_TOPIC_OFFSET_MOVED "OFFSET_MOVED_EVENT"
#define RMQ_TOPIC_BENCHMARK "BenchmarkTest"
#define RMQ_SCHEDULE_TOPIC "SCHEDULE_TOPIC_XXXX"
#define RMQ_RETRY_PREFIX "%RETRY%"
#define RMQ_DLQ_PREFIX "%DLQ%"

/* 1..RMQ_TOPIC_MAX_LEN characters of [%|a-zA-Z0-9_-] (ASCII, whatever the
 * locale). The name need not be NUL-terminated. */
bool rmq_topic_valid(const char *topic, size_t len);
/* A %RETRY%<group> topic. */
bool rmq_topic_is_retry(const char *topic);
/* NULL for a valid NUL-terminated name (NULL is blank), else the reason in
 * the broker's words, written to buf. */
const char *rmq_topic_invalid(const char *topic, char *buf, size_t n);

#endif
