/* error.c - comet_err_t: names and descriptions, and the compile-time proof
 * that the public enum (comet.h) and the internal one (common/rmq_err.h,
 * RMQ_ERRORS) agree, so an rmq_err_t can be returned as a comet_err_t
 * without translation. Pure functions, any thread. */
#include <stdbool.h>

#include "comet/comet.h"
#include "rmq_err.h"

/* Every internal error has a public twin with the same value (a missing
 * one does not compile: undeclared COMET_ERR_<suffix>). */
#define SAME_VALUE(sfx, val, desc)                                                                           \
    _Static_assert((int)COMET_ERR_##sfx == (int)RMQ_ERR_##sfx, "comet_err_t and rmq_err_t disagree "         \
                                                               "on " #sfx);
RMQ_ERRORS(SAME_VALUE)
_Static_assert((int)COMET_ERR_NO_ERROR == (int)RMQ_OK, "success is 0 on both sides");
_Static_assert((int)COMET_ERR__BEGIN == (int)RMQ_ERR__BEGIN && (int)COMET_ERR__END == (int)RMQ_ERR__END,
               "the local range is the same on both sides");

/* Every public value is in the internal list: -Wswitch (on with -Wall,
 * an error with -Werror) rejects a comet_err_t value without a case. */
__attribute__((unused)) static bool listed(comet_err_t e)
{
    switch (e) {
#define CASE(sfx, val, desc) case COMET_ERR_##sfx:
        RMQ_ERRORS(CASE)
    case COMET_ERR_NO_ERROR:
    case COMET_ERR__BEGIN:
    case COMET_ERR__END:
        return true;
    }
    return false;
}

const char *comet_err2str(comet_err_t err)
{
    return rmq_err2str((int)err);
}

const char *comet_err2name(comet_err_t err)
{
    return rmq_err2name((int)err);
}
