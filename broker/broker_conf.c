/* broker_conf.c - the broker's settings table (BrokerConfig names and 4.9.x
 * defaults, plus a few Comet keys for test-friendly intervals and flow
 * control) and the loader that feeds one broker.conf to both this table and
 * the store's.
 * Thread: main, before any service starts. Never touches the network. */
#include "broker_conf.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_file.h"
#include "rmq_log.h"

#define F(x) offsetof(rmq_broker_conf_t, x)
#define IMP RMQ_CONF_IMPORTANT

const rmq_conf_def_t rmq_broker_conf_defs[] = {
    {"rocketmqHome", RMQ_CONF_STR, F(rocketmqHome), "", 0, 0, 0,
     "RocketMQ home (empty: $ROCKETMQ_HOME); the ACL files are found under it", NULL},
    {"namesrvAddr", RMQ_CONF_STR, F(namesrvAddr), "", 0, 0, IMP,
     "name server addresses, `host:port;host:port` (also -n)", NULL},
    {"brokerIP1", RMQ_CONF_STR, F(brokerIP1), "", 0, 0, IMP,
     "address registered and used as store host (default: first non-loopback IPv4, else 127.0.0.1)", NULL},
    {"brokerIP2", RMQ_CONF_STR, F(brokerIP2), "", 0, 0, 0,
     "HA address announced to slaves (default brokerIP1)", NULL},
    {"listenAddress", RMQ_CONF_STR, F(listenAddress), "", 0, 0, 0,
     "Comet: bind address of the remoting ports (default: all interfaces)", NULL},
    {"brokerName", RMQ_CONF_STR, F(brokerName), "broker-a", 0, 0, IMP, "broker group name", NULL},
    {"brokerClusterName", RMQ_CONF_STR, F(brokerClusterName), "DefaultCluster", 0, 0, IMP, "cluster name",
     NULL},
    {"brokerId", RMQ_CONF_LONG, F(brokerId), "0", 0, 1000000, IMP,
     "0 = master (ASYNC_MASTER / SYNC_MASTER), >= 1 = slave (SLAVE); in controller mode this broker's "
     "replica "
     "id, 1..63, unique in the group",
     NULL},
    {"listenPort", RMQ_CONF_INT, F(listenPort), "10911", 3, 65535, IMP,
     "client port; the VIP channel listens on listenPort-2", NULL},
    {"haListenPort", RMQ_CONF_INT, F(haListenPort), "0", 0, 65535, 0,
     "replication port a master listens on, announced as brokerIP2:haListenPort (0 = listenPort+1)", NULL},
    {"haMasterAddress", RMQ_CONF_STR, F(haMasterAddress), "", 0, 0, 0,
     "SLAVE: the master's HA address host:port (empty: learnt from the name servers' REGISTER_BROKER answer)",
     NULL},
    {"haSendHeartbeatInterval", RMQ_CONF_INT, F(haSendHeartbeatInterval), "5000", 100, 600000, 0,
     "ms: a slave acknowledges and a master sends a heartbeat at least this often", NULL},
    {"haHousekeepingInterval", RMQ_CONF_INT, F(haHousekeepingInterval), "20000", 500, 3600000, 0,
     "ms: a replication connection silent this long is closed (a slave then reconnects)", NULL},
    {"haTransferBatchSize", RMQ_CONF_INT, F(haTransferBatchSize), "32768", 4096, 16777216, 0,
     "bytes of commit log per replication frame (whole records; one larger record goes alone)", NULL},
    {"haSlaveFallbehindMax", RMQ_CONF_LONG, F(haSlaveFallbehindMax), "268435456", 0, INT64_MAX, 0,
     "bytes: a slave further behind the master's log end is not in sync (SYNC_MASTER answers "
     "SLAVE_NOT_AVAILABLE)",
     NULL},
    {"slaveTimeout", RMQ_CONF_INT, F(slaveTimeout), "3000", 10, 600000, 0,
     "ms: SYNC_MASTER waits this long for a slave's acknowledgement, then answers FLUSH_SLAVE_TIMEOUT", NULL},
    {"haTlsEnable", RMQ_CONF_BOOL, F(haTlsEnable), "false", 0, 0, 0,
     "Comet: the replication link uses TLS; the master serves tls.server.certPath/keyPath (or the test-mode "
     "certificate) and checks client certificates per tls.server.need.client.auth, the slave verifies the "
     "master per tls.client.authServer/trustCertPath and presents tls.client.certPath. Both sides must set "
     "it",
     NULL},
    {"enableControllerMode", RMQ_CONF_BOOL, F(enableControllerMode), "false", 0, 0, IMP,
     "automatic failover (RocketMQ 5's key): the brokers of a group elect their master through etcd "
     "(etcdEndpoints); brokerId is then each broker's fixed replica id (1..63) and brokerRole the "
     "replication "
     "mode of whichever is master",
     NULL},
    {"etcdEndpoints", RMQ_CONF_STR, F(etcdEndpoints), "", 0, 0, IMP,
     "controller mode: etcd members, http://host:port,... (etcd's v3 JSON gateway; the same list on every "
     "broker of the group)",
     NULL},
    {"etcdLeaseTtlSeconds", RMQ_CONF_INT, F(etcdLeaseTtlSeconds), "3", 2, 60, 0,
     "controller mode: time-to-live of each broker's etcd lease, s (renewed every TTL/6). A master that "
     "cannot renew it stops acknowledging writes after 5/6 of it; the others elect a new master once etcd "
     "expires it. An etcd outage shorter than 2/3 TTL goes unnoticed: at 3 s the loss of a follower member "
     "does; an etcd leader election (1-2 election timeouts, 1 s each by default) may pause writes for a "
     "moment; 5 s rides through it",
     NULL},
    {"etcdKeyPrefix", RMQ_CONF_STR, F(etcdKeyPrefix), "/comet", 0, 0, 0,
     "controller mode: a group's keys live under <prefix>/<brokerClusterName>/<brokerName>/", NULL},
    {"minInSyncReplicas", RMQ_CONF_INT, F(minInSyncReplicas), "1", 1, 64, 0,
     "controller mode (RocketMQ 5's name): writes are refused (SYSTEM_ERROR \"in-sync replicas not "
     "enough\") while the in-sync set, master included, is smaller; 1 lets a master left alone accept "
     "writes",
     NULL},
    {"enableElectUncleanMaster", RMQ_CONF_BOOL, F(enableElectUncleanMaster), "false", 0, 0, 0,
     "controller mode (RocketMQ 5's name): a replica outside the in-sync set may become master when no "
     "member "
     "of the set is alive (acknowledged messages it lacks are lost)",
     NULL},
    {"brokerPermission", RMQ_CONF_INT, F(brokerPermission), "6", 0, 15, 0,
     "broker perm bits (4 read, 2 write)", NULL},
    {"defaultTopicQueueNums", RMQ_CONF_INT, F(defaultTopicQueueNums), "8", 1, 1024, 0,
     "queues of the TBW102 template topic", NULL},
    {"autoCreateTopicEnable", RMQ_CONF_BOOL, F(autoCreateTopicEnable), "true", 0, 0, IMP,
     "auto-create unknown topics on send from TBW102", NULL},
    {"clusterTopicEnable", RMQ_CONF_BOOL, F(clusterTopicEnable), "true", 0, 0, 0,
     "create a topic named after the cluster", NULL},
    {"brokerTopicEnable", RMQ_CONF_BOOL, F(brokerTopicEnable), "true", 0, 0, 0,
     "create a topic named after the broker", NULL},
    {"autoCreateSubscriptionGroup", RMQ_CONF_BOOL, F(autoCreateSubscriptionGroup), "true", 0, 0, 0,
     "auto-create unknown consumer groups", NULL},
    {"notifyConsumerIdsChangedEnable", RMQ_CONF_BOOL, F(notifyConsumerIdsChangedEnable), "true", 0, 0, 0,
     "send NOTIFY_CONSUMER_IDS_CHANGED when group membership changes", NULL},
    {"longPollingEnable", RMQ_CONF_BOOL, F(longPollingEnable), "true", 0, 0, 0,
     "hold pulls up to suspendTimeoutMillis (else shortPollingTimeMills)", NULL},
    {"shortPollingTimeMills", RMQ_CONF_LONG, F(shortPollingTimeMills), "1000", 0, 3600000, 0,
     "hold time when long polling is off", NULL},
    {"pullHoldCheckInterval", RMQ_CONF_INT, F(pullHoldCheckInterval), "1000", 10, 60000, 0,
     "Comet: period (ms) at which held pulls are re-checked and expired", NULL},
    {"registerNameServerPeriod", RMQ_CONF_INT, F(registerNameServerPeriod), "30000", 100, 60000, 0,
     "re-register (the whole topic table) with the name servers every N ms; a name server still answering "
     "the last registration is skipped until the next tick",
     NULL},
    {"registerBrokerTimeoutMills", RMQ_CONF_INT, F(registerBrokerTimeoutMills), "6000", 100, 60000, 0,
     "REGISTER_BROKER RPC timeout; also the longest an UPDATE_AND_CREATE_TOPIC answer waits for the name "
     "servers to have the topic (as Java)",
     NULL},
    {"channelExpiredTimeout", RMQ_CONF_INT, F(channelExpiredTimeout), "120000", 100, 3600000, 0,
     "Comet: producer/consumer channel expiry without heartbeat, ms (Java: fixed 120 s)", NULL},
    {"clientHousekeepingInterval", RMQ_CONF_INT, F(clientHousekeepingInterval), "10000", 50, 600000, 0,
     "Comet: period of the client-channel expiry scan, ms", NULL},
    {"flushConsumerOffsetInterval", RMQ_CONF_INT, F(flushConsumerOffsetInterval), "5000", 10, 600000, 0,
     "consumer offsets snapshot period, ms", NULL},
    {"flushMetadataInterval", RMQ_CONF_INT, F(flushMetadataInterval), "10000", 10, 600000, 0,
     "Comet: periodic topic/subscription-group snapshot, ms (also written on change)", NULL},
    {"maxPendingSendRequests", RMQ_CONF_INT, F(maxPendingSendRequests), "10000", 1, 10000000, 0,
     "Comet: sends waiting for flush before new sends get SYSTEM_BUSY", NULL},
    {"maxConnectionOutputBytes", RMQ_CONF_LONG, F(maxConnectionOutputBytes), "67108864", 65536, INT64_MAX, 0,
     "Comet: unsent output of one connection before its input is paused", NULL},
    {"serverChannelMaxIdleTimeSeconds", RMQ_CONF_INT, F(serverChannelMaxIdleTimeSeconds), "120", 0, 86400, 0,
     "close connections idle this long", NULL},
    {"startAcceptSendRequestTimeStamp", RMQ_CONF_LONG, F(startAcceptSendRequestTimeStamp), "0", 0, INT64_MAX,
     0, "refuse sends before this time (ms)", NULL},
    {"regionId", RMQ_CONF_STR, F(regionId), "DefaultRegion", 0, 0, 0, "MSG_REGION of send responses", NULL},
    {"traceOn", RMQ_CONF_BOOL, F(traceOn), "true", 0, 0, 0, "TRACE_ON of send responses", NULL},
    {"slaveReadEnable", RMQ_CONF_BOOL, F(slaveReadEnable), "false", 0, 0, 0,
     "pulls suggest the group's whichBrokerWhenConsumeSlowly (a slave) when the consumer is far behind "
     "(accessMessageInMemoryMaxRatio), else its brokerId",
     NULL},
    {"rejectTransactionMessage", RMQ_CONF_BOOL, F(rejectTransactionMessage), "false", 0, 0, 0,
     "refuse transactional half messages (NO_PERMISSION)", NULL},
    {"transactionTimeOut", RMQ_CONF_LONG, F(transactionTimeOut), "6000", 0, 86400000, 0,
     "ms after its birth before a half message is checked back (its CHECK_IMMUNITY_TIME_IN_SECONDS wins)",
     NULL},
    {"transactionCheckMax", RMQ_CONF_INT, F(transactionCheckMax), "15", 1, 1000000, 0,
     "check-backs of one half message before it goes to TRANS_CHECK_MAX_TIME_TOPIC", NULL},
    {"transactionCheckInterval", RMQ_CONF_LONG, F(transactionCheckInterval), "60000", 10, 86400000, 0,
     "ms between two passes of the transaction check-back service", NULL},
    {"enablePropertyFilter", RMQ_CONF_BOOL, F(enablePropertyFilter), "false", 0, 0, 0,
     "SQL92 filtering (not supported: must stay false)", NULL},
    {"fetchNamesrvAddrByAddressServer", RMQ_CONF_BOOL, F(fetchNamesrvAddrByAddressServer), "false", 0, 0, 0,
     "accepted for compatibility; ignored", NULL},
    {"defaultQueryMaxNum", RMQ_CONF_INT, F(defaultQueryMaxNum), "32", 1, 1024, 0,
     "QUERY_MESSAGE unique-key max", NULL},
    {"logLevel", RMQ_CONF_ENUM, F(logLevel), "INFO", 0, 0, 0, "ERROR, WARN, INFO, DEBUG or TRACE",
     rmq_log_level_names},
    {"logFile", RMQ_CONF_STR, F(logFile), "", 0, 0, 0, "log file (empty = stderr)", NULL},
    {"metricsExporterType", RMQ_CONF_ENUM, F(metrics.exporter), "DISABLE", 0, 0, IMP,
     "PROM serves Prometheus metrics over HTTP on metricsPromExporterHost:metricsPromExporterPort; "
     "DISABLE (default) opens no port. RocketMQ 5's OTLP_GRPC and LOG exporters are refused",
     rmq_metrics_exporter_names},
    {"metricsPromExporterHost", RMQ_CONF_STR, F(metrics.host), "", 0, 0, 0,
     "bind address of the metrics endpoint (empty = brokerIP1, as RocketMQ 5)", NULL},
    {"metricsPromExporterPort", RMQ_CONF_INT, F(metrics.port), "5557", 0, 65535, 0,
     "port of the metrics endpoint (GET /metrics); 0 = any free port (logged)", NULL},
    {"metricsLabel", RMQ_CONF_STR, F(metrics.label), "", 0, 0, 0,
     "extra labels on every sample, `name:value,name:value`", NULL},
    {"metricsInDelta", RMQ_CONF_BOOL, F(metrics.in_delta), "false", 0, 0, 0,
     "delta temporality (OTLP only in RocketMQ 5): must stay false, Prometheus counters are cumulative",
     NULL},
    {"metricsPromExporterMaxConnections", RMQ_CONF_INT, F(metrics.max_connections), "16", 1, 1024, 0,
     "Comet: open connections the metrics endpoint accepts; more are answered 503 and closed", NULL},
    {"metricsRefreshIntervalMs", RMQ_CONF_INT, F(metrics.refresh_interval_ms), "1000", 100, 60000, 0,
     "Comet: scrapes within this many ms of the last snapshot share it; the I/O thread renders at most one "
     "snapshot per interval however many scrapes arrive",
     NULL},
    {"aclEnable", RMQ_CONF_BOOL, F(aclEnable), "false", 0, 0, IMP,
     "check every request against the plain ACL files (RocketMQ's plain_acl.yml)", NULL},
    {"rocketmq.acl.plain.file", RMQ_CONF_STR, F(aclPlainFile), "conf/plain_acl.yml", 0, 0, 0,
     "ACL file, relative to rocketmqHome (else $ROCKETMQ_HOME) unless absolute; <home>/conf/acl/*.yml are "
     "read "
     "too",
     NULL},
    {"aclFileWatchInterval", RMQ_CONF_INT, F(aclFileWatchInterval), "5000", 10, 3600000, 0,
     "Comet: how often (ms) the ACL files are checked for changes (Java: 5000)", NULL},
    RMQ_CONF_END,
};

