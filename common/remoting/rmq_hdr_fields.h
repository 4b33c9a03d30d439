/* rmq_hdr_fields.h - the request-header table: every request header that the
 * broker and the name server decode, each field with its Java type, and one
 * decoder that applies RocketMQ 4.9.8's rules to a command's extFields.
 *
 * Java's rules (RemotingCommand.decodeCommandCustomHeader, FastCodesHeader):
 * - a field's value is the extFields entry of the same name; String fields
 *   take it as is, Integer/int Integer.parseInt, Long/long Long.parseLong,
 *   Boolean/boolean Boolean.parseBoolean (case-insensitive "true"; anything
 *   else, "1" and "" included, is false);
 * - reflective headers: a missing or unparsable field is only logged, even
 *   with @CFNotNull; it keeps its initial value (null for boxed types and
 *   String, 0/false or the initialiser for primitives);
 * - FastCodesHeader headers (SendMessageRequestHeaderV2 for codes 310/320,
 *   PullMessageRequestHeader for 11) decode by hand: a missing field is only
 *   logged, but an unparsable number throws NumberFormatException, which the
 *   remoting layer answers with SYSTEM_ERROR.
 * Java's processors then dereference some null fields (NullPointerException,
 * SYSTEM_ERROR). The table marks those RMQ_HF_NEED: Comet answers SYSTEM_ERROR
 * "the custom field <x> is null" for them instead; fields that Java needs on
 * some paths only are checked by the processor with rmq_hdr_need().
 *
 * Adding a header: one X-macro list of its fields below, one row in
 * RMQ_HDR_LIST. Pure data and functions: any thread, no I/O. */
#ifndef RMQ_HDR_FIELDS_H
#define RMQ_HDR_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_cmd.h"

/* ---- Java's value parsers ---- */

/* Integer.parseInt(s, 10) / Long.parseLong(s, 10): an optional '+' or '-',
 * then one or more decimal digits (ASCII or any other Unicode decimal digit
 * of the Basic Multilingual Plane, as Character.digit accepts), in range. No
 * spaces, no decimal point, no exponent, no hex. s is UTF-8. */
bool rmq_java_parse_int(const char *s, int32_t *out);
bool rmq_java_parse_long(const char *s, int64_t *out);
/* Boolean.parseBoolean: true only for "true" in any letter case. */
bool rmq_java_parse_bool(const char *s);

/* ---- the table ---- */

typedef enum {
    RMQ_HT_STRING, /* String */
    RMQ_HT_INT,    /* Integer / int */
    RMQ_HT_LONG,   /* Long / long */
    RMQ_HT_BOOL,   /* Boolean / boolean */
} rmq_hdr_type_t;

/* Field flags. */
#define RMQ_HF_BOXED 0x01   /* Integer/Long/Boolean (null when unset); else a primitive */
#define RMQ_HF_NOTNULL 0x02 /* @CFNotNull in Java (there: logged only) */
#define RMQ_HF_NEED 0x04    /* Comet refuses the request when the field is unset (see top) */

/* Short spellings for the lists below. */
#define RMQ_HF_B RMQ_HF_BOXED
#define RMQ_HF_N RMQ_HF_NOTNULL
#define RMQ_HF_R RMQ_HF_NEED
#define RMQ_HF_BN (RMQ_HF_BOXED | RMQ_HF_NOTNULL)
#define RMQ_HF_NR (RMQ_HF_NOTNULL | RMQ_HF_NEED)
#define RMQ_HF_BNR (RMQ_HF_BOXED | RMQ_HF_NOTNULL | RMQ_HF_NEED)
#define RMQ_HF_0 0

/* Field lists: F(header, field, V2 name or NULL, type, flags, default).
 * The default is what Comet uses when the field is unset: Java's initial
 * value for primitives, and for boxed fields the meaning the processor gives
 * to null (documented per field). Order = Java's declaration order (the
 * FastCodesHeader decode order, which decides which NumberFormatException
 * is reported first). */

/* SendMessageRequestHeader (10) / SendMessageRequestHeaderV2 (310, 320).
 * producerGroup is read by send hooks only (none by default). topic null:
 * "The specified topic is blank.". defaultTopic, defaultTopicQueueNums:
 * needed only to auto-create the topic. queueId, sysFlag, bornTimestamp,
 * flag: unboxed on every path (checked in order by the send processor, after
 * the topic checks, as Java). reconsumeTimes null = 0, maxReconsumeTimes
 * null = the group's retryMaxTimes. */
