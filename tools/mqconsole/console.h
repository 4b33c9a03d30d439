/* console.h - mqconsole: the web console of a Comet (or RocketMQ 4.x)
 * cluster. A separate process that talks to the name servers and brokers
 * over the remoting protocol, like mqadmin and RocketMQ Dashboard, and
 * serves a page and a JSON API over HTTP.
 *
 * Threads:
 *   main     settings, start, waits for SIGTERM/SIGINT, stops everything;
 *   Poller   every pollIntervalMs: cluster, brokers, topics, groups into a
 *            snapshot (JSON blobs) and the history ring (poller.c);
 *   Worker-N requests that need the cluster now (a topic's queues, a
 *            group's lag per queue, message searches, write actions), taken
 *            from a bounded queue (jobs.c, queries.c);
 *   ConsoleHttp  the HTTP server (common/http/rmq_http.h): serves the
 *            embedded page, answers from the latest snapshot, validates
 *            parameters and hands the rest to the workers.
 * Shared between them: the snapshot and history (under mc_console_t.mu)
 * and the job queue (jobs.c). Every thread has its own remoting
 * connections (mc_rpc_t). */
#ifndef MC_CONSOLE_H
#define MC_CONSOLE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "rmq_conf.h"
#include "rmq_http.h"

typedef struct mc_conf_s {
    char *namesrvAddr;
    char *listenAddress;
    int32_t listenPort;
    bool writeEnable;
    int32_t pollIntervalMs;
    int32_t historyPoints;
    int32_t maxTopicsPolled;
    int32_t maxGroupsPolled;
    int32_t requestTimeoutMs;
    int32_t workerThreads;
    int32_t maxConnections;
    int32_t maxPendingRequests;
    int32_t queryMaxMessages;
    int32_t maxBodyBytes;
    char *toolsConsumerGroup;
    char *accessKey; /* ACL: the console's own account (reads) */
    char *secretKey;
    int logLevel; /* RMQ_LOG_* */
    char *logFile;
} mc_conf_t;

extern const rmq_conf_def_t mc_conf_defs[];

typedef struct mc_poller_s mc_poller_t;
typedef struct mc_jobs_s mc_jobs_t;

typedef struct mc_console_s {
    mc_conf_t conf;
    rmq_http_server_t *http;
    mc_poller_t *poller;
    mc_jobs_t *jobs;
    int64_t boot_ms;
} mc_console_t;

/* HTTP routes (api.c). */
void mc_api_register(mc_console_t *c);

#endif
