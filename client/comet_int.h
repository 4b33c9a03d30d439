/* comet_int.h - private types of libcomet (never installed).
 *
 * Prefix cm_ for internal functions. Thread annotations:
 *   @thread io      the instance's I/O thread (owns the event_base and connections)
 *   @thread service the instance's service thread (routes, heartbeats, rebalance, persistence)
 *   @thread any     any thread; takes the lock named in @locks */
#ifndef COMET_INT_H
#define COMET_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "comet/comet.h"
#include "rmq_alloc.h" /* every allocation: aborts on OOM (the policy in comet.h) */
#include "rmq_buf.h"
#include "rmq_cmd.h"
#include "rmq_err.h"
#include "rmq_log.h"
#include "rmq_msg_codec.h"
#include "rmq_topic.h"
#include "rmq_tls.h"

/* ------------------------------------------------------------------ */
/* conf.c                                                              */

typedef enum { CM_CLUSTERING = 0, CM_BROADCASTING = 1 } cm_message_model_t;
typedef enum {
    CM_FROM_LAST_OFFSET = 0,
    CM_FROM_FIRST_OFFSET,
    CM_FROM_TIMESTAMP,
    CM_FROM_LAST_OFFSET_AND_FROM_MIN_WHEN_BOOT_FIRST,
    CM_FROM_MIN_OFFSET,
    CM_FROM_MAX_OFFSET,
} cm_consume_from_t;
typedef enum { CM_SERIALIZE_JSON = 0, CM_SERIALIZE_ROCKETMQ = 1 } cm_serialize_t;
/* Java's names of cm_consume_from_t values (ConsumeFromWhere) */
extern const char *const cm_consume_from_names[];

typedef struct cm_settings_s {
    char *namesrvAddr;
    char *instanceName;
    char *clientIP;
    char *unitName;
    char *producerGroup;
    char *consumerGroup;
    char *createTopicKey;
    cm_message_model_t messageModel;
    cm_consume_from_t consumeFromWhere;
    char *consumeTimestamp;
    char *localOffsetStoreDir;
    int logLevel; /* RMQ_LOG_* */
    cm_serialize_t serializeType;
    int32_t sendMsgTimeout;
    int32_t retryTimesWhenSendFailed;
    int32_t retryTimesWhenSendAsyncFailed;
    bool retryAnotherBrokerWhenNotStoreOK;
    bool sendLatencyFaultEnable;
    int32_t compressMsgBodyOverHowmuch;
    int32_t compressLevel;
    int32_t maxMessageSize;
    int32_t defaultTopicQueueNums;
    int32_t maxOutstandingAsync;
    int32_t pollNameServerInterval;
    int32_t heartbeatBrokerInterval;
    int32_t persistConsumerOffsetInterval;
    int32_t mqClientApiTimeout;
    int32_t rebalanceInterval;
    int32_t consumeThreadMin;
    int32_t consumeThreadMax;
    int32_t pullThresholdForQueue;
    int32_t pullThresholdSizeForQueue;
    int32_t consumeConcurrentlyMaxSpan;
    int32_t pullBatchSize;
    int32_t pullInterval;
    int32_t consumeMessageBatchMaxSize;
    int32_t maxReconsumeTimes;
    int32_t brokerSuspendMaxTimeMillis;
    int32_t consumerPullTimeoutMillis;
    int32_t pullTimeDelayMillsWhenException;
    bool postSubscriptionWhenPull;
    bool consumeOrderly;
    int32_t pollQueueMaxSize;
    char *accessKey; /* ACL (security.c) */
    char *secretKey;
    char *securityToken;
    rmq_tls_conf_t tls; /* useTLS / tls.* (security.c) */
} cm_settings_t;

struct comet_conf_s {
    cm_settings_t s;
    void *opaque;
    void (*log_cb)(void *opaque, int level, const char *facility, const char *msg);
    comet_send_cb_t *send_cb;
    comet_txn_execute_cb_t *txn_execute_cb; /* transaction.c */
    comet_txn_check_cb_t *txn_check_cb;
};

/* ------------------------------------------------------------------ */
/* message.c                                                           */

struct comet_message_s {
    char *topic;
    const uint8_t *body;
    size_t body_len;
    bool body_owned;
    int32_t flag;
    rmq_msg_props_t props;
};

