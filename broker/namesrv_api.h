/* namesrv_api.h - the broker's side of the name-server protocol
 * (BrokerOuterAPI): REGISTER_BROKER to every configured name server at
 * start, every registerNameServerPeriod and after topic changes;
 * UNREGISTER_BROKER at shutdown. Asynchronous: a name server that is down
 * is retried (1 s, doubling up to the period) without blocking. @thread io. */
#ifndef RMQ_NAMESRV_API_H
#define RMQ_NAMESRV_API_H

#include "broker.h"

rmq_namesrv_api_t *rmq_namesrv_api_new(rmq_broker_t *b);
void rmq_namesrv_api_destroy(rmq_namesrv_api_t *ns);
/* Register with every name server now (coalesced with one in flight). */
void rmq_namesrv_api_register_all(rmq_namesrv_api_t *ns);
/* Send UNREGISTER_BROKER to all; done() runs on io once every answer (or
 * timeout) came back. Returns the number of requests sent. */
int rmq_namesrv_api_unregister_all(rmq_namesrv_api_t *ns, void (*done)(rmq_broker_t *b));
/* Number of successful registrations so far (tests / logs). */
int64_t rmq_namesrv_api_registered(const rmq_namesrv_api_t *ns);

#endif
