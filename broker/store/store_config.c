/* store_config.c - MessageStoreConfig: the store's settings table (Java
 * names, 4.9.x defaults) and the messageDelayLevel parser.
 * Thread: the configuring thread, before rmq_store_open. Never does I/O. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "store_int.h"

#define F(x) offsetof(rmq_store_config_t, x)
#define IMP RMQ_CONF_IMPORTANT

const char *const rmq_flush_disk_type_names[] = {
    [RMQ_FLUSH_ASYNC] = "ASYNC_FLUSH", [RMQ_FLUSH_SYNC] = "SYNC_FLUSH", NULL};
const char *const rmq_broker_role_names[] = {[RMQ_ROLE_ASYNC_MASTER] = "ASYNC_MASTER",
                                             [RMQ_ROLE_SYNC_MASTER] = "SYNC_MASTER",
                                             [RMQ_ROLE_SLAVE] = "SLAVE",
                                             NULL};

const rmq_conf_def_t rmq_store_conf_defs[] = {
    {"storePathRootDir", RMQ_CONF_STR, F(storePathRootDir), "~/store", 0, 0, IMP, "store root directory",
     NULL},
    {"storePathCommitLog", RMQ_CONF_STR, F(storePathCommitLog), "", 0, 0, 0,
     "commit-log directory (default <storePathRootDir>/commitlog)", NULL},
    {"mappedFileSizeCommitLog", RMQ_CONF_LONG, F(mappedFileSizeCommitLog), "1073741824", 4096, INT32_MAX, IMP,
     "size of one commit-log segment in bytes", NULL},
    {"mappedFileSizeConsumeQueue", RMQ_CONF_LONG, F(mappedFileSizeConsumeQueue), "6000000", 200, INT32_MAX, 0,
     "size of one consume-queue file (rounded up to a multiple of 20)", NULL},
    {"flushDiskType", RMQ_CONF_ENUM, F(flushDiskType), "ASYNC_FLUSH", 0, 0, IMP,
     "ASYNC_FLUSH (background) or SYNC_FLUSH (group commit before the reply)", rmq_flush_disk_type_names},
    {"flushIntervalCommitLog", RMQ_CONF_INT, F(flushIntervalCommitLog), "500", 1, 3600000, 0,
     "ASYNC_FLUSH: flush period in ms", NULL},
    {"flushCommitLogLeastPages", RMQ_CONF_INT, F(flushCommitLogLeastPages), "4", 0, 1000000, 0,
     "ASYNC_FLUSH: flush only when at least this many 4 KiB pages are dirty", NULL},
    {"flushCommitLogThoroughInterval", RMQ_CONF_INT, F(flushCommitLogThoroughInterval), "10000", 0, 3600000,
     0, "ASYNC_FLUSH: flush everything at least this often (ms)", NULL},
    {"flushIntervalConsumeQueue", RMQ_CONF_INT, F(flushIntervalConsumeQueue), "1000", 1, 3600000, 0,
     "consume-queue flush period in ms", NULL},
    {"flushConsumeQueueLeastPages", RMQ_CONF_INT, F(flushConsumeQueueLeastPages), "2", 0, 1000000, 0,
     "consume-queue least dirty pages", NULL},
    {"flushConsumeQueueThoroughInterval", RMQ_CONF_INT, F(flushConsumeQueueThoroughInterval), "60000", 0,
     3600000, 0, "consume-queue thorough flush period (ms)", NULL},
    {"syncFlushTimeout", RMQ_CONF_LONG, F(syncFlushTimeout), "5000", 1, 3600000, 0,
     "SYNC_FLUSH: answer FLUSH_DISK_TIMEOUT after this many ms", NULL},
    {"maxMessageSize", RMQ_CONF_INT, F(maxMessageSize), "4194304", 1, INT32_MAX, IMP, "largest body accepted",
     NULL},
    {"fileReservedTime", RMQ_CONF_INT, F(fileReservedTime), "72", 0, 1000000, IMP,
     "hours a commit-log segment is kept", NULL},
    {"deleteWhen", RMQ_CONF_STR, F(deleteWhen), "04", 0, 0, 0,
     "hours of the day (00-23, ';'-separated) of deletion", NULL},
    {"diskMaxUsedSpaceRatio", RMQ_CONF_INT, F(diskMaxUsedSpaceRatio), "75", 10, 95, 0,
     "above this disk usage (%) expired segments are deleted at once", NULL},
    {"diskSpaceWarningLevelRatio", RMQ_CONF_INT, F(diskSpaceWarningLevelRatio), "90", 10, 100, 0,
     "above this disk usage (%) writes are refused (SERVICE_NOT_AVAILABLE)", NULL},
    {"diskSpaceCleanForciblyRatio", RMQ_CONF_INT, F(diskSpaceCleanForciblyRatio), "85", 10, 100, 0,
     "above this disk usage (%) the oldest segments are deleted even if not expired", NULL},
    {"storeQuotaBytes", RMQ_CONF_LONG, F(storeQuotaBytes), "0", 0, INT64_MAX, 0,
     "Comet: when > 0, disk usage is store files / this quota instead of the file system's", NULL},
    {"cleanResourceInterval", RMQ_CONF_INT, F(cleanResourceInterval), "10000", 10, 3600000, 0,
     "retention check period (ms)", NULL},
    {"deleteCommitLogFilesInterval", RMQ_CONF_INT, F(deleteCommitLogFilesInterval), "100", 0, 60000, 0,
     "pause between two segment deletions (ms)", NULL},
    {"destroyMapedFileIntervalForcibly", RMQ_CONF_INT, F(destroyMapedFileIntervalForcibly), "120000", 0,
     3600000, 0,
     "unlink a deleted segment still pinned by readers after this many ms (unmapped when released)", NULL},
    {"messageIndexEnable", RMQ_CONF_BOOL, F(messageIndexEnable), "true", 0, 0, 0, "build the key index",
     NULL},
    {"maxHashSlotNum", RMQ_CONF_INT, F(maxHashSlotNum), "5000000", 1, INT32_MAX / 4, 0,
     "index hash slots per file", NULL},
    {"maxIndexNum", RMQ_CONF_INT, F(maxIndexNum), "20000000", 2, INT32_MAX / 20, 0, "index entries per file",
     NULL},
    {"maxMsgsNumBatch", RMQ_CONF_INT, F(maxMsgsNumBatch), "64", 1, 100000, 0, "max results of a key query",
     NULL},
    {"checkCRCOnRecover", RMQ_CONF_BOOL, F(checkCRCOnRecover), "true", 0, 0, 0,
     "verify body CRCs during recovery", NULL},
    {"messageDelayLevel", RMQ_CONF_STR, F(messageDelayLevel),
     "1s 5s 10s 30s 1m 2m 3m 4m 5m 6m 7m 8m 9m 10m 20m 30m 1h 2h", 0, 0, 0, "delay levels (s/m/h/d units)",
     NULL},
    {"maxTransferBytesOnMessageInMemory", RMQ_CONF_INT, F(maxTransferBytesOnMessageInMemory), "262144", 1,
     INT32_MAX, 0, "pull batch byte limit when the data is in memory", NULL},
    {"maxTransferCountOnMessageInMemory", RMQ_CONF_INT, F(maxTransferCountOnMessageInMemory), "32", 1, 100000,
     0, "pull batch count limit when the data is in memory", NULL},
    {"maxTransferBytesOnMessageInDisk", RMQ_CONF_INT, F(maxTransferBytesOnMessageInDisk), "65536", 1,
     INT32_MAX, 0, "pull batch byte limit when the data is on disk", NULL},
    {"maxTransferCountOnMessageInDisk", RMQ_CONF_INT, F(maxTransferCountOnMessageInDisk), "8", 1, 100000, 0,
     "pull batch count limit when the data is on disk", NULL},
    {"accessMessageInMemoryMaxRatio", RMQ_CONF_INT, F(accessMessageInMemoryMaxRatio), "40", 0, 100, 0,
     "data further than this % of RAM behind the log end counts as on disk", NULL},
    {"warmMapedFileEnable", RMQ_CONF_BOOL, F(warmMapedFileEnable), "false", 0, 0, 0,
     "pre-touch every page of a new commit-log segment", NULL},
    {"brokerRole", RMQ_CONF_ENUM, F(brokerRole), "ASYNC_MASTER", 0, 0, IMP,
     "ASYNC_MASTER, SYNC_MASTER or SLAVE", rmq_broker_role_names},
    {"offsetCheckInSlave", RMQ_CONF_BOOL, F(offsetCheckInSlave), "false", 0, 0, 0,
     "let a slave correct a pull's nextBeginOffset like a master", NULL},
    RMQ_CONF_END,
};

void rmq_store_config_init(rmq_store_config_t *c)
{
    memset(c, 0, sizeof(*c));
    rmq_conf_defaults(rmq_store_conf_defs, c);
}

void rmq_store_config_deinit(rmq_store_config_t *c)
{
    rmq_conf_free(rmq_store_conf_defs, c);
    memset(c, 0, sizeof(*c));
}

void rmq_store_config_copy(rmq_store_config_t *dst, const rmq_store_config_t *src)
{
    rmq_conf_copy(rmq_store_conf_defs, dst, src, sizeof(*dst));
}

int rmq_store_parse_delay_levels(const char *spec, int64_t *out, int max)
{
    int n = 0;
    const char *p = spec ? spec : "";
    while (*p && n < max) {
        while (*p == ' ')
            p++;
        if (!*p)
            break;
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end == p)
            return -1;
        int64_t mult;
        switch (*end) {
        case 's':
            mult = 1000;
            break;
        case 'm':
            mult = 60000;
            break;
        case 'h':
            mult = 3600000;
            break;
        case 'd':
            mult = 86400000;
            break;
        default:
            return -1;
        }
        out[++n] = v * mult;
        p = end + 1;
    }
    return n;
}
