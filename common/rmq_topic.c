/* rmq_topic.c - the topic-name rule (TopicValidator.validateTopic).
 * Pure functions, any thread. */
#include "rmq_topic.h"

#include <stdio.h>
#include <string.h>

static bool legal_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '%' ||
           c == '|' || c == '_' || c == '-';
}

static bool legal_chars(const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!legal_char(t[i]))
            return false;
    return true;
}

bool rmq_topic_valid(const char *topic, size_t len)
{
    return topic && len > 0 && len <= RMQ_TOPIC_MAX_LEN && legal_chars(topic, len);
}

bool rmq_topic_is_retry(const char *topic)
{
    return strncmp(topic, RMQ_RETRY_PREFIX, sizeof(RMQ_RETRY_PREFIX) - 1) == 0;
}

const char *rmq_topic_invalid(const char *topic, char *buf, size_t n)
{
    size_t len = topic ? strlen(topic) : 0;
    if (len == 0)
        snprintf(buf, n, "The specified topic is blank.");
    else if (len > RMQ_TOPIC_MAX_LEN)
        snprintf(buf, n, "The specified topic is longer than topic max length %d.", RMQ_TOPIC_MAX_LEN);
    else if (!legal_chars(topic, len))
        snprintf(buf, n,
                 "The specified topic[%s] contains illegal characters, allowing only ^[%%|a-zA-Z0-9_-]+$",
                 topic);
    else
        return NULL;
    return buf;
}
