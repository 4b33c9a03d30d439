/* rmq_timer.c - millisecond timers over libevent, NULL-safe event free (rmq_timer.h).
 * Thread: whichever runs the event_base the timer belongs to. */
#include "rmq_timer.h"

void rmq_timer_add(struct event *ev, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)((ms % 1000) * 1000)};
    event_add(ev, &tv);
}

struct event *rmq_timer_new(struct event_base *base, int64_t ms, bool persist, event_callback_fn cb,
                            void *arg)
{
    struct event *ev = event_new(base, -1, persist ? EV_PERSIST : 0, cb, arg);
    rmq_timer_add(ev, ms);
    return ev;
}

void rmq_event_free(struct event *ev)
{
    if (ev)
        event_free(ev);
}

void rmq_event_clear(struct event **ev)
{
    rmq_event_free(*ev);
    *ev = NULL;
}