/* A received message. Decoded from a pull answer it is a view into that
 * answer's body (cm_rxbatch_t): topic, body, property keys and values and
 * the UNIQ_KEY msg id point into the body, NUL-terminated in place, and the
 * message struct itself lives in the batch's one allocation; destroying it
 * drops one reference to the batch. Standalone messages (batch NULL: dup,
 * check-back records) own topic, real_topic, body, props and strs. */
struct comet_message_ext_s {
    char *topic;
    uint8_t *body; /* a NUL byte follows body_len bytes */
    size_t body_len;
    rmq_msg_props_t props;
    const char *msg_id;      /* UNIQ_KEY, else offset_msg_id */
    const char *broker_name; /* never NULL */
    char offset_msg_id[COMET_MSGID_MAX];
    int32_t queue_id;
    int64_t queue_offset;
    int64_t commitlog_offset;
    int64_t born_ts;
    int64_t store_ts;
    int32_t reconsume_times;
    int32_t flag;
    int32_t sys_flag;
    char *real_topic; /* topic as stored (%RETRY%... for retried messages) */
    struct cm_rxbatch_s *batch;
    bool body_owned;  /* batch message: body inflated on the heap (freed with the batch) */
    bool undecodable; /* batch message whose compressed body did not inflate */
    char *strs;       /* standalone: msg_id and broker_name */
};

/* Build a standalone received message from a decoded record (copies). NULL
 * if the body cannot be inflated. */
comet_message_ext_t *cm_message_ext_from_rec(const rmq_msg_rec_t *rec, const char *broker_name);

/* The messages of one PULL answer, decoded in place (no copy per message):
 * one allocation holds the messages and their property tables; the body
 * stays the answer's. Reference-counted: the decoder holds one reference,
 * each message handed out one more (cm_rxbatch_hold before handing k of
 * them out); comet_message_ext_destroy of a batch message drops its
 * reference, and the last one frees the batch. Any thread. */
typedef struct cm_rxbatch_s cm_rxbatch_t;
/* Decode body (heap, len bytes, or NULL and 0; taken in every case: freed on failure, may
 * be reallocated) of records from broker_name; MIN_OFFSET / MAX_OFFSET
 * properties min_off / max_off are added to every message (as Java's
 * PullAPIWrapper does). NULL when a record is malformed. */
cm_rxbatch_t *cm_rxbatch_decode(uint8_t *body, size_t len, const char *broker_name, int64_t min_off,
                                int64_t max_off);
size_t cm_rxbatch_count(const cm_rxbatch_t *b);
/* Message i (borrowed from the batch until held and handed out); its
 * `undecodable` is set when its compressed body does not inflate. */
comet_message_ext_t *cm_rxbatch_msg(cm_rxbatch_t *b, size_t i);
void cm_rxbatch_hold(cm_rxbatch_t *b, size_t k);
void cm_rxbatch_release(cm_rxbatch_t *b);

/* Unique message key (MessageClientIDSetter layout), 32 hex chars + NUL. */
void cm_uniq_key(char out[33]);
/* Properties string for sending (user props + TAGS/KEYS + UNIQ_KEY + WAIT). */
void cm_message_encode_props(const comet_message_t *m, const char *uniq, rmq_buf_t *out);

/* ------------------------------------------------------------------ */
/* route.c                                                             */

#define CM_PERM_READ 0x4
#define CM_PERM_WRITE 0x2

typedef struct cm_queue_data_s {
    char *broker_name;
    int32_t read_queue_nums;
    int32_t write_queue_nums;
    int32_t perm;
    int32_t topic_sys_flag;
} cm_queue_data_t;

typedef struct cm_broker_addr_s {
    int64_t id;
    char *addr;
} cm_broker_addr_t;

typedef struct cm_broker_data_s {
    char *cluster;
    char *broker_name;
    cm_broker_addr_t *addrs;
    size_t naddrs;
} cm_broker_data_t;

typedef struct cm_mq_s {
    const char *topic;       /* borrowed from the route */
    const char *broker_name; /* borrowed from the route */
    int32_t queue_id;
} cm_mq_t;

typedef struct cm_route_s {
    _Atomic int refs;
    char *topic;
    char *order_topic_conf;
    cm_queue_data_t *qds;
    size_t nqds;
    cm_broker_data_t *bds;
    size_t nbds;
    /* derived */
    cm_mq_t *pub; /* writable queues (TopicPublishInfo), sorted by broker name */
    size_t npub;
    cm_mq_t *sub; /* readable queues, sorted (topic, broker, queue id) */
    size_t nsub;
} cm_route_t;

