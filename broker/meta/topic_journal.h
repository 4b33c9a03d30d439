/* topic_journal.h - the topic table's change journal: a topic change costs
 * one small append, not a rewrite of the whole table.
 *
 * Every change (a topic put or deleted) is appended to
 * <dir>/topics.journal.<0|1> with write() before the request is answered:
 * like RocketMQ's TopicConfigManager.persist (a whole-file write without
 * fsync), an acknowledged change survives a crash of the broker process,
 * not a power failure. The table's snapshot (topics.msgpack) is written
 * now and then by the snapshot writer; two files take turns so the one
 * the last snapshot covers can be emptied once that snapshot is on disk.
 *
 * File: 16-byte header ("CTJ1", u64 epoch, u32 0), then records:
 * u32 payload length, u32 crc32(payload), msgpack payload
 * [name, present, readQueues, writeQueues, perm, filterType, sysFlag, order]
 * (present false: deleted). A torn or corrupt tail ends the replay.
 * @thread io (open/reset on main at start-up). */
#ifndef RMQ_TOPIC_JOURNAL_H
#define RMQ_TOPIC_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "meta/topic_config.h"
#include "rmq_err.h"

typedef struct rmq_topic_journal_s rmq_topic_journal_t;

/* Open (create) both files in dir and apply what they hold to m, older
 * epoch first, on top of the snapshot already loaded into m. *applied: the
 * records applied. NULL (reason in err) if a file cannot be opened. */
rmq_topic_journal_t *rmq_topic_journal_open(const char *dir, rmq_topic_mgr_t *m, size_t *applied, char *err,
                                            size_t errsize);
/* Empty both files and start appending to the first. Only once a snapshot
 * holding every change replayed or appended so far is on disk. */
rmq_err_t rmq_topic_journal_reset(rmq_topic_journal_t *j);
/* Append the present state of every name in m->changed (put or deleted).
 * Returns the first write error (the changes stay in memory). */
rmq_err_t rmq_topic_journal_append(rmq_topic_journal_t *j, const rmq_topic_mgr_t *m);
/* Records appended to the active file since the last switch/reset. */
size_t rmq_topic_journal_pending(const rmq_topic_journal_t *j);
/* Empty the other file, start it with the next epoch and append there from
 * now on. Only once the snapshot taken at the previous switch is on disk;
 * the caller snapshots the table right after. */
rmq_err_t rmq_topic_journal_switch(rmq_topic_journal_t *j);
void rmq_topic_journal_close(rmq_topic_journal_t *j);

#endif
