/* rmq_err.c - names and descriptions of rmq_err_t values, generated from
 * RMQ_ERRORS. Pure functions, any thread. */
#include "rmq_err.h"

#include <stddef.h>

#define RMQ_ERR_ROW_(sfx, val, desc) {RMQ_ERR_##sfx, #sfx, desc},

static const struct {
    int code;
    const char *name;
    const char *desc;
} err_table[] = {{RMQ_OK, "SUCCESS", "success"}, RMQ_ERRORS(RMQ_ERR_ROW_)};

/* a local error outside (BEGIN, END) would escape range checks */
#define RMQ_ERR_RANGE_(sfx, val, desc)                                                                       \
    _Static_assert((val) > 0 || ((val) > RMQ_ERR__BEGIN && (val) < RMQ_ERR__END), #sfx " outside "           \
                                                                                       "BEGIN..END");
RMQ_ERRORS(RMQ_ERR_RANGE_)

static int find(int err)
{
    for (size_t i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
        if (err_table[i].code == err)
            return (int)i;
    return -1;
}

const char *rmq_err2str(int err)
{
    int i = find(err);
    return i < 0 ? "unknown error" : err_table[i].desc;
}

const char *rmq_err2name(int err)
{
    int i = find(err);
    return i < 0 ? "UNKNOWN" : err_table[i].name;
}
