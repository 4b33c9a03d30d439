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
#include "rmq_log.h"

#define F(x) offsetof(rmq_broker_conf_t, x)
#define IMP RMQ_CONF_IMPORTANT

const rmq_conf_def_t rmq_broker_conf_defs[] = {
    {"rocketmqHome", RMQ_CONF_STR, F(rocketmqHome), "", 0, 0, 0,
     "RocketMQ home (ROCKETMQ_HOME); informational", NULL},
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
    {"brokerId", RMQ_CONF_LONG, F(brokerId), "0", 0, 1000000, IMP, "0 = master, >0 = slave", NULL},
    {"listenPort", RMQ_CONF_INT, F(listenPort), "10911", 3, 65535, IMP,
     "client port; the VIP channel listens on listenPort-2", NULL},
    {"haListenPort", RMQ_CONF_INT, F(haListenPort), "0", 0, 65535, 0, "HA port announced (0 = listenPort+1)",
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
     "re-register with the name servers every N ms", NULL},
    {"registerBrokerTimeoutMills", RMQ_CONF_INT, F(registerBrokerTimeoutMills), "6000", 100, 60000, 0,
     "REGISTER_BROKER RPC timeout", NULL},
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
    {"slaveReadEnable", RMQ_CONF_BOOL, F(slaveReadEnable), "false", 0, 0, 0, "suggest slave reads", NULL},
    {"rejectTransactionMessage", RMQ_CONF_BOOL, F(rejectTransactionMessage), "false", 0, 0, 0,
     "refuse transactional half messages (Comet refuses them in any case: no END_TRANSACTION yet)", NULL},
    {"enablePropertyFilter", RMQ_CONF_BOOL, F(enablePropertyFilter), "false", 0, 0, 0,
     "SQL92 filtering (not supported: must stay false)", NULL},
    {"fetchNamesrvAddrByAddressServer", RMQ_CONF_BOOL, F(fetchNamesrvAddrByAddressServer), "false", 0, 0, 0,
     "accepted for compatibility; ignored", NULL},
    {"defaultQueryMaxNum", RMQ_CONF_INT, F(defaultQueryMaxNum), "32", 1, 1024, 0,
     "QUERY_MESSAGE unique-key max", NULL},
    {"logLevel", RMQ_CONF_STR, F(logLevel), "INFO", 0, 0, 0, "ERROR, WARN, INFO, DEBUG or TRACE", NULL},
    {"logFile", RMQ_CONF_STR, F(logFile), "", 0, 0, 0, "log file (empty = stderr)", NULL},
    RMQ_CONF_END,
};

void rmq_broker_conf_init(rmq_broker_conf_t *c)
{
    memset(c, 0, sizeof(*c));
    rmq_conf_defaults(rmq_broker_conf_defs, c);
}

void rmq_broker_conf_deinit(rmq_broker_conf_t *c)
{
    rmq_conf_free(rmq_broker_conf_defs, c);
}

rmq_err_t rmq_broker_conf_set(rmq_broker_conf_t *bc, rmq_store_config_t *sc, const char *key, const char *val,
                              char *errstr, size_t errstr_size)
{
    rmq_err_t r = rmq_conf_set(rmq_broker_conf_defs, bc, key, val, errstr, errstr_size);
    if (r != RMQ_ERR__NOENT)
        return r;
    return rmq_conf_set(rmq_store_conf_defs, sc, key, val, errstr, errstr_size);
}

struct load_ctx {
    rmq_broker_conf_t *bc;
    rmq_store_config_t *sc;
    const char *path;
    char *errstr;
    size_t errstr_size;
};

static int load_cb(void *opaque, const char *key, const char *value, int line)
{
    struct load_ctx *c = opaque;
    char err[256];
    rmq_err_t r = rmq_broker_conf_set(c->bc, c->sc, key, value, err, sizeof(err));
    if (r == RMQ_ERR__NOENT) {
        rmq_log(RMQ_LOG_WARN, "broker", "%s:%d: unknown setting \"%s\" ignored", c->path, line, key);
        return 0;
    }
    if (r != RMQ_OK) {
        snprintf(c->errstr, c->errstr_size, "%s:%d: %s", c->path, line, err);
        return 1;
    }
    return 0;
}

rmq_err_t rmq_broker_conf_load(rmq_broker_conf_t *bc, rmq_store_config_t *sc, const char *path, char *errstr,
                               size_t errstr_size)
{
    char *text = NULL;
    size_t len = 0;
    if (rmq_file_read_all(path, &text, &len) != RMQ_OK) {
        snprintf(errstr, errstr_size, "cannot read config file %s", path);
        return RMQ_ERR__IO;
    }
    struct load_ctx c = {bc, sc, path, errstr, errstr_size};
    rmq_err_t r = rmq_props_parse(text, len, load_cb, &c);
    free(text);
    return r == RMQ_OK ? RMQ_OK : RMQ_ERR__INVALID_ARG;
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

static char *expand_home(const char *p)
{
    if (p[0] == '~' && (p[1] == '/' || !p[1])) {
        const char *h = getenv("HOME");
        return rmq_asprintf("%s%s", h && *h ? h : "/tmp", p + 1);
    }
    return rmq_strdup(p);
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
        expand_home(sc->storePathRootDir && *sc->storePathRootDir ? sc->storePathRootDir : "~/store");
    free(sc->storePathRootDir);
    sc->storePathRootDir = root;
    if (sc->storePathCommitLog && *sc->storePathCommitLog) {
        char *cl = expand_home(sc->storePathCommitLog);
        free(sc->storePathCommitLog);
        sc->storePathCommitLog = cl;
    }
}
