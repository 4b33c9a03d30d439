/* broker_meta.h - the broker's metadata tables as one set (broker_meta.c):
 * loading and persisting them, and the auto-creation rules every processor
 * shares (subscription groups, %RETRY% topics). Persisting hands a table to
 * the snapshot writer and then calls the broker's meta_persisted hook
 * (replication); a changed topic set calls topics_changed (journal,
 * registration):
 * the controller sets both, so this code depends on the state (broker.h)
 * and the tables (meta/), never on the services. @thread io (and main
 * before the loop starts). */
#ifndef RMQ_BROKER_META_H
#define RMQ_BROKER_META_H

#include "broker.h"

/* Controller only (start): bind the tables to their files and load them
 * (until then persisting does nothing); then add the system topics and
 * write every table once (ready). */
void rmq_broker_meta_load(rmq_broker_t *b);
void rmq_broker_meta_ready(rmq_broker_t *b);

/* Snapshot one table (the writer thread writes it) and tell replication;
 * returns the writer's submission number (rmq_file_writer_poll). The three
 * helpers below are the same for one table each. */
uint64_t rmq_broker_persist(rmq_broker_t *b, rmq_broker_meta_t which);
void rmq_broker_persist_all(rmq_broker_t *b);
void rmq_broker_persist_topics(rmq_broker_t *b);
void rmq_broker_persist_groups(rmq_broker_t *b);
void rmq_broker_persist_offsets(rmq_broker_t *b);

/* Topics were created/changed/deleted (rmq_topic_put/del): the controller's
 * topics_changed hook journals them, registers them (incrementally) and
 * snapshots later (topic_sync.h); before the hook is set, persist. */
void rmq_broker_topics_changed(rmq_broker_t *b);

/* Find a subscription group, auto-creating it when allowed (persisting).
 * NULL if it does not exist and cannot be created. */
rmq_sub_group_t *rmq_broker_get_group(rmq_broker_t *b, const char *group);
/* Ensure %RETRY%<group> exists (retryQueueNums queues, perm 6). */
rmq_topic_config_t *rmq_broker_ensure_retry_topic(rmq_broker_t *b, const char *group, int queues);

#endif