/* the broker's own table, then TLS (server, client, common) and connection
 * limits (the store's table, in its own struct, comes last: rmq_broker_conf_set) */
static const rmq_conf_part_t parts[] = {
    {rmq_broker_conf_defs, 0, "mqbroker (broker.conf)"},
    {rmq_tls_server_conf_defs, offsetof(rmq_broker_conf_t, tls), "mqbroker TLS (broker.conf)"},
    {rmq_tls_client_conf_defs, offsetof(rmq_broker_conf_t, tls),
     "mqbroker TLS to the name servers (broker.conf)"},
    {rmq_tls_common_conf_defs, offsetof(rmq_broker_conf_t, tls),
     "mqbroker TLS, both directions (broker.conf)"},
    {rmq_netguard_conf_defs, offsetof(rmq_broker_conf_t, guard), "mqbroker connection limits (broker.conf)"},
};
#define NPARTS (sizeof(parts) / sizeof(parts[0]))

void rmq_broker_conf_print(const rmq_broker_conf_t *c, FILE *out, bool important_only)
{
    rmq_conf_parts_print(parts, NPARTS, c, out, important_only);
}

void rmq_broker_conf_print_markdown(FILE *out)
{
    rmq_conf_parts_print_markdown(parts, NPARTS, out);
}

