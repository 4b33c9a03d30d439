/* broker_meta.c - the broker's metadata tables as one set: binding them to
 * the snapshot files (meta/snapshot.h), loading and persisting them, the
 * system topics, and the auto-creation rules every processor shares
 * (subscription groups, %RETRY% topics). Replication and registration hear
 * of changes through the broker's hooks (broker_meta.h).
 * Thread: io (and main before the loop starts). */
#include "broker_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_log.h"
#include "schedule/schedule.h"

/* The persisted tables (meta/snapshot.h), in load order. */
static const rmq_meta_ops_t *const meta_ops[RMQ_BROKER_META_COUNT] = {
    [RMQ_BROKER_META_DELAY] = &rmq_schedule_meta_ops,
    [RMQ_BROKER_META_TOPICS] = &rmq_topic_meta_ops,
    [RMQ_BROKER_META_GROUPS] = &rmq_sub_group_meta_ops,
    [RMQ_BROKER_META_OFFSETS] = &rmq_offset_meta_ops,
};

static void meta_bind(rmq_broker_t *b)
{
    void *objs[RMQ_BROKER_META_COUNT] = {
        [RMQ_BROKER_META_DELAY] = b->schedule,
        [RMQ_BROKER_META_TOPICS] = &b->topics,
        [RMQ_BROKER_META_GROUPS] = &b->groups,
        [RMQ_BROKER_META_OFFSETS] = &b->offsets,
    };
    for (int i = 0; i < RMQ_BROKER_META_COUNT; i++)
        b->meta[i] = (rmq_meta_table_t){meta_ops[i], objs[i]};
}

uint64_t rmq_broker_persist(rmq_broker_t *b, rmq_broker_meta_t which)
{
    if (!b->meta[which].obj)
        return 0;
    uint64_t gen = rmq_meta_persist(b->config_dir, b->snap, &b->meta[which]);
    if (b->meta_persisted)
        b->meta_persisted(b, which);
    return gen;
}

void rmq_broker_persist_all(rmq_broker_t *b)
{
    for (int i = 0; i < RMQ_BROKER_META_COUNT; i++)
        rmq_broker_persist(b, (rmq_broker_meta_t)i);
}

void rmq_broker_persist_topics(rmq_broker_t *b)
{
    rmq_broker_persist(b, RMQ_BROKER_META_TOPICS);
}

void rmq_broker_persist_groups(rmq_broker_t *b)
{
    rmq_broker_persist(b, RMQ_BROKER_META_GROUPS);
}

void rmq_broker_persist_offsets(rmq_broker_t *b)
{
    rmq_broker_persist(b, RMQ_BROKER_META_OFFSETS);
}

void rmq_broker_topics_changed(rmq_broker_t *b)
{
    if (b->topics_changed)
        b->topics_changed(b);
    else
        rmq_broker_persist_topics(b);
}

rmq_sub_group_t *rmq_broker_get_group(rmq_broker_t *b, const char *group)
{
    rmq_sub_group_t *g = rmq_sub_group_get(&b->groups, group);
    if (g || !b->conf.autoCreateSubscriptionGroup || !group || !*group)
        return g;
    rmq_sub_group_t n;
    rmq_sub_group_defaults(&n, group);
    g = rmq_sub_group_put(&b->groups, &n);
    rmq_log(RMQ_LOG_INFO, "broker", "auto-created subscription group %s", group);
    rmq_broker_persist_groups(b);
    return g;
}

rmq_topic_config_t *rmq_broker_ensure_retry_topic(rmq_broker_t *b, const char *group, int queues)
{
    char name[300];
    snprintf(name, sizeof(name), "%s%s", RMQ_RETRY_PREFIX, group);
    rmq_topic_config_t *tc = rmq_topic_get(&b->topics, name);
    if (tc)
        return tc;
    rmq_topic_config_t n = {
        name, queues > 0 ? queues : 1, queues > 0 ? queues : 1, RMQ_PERM_READ | RMQ_PERM_WRITE, 0, 0, false};
    tc = rmq_topic_put(&b->topics, &n);
    rmq_broker_topics_changed(b);
    return tc;
}

static void add_system_topic(rmq_broker_t *b, const char *name, int q, int perm)
{
    if (rmq_topic_get(&b->topics, name))
        return;
    rmq_topic_config_t tc = {(char *)name, q, q, perm, 0, 0, false};
    rmq_topic_put(&b->topics, &tc);
}

static void system_topics(rmq_broker_t *b)
{
    add_system_topic(b, RMQ_TOPIC_SELF_TEST, 1, 6);
    if (b->conf.autoCreateTopicEnable)
        add_system_topic(b, RMQ_TOPIC_TBW102, b->conf.defaultTopicQueueNums, 7);
    add_system_topic(b, RMQ_TOPIC_BENCHMARK, 1024, 6);
    if (b->conf.clusterTopicEnable)
        add_system_topic(b, b->conf.brokerClusterName, 16, 7);
    if (b->conf.brokerTopicEnable)
        add_system_topic(b, b->conf.brokerName, 1, 7);
    add_system_topic(b, RMQ_TOPIC_OFFSET_MOVED, 1, 6);
    add_system_topic(b, RMQ_SCHEDULE_TOPIC, 18, 6);
    char reply[300];
    snprintf(reply, sizeof(reply), "%s_REPLY_TOPIC", b->conf.brokerClusterName);
    add_system_topic(b, reply, 1, 6);
}

void rmq_broker_meta_load(rmq_broker_t *b)
{
    meta_bind(b);
    for (int i = 0; i < RMQ_BROKER_META_COUNT; i++)
        rmq_meta_load(b->config_dir, &b->meta[i]);
}

void rmq_broker_meta_ready(rmq_broker_t *b)
{
    system_topics(b);
    rmq_broker_persist_all(b); /* the (possibly imported) state, once, before traffic */
}