/* Parse a TopicRouteData body (fastjson unquoted-int-key style or standard
 * JSON) for `topic`. NULL with errstr on failure. refs = 1. */
cm_route_t *cm_route_parse(const char *topic, const char *json, size_t len, char *errstr, size_t errstr_size);
void cm_route_hold(cm_route_t *r);
void cm_route_release(cm_route_t *r);
/* Address of broker_name's master (id 0) or NULL; borrowed from r. */
const char *cm_route_master_addr(const cm_route_t *r, const char *broker_name);
/* Any address (master preferred). */
const char *cm_route_any_addr(const cm_route_t *r, const char *broker_name);
int cm_mq_cmp(const cm_mq_t *a, const cm_mq_t *b);

/* ------------------------------------------------------------------ */
/* fault.c - MQFaultStrategy / LatencyFaultToleranceImpl               */

typedef struct cm_fault_item_s {
    char name[COMET_NAME_MAX];
    int64_t latency;
    int64_t start_ts; /* available again at this (monotonic ms) */
} cm_fault_item_t;

typedef struct cm_fault_s {
    pthread_mutex_t lock;
    cm_fault_item_t *items;
    size_t n, cap;
} cm_fault_t;

void cm_fault_init(cm_fault_t *f);
void cm_fault_deinit(cm_fault_t *f);
/* notAvailableDuration for a latency (the docs/protocol.md §7.2 table). */
int64_t cm_fault_duration(int64_t latency_ms);
/* After an attempt: isolation (exception) counts as 30000 ms. */
void cm_fault_update(cm_fault_t *f, const char *broker, int64_t latency_ms, bool isolation, int64_t now_ms);
bool cm_fault_available(cm_fault_t *f, const char *broker, int64_t now_ms);
/* One broker of the better half (sorted by available, latency, start);
 * false if the table is empty. */
bool cm_fault_pick_one(cm_fault_t *f, int64_t now_ms, uint32_t rnd, char *out, size_t out_size);
/* Queue selection (TopicPublishInfo.selectOneMessageQueue / MQFaultStrategy).
 * `counter` is incremented. last_broker may be NULL. Returns an index into
 * r->pub (or -1 when there is none); with fault enabled and every broker out,
 * *alt_queue_id receives the queue id to use on the chosen broker (else -1). */
int cm_select_queue(const cm_route_t *r, _Atomic uint32_t *counter, const char *last_broker,
                    bool fault_enable, cm_fault_t *f, int64_t now_ms, char *alt_broker, size_t alt_size,
                    int32_t *alt_queue_id);

/* ------------------------------------------------------------------ */
/* rebalance.c - AllocateMessageQueueAveragely                         */

/* cids must be sorted (strcmp order), mqs sorted (cm_mq_cmp). Fills out[]
 * with indexes into mqs; returns how many (0 if me is not in cids). */
size_t cm_allocate_averagely(size_t nmqs, const char *const *cids, size_t ncids, const char *me, size_t *out);
void cm_sort_strings(char **v, size_t n);
void cm_sort_mqs(cm_mq_t *v, size_t n);

/* ------------------------------------------------------------------ */
/* instance.c - MQClientInstance                                       */

typedef struct cm_instance_s cm_instance_t;

/* Response callback. @thread io. resp borrowed; NULL when err != 0. */
typedef void (*cm_resp_cb_t)(cm_instance_t *inst, rmq_err_t err, rmq_cmd_t *resp, void *arg);
typedef void (*cm_task_fn_t)(void *arg);

typedef struct cm_role_s {
    /* heartbeat body parts, called on the service thread */
    void (*producer_data)(void *ctx, rmq_buf_t *json_array_items); /* unused hook */
    void (*on_service_tick)(void *ctx, int64_t now_ms, bool rebalance_now);
    void (*on_notify_ids_changed)(void *ctx);
    /* CHECK_TRANSACTION_STATE (@thread io): request and peer address, borrowed */
    void (*on_check_transaction)(void *ctx, const rmq_cmd_t *req, const char *peer);
    /* RESET_CONSUMER_CLIENT_OFFSET (@thread io): the request, borrowed */
    void (*on_reset_offset)(void *ctx, const rmq_cmd_t *req);
    void (*consumer_heartbeat)(void *ctx, void *jw); /* writes one ConsumerData object */
    void *ctx;
    const char *producer_group; /* NULL if not a producer */
} cm_role_t;

