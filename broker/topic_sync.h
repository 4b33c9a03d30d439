/* topic_sync.h - what follows a change of the topic table, at a cost that
 * does not grow with the table: the change is journalled before the request
 * is answered (meta/topic_journal.h), queued for an incremental
 * registration with the name servers (out/namesrv_api.h), and the table's
 * snapshot is taken at most once per TOPIC_SNAPSHOT_MS for all the changes
 * of that time. Connected slaves get the table at each change (so they know
 * a topic before its first message). @thread io (open,
 * started and close on main). */
#ifndef RMQ_TOPIC_SYNC_H
#define RMQ_TOPIC_SYNC_H

#include <stddef.h>

typedef struct rmq_broker_s rmq_broker_t;

#define TOPIC_SNAPSHOT_MS 1000

typedef struct rmq_topic_sync_s rmq_topic_sync_t;

/* Start-up, after the snapshot was loaded into b->topics: open the journal
 * and apply what it holds. NULL (reason in err) if it cannot be opened. */
rmq_topic_sync_t *rmq_topic_sync_open(rmq_broker_t *b, char *err, size_t errsize);
/* Start-up, once the table was written synchronously: empty the journal. */
void rmq_topic_sync_started(rmq_topic_sync_t *ts);
/* The names in b->topics.changed changed: journal them, queue them for
 * registration, schedule the snapshot; then forget them. */
void rmq_topic_sync_changed(rmq_topic_sync_t *ts);
/* Shutdown: free. The journal stays as it is: with the previous snapshot
 * (topics.msgpack.bak) it still rebuilds the table should the final one be
 * found corrupt; the next start applies it again (harmless) and empties it. */
void rmq_topic_sync_close(rmq_topic_sync_t *ts);

#endif
