/* rmq_metrics.c - Prometheus text exposition writer, fixed-bucket
 * histograms, and the /proc reader behind the process collector.
 * Thread: whichever calls it; no shared state. The writer runs on a metric
 * owner's thread (render), the process reader on the HTTP thread. */
#include "rmq_metrics.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "rmq_json.h"

const char *const rmq_metrics_exporter_names[] = {
    [RMQ_METRICS_DISABLE] = "DISABLE", [RMQ_METRICS_PROM] = "PROM", NULL};

void rmq_prom_init(rmq_prom_t *w, rmq_buf_t *out, const char *common_labels)
{
    w->out = out;
    w->common = common_labels ? common_labels : "";
    w->family = "";
}

/* HELP text escapes only \ and newline. */
static void help_escape(rmq_buf_t *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            rmq_buf_puts(out, "\\\\");
        else if (*s == '\n')
            rmq_buf_puts(out, "\\n");
        else
            rmq_buf_putc(out, *s);
    }
}

void rmq_prom_family(rmq_prom_t *w, const char *name, const char *type, const char *help)
{
    w->family = name;
    rmq_buf_printf(w->out, "# HELP %s ", name);
    help_escape(w->out, help);
    rmq_buf_printf(w->out, "\n# TYPE %s %s\n", name, type);
}

void rmq_prom_escape(rmq_buf_t *out, const char *v)
{
    const unsigned char *p = (const unsigned char *)v;
    size_t n = strlen(v);
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        if (c == '\\') {
            rmq_buf_puts(out, "\\\\");
            i++;
        } else if (c == '"') {
            rmq_buf_puts(out, "\\\"");
            i++;
        } else if (c == '\n') {
            rmq_buf_puts(out, "\\n");
            i++;
        } else if (c < 0x80) {
            rmq_buf_putc(out, (char)c);
            i++;
        } else {
            uint32_t cp;
            size_t l = rmq_utf8_decode(p + i, n - i, &cp);
            if (l) {
                rmq_buf_put(out, p + i, l);
                i += l;
            } else {
                rmq_buf_puts(out, "\xEF\xBF\xBD"); /* U+FFFD */
                i++;
            }
        }
    }
}

void rmq_prom_labels(rmq_buf_t *out, const char *const *labels)
{
    bool first = true;
    for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
        if (!first)
            rmq_buf_putc(out, ',');
        first = false;
        rmq_buf_puts(out, labels[i]);
        rmq_buf_puts(out, "=\"");
        rmq_prom_escape(out, labels[i + 1]);
        rmq_buf_putc(out, '"');
    }
}

void rmq_prom_sample(rmq_prom_t *w, const char *suffix, const char *const *labels, const char *extra_k,
                     const char *extra_v, const char *value)
{
    rmq_buf_t *o = w->out;
    rmq_buf_puts(o, w->family);
    rmq_buf_puts(o, suffix ? suffix : "");
    bool any = w->common[0] || (labels && labels[0]) || extra_k;
    if (any) {
        rmq_buf_putc(o, '{');
        size_t mark = o->len;
        rmq_buf_puts(o, w->common);
        if (labels && labels[0]) {
            if (o->len > mark)
                rmq_buf_putc(o, ',');
            rmq_prom_labels(o, labels);
        }
        if (extra_k) {
            if (o->len > mark)
                rmq_buf_putc(o, ',');
            rmq_buf_printf(o, "%s=\"", extra_k);
            rmq_prom_escape(o, extra_v);
            rmq_buf_putc(o, '"');
        }
        rmq_buf_putc(o, '}');
    }
    rmq_buf_putc(o, ' ');
    rmq_buf_puts(o, value);
    rmq_buf_putc(o, '\n');
}

void rmq_prom_int(rmq_prom_t *w, const char *const *labels, int64_t v)
{
    char num[24];
    snprintf(num, sizeof(num), "%lld", (long long)v);
    rmq_prom_sample(w, "", labels, NULL, NULL, num);
}

static void fmt_dbl(char *out, size_t n, double v)
{
    if (isnan(v))
        snprintf(out, n, "NaN");
    else if (isinf(v))
        snprintf(out, n, v > 0 ? "+Inf" : "-Inf");
    else
        snprintf(out, n, "%.12g", v);
}

void rmq_prom_dbl(rmq_prom_t *w, const char *const *labels, double v)
{
    char num[40];
    fmt_dbl(num, sizeof(num), v);
    rmq_prom_sample(w, "", labels, NULL, NULL, num);
}

bool rmq_prom_valid_name(const char *name)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (p != name && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return strncmp(name, "__", 2) != 0; /* reserved for Prometheus' own use */
}

