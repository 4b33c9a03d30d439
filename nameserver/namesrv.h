/* namesrv.h - the name server process: configuration and controller. */
#ifndef NS_NAMESRV_H
#define NS_NAMESRV_H

#include <stdbool.h>
#include <stdint.h>

#include "rmq_conf.h"
#include "rmq_metrics.h" /* rmq_metrics_conf_t */
#include "rmq_netguard.h"
#include "rmq_tls.h"

typedef struct ns_config_s {
    /* NamesrvConfig */
    char *rocketmqHome;
    char *kvConfigPath;
    char *configStorePath;
    char *productEnvName;
    bool clusterTest;
    bool orderMessageEnable;
    /* NettyServerConfig */
    int32_t listenPort;
    int32_t serverWorkerThreads;
    int32_t serverCallbackExecutorThreads;
    int32_t serverSelectorThreads;
    int32_t serverOnewaySemaphoreValue;
    int32_t serverAsyncSemaphoreValue;
    int32_t serverChannelMaxIdleTimeSeconds;
    int32_t serverSocketSndBufSize;
    int32_t serverSocketRcvBufSize;
    bool serverPooledByteBufAllocatorEnable;
    bool useEpollNativeSelector;
    /* Comet */
    char *listenAddress;
    int64_t brokerChannelExpiredTime;
    int64_t scanNotActiveBrokerInterval;
    int32_t frameMaxLength;
    int logLevel; /* RMQ_LOG_* */
    char *logFile;
    rmq_metrics_conf_t metrics; /* metrics* (RocketMQ 5's keys; Comet extras) */
    rmq_tls_conf_t tls;         /* tls.server.* (rmq_tls_server_conf_defs, rmq_tls_common_conf_defs) */
    rmq_netguard_conf_t guard;  /* server* connection limits (rmq_netguard_conf_defs) */
} ns_config_t;

extern const rmq_conf_def_t ns_conf_defs[];

/* The whole settings set: ns_conf_defs plus the TLS and connection-limit
 * tables over cfg->tls / cfg->guard. */
void ns_config_defaults(ns_config_t *cfg);
void ns_config_free(ns_config_t *cfg);
rmq_err_t ns_config_set(ns_config_t *cfg, const char *key, const char *val, char *errstr, size_t errstr_size);
rmq_err_t ns_config_load(ns_config_t *cfg, const char *path, char *errstr, size_t errstr_size);
void ns_config_print(const ns_config_t *cfg, FILE *out, bool important_only);
void ns_config_print_markdown(FILE *out);

typedef struct ns_server_s ns_server_t;

/* Build the server (listen socket, KV store). NULL with errstr on failure. */
ns_server_t *ns_server_new(ns_config_t *cfg, char *errstr, size_t errstr_size);
/* Run the event loop until SIGTERM/SIGINT; returns the exit code. */
int ns_server_run(ns_server_t *s);
void ns_server_destroy(ns_server_t *s);

#endif
