/* namesrv.h - the name server process: configuration and controller. */
#ifndef NS_NAMESRV_H
#define NS_NAMESRV_H

#include <stdbool.h>
#include <stdint.h>

#include "rmq_conf.h"

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
    char *logLevel;
    char *logFile;
} ns_config_t;

extern const rmq_conf_def_t ns_conf_defs[];

typedef struct ns_server_s ns_server_t;

/* Build the server (listen socket, KV store). NULL with errstr on failure. */
ns_server_t *ns_server_new(ns_config_t *cfg, char *errstr, size_t errstr_size);
/* Run the event loop until SIGTERM/SIGINT; returns the exit code. */
int ns_server_run(ns_server_t *s);
void ns_server_destroy(ns_server_t *s);

#endif