#define RMQ_HDR_SEND_FIELDS(F)                                                                               \
    F(SEND, producerGroup, "a", RMQ_HT_STRING, RMQ_HF_N, 0)                                                  \
    F(SEND, topic, "b", RMQ_HT_STRING, RMQ_HF_N, 0)                                                          \
    F(SEND, defaultTopic, "c", RMQ_HT_STRING, RMQ_HF_N, 0)                                                   \
    F(SEND, defaultTopicQueueNums, "d", RMQ_HT_INT, RMQ_HF_BN, 0)                                            \
    F(SEND, queueId, "e", RMQ_HT_INT, RMQ_HF_BN, 0)                                                          \
    F(SEND, sysFlag, "f", RMQ_HT_INT, RMQ_HF_BN, 0)                                                          \
    F(SEND, bornTimestamp, "g", RMQ_HT_LONG, RMQ_HF_BN, 0)                                                   \
    F(SEND, flag, "h", RMQ_HT_INT, RMQ_HF_BN, 0)                                                             \
    F(SEND, properties, "i", RMQ_HT_STRING, RMQ_HF_0, 0)                                                     \
    F(SEND, reconsumeTimes, "j", RMQ_HT_INT, RMQ_HF_B, 0)                                                    \
    F(SEND, unitMode, "k", RMQ_HT_BOOL, RMQ_HF_0, 0)                                                         \
    F(SEND, maxReconsumeTimes, "l", RMQ_HT_INT, RMQ_HF_B, 0)                                                 \
    F(SEND, batch, "m", RMQ_HT_BOOL, RMQ_HF_0, 0)                                                            \
    F(SEND, bname, "n", RMQ_HT_STRING, RMQ_HF_0, 0)

/* PullMessageRequestHeader (11, FastCodesHeader). commitOffset: needed when
 * the commit-offset flag is set; suspendTimeoutMillis: with the suspend
 * flag; subVersion: unless the request carries a TAG subscription.
 * subscription null = "*", expressionType null = TAG. */
