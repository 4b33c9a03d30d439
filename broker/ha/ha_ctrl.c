/* ha_ctrl.c - the replication service's side of controller mode: role
 * switches the Controller asks for (lead an epoch, follow a master), the
 * fencing deadline, the in-sync policy writes wait on, and the replicas a
 * master streams to.
 *
 * Owns: the controller-mode fields of rmq_ha_t (fence_until, id_acked,
 * id_add_hw, need, isr_size, min_isr, min_epoch).
 * Runs: lead_job / follow_job on "HAService"; rmq_ha_ctrl_follow_io,
 * rmq_ha_ctrl_policy_io and rmq_ha_write_refusal on the broker's I/O thread;
 * rmq_ha_ctrl_fence, rmq_ha_ctrl_replicas and rmq_ha_fenced on any thread
 * (atomics only).
 * Never: lets the I/O thread write while the HA thread still appends
 * replicated records: leading begins on the HA thread (the link is closed
 * first) and only then is the I/O thread told; following stops the I/O
 * thread's writes first and only then starts the link. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ha/ha_int.h"
#include "rmq_alloc.h"
#include "rmq_log.h"

int64_t rmq_ha_boot_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------ lead */

typedef struct {
    rmq_ha_t *ha;
    int64_t epoch;
    void (*done)(void *arg);
    void *arg;
    char addr[256];
} role_job_t;

/* @thread HA */
static void lead_job(void *p)
{
    role_job_t *j = p;
    rmq_ha_t *ha = j->ha;
    if (ha->stopping) {
        free(j);
        return;
    }
    /* no replicated record is appended after this */
    rmq_ha_slave_close(ha);
    ha->link.addr[0] = 0;
    if (!ha->master)
        rmq_store_take_writes(ha->store); /* queues continue where the replicated records left them */
    int64_t last = rmq_store_epoch_last(ha->store);
    if (j->epoch > last) {
        if (rmq_store_epoch_begin(ha->store, j->epoch) != RMQ_OK)
            rmq_log(RMQ_LOG_ERROR, "ha", "cannot write the epoch file (epoch %" PRId64 " at %" PRId64 ")",
                    j->epoch, rmq_store_get_commitlog_max_offset(ha->store));
    } else if (j->epoch < last) {
        rmq_log(RMQ_LOG_ERROR, "ha", "asked to lead epoch %" PRId64 " but this log has seen epoch %" PRId64,
                j->epoch, last);
    }
    bool was_master = ha->master;
    if (was_master && ha->epoch != j->epoch)
        rmq_ha_master_close_all(ha); /* slaves of the old epoch say Hello again */
    ha->epoch = j->epoch;
    free(ha->epochs);
    ha->epochs = NULL;
    ha->n_epochs = rmq_store_epochs(ha->store, &ha->epochs);
    ha->master = true;
    rmq_ha_publish_status(ha);
    rmq_log(RMQ_LOG_INFO, "ha", "%s master of %s, epoch %" PRId64 " from commit-log offset %" PRId64,
            ha->sync_master ? "SYNC_MASTER" : "ASYNC_MASTER", ha->broker_name, ha->epoch,
            rmq_store_get_commitlog_max_offset(ha->store));
    rmq_ha_post_io(ha, j->done, j->arg);
    free(j);
}

void rmq_ha_ctrl_lead(rmq_ha_t *ha, int64_t epoch, void (*done)(void *arg), void *arg)
{
    role_job_t *j = rmq_calloc(1, sizeof(*j));
    j->ha = ha;
    j->epoch = epoch;
    j->done = done;
    j->arg = arg;
    rmq_mailbox_post(ha->mbox, lead_job, j);
}

/* ---------------------------------------------------------------- follow */

/* @thread HA */
static void follow_job(void *p)
{
    role_job_t *j = p;
    rmq_ha_t *ha = j->ha;
    if (!ha->stopping) {
        if (ha->master) {
            rmq_ha_master_close_all(ha);
            ha->master = false;
            rmq_log(RMQ_LOG_INFO, "ha", "%s: no longer master (epoch %" PRId64 "); slaves dropped",
                    ha->broker_name, ha->epoch);
        }
        ha->min_epoch = j->epoch;
        if (j->addr[0]) {
            rmq_ha_slave_set_addr(ha, j->addr);
        } else {
            rmq_ha_slave_close(ha);
            ha->link.addr[0] = 0;
        }
        rmq_ha_publish_status(ha);
    }
    free(j);
}