void rmq_broker_conf_init(rmq_broker_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    rmq_conf_parts_defaults(parts, NPARTS, c);
}

void rmq_broker_conf_deinit(rmq_broker_conf_t *c)
{
    rmq_conf_parts_free(parts, NPARTS, c);
}

rmq_err_t rmq_broker_conf_set(rmq_broker_conf_t *bc, rmq_store_config_t *sc, const char *key, const char *val,
                              char *errstr, size_t errstr_size)
{
    rmq_err_t r = rmq_conf_parts_set(parts, NPARTS, bc, key, val, errstr, errstr_size);
    if (r != RMQ_ERR__NOENT)
        return r;
    return rmq_conf_set(rmq_store_conf_defs, sc, key, val, errstr, errstr_size);
}

/* the loader's setter: one broker.conf fills both structs */
struct both_confs {
    rmq_broker_conf_t *bc;
    rmq_store_config_t *sc;
};

static rmq_err_t load_set(void *obj, const char *key, const char *val, char *errstr, size_t errstr_size)
{
    struct both_confs *c = obj;
    return rmq_broker_conf_set(c->bc, c->sc, key, val, errstr, errstr_size);
}

rmq_err_t rmq_broker_conf_load(rmq_broker_conf_t *bc, rmq_store_config_t *sc, const char *path, char *errstr,
                               size_t errstr_size)
{
    struct both_confs c = {bc, sc};
    return rmq_conf_load_with(path, load_set, &c, "broker", errstr, errstr_size);
}

