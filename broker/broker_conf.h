/* broker_conf.h - the broker process settings (BrokerConfig + Comet extras).
 * One table (rmq_broker_conf_defs) drives parsing, -p/-m and CONFIGURATION.md;
 * the store's own table (rmq_store_conf_defs) is loaded from the same file. */
#ifndef RMQ_BROKER_CONF_H
#define RMQ_BROKER_CONF_H

#include <stdbool.h>
#include <stdint.h>

#include "rmq_conf.h"
#include "rmq_metrics.h" /* rmq_metrics_conf_t */
#include "rmq_netguard.h"
#include "rmq_store.h"
#include "rmq_tls.h"

typedef struct rmq_broker_conf_s {
    char *rocketmqHome;
    char *namesrvAddr;
    char *brokerIP1;
    char *brokerIP2;
    char *listenAddress; /* Comet: bind address (default all) */
    char *brokerName;
    char *brokerClusterName;
    int64_t brokerId;
    int32_t listenPort;
    int32_t haListenPort;
    char *haMasterAddress;           /* slave: master's HA host:port (else from the name servers) */
    int32_t haSendHeartbeatInterval; /* ms */
    int32_t haHousekeepingInterval;  /* ms */
    int32_t haTransferBatchSize;     /* bytes per Data frame */
    int64_t haSlaveFallbehindMax;    /* bytes: a slave further behind is not in sync */
    int32_t slaveTimeout;            /* ms: SYNC_MASTER wait before FLUSH_SLAVE_TIMEOUT */
    bool haTlsEnable;                /* Comet: the replication link over TLS (tls.* material) */
    bool enableControllerMode;       /* failover through etcd (broker/controller) */
    char *etcdEndpoints;             /* http://host:port,... */
    int32_t etcdLeaseTtlSeconds;     /* s */
    char *etcdKeyPrefix;             /* keys under <prefix>/<cluster>/<group>/ */
    int32_t minInSyncReplicas;       /* in-sync set size (master included) below which writes are refused */
    bool enableElectUncleanMaster;   /* a replica outside the in-sync set may be elected */
    int32_t brokerPermission;
    int32_t defaultTopicQueueNums;
    bool autoCreateTopicEnable;
    bool clusterTopicEnable;
    bool brokerTopicEnable;
    bool autoCreateSubscriptionGroup;
    bool notifyConsumerIdsChangedEnable;
    bool longPollingEnable;
    int64_t shortPollingTimeMills;
    int32_t pullHoldCheckInterval;    /* Comet: long-poll re-check period, ms */
    int32_t registerNameServerPeriod; /* ms */
    int32_t registerBrokerTimeoutMills;
    int32_t channelExpiredTimeout;       /* client channel expiry, ms (120000) */
    int32_t clientHousekeepingInterval;  /* ms (10000) */
    int32_t flushConsumerOffsetInterval; /* ms (5000) */
    int32_t flushMetadataInterval;       /* Comet: periodic snapshot of topics/groups, ms */
    int32_t maxPendingSendRequests;      /* Comet: in-flight sends before SYSTEM_BUSY */
    int64_t maxConnectionOutputBytes;    /* Comet: per-connection unsent output bound */
    int32_t serverChannelMaxIdleTimeSeconds;
    int64_t startAcceptSendRequestTimeStamp;
    char *regionId;
    bool traceOn;
    bool slaveReadEnable;
    bool rejectTransactionMessage;
    int64_t transactionTimeOut;       /* ms before a half message is checked back (6000) */
    int32_t transactionCheckMax;      /* check-backs before TRANS_CHECK_MAX_TIME_TOPIC (15) */
    int64_t transactionCheckInterval; /* ms between check passes (60000) */
    bool enablePropertyFilter;
    bool fetchNamesrvAddrByAddressServer;
    int32_t defaultQueryMaxNum;
    int logLevel; /* RMQ_LOG_* */
    char *logFile;
    rmq_metrics_conf_t metrics; /* metrics* (RocketMQ 5 names; Comet extras marked) */
    bool aclEnable;
    char *aclPlainFile;           /* rocketmq.acl.plain.file */
    int32_t aclFileWatchInterval; /* ms */
    rmq_tls_conf_t tls;           /* tls.* (rmq_tls_*_conf_defs) */
    rmq_netguard_conf_t guard;    /* server* connection limits (rmq_netguard_conf_defs) */
} rmq_broker_conf_t;

extern const rmq_conf_def_t rmq_broker_conf_defs[];
/* The tables below apply to sub-structs of rmq_broker_conf_t (security and
 * connection limits); rmq_broker_conf_set and the printers cover them. */
void rmq_broker_conf_print(const rmq_broker_conf_t *c, FILE *out, bool important_only);
void rmq_broker_conf_print_markdown(FILE *out);

void rmq_broker_conf_init(rmq_broker_conf_t *c);
void rmq_broker_conf_deinit(rmq_broker_conf_t *c);

/* Load a broker.conf into both tables; unknown keys warn. RMQ_OK or an
 * error with errstr. */
rmq_err_t rmq_broker_conf_load(rmq_broker_conf_t *bc, rmq_store_config_t *sc, const char *path, char *errstr,
                               size_t errstr_size);
/* Set one key in whichever table knows it. */
rmq_err_t rmq_broker_conf_set(rmq_broker_conf_t *bc, rmq_store_config_t *sc, const char *key, const char *val,
                              char *errstr, size_t errstr_size);
/* Fill derived defaults (brokerIP1 autodetect, store paths under
 * rocketmqHome/~) after loading. */
void rmq_broker_conf_finish(rmq_broker_conf_t *bc, rmq_store_config_t *sc);

#endif