/* A handle's instance: settings, log callback and opaque come from conf,
 * which must outlive the instance. */
cm_instance_t *cm_instance_new(const comet_conf_t *conf, char *errstr, size_t errstr_size);
/* The instance a producer (or consumer) handle starts with: NULL, with
 * "NULL conf" or "producerGroup (consumerGroup) is empty" in errstr, when
 * there is no conf or its group is not set. */
cm_instance_t *cm_instance_for_group(const comet_conf_t *conf, bool producer, char *errstr,
                                     size_t errstr_size);
void cm_instance_set_role(cm_instance_t *inst, const cm_role_t *role);
/* Start a JSON body: b initialised, w writing into it, the top-level object
 * open (the caller closes it). Any thread. */
struct rmq_jw_s;
void cm_json_body_begin(struct rmq_jw_s *w, rmq_buf_t *b);
rmq_err_t cm_instance_start(cm_instance_t *inst, char *errstr, size_t errstr_size);
/* Unregister (groups from the role), stop threads. */
void cm_instance_stop(cm_instance_t *inst, const char *producer_group, const char *consumer_group);
void cm_instance_destroy(cm_instance_t *inst);
const char *cm_instance_client_id(const cm_instance_t *inst);
const cm_settings_t *cm_instance_settings(const cm_instance_t *inst);
/* The handle's logger: its own threads use it implicitly (rmq_log); code on
 * an application thread logs through it with cm_log. */
rmq_logger_t *cm_instance_logger(cm_instance_t *inst);
#define cm_log(inst, lvl, fac, ...) rmq_logger_log(cm_instance_logger(inst), lvl, fac, __VA_ARGS__)

/* security.c: TLS context for the instance's connections (o->tls; *tls to
 * free after the endpoint) and the ACL signing hook. */
struct rmq_endpoint_opts_s;
struct rmq_endpoint_s;
bool cm_security_setup(const cm_settings_t *s, struct rmq_endpoint_opts_s *o, rmq_tls_t **tls, char *errstr,
                       size_t n);
/* Installs the signing send hook when ACL is configured; true then. */
bool cm_security_install(struct rmq_endpoint_s *ep, const cm_settings_t *s);
/* Sign req as the hook would (frames encoded off the I/O thread). @thread any */
void cm_security_sign(rmq_cmd_t *req, const cm_settings_t *s);
bool cm_instance_on_io(const cm_instance_t *inst);
bool cm_instance_stopping(const cm_instance_t *inst);

/* Run fn(arg) on the I/O thread (after delay_ms when > 0). @thread any */
void cm_post(cm_instance_t *inst, int delay_ms, cm_task_fn_t fn, void *arg);
/* Run fn(arg) on the callback thread. @thread any */
void cm_post_callback(cm_instance_t *inst, cm_task_fn_t fn, void *arg);
/* Async request: takes req; cb runs on the I/O thread exactly once. @thread any */
void cm_request(cm_instance_t *inst, const char *addr, rmq_cmd_t *req, int timeout_ms, cm_resp_cb_t cb,
                void *arg);
/* Blocking request; *resp filled on RMQ_OK (caller rmq_cmd_deinit). @thread not io */
rmq_err_t cm_request_sync(cm_instance_t *inst, const char *addr, rmq_cmd_t *req, int timeout_ms,
                          rmq_cmd_t *resp);
/* The same taking req (heap, rmq_cmd_new): no copy. @thread not io */
rmq_err_t cm_request_sync_owned(cm_instance_t *inst, const char *addr, rmq_cmd_t *req, int timeout_ms,
                                rmq_cmd_t *resp);
/* A request encoded on the calling thread (the hot paths: sends): header
 * and body in one allocation, the opaque taken at encoding, signed there
 * when ACL is on; the I/O thread only queues it (no copy, no encoding). */
typedef struct cm_frame_s {
    uint8_t *data; /* heap; taken by cm_request_frame* */
    size_t len;
    int32_t opaque;
} cm_frame_t;
/* Encode cmd (its extFields; body given separately) into out. cmd's
 * opaque, serialize type and flags are set here. @thread any */
