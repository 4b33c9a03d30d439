/* poller.h - mqconsole's view of the cluster, refreshed every
 * pollIntervalMs on its own thread: brokers (role, version, TPS from the
 * put/get counters, replication lag of every slave from the commit-log
 * offsets), topics (queues, offsets, TPS), consumer groups (members, lag,
 * consume TPS), each rendered once per poll as a JSON document that any
 * number of HTTP requests share, plus a history ring of historyPoints polls
 * per broker, topic and group (TPS, lag, replication lag) for the charts.
 * Thread: the Poller thread writes; readers (HTTP thread) take a reference
 * under the mutex. */
#ifndef MC_POLLER_H
#define MC_POLLER_H

#include <stdbool.h>

#include "console.h"
#include "rmq_buf.h"
#include "rmq_http.h"

enum { MC_VIEW_CLUSTER, MC_VIEW_TOPICS, MC_VIEW_GROUPS, MC_VIEW_COUNT };

mc_poller_t *mc_poller_start(const mc_conf_t *conf);
void mc_poller_stop(mc_poller_t *p);
/* The latest document of a view, referenced (rmq_http_blob_unref it); NULL
 * before the first poll finished. */
rmq_http_blob_t *mc_poller_view(mc_poller_t *p, int view);
/* {"t":[ms...],"series":{"<field>":[v|null,...]}} of one broker (its
 * address), topic or group into out; false when unknown. */
bool mc_poller_history(mc_poller_t *p, const char *kind, const char *name, rmq_buf_t *out);
/* Poll again now (after a write action). */
void mc_poller_kick(mc_poller_t *p);
/* Polls completed (tests wait for the first). */
int64_t mc_poller_rounds(mc_poller_t *p);

/* Topic kinds and system groups, as RocketMQ Dashboard tells them apart. */
const char *mc_topic_kind(const char *topic);
bool mc_group_is_system(const char *group);

#endif