void rmq_ha_ctrl_follow_io(rmq_ha_t *ha, const char *master_ha_addr, int64_t min_epoch)
{
    if (!ha || !ha->mbox)
        return;
    ha->need = 0;
    ha->isr_size = 0;
    for (int id = 0; id < RMQ_HA_MAX_IDS; id++)
        atomic_store(&ha->id_add_hw[id], -1);
    if (!STAILQ_EMPTY(&ha->waiters))
        rmq_log(RMQ_LOG_WARN, "ha",
                "%zu writes waiting for replicas answered SERVICE_NOT_AVAILABLE: no longer master",
                ha->n_waiters);
    rmq_ha_sync_complete(ha, RMQ_PUT_SERVICE_NOT_AVAILABLE);
    role_job_t *j = rmq_calloc(1, sizeof(*j));
    j->ha = ha;
    j->epoch = min_epoch;
    snprintf(j->addr, sizeof(j->addr), "%s", master_ha_addr ? master_ha_addr : "");
    rmq_mailbox_post(ha->mbox, follow_job, j);
}

/* ------------------------------------------------------- fence and policy */

void rmq_ha_ctrl_fence(rmq_ha_t *ha, int64_t until)
{
    if (ha)
        atomic_store(&ha->fence_until, until);
}

bool rmq_ha_fenced(rmq_ha_t *ha)
{
    if (!ha || !ha->controlled || rmq_ha_boot_ms() < atomic_load(&ha->fence_until))
        return false;
    atomic_fetch_add(&ha->fence_refusals, 1);
    return true;
}

int64_t rmq_ha_fence_refusals(rmq_ha_t *ha)
{
    return ha ? atomic_load(&ha->fence_refusals) : 0;
}

void rmq_ha_ctrl_policy_io(rmq_ha_t *ha, uint64_t need, int isr_size, int min_isr)
{
    int64_t end = rmq_store_get_commitlog_max_offset(ha->store);
    for (int id = 1; id < RMQ_HA_MAX_IDS; id++) {
        uint64_t bit = (uint64_t)1 << id;
        if ((need & bit) && !(ha->need & bit))
            atomic_store(&ha->id_add_hw[id], end);
        else if (!(need & bit))
            atomic_store(&ha->id_add_hw[id], -1);
    }
    ha->need = need;
    ha->isr_size = isr_size;
    ha->min_isr = min_isr;
    rmq_ha_sync_complete(ha, RMQ_PUT_OK);
}

int rmq_ha_write_refusal(rmq_ha_t *ha, char *why, size_t n)
{
    if (!ha || !ha->controlled)
        return 0;
    if (rmq_ha_fenced(ha)) {
        snprintf(
            why, n,
            "the broker[%s] cannot renew its etcd lease (controller mode): writes are refused until etcd "
            "confirms it is still the master",
            ha->broker_name);
        return RMQ_ERR_SERVICE_NOT_AVAILABLE;
    }
    if (ha->isr_size < ha->min_isr) {
        snprintf(why, n, "in-sync replicas not enough: %d in the in-sync set of %s, minInSyncReplicas=%d",
                 ha->isr_size, ha->broker_name, ha->min_isr);
        return RMQ_ERR_SYSTEM_ERROR;
    }
    return 0;
}

/* -------------------------------------------------------------- replicas */

void rmq_ha_ctrl_acked(rmq_ha_t *ha, int64_t id, int64_t acked)
{
    if (!ha->controlled || id < 1 || id >= RMQ_HA_MAX_IDS)
        return;
    atomic_store(&ha->id_acked[id], acked);
    rmq_ha_sync_notify(ha);
}

size_t rmq_ha_ctrl_replicas(rmq_ha_t *ha, rmq_ha_replica_t *out, size_t max)
{
    size_t n = 0;
    for (int id = 1; id < RMQ_HA_MAX_IDS && n < max; id++) {
        int64_t a = atomic_load(&ha->id_acked[id]);
        if (a < 0)
            continue;
        out[n].id = id;
        out[n].streaming = true;
        out[n].acked = a;
        out[n].add_hw = atomic_load(&ha->id_add_hw[id]);
        n++;
    }
    return n;
}
