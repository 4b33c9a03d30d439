/* rebalance.c - queue allocation among the consumers of a group
 * (AllocateMessageQueueAveragely, docs/protocol.md §6.4) and the sort orders it
 * depends on (MessageQueue.compareTo, String.compareTo).
 *
 * Pure functions; called on the service thread. Strings compare by bytes,
 * which equals Java's UTF-16 order for the ASCII ids and names in use. */
#include <stdlib.h>
#include <string.h>

#include "comet_int.h"

size_t cm_allocate_averagely(size_t nmq, const char *const *cids, size_t ncid, const char *me, size_t *out)
{
    if (!me || nmq == 0 || ncid == 0)
        return 0;
    size_t index = ncid;
    for (size_t i = 0; i < ncid; i++)
        if (strcmp(cids[i], me) == 0) {
            index = i;
            break;
        }
    if (index == ncid)
        return 0;
    size_t mod = nmq % ncid;
    size_t avg = nmq <= ncid ? 1 : (mod > 0 && index < mod ? nmq / ncid + 1 : nmq / ncid);
    size_t start = (mod > 0 && index < mod) ? index * avg : index * avg + mod;
    if (start >= nmq && nmq <= ncid && index >= nmq)
        return 0; /* range = min(avg, nmq - start) <= 0 */
    size_t range = nmq > start ? (avg < nmq - start ? avg : nmq - start) : 0;
    for (size_t i = 0; i < range; i++)
        out[i] = (start + i) % nmq;
    return range;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}
void cm_sort_strings(char **v, size_t n)
{
    qsort(v, n, sizeof(*v), str_cmp);
}

static int mq_cmp_v(const void *a, const void *b)
{
    return cm_mq_cmp(a, b);
}
void cm_sort_mqs(cm_mq_t *v, size_t n)
{
    qsort(v, n, sizeof(*v), mq_cmp_v);
}
