/* topic_sync.c - topic changes made durable and visible at O(changes):
 * journal append, incremental registration, coalesced snapshot.
 * Owns: the topic journal, the snapshot timer and the writer submission
 * the journal waits for.
 * Thread: io (main at start-up and after the loop ended).
 * Never: packs the whole table per change for the disk (only for
 * connected slaves); truncates the journal file a
 * snapshot covers before that snapshot is on disk. */
#include "topic_sync.h"

#include <event2/event.h>
#include <stdlib.h>

#include "broker_meta.h"

#include "meta/topic_journal.h"
#include "out/namesrv_api.h"
#include "rmq_alloc.h"
#include "rmq_log.h"
#include "rmq_timer.h"

/* wait for a snapshot still being written before the next one */
#define SNAPSHOT_RETRY_MS 100

struct rmq_topic_sync_s {
    rmq_broker_t *b;
    rmq_topic_journal_t *journal;
    struct event *ev_snapshot;
    uint64_t snap_gen; /* the writer's number of the last topics snapshot (0: none) */
};

rmq_topic_sync_t *rmq_topic_sync_open(rmq_broker_t *b, char *err, size_t errsize)
{
    rmq_topic_sync_t *ts = rmq_calloc(1, sizeof(*ts));
    ts->b = b;
    size_t applied = 0;
    ts->journal = rmq_topic_journal_open(b->config_dir, &b->topics, &applied, err, errsize);
    if (!ts->journal) {
        free(ts);
        return NULL;
    }
    if (applied)
        rmq_log(RMQ_LOG_INFO, "broker", "topic journal: %zu changes applied after the snapshot", applied);
    return ts;
}

void rmq_topic_sync_started(rmq_topic_sync_t *ts)
{
    rmq_topic_journal_reset(ts->journal);
    rmq_topic_changed_clear(&ts->b->topics);
}

static void arm(rmq_topic_sync_t *ts, int ms)
{
    if (!ts->ev_snapshot)
        return;
    rmq_timer_add(ts->ev_snapshot, ms);
}

/* Take the table's snapshot for the changes journalled since the last one:
 * once the previous snapshot is on disk, the journal file it covers is
 * emptied and becomes the active one, then the table is packed. */
static void snapshot_cb(evutil_socket_t fd, short what, void *arg)
{
    rmq_topic_sync_t *ts = arg;
    rmq_broker_t *b = ts->b;
    if (rmq_topic_journal_pending(ts->journal) == 0 || b->shutting_down)
        return;
    if (ts->snap_gen) {
        rmq_err_t r = rmq_file_writer_poll(b->snap, ts->snap_gen);
        if (r == RMQ_ERR__AGAIN) {
            arm(ts, SNAPSHOT_RETRY_MS);
            return;
        }
        if (r != RMQ_OK) {
            /* not known to be on disk: keep both journal files, write again */
            rmq_log(RMQ_LOG_WARN, "broker", "topics snapshot not written; both journal files kept, retrying");
            ts->snap_gen = rmq_broker_persist(b, RMQ_BROKER_META_TOPICS);
            arm(ts, TOPIC_SNAPSHOT_MS);
            return;
        }
    }
    if (rmq_topic_journal_switch(ts->journal) != RMQ_OK) {
        arm(ts, TOPIC_SNAPSHOT_MS); /* appends go on in the active file */
        return;
    }
    ts->snap_gen = rmq_broker_persist(b, RMQ_BROKER_META_TOPICS);
}

void rmq_topic_sync_changed(rmq_topic_sync_t *ts)
{
    rmq_broker_t *b = ts->b;
    if (rmq_map_count(&b->topics.changed) == 0)
        return;
    rmq_topic_journal_append(ts->journal, &b->topics); /* logged; Java too answers success */
    /* With slaves connected the table goes to them now, not with the
     * snapshot: the HA stream is ordered, so a slave has the topic before
     * any message to it, and can serve them should this master die within
     * the snapshot's second. That packs the table per change, as Java
     * persists its whole table per change; without slaves nothing is packed.
     * The snapshot ships it once more: a slave that became ready between its
     * first tables and this change gets it there. */
    if (b->meta_persisted)
        b->meta_persisted(b, RMQ_BROKER_META_TOPICS);
    if (b->ns)
        rmq_namesrv_api_topics_changed(b->ns, &b->topics.changed);
    rmq_topic_changed_clear(&b->topics);
    if (!b->base)
        return;
    if (!ts->ev_snapshot)
        ts->ev_snapshot = evtimer_new(b->base, snapshot_cb, ts);
    if (!evtimer_pending(ts->ev_snapshot, NULL))
        arm(ts, TOPIC_SNAPSHOT_MS);
}

void rmq_topic_sync_close(rmq_topic_sync_t *ts)
{
    if (!ts)
        return;
    if (ts->ev_snapshot)
        event_free(ts->ev_snapshot);
    rmq_topic_journal_close(ts->journal);
    free(ts);
}