bool rmq_prom_parse_label_list(const char *spec, rmq_buf_t *out, char *errstr, size_t errstr_size)
{
    if (!spec)
        return true;
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > 0) {
            char item[512];
            if (len >= sizeof(item)) {
                snprintf(errstr, errstr_size, "label pair longer than %zu bytes", sizeof(item) - 1);
                return false;
            }
            memcpy(item, p, len);
            item[len] = 0;
            char *colon = strchr(item, ':');
            if (!colon || strchr(colon + 1, ':')) {
                snprintf(errstr, errstr_size, "\"%s\" is not name:value", item);
                return false;
            }
            *colon = 0;
            if (!rmq_prom_valid_name(item)) {
                snprintf(errstr, errstr_size, "\"%s\" is not a valid label name", item);
                return false;
            }
            if (out->len)
                rmq_buf_putc(out, ',');
            rmq_buf_printf(out, "%s=\"", item);
            rmq_prom_escape(out, colon + 1);
            rmq_buf_putc(out, '"');
        }
        if (!end)
            break;
        p = end + 1;
    }
    return true;
}

/* ---- histograms ---- */

void rmq_hist_init(rmq_hist_t *h, const int64_t *bounds, int nb)
{
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->nb = nb > RMQ_HIST_MAX_BOUNDS ? RMQ_HIST_MAX_BOUNDS : nb;
}

void rmq_prom_hist(rmq_prom_t *w, const char *const *labels, const rmq_hist_t *h)
{
    uint64_t cum = 0;
    char le[24], num[24];
    for (int i = 0; i <= h->nb; i++) {
        cum += h->counts[i];
        if (i < h->nb)
            snprintf(le, sizeof(le), "%lld", (long long)h->bounds[i]);
        else
            snprintf(le, sizeof(le), "+Inf");
        snprintf(num, sizeof(num), "%llu", (unsigned long long)cum);
        rmq_prom_sample(w, "_bucket", labels, "le", le, num);
    }
    snprintf(num, sizeof(num), "%lld", (long long)h->sum);
    rmq_prom_sample(w, "_sum", labels, NULL, NULL, num);
    snprintf(num, sizeof(num), "%llu", (unsigned long long)h->count);
    rmq_prom_sample(w, "_count", labels, NULL, NULL, num);
}

/* ---- process collector ---- */

static double boot_time(void)
{
    FILE *f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    char line[256];
    double bt = 0;
    while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, "btime ", 6)) {
            bt = strtod(line + 6, NULL);
            break;
        }
    }
    fclose(f);
    return bt;
}

bool rmq_proc_stats_read(rmq_proc_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    st->open_fds = -1;
    char buf[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return false;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = 0;
    /* the command name is in parentheses and may contain spaces: skip to the last ')' */
    char *p = strrchr(buf, ')');
    if (!p)
        return false;
    p++;
    /* fields after the name, numbered from 3 (state) as in proc(5) */
    unsigned long long v[60] = {0};
    int field = 3;
    char *save = NULL;
    for (char *tok = strtok_r(p, " ", &save); tok && field < 60; tok = strtok_r(NULL, " ", &save), field++)
        v[field] = strtoull(tok, NULL, 10);
    long tck = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    if (tck <= 0)
        tck = 100;
    st->cpu_seconds = (double)(v[14] + v[15]) / (double)tck;
    st->threads = (int64_t)v[20];
    st->start_time = boot_time() + (double)v[22] / (double)tck;
    st->vsize_bytes = (int64_t)v[23];
    st->rss_bytes = (int64_t)v[24] * page;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        st->max_fds = rl.rlim_cur == RLIM_INFINITY ? -1 : (int64_t)rl.rlim_cur;
    DIR *d = opendir("/proc/self/fd");
    if (d) {
        int64_t count = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL)
            if (e->d_name[0] != '.')
                count++;
        closedir(d);
        st->open_fds = count - 1; /* the directory handle itself */
    }
    return true;
}

void rmq_prom_process(rmq_prom_t *w, const rmq_proc_stats_t *st)
{
    rmq_prom_family(w, "process_cpu_seconds_total", "counter",
                    "Total user and system CPU time spent in seconds.");
    rmq_prom_dbl(w, NULL, st->cpu_seconds);
    rmq_prom_family(w, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    rmq_prom_int(w, NULL, st->rss_bytes);
    rmq_prom_family(w, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    rmq_prom_int(w, NULL, st->vsize_bytes);
    rmq_prom_family(w, "process_start_time_seconds", "gauge",
                    "Start time of the process since unix epoch in seconds.");
    rmq_prom_dbl(w, NULL, st->start_time);
    if (st->open_fds >= 0) {
        rmq_prom_family(w, "process_open_fds", "gauge", "Number of open file descriptors.");
        rmq_prom_int(w, NULL, st->open_fds);
    }
    if (st->max_fds >= 0) {
        rmq_prom_family(w, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
        rmq_prom_int(w, NULL, st->max_fds);
    }
    rmq_prom_family(w, "comet_process_threads", "gauge", "Threads of the process.");
    rmq_prom_int(w, NULL, st->threads);
}
