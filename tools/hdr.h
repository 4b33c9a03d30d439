/* hdr.h - a small HDR-style latency histogram for mqbench: log-linear
 * buckets (64 sub-buckets per power of two, <= 1.6 % relative error) over
 * 1 us .. ~1 h, mergeable, lock-free recording per thread (each thread
 * records into its own histogram; merge at report time). */
#ifndef COMET_HDR_H
#define COMET_HDR_H

#include <stdint.h>

#define HDR_SUB 64
#define HDR_EXP 32

typedef struct hdr_s {
    uint64_t counts[HDR_EXP][HDR_SUB];
    uint64_t total;
    int64_t max;
    int64_t min;
} hdr_t;

void hdr_reset(hdr_t *h);
void hdr_record(hdr_t *h, int64_t v);
void hdr_merge(hdr_t *dst, const hdr_t *src);
/* Value at quantile q (0..1); the bucket's upper edge. 0 when empty. */
int64_t hdr_quantile(const hdr_t *h, double q);

#endif