void cm_frame_encode(cm_instance_t *inst, rmq_cmd_t *cmd, const void *body, size_t body_len, cm_frame_t *out);
/* Requests use the binary ROCKETMQ header and are not signed: senders may
 * write their frames directly. */
bool cm_instance_plain_binary(const cm_instance_t *inst);
/* The SEND_MESSAGE_V2 / SEND_BATCH_MESSAGE frame with a binary header,
 * written field by field: byte for byte what cm_send_cmd_new encoded with
 * RMQ_SERIALIZE_ROCKETMQ gives (tested), without building the command. */
void cm_send_frame_binary(const cm_settings_t *s, int code, int32_t opaque, const char *topic, int32_t qid,
                          int32_t sys_flag, int64_t born, int32_t flag, const char *props, bool batch,
                          const char *broker, const void *body, size_t body_len, cm_frame_t *out);
/* cm_request / cm_request_sync for a frame (taken). */
void cm_request_frame(cm_instance_t *inst, const char *addr, cm_frame_t *frame, int timeout_ms,
                      cm_resp_cb_t cb, void *arg);
rmq_err_t cm_request_frame_sync(cm_instance_t *inst, const char *addr, cm_frame_t *frame, int timeout_ms,
                                rmq_cmd_t *resp);
/* Oneway: takes req. @thread any */
void cm_oneway(cm_instance_t *inst, const char *addr, rmq_cmd_t *req);
/* Wait (up to timeout_ms) while more than `limit` oneway bytes are unsent;
 * false on timeout. @thread not io */
bool cm_oneway_wait(cm_instance_t *inst, const char *addr, size_t limit, int timeout_ms);
/* Request to the name servers with failover. @thread not io */
rmq_err_t cm_namesrv_request_sync(cm_instance_t *inst, rmq_cmd_t *req, int timeout_ms, rmq_cmd_t *resp);

/* Route cache. cm_route_get returns a held route or NULL (release it).
 * fetch: query the name servers when not cached (blocking; not on io). */
cm_route_t *cm_route_get(cm_instance_t *inst, const char *topic, bool fetch, rmq_err_t *err, char *errstr,
                         size_t errstr_size);
/* Public copies of topic's readable (sub) or writable (pub) queues, the
 * route fetched when not cached (blocking): *mqs an array the caller frees
 * (never NULL, even for *cnt = 0). */
rmq_err_t cm_route_public_queues(cm_instance_t *inst, const char *topic, bool readable,
                                 comet_message_queue_t **mqs, size_t *cnt);
/* Re-query now (e.g. after a send failure); blocking. */
rmq_err_t cm_route_refresh(cm_instance_t *inst, const char *topic);
/* Address of a broker's master from any cached route (copied into out). */
bool cm_broker_master_addr(cm_instance_t *inst, const char *broker_name, char *out, size_t out_size);
bool cm_broker_any_addr(cm_instance_t *inst, const char *broker_name, char *out, size_t out_size);
/* Every address of a broker group (id and address, copies: free each addr
 * and the array) from the first cached route that has it. */
bool cm_broker_addrs(cm_instance_t *inst, const char *broker_name, cm_broker_addr_t **out, size_t *n);

/* read_addr.c: where a consumer reads a broker group from */
/* The suggested broker id if in the route and answering, else the master,
 * else a slave; addresses that failed in the last seconds are passed over
 * while another one exists. *slave: the pick is not the master. */
bool cm_read_addr(cm_instance_t *inst, const char *broker_name, int64_t want_id, char *out, size_t out_size,
                  bool *slave);
/* A request to addr failed in transport (connect, timeout): avoid it for a
 * few seconds; cm_addr_ok forgets that once it answers again. @thread any */
void cm_addr_failed(const char *addr);
void cm_addr_ok(const char *addr);
/* Ask the service thread to run its tick now (rebalance). @thread any */
void cm_instance_kick(cm_instance_t *inst);
/* Refresh every cached route soon (after a send failure). @thread any */
void cm_instance_want_route_refresh(cm_instance_t *inst);
/* Heartbeat all brokers soon (a broker forgot our subscription). @thread any */
void cm_instance_want_heartbeat(cm_instance_t *inst);
/* Send heartbeats to all brokers now (blocking). @thread not io */
void cm_instance_heartbeat_now(cm_instance_t *inst);

