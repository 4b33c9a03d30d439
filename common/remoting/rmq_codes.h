/* rmq_codes.h - RocketMQ request codes, named as in RequestCode.java (4.9.8).
 * Response codes are rmq_err_t values (rmq_err.h). */
#ifndef RMQ_CODES_H
#define RMQ_CODES_H

/* Each request code once, as X(NAME, value): the enum below (RMQ_REQ_NAME)
 * and rmq_req_name() are both generated from it, so every code has its name. */
#define RMQ_REQ_CODES(X)                                                                                     \
    X(SEND_MESSAGE, 10)                                                                                      \
    X(PULL_MESSAGE, 11)                                                                                      \
    X(QUERY_MESSAGE, 12)                                                                                     \
    X(QUERY_BROKER_OFFSET, 13)                                                                               \
    X(QUERY_CONSUMER_OFFSET, 14)                                                                             \
    X(UPDATE_CONSUMER_OFFSET, 15)                                                                            \
    X(UPDATE_AND_CREATE_TOPIC, 17)                                                                           \
    X(GET_ALL_TOPIC_CONFIG, 21)                                                                              \
    X(GET_TOPIC_CONFIG_LIST, 22)                                                                             \
    X(GET_TOPIC_NAME_LIST, 23)                                                                               \
    X(UPDATE_BROKER_CONFIG, 25)                                                                              \
    X(GET_BROKER_CONFIG, 26)                                                                                 \
    X(TRIGGER_DELETE_FILES, 27)                                                                              \
    X(GET_BROKER_RUNTIME_INFO, 28)                                                                           \
    X(SEARCH_OFFSET_BY_TIMESTAMP, 29)                                                                        \
    X(GET_MAX_OFFSET, 30)                                                                                    \
    X(GET_MIN_OFFSET, 31)                                                                                    \
    X(GET_EARLIEST_MSG_STORETIME, 32)                                                                        \
    X(VIEW_MESSAGE_BY_ID, 33)                                                                                \
    X(HEART_BEAT, 34)                                                                                        \
    X(UNREGISTER_CLIENT, 35)                                                                                 \
    X(CONSUMER_SEND_MSG_BACK, 36)                                                                            \
    X(END_TRANSACTION, 37)                                                                                   \
    X(GET_CONSUMER_LIST_BY_GROUP, 38)                                                                        \
    X(CHECK_TRANSACTION_STATE, 39)                                                                           \
    X(NOTIFY_CONSUMER_IDS_CHANGED, 40)                                                                       \
    X(LOCK_BATCH_MQ, 41)                                                                                     \
    X(UNLOCK_BATCH_MQ, 42)                                                                                   \
    X(GET_ALL_CONSUMER_OFFSET, 43)                                                                           \
    X(GET_ALL_DELAY_OFFSET, 45)                                                                              \
    X(CHECK_CLIENT_CONFIG, 46)                                                                               \
    X(PUT_KV_CONFIG, 100)                                                                                    \
    X(GET_KV_CONFIG, 101)                                                                                    \
    X(DELETE_KV_CONFIG, 102)                                                                                 \
    X(REGISTER_BROKER, 103)                                                                                  \
    X(UNREGISTER_BROKER, 104)                                                                                \
    X(GET_ROUTEINFO_BY_TOPIC, 105)                                                                           \
    X(GET_BROKER_CLUSTER_INFO, 106)                                                                          \
    X(UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, 200)                                                              \
    X(GET_ALL_SUBSCRIPTIONGROUP_CONFIG, 201)                                                                 \
    X(GET_TOPIC_STATS_INFO, 202)                                                                             \
    X(GET_CONSUMER_CONNECTION_LIST, 203)                                                                     \
    X(GET_PRODUCER_CONNECTION_LIST, 204)                                                                     \
    X(WIPE_WRITE_PERM_OF_BROKER, 205)                                                                        \
    X(GET_ALL_TOPIC_LIST_FROM_NAMESERVER, 206)                                                               \
    X(DELETE_SUBSCRIPTIONGROUP, 207)                                                                         \
    X(GET_CONSUME_STATS, 208)                                                                                \
    X(DELETE_TOPIC_IN_BROKER, 215)                                                                           \
    X(DELETE_TOPIC_IN_NAMESRV, 216)                                                                          \
    X(GET_KVLIST_BY_NAMESPACE, 219)                                                                          \
    X(RESET_CONSUMER_CLIENT_OFFSET, 220)                                                                     \
    X(GET_CONSUMER_STATUS_FROM_CLIENT, 221)                                                                  \
    X(INVOKE_BROKER_TO_RESET_OFFSET, 222)                                                                    \
    X(INVOKE_BROKER_TO_GET_CONSUMER_STATUS, 223)                                                             \
    X(GET_TOPICS_BY_CLUSTER, 224)                                                                            \
    X(QUERY_TOPIC_CONSUME_BY_WHO, 300)                                                                       \
    X(QUERY_CONSUME_TIME_SPAN, 303)                                                                          \
    X(GET_SYSTEM_TOPIC_LIST_FROM_NS, 304)                                                                    \
    X(GET_SYSTEM_TOPIC_LIST_FROM_BROKER, 305)                                                                \
    X(CLEAN_EXPIRED_CONSUMEQUEUE, 306)                                                                       \
    X(GET_CONSUMER_RUNNING_INFO, 307)                                                                        \
    X(QUERY_CORRECTION_OFFSET, 308)                                                                          \
    X(CONSUME_MESSAGE_DIRECTLY, 309)                                                                         \
    X(SEND_MESSAGE_V2, 310)                                                                                  \
    X(GET_UNIT_TOPIC_LIST, 311)                                                                              \
    X(GET_HAS_UNIT_SUB_TOPIC_LIST, 312)                                                                      \
    X(GET_HAS_UNIT_SUB_UNUNIT_TOPIC_LIST, 313)                                                               \
    X(CLONE_GROUP_OFFSET, 314)                                                                               \
    X(VIEW_BROKER_STATS_DATA, 315)                                                                           \
    X(CLEAN_UNUSED_TOPIC, 316)                                                                               \
    X(GET_BROKER_CONSUME_STATS, 317)                                                                         \
    X(UPDATE_NAMESRV_CONFIG, 318)                                                                            \
    X(GET_NAMESRV_CONFIG, 319)                                                                               \
    X(SEND_BATCH_MESSAGE, 320)                                                                               \
    X(QUERY_CONSUME_QUEUE, 321)                                                                              \
    X(QUERY_DATA_VERSION, 322)                                                                               \
    X(RESUME_CHECK_HALF_MESSAGE, 323)                                                                        \
    X(SEND_REPLY_MESSAGE, 324)                                                                               \
    X(SEND_REPLY_MESSAGE_V2, 325)                                                                            \
    X(PUSH_REPLY_MESSAGE_TO_CLIENT, 326)                                                                     \
    X(ADD_WRITE_PERM_OF_BROKER, 327)                                                                         \
    /* Comet extensions (no RocketMQ equivalent): 4000-4095 (below the handler table size) */                \
    X(COMET_GET_PENDING_TRANSACTIONS, 4037)

enum {
#define RMQ_REQ_ENUM(name, value) RMQ_REQ_##name = value,
    RMQ_REQ_CODES(RMQ_REQ_ENUM)
#undef RMQ_REQ_ENUM
};

/* Name of a request code ("SEND_MESSAGE_V2"), or NULL if unknown. */
const char *rmq_req_name(int code);

#endif
