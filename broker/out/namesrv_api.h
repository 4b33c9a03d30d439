/* namesrv_api.h - the broker's side of the name-server protocol
 * (BrokerOuterAPI): REGISTER_BROKER to every configured name server with
 * the whole topic table at start, every registerNameServerPeriod and after
 * a failure; after topic changes with only the changed topics (RocketMQ's
 * registerIncrementBrokerData), the changes of a short window (and of the
 * time a registration is in flight) coalesced into one. UNREGISTER_BROKER
 * at shutdown. Asynchronous: a name server that is down is retried (1 s,
 * doubling up to the period) without blocking; who must answer only once
 * the name servers know a change (UPDATE_AND_CREATE_TOPIC, as Java) asks to
 * be called back. @thread io. */
#ifndef RMQ_NAMESRV_API_H
#define RMQ_NAMESRV_API_H

#include <stdint.h>

#include "rmq_map.h"

typedef struct rmq_broker_s rmq_broker_t;
typedef struct rmq_namesrv_api_s rmq_namesrv_api_t;

rmq_namesrv_api_t *rmq_namesrv_api_new(rmq_broker_t *b);
void rmq_namesrv_api_destroy(rmq_namesrv_api_t *ns);
/* Register the whole table with every name server now (coalesced with one
 * in flight). */
void rmq_namesrv_api_register_all(rmq_namesrv_api_t *ns);
/* These topics (names; put or deleted) changed: register them, soon.
 * A deleted topic is not sent (as Java, the name server keeps its route
 * until DELETE_TOPIC_IN_NAMESRV). */
void rmq_namesrv_api_topics_changed(rmq_namesrv_api_t *ns, const rmq_map_t *names);
/* done(arg) runs on io once the topic changes made so far reached every
 * name server (an answer came, or the name server is down and waits for its
 * retry), at the latest after registerBrokerTimeoutMills, as Java's
 * updateAndCreateTopic answers after its registration. At once when
 * nothing is outstanding (done runs inside this call then). */
void rmq_namesrv_api_after_registered(rmq_namesrv_api_t *ns, void (*done)(void *arg), void *arg);
/* Send UNREGISTER_BROKER to all; done() runs on io once every answer (or
 * timeout) came back. Returns the number of requests sent. */
int rmq_namesrv_api_unregister_all(rmq_namesrv_api_t *ns, void (*done)(rmq_broker_t *b));
/* Number of successful registrations so far, and of those the incremental
 * ones (tests / logs). */
int64_t rmq_namesrv_api_registered(const rmq_namesrv_api_t *ns);
int64_t rmq_namesrv_api_registered_incremental(const rmq_namesrv_api_t *ns);

#endif
