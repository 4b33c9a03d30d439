/* rmq_codes.c - request code names (for logs and mqadmin). Any thread. */
#include "rmq_codes.h"

#include <stddef.h>

const char *rmq_req_name(int code)
{
    switch (code) {
#define RMQ_REQ_CASE(name, value)                                                                            \
    case RMQ_REQ_##name:                                                                                     \
        return #name;
        RMQ_REQ_CODES(RMQ_REQ_CASE)
#undef RMQ_REQ_CASE
    default:
        return NULL;
    }
}