/* HeartbeatData JSON of this instance (its role's groups and subscriptions). */
void cm_heartbeat_body(cm_instance_t *inst, rmq_buf_t *b);
/* Request builders (exposed for the golden-frame tests). */
rmq_cmd_t *cm_send_cmd_new(const cm_settings_t *s, int code, const char *topic, int32_t qid, int32_t sys_flag,
                           int64_t born, int32_t flag, const char *props, bool batch, const char *broker,
                           const void *body, size_t body_len);
rmq_cmd_t *cm_pull_cmd_new(const char *group, const char *topic, int32_t qid, int64_t offset,
                           int32_t max_msgs, int sys_flag, int64_t commit_offset, int64_t suspend_ms,
                           const char *subscription, int64_t sub_version, const char *broker);

/* transaction.c (a producer's transactional side) */
cm_instance_t *cm_producer_instance(comet_producer_t *p);
const comet_conf_t *cm_producer_conf(comet_producer_t *p);
/* Heartbeat all brokers soon, the first time only (a new transactional
 * producer). */
void cm_producer_txn_heartbeat_once(comet_producer_t *p);
void cm_txn_on_check(void *producer, const rmq_cmd_t *req, const char *peer);
/* END_TRANSACTION as Java's client writes it (exposed for the golden-frame
 * tests); transaction_id/bname NULL when absent. */
rmq_cmd_t *cm_end_txn_cmd_new(const char *group, const char *bname, int64_t clog_offset, const char *msg_id,
                              int64_t tran_offset, int commit_or_rollback, const char *transaction_id,
                              bool from_check, const char *remark);

/* helpers */
/* Copy src into dst[n] (truncated, always terminated): snprintf("%s")
 * without the format machinery, for the send path. */
