/* rmq_timer.h - libevent timers in milliseconds: one place for the
 * ms -> struct timeval conversion and the event_new + event_add that every
 * periodic or re-armed timer of the servers needs, and the NULL-safe free of
 * any event. @thread the loop's (as event_add: the thread that runs base, or
 * before it runs). */
#ifndef RMQ_TIMER_H
#define RMQ_TIMER_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

/* A timer on base calling cb(-1, EV_TIMEOUT, arg) in ms milliseconds, every
 * ms when persist; already added. Free it with event_free (rmq_event_free). */
struct event *rmq_timer_new(struct event_base *base, int64_t ms, bool persist, event_callback_fn cb,
                            void *arg);
/* (Re)arm ev to fire in ms milliseconds (negative: at once). */
void rmq_timer_add(struct event *ev, int64_t ms);
/* event_free for an event that may not have been made (NULL: nothing). */
void rmq_event_free(struct event *ev);
/* rmq_event_free(*ev), and forget it (*ev = NULL). */
void rmq_event_clear(struct event **ev);

#endif