static char *first_ipv4(void)
{
    struct ifaddrs *ifs = NULL, *i;
    char buf[INET_ADDRSTRLEN] = "";
    if (getifaddrs(&ifs) == 0) {
        for (i = ifs; i; i = i->ifa_next) {
            if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || (i->ifa_flags & IFF_LOOPBACK) ||
                !(i->ifa_flags & IFF_UP))
                continue;
            inet_ntop(AF_INET, &((struct sockaddr_in *)i->ifa_addr)->sin_addr, buf, sizeof(buf));
            break;
        }
        freeifaddrs(ifs);
    }
    return rmq_strdup(buf[0] ? buf : "127.0.0.1");
}

void rmq_broker_conf_finish(rmq_broker_conf_t *bc, rmq_store_config_t *sc)
{
    if (!bc->brokerIP1 || !*bc->brokerIP1) {
        free(bc->brokerIP1);
        bc->brokerIP1 = first_ipv4();
    }
    if (!bc->brokerIP2 || !*bc->brokerIP2) {
        free(bc->brokerIP2);
        bc->brokerIP2 = rmq_strdup(bc->brokerIP1);
    }
    if (bc->haListenPort <= 0)
        bc->haListenPort = bc->listenPort + 1;
    char *root =
        rmq_expand_home(sc->storePathRootDir && *sc->storePathRootDir ? sc->storePathRootDir : "~/store");
    free(sc->storePathRootDir);
    sc->storePathRootDir = root;
    if (sc->storePathCommitLog && *sc->storePathCommitLog) {
        char *cl = rmq_expand_home(sc->storePathCommitLog);
        free(sc->storePathCommitLog);
        sc->storePathCommitLog = cl;
    }
}