static inline void cm_strcpy(char *dst, size_t n, const char *src)
{
    size_t l = strnlen(src, n - 1);
    memcpy(dst, src, l);
    dst[l] = '\0';
}
void cm_errstr(char *errstr, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* A second start of a handle: COMET_ERR__STATE, "already started" in errstr. */
comet_err_t cm_already_started(char *errstr, size_t n);
void cm_set_ext_i64(rmq_cmd_t *c, const char *k, int64_t v);
/* The name of enum value v in names[] (indexed by value, designated
 * initialisers), or fallback when v is out of the table or has no name. */
#define CM_NAMES_LEN(names) (sizeof(names) / sizeof((names)[0]))
static inline const char *cm_enum_name(const char *const *names, size_t n, int v, const char *fallback)
{
    return v >= 0 && (size_t)v < n && names[v] ? names[v] : fallback;
}
/* A logger with the conf's logLevel, log callback and opaque. */
void cm_logger_init(rmq_logger_t *lg, const comet_conf_t *conf);

/* ------------------------------------------------------------------ */
/* process_queue.c                                                      */

typedef struct cm_pq_entry_s {
    int64_t offset;
    comet_message_ext_t *msg;
    bool done;
} cm_pq_entry_t;

typedef struct cm_pq_s {
    _Atomic int refs;
    pthread_mutex_t lock;
    cm_pq_entry_t *e; /* ring of entries sorted by offset */
    size_t head, len, cap;
    size_t count;       /* not done */
    size_t bytes;       /* body bytes not done */
    int64_t max_offset; /* highest offset ever added, -1 */
    _Atomic bool dropped;
} cm_pq_t;

cm_pq_t *cm_pq_new(void);
void cm_pq_hold(cm_pq_t *pq);
void cm_pq_release(cm_pq_t *pq);
/* Add messages (ascending offsets); the pq takes them. */
void cm_pq_add(cm_pq_t *pq, comet_message_ext_t **msgs, size_t n);
/* Mark these offsets consumed; returns the new safe commit offset: the
 * smallest offset still cached, or max+1 when empty; -1 if nothing was ever added. */
int64_t cm_pq_remove(cm_pq_t *pq, const int64_t *offsets, size_t n);
/* Orderly: the first `max` cached messages in offset order (still cached;
 * borrowed until removed). */
size_t cm_pq_peek_first(cm_pq_t *pq, comet_message_ext_t **out, size_t max);
/* The safe commit offset now (as cm_pq_remove returns it). */
int64_t cm_pq_commit_offset(cm_pq_t *pq);
void cm_pq_stats(cm_pq_t *pq, size_t *count, size_t *bytes, int64_t *span);
/* Free everything cached (on drop). */
void cm_pq_clear(cm_pq_t *pq);
/* A ring's growth: the len elements of `size` bytes from head of ring (cap
 * of them, freed) copied in order to the start of a new zeroed array of ncap,
 * returned. Any thread (the caller's lock guards the ring). */
void *cm_ring_grow(void *ring, size_t size, size_t head, size_t len, size_t cap, size_t ncap);

/* ------------------------------------------------------------------ */
/* offset_store.c                                                      */

typedef struct cm_offset_entry_s {
    char topic[COMET_NAME_MAX];
    char broker[COMET_NAME_MAX];
    int32_t qid;
    int64_t offset;
    int64_t committed; /* last value sent */
} cm_offset_entry_t;

typedef struct cm_offset_store_s {
    pthread_mutex_t lock;
    cm_offset_entry_t *e;
    size_t n, cap;
    bool local; /* broadcasting: file */
    char *path; /* local file */
    cm_instance_t *inst;
    char *group;
} cm_offset_store_t;

void cm_offset_store_init(cm_offset_store_t *os, cm_instance_t *inst, const char *group, bool local,
                          const char *local_dir);
void cm_offset_store_deinit(cm_offset_store_t *os);
/* Update in memory. increase_only: never move backwards. */
void cm_offset_store_update(cm_offset_store_t *os, const char *topic, const char *broker, int32_t qid,
                            int64_t off, bool increase_only);
/* In-memory offset, -1 if unknown. */
int64_t cm_offset_store_get(cm_offset_store_t *os, const char *topic, const char *broker, int32_t qid);
/* Read from the broker (or local file): >= 0 offset, -1 none, RMQ err < -1 on failure (blocking). */
int64_t cm_offset_store_read(cm_offset_store_t *os, const char *topic, const char *broker, int32_t qid);
/* Persist all changed offsets (remote: oneway UPDATE_CONSUMER_OFFSET, or
 * sync requests when sync=true; local: rewrite the file). */
void cm_offset_store_persist_all(cm_offset_store_t *os, bool sync);
void cm_offset_store_persist_one(cm_offset_store_t *os, const char *topic, const char *broker, int32_t qid,
                                 bool sync);
void cm_offset_store_remove(cm_offset_store_t *os, const char *topic, const char *broker, int32_t qid);

/* ------------------------------------------------------------------ */
/* consumer.c - the shared pull engine of push and pull consumers      */

typedef struct cm_consumer_s cm_consumer_t;

typedef struct cm_sub_s {
    char *topic;
    char *expr; /* subString */
    char **tags;
    int32_t *codes;
    size_t ntags;
    int64_t version;
} cm_sub_t;

/* Parse a tag expression into sub (FilterAPI.buildSubscriptionData). */
void cm_sub_build(cm_sub_t *sub, const char *topic, const char *expr);
void cm_sub_free(cm_sub_t *sub);
bool cm_sub_match(const cm_sub_t *sub, const char *tags);

typedef struct cm_mqstate_s {
    char topic[COMET_NAME_MAX];
    char broker[COMET_NAME_MAX];
    int32_t qid;
    cm_pq_t *pq;
    int64_t next_offset; /* next pull offset */
    uint64_t chain;      /* id of the live pull chain; older chains end themselves */
    bool locked;         /* orderly clustering: the broker lock is ours */
    int64_t lock_ts;     /* when it was last granted (monotonic ms) */
    bool orderly_busy;   /* orderly: a consume task owns this queue */
    bool assigned;
    uint64_t gen;       /* bumped on (re)assignment and seek: stale pull answers are dropped */
    int64_t suggest_id; /* broker id the last pull answer suggested (suggestWhichBrokerId) */
    cm_consumer_t *cons;
    struct cm_mqstate_s *next;
} cm_mqstate_t;

typedef struct cm_consumer_ops_s {
    /* new messages for a queue (already in pq). @thread io */
    void (*deliver)(cm_consumer_t *c, cm_mqstate_t *mq, cm_pq_t *pq, comet_message_ext_t **msgs, size_t n,
                    uint64_t gen);
    /* may we pull for mq now (flow control)? returns delay ms, 0 = now */
    int (*flow_delay)(cm_consumer_t *c, cm_mqstate_t *mq);
} cm_consumer_ops_t;

struct cm_consumer_s {
    cm_instance_t *inst;
    const cm_settings_t *s;
    char *group;
    bool broadcasting;
    bool push;                     /* CONSUME_PASSIVELY */
    bool manual_assign;            /* pull consumer with assign() */
    comet_message_queue_t *manual; /* the queues assign() named (under lock); */
    size_t nmanual;                /* one not assigned yet is tried each second */
    bool orderly;                  /* push consumer with consumeOrderly: queue locks (clustering) */
    cm_sub_t *subs;
    size_t nsubs;
    cm_offset_store_t offsets;
    pthread_mutex_t lock; /* mqs list */
    cm_mqstate_t *mqs;
    int nassigned;
    cm_consumer_ops_t ops;
    void *owner;
    _Atomic bool running;
    _Atomic int inflight; /* pulls in flight */
    int64_t last_rebalance;
    int64_t last_persist;
    int64_t last_lock;
    int64_t last_pending;      /* the last try of the manual queues not assigned yet */
    struct cm_reset_s *resets; /* offsets pushed by the broker, applied by the service thread */
};

void cm_consumer_init(cm_consumer_t *c, cm_instance_t *inst, const cm_settings_t *s, bool push, void *owner,
                      const cm_consumer_ops_t *ops);
void cm_consumer_deinit(cm_consumer_t *c);
/* A consumer handle's end (after cm_consumer_stop if it started): the instance destroyed
 * (its threads joined: nothing runs the engine any more), then the engine
 * deinit. */
void cm_consumer_destroy(cm_consumer_t *c);
rmq_err_t cm_consumer_subscribe(cm_consumer_t *c, const char *topic, const char *expr);
/* Register as the instance role and start. */
void cm_consumer_attach(cm_consumer_t *c);
/* Service-thread tick: rebalance when due or forced, persist offsets when due. */
void cm_consumer_tick(cm_consumer_t *c, int64_t now, bool force);
/* Replace the assignment with exactly these queues (pull consumer assign).
 * A queue whose start offset cannot be read now (its broker does not answer)
 * is assigned by a later tick, or at once by a seek to an offset. */
void cm_consumer_set_assignment(cm_consumer_t *c, const comet_message_queue_t *mqs, size_t n);
/* Stop pulling; drop all queues after persisting offsets (sync); then stop
 * the instance, unregistering the group. */
void cm_consumer_stop(cm_consumer_t *c);
/* Pull scheduling: continue chain `chain` of mq after delay. @thread any */
void cm_consumer_pull_later(cm_mqstate_t *mq, uint64_t chain, int delay_ms);
/* Is gen still mq's generation (no seek or reassignment since)? Takes c->lock. */
bool cm_consumer_gen_is(cm_consumer_t *c, const cm_mqstate_t *mq, uint64_t gen);
/* Messages of a queue consumed: they leave its process queue (then the
 * caller frees them). The offset store learns the new commit offset from the
 * process queues in batches (cm_consumer_sync_offsets), not per message.
 * @thread any */
void cm_consumer_consumed(cm_consumer_t *c, cm_pq_t *pq, const char *topic, const char *broker, int32_t qid,
                          const int64_t *offsets, size_t n);
/* Push consumers: copy every assigned queue's commit offset (the oldest
 * message still in flight) into the offset store; before persisting, before
 * a queue is dropped (mq) and before a pull piggy-backs it (mq). mq NULL:
 * all queues. @thread any but io for all queues */
void cm_consumer_sync_offsets(cm_consumer_t *c, cm_mqstate_t *mq);
void cm_consumer_write_heartbeat(cm_consumer_t *c, void *jw);
/* Move the next pull of a queue to offset (>= 0: the caller resolves
 * BEGINNING/END, outside its locks); a queue assign() named whose start was
 * unknown starts there. */
rmq_err_t cm_consumer_seek(cm_consumer_t *c, const char *topic, const char *broker, int32_t qid,
                           int64_t offset);
/* Orderly clustering: may mq be consumed now (locked recently enough)? */
bool cm_consumer_lock_valid(cm_consumer_t *c, cm_mqstate_t *mq, int64_t now);
/* Send a failed message back (CONSUMER_SEND_MSG_BACK), blocking. */
rmq_err_t cm_consumer_send_back(cm_consumer_t *c, const comet_message_ext_t *m, int delay_level);
/* Queue offset helpers (blocking). */
rmq_err_t cm_query_offset(cm_instance_t *inst, int code, const char *topic, const char *broker, int32_t qid,
                          int64_t ts, int64_t *out);

#endif
