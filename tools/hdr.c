/* hdr.c - see hdr.h. Pure functions; the caller owns synchronisation. */
#include "hdr.h"

#include <string.h>

void hdr_reset(hdr_t *h)
{
    memset(h, 0, sizeof(*h));
    h->min = INT64_MAX;
}

static void index_of(int64_t v, int *e, int *s)
{
    if (v < HDR_SUB) {
        *e = 0;
        *s = (int)v;
        return;
    }
    int msb = 63 - __builtin_clzll((unsigned long long)v); /* >= 6 */
    int shift = msb - 5;                                   /* keep 6 significant bits */
    *e = shift;
    *s = (int)(v >> shift); /* 32..63: bit 5 set */
    if (*e >= HDR_EXP) {
        *e = HDR_EXP - 1;
        *s = HDR_SUB - 1;
    }
}

static int64_t upper_of(int e, int s)
{
    if (e == 0)
        return s;
    return ((int64_t)s << e) + ((int64_t)1 << e) - 1;
}

void hdr_record(hdr_t *h, int64_t v)
{
    if (v < 0)
        v = 0;
    int e, s;
    index_of(v, &e, &s);
    h->counts[e][s]++;
    h->total++;
    if (v > h->max)
        h->max = v;
    if (v < h->min)
        h->min = v;
}

void hdr_merge(hdr_t *d, const hdr_t *src)
{
    for (int e = 0; e < HDR_EXP; e++)
        for (int s = 0; s < HDR_SUB; s++)
            d->counts[e][s] += src->counts[e][s];
    d->total += src->total;
    if (src->max > d->max)
        d->max = src->max;
    if (src->total && src->min < d->min)
        d->min = src->min;
}

int64_t hdr_quantile(const hdr_t *h, double q)
{
    if (!h->total)
        return 0;
    uint64_t want = (uint64_t)(q * (double)h->total);
    if (want >= h->total)
        want = h->total - 1;
    uint64_t seen = 0;
    for (int e = 0; e < HDR_EXP; e++)
        for (int s = 0; s < HDR_SUB; s++) {
            seen += h->counts[e][s];
            if (seen > want) {
                int64_t u = upper_of(e, s);
                return u > h->max ? h->max : u;
            }
        }
    return h->max;
}