#define RMQ_HDR_PULL_FIELDS(F)                                                                               \
    F(PULL, consumerGroup, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                                \
    F(PULL, topic, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                                        \
    F(PULL, queueId, NULL, RMQ_HT_INT, RMQ_HF_BNR, 0)                                                        \
    F(PULL, queueOffset, NULL, RMQ_HT_LONG, RMQ_HF_BNR, 0)                                                   \
    F(PULL, maxMsgNums, NULL, RMQ_HT_INT, RMQ_HF_BNR, 0)                                                     \
    F(PULL, sysFlag, NULL, RMQ_HT_INT, RMQ_HF_BNR, 0)                                                        \
    F(PULL, commitOffset, NULL, RMQ_HT_LONG, RMQ_HF_BN, 0)                                                   \
    F(PULL, suspendTimeoutMillis, NULL, RMQ_HT_LONG, RMQ_HF_BN, 0)                                           \
    F(PULL, subscription, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)                                                  \
    F(PULL, subVersion, NULL, RMQ_HT_LONG, RMQ_HF_BN, 0)                                                     \
    F(PULL, expressionType, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)                                                \
    F(PULL, bname, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)

/* ConsumerSendMsgBackRequestHeader (36). offset and delayLevel are unboxed
 * only after the group checks (a group with retryQueueNums 0 answers
 * SUCCESS first). maxReconsumeTimes null = the group's retryMaxTimes. */
#define RMQ_HDR_SEND_BACK_FIELDS(F)                                                                          \
    F(SEND_BACK, offset, NULL, RMQ_HT_LONG, RMQ_HF_BN, 0)                                                    \
    F(SEND_BACK, group, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                                   \
    F(SEND_BACK, delayLevel, NULL, RMQ_HT_INT, RMQ_HF_BN, 0)                                                 \
    F(SEND_BACK, originMsgId, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)                                              \
    F(SEND_BACK, originTopic, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)                                              \
    F(SEND_BACK, unitMode, NULL, RMQ_HT_BOOL, RMQ_HF_0, 0)                                                   \
    F(SEND_BACK, maxReconsumeTimes, NULL, RMQ_HT_INT, RMQ_HF_B, 0)                                           \
    F(SEND_BACK, bname, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)

/* QueryMessageRequestHeader (12). topic/key null: Java looks up the key
 * "null#null" (string concatenation), so Comet reads them as "null".
 * maxNum is not needed for a _UNIQUE_KEY_QUERY=true request. */
#define RMQ_HDR_QUERY_MESSAGE_FIELDS(F)                                                                      \
    F(QUERY_MESSAGE, topic, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                                \
    F(QUERY_MESSAGE, key, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                                  \
    F(QUERY_MESSAGE, maxNum, NULL, RMQ_HT_INT, RMQ_HF_BN, 0)                                                 \
    F(QUERY_MESSAGE, beginTimestamp, NULL, RMQ_HT_LONG, RMQ_HF_BNR, 0)                                       \
    F(QUERY_MESSAGE, endTimestamp, NULL, RMQ_HT_LONG, RMQ_HF_BNR, 0)

/* ViewMessageRequestHeader (33). */
#define RMQ_HDR_VIEW_MESSAGE_FIELDS(F) F(VIEW_MESSAGE, offset, NULL, RMQ_HT_LONG, RMQ_HF_BNR, 0)

/* QueryConsumerOffsetRequestHeader (14), UpdateConsumerOffsetRequestHeader
 * (15). Java reads and writes offsets of a null group or topic under the key
 * "<topic>@null" / "null@<group>"; Comet refuses them. */
#define RMQ_HDR_QUERY_OFFSET_FIELDS(F)                                                                       \
    F(QUERY_OFFSET, consumerGroup, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                        \
    F(QUERY_OFFSET, topic, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                                \
    F(QUERY_OFFSET, queueId, NULL, RMQ_HT_INT, RMQ_HF_BNR, 0)                                                \
    F(QUERY_OFFSET, bname, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)
#define RMQ_HDR_UPDATE_OFFSET_FIELDS(F)                                                                      \
    F(UPDATE_OFFSET, consumerGroup, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                       \
    F(UPDATE_OFFSET, topic, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                               \
    F(UPDATE_OFFSET, queueId, NULL, RMQ_HT_INT, RMQ_HF_BNR, 0)                                               \
    F(UPDATE_OFFSET, commitOffset, NULL, RMQ_HT_LONG, RMQ_HF_BNR, 0)                                         \
    F(UPDATE_OFFSET, bname, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)

/* Get{Max,Min}OffsetRequestHeader (30, 31),
 * GetEarliestMsgStoretimeRequestHeader (32), SearchOffsetRequestHeader (29). */
#define RMQ_HDR_QUEUE_FIELDS(F)                                                                              \
    F(QUEUE, topic, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                                       \
    F(QUEUE, queueId, NULL, RMQ_HT_INT, RMQ_HF_BNR, 0)                                                       \
    F(QUEUE, bname, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)
#define RMQ_HDR_SEARCH_OFFSET_FIELDS(F)                                                                      \
    F(SEARCH_OFFSET, topic, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                               \
    F(SEARCH_OFFSET, queueId, NULL, RMQ_HT_INT, RMQ_HF_BNR, 0)                                               \
    F(SEARCH_OFFSET, timestamp, NULL, RMQ_HT_LONG, RMQ_HF_BNR, 0)                                            \
    F(SEARCH_OFFSET, bname, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)

/* CreateTopicRequestHeader (17). topic null: "The specified topic is
 * blank."; topicFilterType is checked by checkFields (SINGLE_TAG/MULTI_TAG);
 * defaultTopic and order are not used by the broker. */
#define RMQ_HDR_CREATE_TOPIC_FIELDS(F)                                                                       \
    F(CREATE_TOPIC, topic, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                                 \
    F(CREATE_TOPIC, defaultTopic, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                          \
    F(CREATE_TOPIC, readQueueNums, NULL, RMQ_HT_INT, RMQ_HF_BNR, 0)                                          \
    F(CREATE_TOPIC, writeQueueNums, NULL, RMQ_HT_INT, RMQ_HF_BNR, 0)                                         \
    F(CREATE_TOPIC, perm, NULL, RMQ_HT_INT, RMQ_HF_BNR, 0)                                                   \
    F(CREATE_TOPIC, topicFilterType, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                       \
    F(CREATE_TOPIC, topicSysFlag, NULL, RMQ_HT_INT, RMQ_HF_B, 0)                                             \
    F(CREATE_TOPIC, order, NULL, RMQ_HT_BOOL, RMQ_HF_BN, 0)

/* Headers of one name: DeleteTopicRequestHeader (215, topic null: "blank"),
 * GetTopicStatsInfoRequestHeader (202), QueryTopicConsumeByWhoRequestHeader
 * (300). */
#define RMQ_HDR_DELETE_TOPIC_FIELDS(F) F(DELETE_TOPIC, topic, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)
#define RMQ_HDR_TOPIC_FIELDS(F) F(TOPIC, topic, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)

/* DeleteSubscriptionGroupRequestHeader (207). */
#define RMQ_HDR_DELETE_GROUP_FIELDS(F)                                                                       \
    F(DELETE_GROUP, groupName, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                            \
    F(DELETE_GROUP, removeOffset, NULL, RMQ_HT_BOOL, RMQ_HF_0, 0)

/* GetConsumerConnectionListRequestHeader (203),
 * GetConsumerListByGroupRequestHeader (38). */
#define RMQ_HDR_CONSUMER_GROUP_FIELDS(F) F(CONSUMER_GROUP, consumerGroup, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)
/* GetProducerConnectionListRequestHeader (204). */
#define RMQ_HDR_PRODUCER_GROUP_FIELDS(F) F(PRODUCER_GROUP, producerGroup, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)

/* GetConsumeStatsRequestHeader (208). topic null or blank: every topic the
 * group has offsets for. */
#define RMQ_HDR_CONSUME_STATS_FIELDS(F)                                                                      \
    F(CONSUME_STATS, consumerGroup, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                       \
    F(CONSUME_STATS, topic, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)

/* GetConsumerRunningInfoRequestHeader (307). */
#define RMQ_HDR_RUNNING_INFO_FIELDS(F)                                                                       \
    F(RUNNING_INFO, consumerGroup, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                        \
    F(RUNNING_INFO, clientId, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                             \
    F(RUNNING_INFO, jstackEnable, NULL, RMQ_HT_BOOL, RMQ_HF_0, 0)

/* ResetOffsetRequestHeader (222): timestamp and isForce are primitives, so
 * a missing or unparsable one is 0 / false in Java. */
#define RMQ_HDR_RESET_OFFSET_FIELDS(F)                                                                       \
    F(RESET_OFFSET, topic, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                                \
    F(RESET_OFFSET, group, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                                \
    F(RESET_OFFSET, timestamp, NULL, RMQ_HT_LONG, RMQ_HF_N, 0)                                               \
    F(RESET_OFFSET, isForce, NULL, RMQ_HT_BOOL, RMQ_HF_N, 0)

/* UnregisterClientRequestHeader (35): Java unregisters by connection, so a
 * missing clientID is harmless. */
#define RMQ_HDR_UNREGISTER_CLIENT_FIELDS(F)                                                                  \
    F(UNREGISTER_CLIENT, clientID, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                         \
    F(UNREGISTER_CLIENT, producerGroup, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)                                    \
    F(UNREGISTER_CLIENT, consumerGroup, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)

/* EndTransactionRequestHeader (37), reflective. Java: producerGroup null
 * fails the group check ("The producer group wrong"); the three numbers are
 * unboxed (NullPointerException: SYSTEM_ERROR); msgId and transactionId are
 * only logged; fromTransactionCheck starts false. */
#define RMQ_HDR_END_TRANSACTION_FIELDS(F)                                                                    \
    F(END_TRANSACTION, bname, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)                                              \
    F(END_TRANSACTION, producerGroup, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                     \
    F(END_TRANSACTION, tranStateTableOffset, NULL, RMQ_HT_LONG, RMQ_HF_BNR, 0)                               \
    F(END_TRANSACTION, commitLogOffset, NULL, RMQ_HT_LONG, RMQ_HF_BNR, 0)                                    \
    F(END_TRANSACTION, commitOrRollback, NULL, RMQ_HT_INT, RMQ_HF_BNR, 0)                                    \
    F(END_TRANSACTION, fromTransactionCheck, NULL, RMQ_HT_BOOL, RMQ_HF_B, 0)                                 \
    F(END_TRANSACTION, msgId, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                              \
    F(END_TRANSACTION, transactionId, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)

/* ---- name server ---- */

/* RegisterBrokerRequestHeader (103). Java registers a broker whose names
 * are null under null keys; Comet refuses. bodyCrc32 = 0: not checked. */
#define RMQ_HDR_REGISTER_BROKER_FIELDS(F)                                                                    \
    F(REGISTER_BROKER, brokerName, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                        \
    F(REGISTER_BROKER, brokerAddr, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                        \
    F(REGISTER_BROKER, clusterName, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                       \
    F(REGISTER_BROKER, haServerAddr, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                      \
    F(REGISTER_BROKER, brokerId, NULL, RMQ_HT_LONG, RMQ_HF_BNR, 0)                                           \
    F(REGISTER_BROKER, compressed, NULL, RMQ_HT_BOOL, RMQ_HF_0, 0)                                           \
    F(REGISTER_BROKER, bodyCrc32, NULL, RMQ_HT_INT, RMQ_HF_B, 0)

/* UnRegisterBrokerRequestHeader (104). */
#define RMQ_HDR_UNREGISTER_BROKER_FIELDS(F)                                                                  \
    F(UNREGISTER_BROKER, brokerName, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                      \
    F(UNREGISTER_BROKER, brokerAddr, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                      \
    F(UNREGISTER_BROKER, clusterName, NULL, RMQ_HT_STRING, RMQ_HF_NR, 0)                                     \
    F(UNREGISTER_BROKER, brokerId, NULL, RMQ_HT_LONG, RMQ_HF_BNR, 0)

/* QueryDataVersionRequestHeader (322): Java reads brokerAddr only (null:
 * "changed", no body). */
#define RMQ_HDR_QUERY_DATA_VERSION_FIELDS(F)                                                                 \
    F(QUERY_DATA_VERSION, brokerName, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                      \
    F(QUERY_DATA_VERSION, brokerAddr, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                      \
    F(QUERY_DATA_VERSION, clusterName, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                     \
    F(QUERY_DATA_VERSION, brokerId, NULL, RMQ_HT_LONG, RMQ_HF_BN, 0)

/* GetRouteInfoRequestHeader (105): topic null: TOPIC_NOT_EXIST. */
#define RMQ_HDR_GET_ROUTE_FIELDS(F)                                                                          \
    F(GET_ROUTE, topic, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                                    \
    F(GET_ROUTE, acceptStandardJsonOnly, NULL, RMQ_HT_BOOL, RMQ_HF_B, 0)

/* GetTopicsByClusterRequestHeader (224): cluster null: empty list.
 * {Wipe,Add}WritePermOfBrokerRequestHeader (205, 327): null: 0 topics.
 * DeleteTopicFromNamesrvRequestHeader (216): topic null: nothing deleted;
 * clusterName null or empty: every cluster. */
#define RMQ_HDR_TOPICS_BY_CLUSTER_FIELDS(F) F(TOPICS_BY_CLUSTER, cluster, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)
#define RMQ_HDR_WRITE_PERM_FIELDS(F) F(WRITE_PERM, brokerName, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)
#define RMQ_HDR_DELETE_NS_TOPIC_FIELDS(F)                                                                    \
    F(DELETE_NS_TOPIC, topic, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                              \
    F(DELETE_NS_TOPIC, clusterName, NULL, RMQ_HT_STRING, RMQ_HF_0, 0)

/* {Put,Get,Delete}KVConfigRequestHeader (100, 101, 102),
 * GetKVListByNamespaceRequestHeader (219). PUT: namespace or key null:
 * SYSTEM_ERROR "namespace or key is null"; value null: the key holds null,
 * which reads as absent. GET: null = not found. DELETE: null = nothing. */
#define RMQ_HDR_KV_FIELDS(F)                                                                                 \
    F(KV, namespace, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                                       \
    F(KV, key, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)                                                             \
    F(KV, value, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)
#define RMQ_HDR_KV_LIST_FIELDS(F) F(KV_LIST, namespace, NULL, RMQ_HT_STRING, RMQ_HF_N, 0)

/* Every header: X(id, Java class, FastCodesHeader?, V2 names?, field list).
 * One Java class per row; rows that share a field list name the class of
 * the first code and list the others in the comment above the list. */
#define RMQ_HDR_LIST(X)                                                                                      \
    X(SEND, "SendMessageRequestHeader", false, false, RMQ_HDR_SEND_FIELDS)                                   \
    X(SEND_V2, "SendMessageRequestHeaderV2", true, true, RMQ_HDR_SEND_FIELDS)                                \
    X(PULL, "PullMessageRequestHeader", true, false, RMQ_HDR_PULL_FIELDS)                                    \
    X(SEND_BACK, "ConsumerSendMsgBackRequestHeader", false, false, RMQ_HDR_SEND_BACK_FIELDS)                 \
    X(QUERY_MESSAGE, "QueryMessageRequestHeader", false, false, RMQ_HDR_QUERY_MESSAGE_FIELDS)                \
    X(VIEW_MESSAGE, "ViewMessageRequestHeader", false, false, RMQ_HDR_VIEW_MESSAGE_FIELDS)                   \
    X(QUERY_OFFSET, "QueryConsumerOffsetRequestHeader", false, false, RMQ_HDR_QUERY_OFFSET_FIELDS)           \
    X(UPDATE_OFFSET, "UpdateConsumerOffsetRequestHeader", false, false, RMQ_HDR_UPDATE_OFFSET_FIELDS)        \
    X(QUEUE, "GetMaxOffsetRequestHeader", false, false, RMQ_HDR_QUEUE_FIELDS)                                \
    X(SEARCH_OFFSET, "SearchOffsetRequestHeader", false, false, RMQ_HDR_SEARCH_OFFSET_FIELDS)                \
    X(CREATE_TOPIC, "CreateTopicRequestHeader", false, false, RMQ_HDR_CREATE_TOPIC_FIELDS)                   \
    X(DELETE_TOPIC, "DeleteTopicRequestHeader", false, false, RMQ_HDR_DELETE_TOPIC_FIELDS)                   \
    X(TOPIC, "GetTopicStatsInfoRequestHeader", false, false, RMQ_HDR_TOPIC_FIELDS)                           \
    X(DELETE_GROUP, "DeleteSubscriptionGroupRequestHeader", false, false, RMQ_HDR_DELETE_GROUP_FIELDS)       \
    X(CONSUMER_GROUP, "GetConsumerConnectionListRequestHeader", false, false, RMQ_HDR_CONSUMER_GROUP_FIELDS) \
    X(PRODUCER_GROUP, "GetProducerConnectionListRequestHeader", false, false, RMQ_HDR_PRODUCER_GROUP_FIELDS) \
    X(CONSUME_STATS, "GetConsumeStatsRequestHeader", false, false, RMQ_HDR_CONSUME_STATS_FIELDS)             \
    X(RUNNING_INFO, "GetConsumerRunningInfoRequestHeader", false, false, RMQ_HDR_RUNNING_INFO_FIELDS)        \
    X(RESET_OFFSET, "ResetOffsetRequestHeader", false, false, RMQ_HDR_RESET_OFFSET_FIELDS)                   \
    X(UNREGISTER_CLIENT, "UnregisterClientRequestHeader", false, false, RMQ_HDR_UNREGISTER_CLIENT_FIELDS)    \
    X(END_TRANSACTION, "EndTransactionRequestHeader", false, false, RMQ_HDR_END_TRANSACTION_FIELDS)          \
    X(REGISTER_BROKER, "RegisterBrokerRequestHeader", false, false, RMQ_HDR_REGISTER_BROKER_FIELDS)          \
    X(UNREGISTER_BROKER, "UnRegisterBrokerRequestHeader", false, false, RMQ_HDR_UNREGISTER_BROKER_FIELDS)    \
    X(QUERY_DATA_VERSION, "QueryDataVersionRequestHeader", false, false, RMQ_HDR_QUERY_DATA_VERSION_FIELDS)  \
    X(GET_ROUTE, "GetRouteInfoRequestHeader", false, false, RMQ_HDR_GET_ROUTE_FIELDS)                        \
    X(TOPICS_BY_CLUSTER, "GetTopicsByClusterRequestHeader", false, false, RMQ_HDR_TOPICS_BY_CLUSTER_FIELDS)  \
    X(WRITE_PERM, "WipeWritePermOfBrokerRequestHeader", false, false, RMQ_HDR_WRITE_PERM_FIELDS)             \
    X(DELETE_NS_TOPIC, "DeleteTopicFromNamesrvRequestHeader", false, false, RMQ_HDR_DELETE_NS_TOPIC_FIELDS)  \
    X(KV, "PutKVConfigRequestHeader", false, false, RMQ_HDR_KV_FIELDS)                                       \
    X(KV_LIST, "GetKVListByNamespaceRequestHeader", false, false, RMQ_HDR_KV_LIST_FIELDS)

/* Header ids: RMQ_HDR_SEND, RMQ_HDR_PULL, ... */
#define RMQ_HDR_ID_(id, cls, fast, v2, list) RMQ_HDR_##id,
typedef enum { RMQ_HDR_LIST(RMQ_HDR_ID_) RMQ_HDR__COUNT } rmq_hdr_id_t;
#undef RMQ_HDR_ID_

/* Field indexes within their header: RMQ_F_SEND_topic, RMQ_F_PULL_queueId... */
#define RMQ_HDR_FIELD_ID_(h, name, v2, type, flags, dflt) RMQ_F_##h##_##name,
#define RMQ_HDR_FIELD_ENUM_(id, cls, fast, v2, list) enum { list(RMQ_HDR_FIELD_ID_) RMQ_F_##id##__N };
RMQ_HDR_FIELD_ENUM_(SEND, 0, 0, 0, RMQ_HDR_SEND_FIELDS)
RMQ_HDR_FIELD_ENUM_(PULL, 0, 0, 0, RMQ_HDR_PULL_FIELDS)
RMQ_HDR_FIELD_ENUM_(SEND_BACK, 0, 0, 0, RMQ_HDR_SEND_BACK_FIELDS)
RMQ_HDR_FIELD_ENUM_(QUERY_MESSAGE, 0, 0, 0, RMQ_HDR_QUERY_MESSAGE_FIELDS)
RMQ_HDR_FIELD_ENUM_(VIEW_MESSAGE, 0, 0, 0, RMQ_HDR_VIEW_MESSAGE_FIELDS)
RMQ_HDR_FIELD_ENUM_(QUERY_OFFSET, 0, 0, 0, RMQ_HDR_QUERY_OFFSET_FIELDS)
RMQ_HDR_FIELD_ENUM_(UPDATE_OFFSET, 0, 0, 0, RMQ_HDR_UPDATE_OFFSET_FIELDS)
RMQ_HDR_FIELD_ENUM_(QUEUE, 0, 0, 0, RMQ_HDR_QUEUE_FIELDS)
RMQ_HDR_FIELD_ENUM_(SEARCH_OFFSET, 0, 0, 0, RMQ_HDR_SEARCH_OFFSET_FIELDS)
RMQ_HDR_FIELD_ENUM_(CREATE_TOPIC, 0, 0, 0, RMQ_HDR_CREATE_TOPIC_FIELDS)
RMQ_HDR_FIELD_ENUM_(DELETE_TOPIC, 0, 0, 0, RMQ_HDR_DELETE_TOPIC_FIELDS)
RMQ_HDR_FIELD_ENUM_(TOPIC, 0, 0, 0, RMQ_HDR_TOPIC_FIELDS)
RMQ_HDR_FIELD_ENUM_(DELETE_GROUP, 0, 0, 0, RMQ_HDR_DELETE_GROUP_FIELDS)
RMQ_HDR_FIELD_ENUM_(CONSUMER_GROUP, 0, 0, 0, RMQ_HDR_CONSUMER_GROUP_FIELDS)
RMQ_HDR_FIELD_ENUM_(PRODUCER_GROUP, 0, 0, 0, RMQ_HDR_PRODUCER_GROUP_FIELDS)
RMQ_HDR_FIELD_ENUM_(CONSUME_STATS, 0, 0, 0, RMQ_HDR_CONSUME_STATS_FIELDS)
RMQ_HDR_FIELD_ENUM_(RUNNING_INFO, 0, 0, 0, RMQ_HDR_RUNNING_INFO_FIELDS)
RMQ_HDR_FIELD_ENUM_(RESET_OFFSET, 0, 0, 0, RMQ_HDR_RESET_OFFSET_FIELDS)
RMQ_HDR_FIELD_ENUM_(UNREGISTER_CLIENT, 0, 0, 0, RMQ_HDR_UNREGISTER_CLIENT_FIELDS)
RMQ_HDR_FIELD_ENUM_(END_TRANSACTION, 0, 0, 0, RMQ_HDR_END_TRANSACTION_FIELDS)
RMQ_HDR_FIELD_ENUM_(REGISTER_BROKER, 0, 0, 0, RMQ_HDR_REGISTER_BROKER_FIELDS)
RMQ_HDR_FIELD_ENUM_(UNREGISTER_BROKER, 0, 0, 0, RMQ_HDR_UNREGISTER_BROKER_FIELDS)
RMQ_HDR_FIELD_ENUM_(QUERY_DATA_VERSION, 0, 0, 0, RMQ_HDR_QUERY_DATA_VERSION_FIELDS)
RMQ_HDR_FIELD_ENUM_(GET_ROUTE, 0, 0, 0, RMQ_HDR_GET_ROUTE_FIELDS)
RMQ_HDR_FIELD_ENUM_(TOPICS_BY_CLUSTER, 0, 0, 0, RMQ_HDR_TOPICS_BY_CLUSTER_FIELDS)
RMQ_HDR_FIELD_ENUM_(WRITE_PERM, 0, 0, 0, RMQ_HDR_WRITE_PERM_FIELDS)
RMQ_HDR_FIELD_ENUM_(DELETE_NS_TOPIC, 0, 0, 0, RMQ_HDR_DELETE_NS_TOPIC_FIELDS)
RMQ_HDR_FIELD_ENUM_(KV, 0, 0, 0, RMQ_HDR_KV_FIELDS)
RMQ_HDR_FIELD_ENUM_(KV_LIST, 0, 0, 0, RMQ_HDR_KV_LIST_FIELDS)
#undef RMQ_HDR_FIELD_ENUM_
#undef RMQ_HDR_FIELD_ID_

#define RMQ_HDR_MAX_FIELDS 16

typedef struct {
    const char *name;    /* Java field name = extFields key */
    const char *v2_name; /* one-letter SendMessageRequestHeaderV2 name, or NULL */
    rmq_hdr_type_t type;
    uint8_t flags; /* RMQ_HF_* */
    int64_t dflt;  /* value when unset */
} rmq_hdr_field_t;

typedef struct {
    rmq_hdr_id_t id;
    const char *java_class;
    bool fast;     /* FastCodesHeader: an unparsable number throws */
    bool v2_names; /* keys are the fields' v2_name */
    const rmq_hdr_field_t *fields;
    size_t n;
} rmq_hdr_def_t;

const rmq_hdr_def_t *rmq_hdr_def(rmq_hdr_id_t id);
/* The extFields key of field f ("e" for SEND_V2's queueId). */
const char *rmq_hdr_key(const rmq_hdr_def_t *def, int f);
/* "Integer", "int", "String"...: the field's Java type. */
const char *rmq_hdr_java_type(const rmq_hdr_field_t *f);

/* ---- decoding ---- */

typedef enum {
    RMQ_HV_ABSENT = 0, /* no extFields entry */
    RMQ_HV_SET,        /* parsed */
    RMQ_HV_INVALID,    /* present, not parsable (reflective headers only) */
} rmq_hv_state_t;

typedef struct {
    uint8_t state; /* rmq_hv_state_t */
    const char *s; /* the entry's text (borrowed from the command) when present */
    int64_t i;     /* number, or 0/1 for booleans, when SET */
} rmq_hv_t;

typedef struct {
    const rmq_hdr_def_t *def;
    rmq_hv_t v[RMQ_HDR_MAX_FIELDS];
} rmq_hdr_t;

/* Decode cmd's extFields with header id. Returns false, with Java's
 * exception text in remark (SYSTEM_ERROR), only where Java throws while
 * decoding: a FastCodesHeader number that does not parse
 * ('java.lang.NumberFormatException: For input string: "5.0"'). Values
 * borrow from cmd. */
bool rmq_hdr_decode(rmq_hdr_t *h, rmq_hdr_id_t id, const rmq_cmd_t *cmd, char *remark, size_t n);
/* Is field f set? If not, write the SYSTEM_ERROR remark ("the custom field
 * <x> is null", or which value did not parse) and return false. */
bool rmq_hdr_need(const rmq_hdr_t *h, int f, char *remark, size_t n);
/* rmq_hdr_need for every RMQ_HF_NEED field, in order. */
bool rmq_hdr_check_needed(const rmq_hdr_t *h, char *remark, size_t n);

static inline bool rmq_hdr_has(const rmq_hdr_t *h, int f)
{
    return h->v[f].state == RMQ_HV_SET;
}
/* String value, or NULL when absent. */
static inline const char *rmq_hdr_str(const rmq_hdr_t *h, int f)
{
    return h->v[f].state == RMQ_HV_SET ? h->v[f].s : NULL;
}
/* Number/boolean value, or the field's default when unset. */
static inline int64_t rmq_hdr_i64(const rmq_hdr_t *h, int f)
{
    return h->v[f].state == RMQ_HV_SET ? h->v[f].i : h->def->fields[f].dflt;
}
static inline int32_t rmq_hdr_i32(const rmq_hdr_t *h, int f)
{
    return (int32_t)rmq_hdr_i64(h, f);
}
static inline bool rmq_hdr_bool(const rmq_hdr_t *h, int f)
{
    return rmq_hdr_i64(h, f) != 0;
}

#endif
