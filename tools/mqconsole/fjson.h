/* fjson.h - fastjson's maps keyed by objects, as RocketMQ writes them for
 * MessageQueue-keyed tables (TopicStatsTable, ConsumeStats,
 * ResetOffsetBody): {"offsetTable":{{"brokerName":"b","queueId":0,
 * "topic":"T"}:{...},...}}. Not JSON, so a standard parser refuses it; this
 * turns such a table into an array of {"brokerName","queueId","topic",
 * "value"}. Bounded by the input; the values go through the lenient JSON
 * reader. Thread: any. */
#ifndef MC_FJSON_H
#define MC_FJSON_H

#include <jansson.h>
#include <stddef.h>

/* The table under "field" of text[0..n): an array (empty when the field is
 * absent or empty), NULL when it is malformed. */
json_t *mc_fjson_mq_table(const char *text, size_t n, const char *field);

#endif
