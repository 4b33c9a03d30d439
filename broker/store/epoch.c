/* epoch.c - the epoch list file <root>/epoch and the comparison of two lists
 * (where two commit logs stop agreeing).
 *
 * File format (text, one entry per line, oldest first):
 *     # Comet epoch list: <epoch> <first commit-log offset of that epoch>
 *     1 0
 *     2 1048576
 * Written whole: temporary file, fsync, rename, fsync of the directory, so a
 * crash leaves either the old or the new list.
 *
 * Owns: the in-memory copy of the list (f->lock).
 * Runs: on the thread that changes it (the broker at start, the HA thread of
 * a slave); reads from any thread.
 * Must never: keep an entry that starts past a cut of the log, or accept a
 * list that is not ascending. */
#include "epoch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_file.h"
#include "rmq_log.h"

static bool ascending(const rmq_epoch_entry_t *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (e[i].epoch <= 0 || e[i].start_offset < 0)
            return false;
        if (i > 0 && (e[i].epoch <= e[i - 1].epoch || e[i].start_offset < e[i - 1].start_offset))
            return false;
    }
    return true;
}

rmq_err_t rmq_epoch_file_open(const char *path, rmq_epoch_file_t **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    rmq_epoch_file_t *f = rmq_calloc(1, sizeof(*f));
    pthread_mutex_init(&f->lock, NULL);
    f->path = rmq_strdup(path);
    char *text = NULL;
    size_t len = 0;
    rmq_err_t r = rmq_file_read_all(path, &text, &len);
    if (r != RMQ_OK) {
        if (access(path, F_OK) == 0) {
            snprintf(errstr, errstr_size, "cannot read the epoch file %s", path);
            rmq_epoch_file_close(f);
            return RMQ_ERR__IO;
        }
        *out = f; /* a store that never had a master epoch */
        return RMQ_OK;
    }
    size_t cap = 0;
    int line = 0;
    char *save = NULL;
    for (char *ln = strtok_r(text, "\n", &save); ln; ln = strtok_r(NULL, "\n", &save)) {
        line++;
        while (*ln == ' ' || *ln == '\t' || *ln == '\r')
            ln++;
        if (!*ln || *ln == '#')
            continue;
        long long ep, start;
        char extra;
        if (sscanf(ln, "%lld %lld %c", &ep, &start, &extra) != 2) {
            snprintf(errstr, errstr_size, "%s:%d: expected \"<epoch> <start offset>\"", path, line);
            r = RMQ_ERR__CORRUPT;
            break;
        }
        if (f->n == cap) {
            cap = cap ? cap * 2 : 8;
            f->e = rmq_realloc(f->e, cap * sizeof(*f->e));
        }
        f->e[f->n++] = (rmq_epoch_entry_t){ep, start};
    }
    free(text);
    if (r == RMQ_OK && !ascending(f->e, f->n)) {
        snprintf(errstr, errstr_size, "%s: epochs and start offsets must be positive and ascending", path);
        r = RMQ_ERR__CORRUPT;
    }
    if (r != RMQ_OK) {
        rmq_epoch_file_close(f);
        return r;
    }
    *out = f;
    return RMQ_OK;
}

void rmq_epoch_file_close(rmq_epoch_file_t *f)
{
    if (!f)
        return;
    pthread_mutex_destroy(&f->lock);
    free(f->path);
    free(f->e);
    free(f);
}

static rmq_err_t write_file(const char *path, const rmq_epoch_entry_t *e, size_t n)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_buf_puts(&b, "# Comet epoch list: <epoch> <first commit-log offset of that epoch>\n");
    for (size_t i = 0; i < n; i++)
        rmq_buf_printf(&b, "%" PRId64 " %" PRId64 "\n", e[i].epoch, e[i].start_offset);
    rmq_err_t r = rmq_file_write_atomic(path, b.data, b.len);
    rmq_buf_free(&b);
    return r;
}

rmq_err_t rmq_epoch_file_store(rmq_epoch_file_t *f, const rmq_epoch_entry_t *e, size_t n)
{
    if (!ascending(e, n))
        return RMQ_ERR__INVALID_ARG;
    pthread_mutex_lock(&f->lock);
    rmq_err_t r = write_file(f->path, e, n);
    if (r == RMQ_OK) {
        rmq_epoch_entry_t *copy = rmq_malloc((n + 1) * sizeof(*copy));
        if (n)
            memcpy(copy, e, n * sizeof(*e));
        free(f->e);
        f->e = copy;
        f->n = n;
    }
    pthread_mutex_unlock(&f->lock);
    return r;
}

rmq_err_t rmq_epoch_file_truncate(rmq_epoch_file_t *f, int64_t offset)
{
    pthread_mutex_lock(&f->lock);
    size_t keep = f->n;
    while (keep > 0 && f->e[keep - 1].start_offset > offset)
        keep--;
    rmq_err_t r = RMQ_OK;
    if (keep != f->n) {
        for (size_t i = keep; i < f->n; i++)
            rmq_log(RMQ_LOG_WARN, "store",
                    "epoch %" PRId64 " (from offset %" PRId64 ") dropped: the log is cut at %" PRId64,
                    f->e[i].epoch, f->e[i].start_offset, offset);
        r = write_file(f->path, f->e, keep);
        if (r == RMQ_OK)
            f->n = keep;
    }
    pthread_mutex_unlock(&f->lock);
    return r;
}

/* ----------------------------------------------------------- comparison */

int64_t rmq_epoch_common_end(const rmq_epoch_entry_t *m, size_t mn, int64_t m_end, const rmq_epoch_entry_t *s,
                             size_t sn, int64_t s_end)
{
    int64_t end = s_end < m_end ? s_end : m_end;
    if (mn == 0 || sn == 0)
        return end; /* a log from before epochs were kept: nothing to compare */
    /* the newest epoch both lists hold with the same start */
    for (size_t j = sn; j > 0; j--) {
        for (size_t i = mn; i > 0; i--) {
            if (m[i - 1].epoch != s[j - 1].epoch)
                continue;
            if (m[i - 1].start_offset != s[j - 1].start_offset)
                break; /* the same number for two histories: look further back */
            int64_t m_next = i < mn ? m[i].start_offset : m_end;
            int64_t s_next = j < sn ? s[j].start_offset : s_end;
            int64_t e = m_next < s_next ? m_next : s_next;
            return e < end ? e : end;
        }
    }
    /* no shared epoch: the logs agree on nothing either list can vouch for */
    int64_t first = m[0].start_offset < s[0].start_offset ? m[0].start_offset : s[0].start_offset;
    return first < end ? first : end;
}
