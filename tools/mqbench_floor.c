/* mqbench_floor.c - the network floor (a bare request/response loop over
 * loopback TCP) and the disk floor (write + fdatasync at a batch size); see
 * mqbench_floor.h. Threads: floor-net forks one server process (a single
 * epoll thread) and runs the clients on their own threads; floor-disk runs
 * on the calling thread. */
#include "mqbench_floor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hdr.h"
#include "procstat.h"

static int64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef struct fopts_s {
    int clients, req, resp, batch, size;
    double secs;
    const char *dir;
    bool json;
} fopts_t;

static int parse(int argc, char **argv, fopts_t *o)
{
    static const struct option lo[] = {{"json", no_argument, 0, 'J'}, {0, 0, 0, 0}};
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "w:s:r:d:b:D:", lo, NULL)) != -1) {
        switch (ch) {
        case 'w':
            o->clients = atoi(optarg);
            break;
        case 's':
            o->size = o->req = atoi(optarg);
            break;
        case 'r':
            o->resp = atoi(optarg);
            break;
        case 'd':
            o->secs = atof(optarg);
            break;
        case 'b':
            o->batch = atoi(optarg);
            break;
        case 'D':
            o->dir = optarg;
            break;
        case 'J':
            o->json = true;
            break;
        default:
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ network */

/* Write all n bytes of p (out) or read exactly n into p (!out), riding out
 * EINTR; false on an error or end of file. */
static bool xfer_all(int fd, uint8_t *p, size_t n, bool out)
{
    while (n) {
        ssize_t k = out ? write(fd, p, n) : read(fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

typedef struct sconn_s {
    int fd;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_len, out_off, out_cap;
} sconn_t;

/* The server: every complete frame read is answered; the answers to one
 * read go out in one write. Runs until its parent closes the pipe. */
static void net_server(int lfd, int stop_fd, int resp_size)
{
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    struct epoll_event sev = {.events = EPOLLIN, .data.ptr = &stop_fd};
    epoll_ctl(ep, EPOLL_CTL_ADD, stop_fd, &sev);
    uint8_t *resp = calloc(1, (size_t)resp_size + 4);
    resp[0] = (uint8_t)(resp_size >> 24), resp[1] = (uint8_t)(resp_size >> 16);
    resp[2] = (uint8_t)(resp_size >> 8), resp[3] = (uint8_t)resp_size;
    for (;;) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        if (n < 0 && errno == EINTR)
            continue;
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == &stop_fd)
                _exit(0);
            if (evs[i].data.ptr == NULL) {
                int fd = accept(lfd, NULL, NULL);
                if (fd < 0)
                    continue;
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                fcntl(fd, F_SETFL, O_NONBLOCK);
                sconn_t *c = calloc(1, sizeof(*c));
                c->fd = fd;
                struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
                continue;
            }
            sconn_t *c = evs[i].data.ptr;
            if (evs[i].events & EPOLLOUT) {
                ssize_t w = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
                if (w > 0)
                    c->out_off += (size_t)w;
                if (c->out_off == c->out_len) {
                    c->out_len = c->out_off = 0;
                    struct epoll_event cev = {.events = EPOLLIN, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
                }
            }
            if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
                continue;
            for (;;) {
                if (c->in_cap - c->in_len < 65536) {
                    c->in_cap = c->in_cap ? c->in_cap * 2 : 262144;
                    c->in = realloc(c->in, c->in_cap);
                }
                ssize_t r = read(c->fd, c->in + c->in_len, c->in_cap - c->in_len);
                if (r <= 0) {
                    if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
                        epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
                        close(c->fd);
                        free(c->in);
                        free(c->out);
                        free(c);
                        c = NULL;
                    }
                    break;
                }
                c->in_len += (size_t)r;
                if ((size_t)r < c->in_cap - c->in_len + (size_t)r)
                    break; /* drained the socket */
            }
            if (!c)
                continue;
            size_t off = 0;
            while (c->in_len - off >= 4) {
                const uint8_t *p = c->in + off;
                size_t fl = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
                if (c->in_len - off < 4 + fl)
                    break;
                off += 4 + fl;
                if (c->out_cap - c->out_len < (size_t)resp_size + 4) {
                    c->out_cap = c->out_cap * 2 + (size_t)resp_size + 4;
                    c->out = realloc(c->out, c->out_cap);
                }
                memcpy(c->out + c->out_len, resp, (size_t)resp_size + 4);
                c->out_len += (size_t)resp_size + 4;
            }
            memmove(c->in, c->in + off, c->in_len - off);
            c->in_len -= off;
            if (c->out_len > c->out_off && c->out_off == 0) {
                ssize_t w = write(c->fd, c->out, c->out_len);
                if (w > 0)
                    c->out_off = (size_t)w;
                if (c->out_off == c->out_len) {
                    c->out_len = c->out_off = 0;
                } else {
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
                    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &cev);
                }
            }
        }
    }
}

typedef struct nclient_s {
    int port, req, resp;
    int64_t deadline;
    atomic_bool *go;
    hdr_t h;
    int64_t ops;
    bool failed;
} nclient_t;

static void *net_client(void *arg)
{
    nclient_t *c = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        c->failed = true;
        close(fd);
        return NULL;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    uint8_t *req = calloc(1, (size_t)c->req + 4);
    uint8_t *resp = malloc((size_t)c->resp + 4);
    req[0] = (uint8_t)(c->req >> 24), req[1] = (uint8_t)(c->req >> 16);
    req[2] = (uint8_t)(c->req >> 8), req[3] = (uint8_t)c->req;
    while (!atomic_load(c->go))
        usleep(1000);
    while (mono_us() < c->deadline) {
        int64_t t0 = mono_us();
        if (!xfer_all(fd, req, (size_t)c->req + 4, true) || !xfer_all(fd, resp, (size_t)c->resp + 4, false)) {
            c->failed = true;
            break;
        }
        hdr_record(&c->h, mono_us() - t0);
        c->ops++;
    }
    close(fd);
    free(req);
    free(resp);
    return NULL;
}

static void print_side(const char *name, const ps_sample_t *a, const ps_sample_t *b, int64_t ops, bool json,
                       bool last)
{
    double cpu = ops ? (double)(b->cpu_ns - a->cpu_ns) / 1000.0 / (double)ops : 0;
    double cs = ops ? (double)(b->vcs - a->vcs + b->ivcs - a->ivcs) / (double)ops : 0;
    if (json)
        printf("\"%s_cpu_us_per_op\":%.2f,\"%s_cs_per_op\":%.3f%s", name, cpu, name, cs, last ? "" : ",");
    else
        printf("  %-7s CPU %.2f us/op, context switches %.3f/op\n", name, cpu, cs);
}

int floor_net_main(int argc, char **argv)
{
    fopts_t o = {.clients = 16, .req = 1024 + 256, .resp = 256, .secs = 10};
    if (parse(argc, argv, &o) || o.clients < 1 || o.clients > 1024 || o.req < 1 || o.resp < 1 ||
        o.secs <= 0) {
        fprintf(stderr,
                "usage: mqbench floor-net [-w clients=16] [-s request bytes=1280] [-r response bytes=256] "
                "[-d seconds=10] [--json]\n");
        return 2;
    }
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof(sa);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 1024) ||
        getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
        perror("mqbench floor-net: listen");
        return 1;
    }
    int pfd[2];
    if (pipe(pfd)) {
        perror("pipe");
        return 1;
    }
    pid_t srv = fork();
    if (srv < 0) {
        perror("fork");
        return 1;
    }
    if (srv == 0) {
        close(pfd[1]);
        net_server(lfd, pfd[0], o.resp);
        _exit(0);
    }
    close(pfd[0]);
    close(lfd);
    atomic_bool go = false;
    nclient_t *cs = calloc((size_t)o.clients, sizeof(*cs));
    pthread_t *th = calloc((size_t)o.clients, sizeof(*th));
    int64_t warm = 1000000; /* connections set up and one second of warm-up, not counted */
    int64_t t_start = mono_us() + warm;
    for (int i = 0; i < o.clients; i++) {
        cs[i] = (nclient_t){.port = ntohs(sa.sin_port), .req = o.req, .resp = o.resp, .go = &go};
        cs[i].deadline = t_start + (int64_t)(o.secs * 1e6);
        hdr_reset(&cs[i].h);
        pthread_create(&th[i], NULL, net_client, &cs[i]);
    }
    atomic_store(&go, true);
    while (mono_us() < t_start)
        usleep(1000);
    int64_t ops0 = 0;
    for (int i = 0; i < o.clients; i++) {
        ops0 += cs[i].ops;
        hdr_reset(&cs[i].h); /* benign race: the warm-up's latencies are dropped */
    }
    ps_sample_t c0, c1, s0, s1;
    ps_sample_self(&c0);
    ps_sample_pid(srv, &s0);
    int64_t t0 = mono_us();
    while (mono_us() < t_start + (int64_t)(o.secs * 1e6))
        usleep(2000);
    int64_t ops1 = 0;
    for (int i = 0; i < o.clients; i++)
        ops1 += cs[i].ops;
    ps_sample_self(&c1);
    ps_sample_pid(srv, &s1);
    int64_t el = mono_us() - t0;
    hdr_t h;
    hdr_reset(&h);
    bool failed = false;
    for (int i = 0; i < o.clients; i++) {
        pthread_join(th[i], NULL);
        hdr_merge(&h, &cs[i].h);
        failed |= cs[i].failed;
    }
    close(pfd[1]); /* the server exits */
    waitpid(srv, NULL, 0);
    int64_t ops = ops1 - ops0;
    double rate = (double)ops / ((double)el / 1e6);
    if (o.json) {
        printf("{\"bench\":\"floor-net\",\"clients\":%d,\"request_bytes\":%d,\"response_bytes\":%d,"
               "\"seconds\":%.2f,"
               "\"ops\":%lld,\"ops_per_sec\":%.1f,\"p50_us\":%lld,\"p99_us\":%lld,",
               o.clients, o.req, o.resp, (double)el / 1e6, (long long)ops, rate,
               (long long)hdr_quantile(&h, 0.5), (long long)hdr_quantile(&h, 0.99));
        print_side("client", &c0, &c1, ops, true, false);
        print_side("server", &s0, &s1, ops, true, false);
        printf("\"failed\":%s}\n", failed ? "true" : "false");
    } else {
        printf("floor-net: %d clients, request %d B, response %d B: %.1f round trips/s, p50 %lld us, p99 "
               "%lld us%s\n",
               o.clients, o.req, o.resp, rate, (long long)hdr_quantile(&h, 0.5),
               (long long)hdr_quantile(&h, 0.99), failed ? " (a client failed)" : "");
        print_side("client", &c0, &c1, ops, false, false);
        print_side("server", &s0, &s1, ops, false, true);
    }
    free(cs);
    free(th);
    return failed ? 1 : 0;
}

/* --------------------------------------------------------------- disk */

int floor_disk_main(int argc, char **argv)
{
    fopts_t o = {.batch = 1, .size = 1024 + 180, .secs = 10, .dir = "/tmp"};
    if (parse(argc, argv, &o) || o.batch < 1 || o.batch > 4096 || o.size < 1 || o.secs <= 0) {
        fprintf(stderr, "usage: mqbench floor-disk [-b batch=1] [-s record bytes=1204] [-d seconds=10] "
                        "[-D dir=/tmp] [--json]\n");
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/mqbench-floor-disk-XXXXXX", o.dir);
    int fd = mkstemp(path);
    if (fd < 0) {
        perror("mqbench floor-disk: mkstemp");
        return 1;
    }
    unlink(path);
    size_t chunk = (size_t)o.batch * (size_t)o.size;
    /* room for the whole run at 100k flushes/s would be too much; the file
     * is preallocated like a segment and writing wraps around inside it */
    off_t fsize = 1024L * 1024 * 1024;
    int rc = posix_fallocate(fd, 0, fsize);
    if (rc) {
        fprintf(stderr, "mqbench floor-disk: posix_fallocate: %s\n", strerror(rc));
        return 1;
    }
    uint8_t *buf = malloc(chunk);
    memset(buf, 'x', chunk);
    hdr_t h;
    hdr_reset(&h);
    ps_sample_t a, b;
    ps_sample_self(&a);
    int64_t t0 = mono_us(), end = t0 + (int64_t)(o.secs * 1e6), flushes = 0;
    off_t pos = 0;
    while (mono_us() < end) {
        if (pos + (off_t)chunk > fsize)
            pos = 0;
        int64_t s = mono_us();
        if (pwrite(fd, buf, chunk, pos) != (ssize_t)chunk || fdatasync(fd) != 0) {
            perror("mqbench floor-disk: pwrite/fdatasync");
            return 1;
        }
        hdr_record(&h, mono_us() - s);
        pos += (off_t)chunk;
        flushes++;
    }
    int64_t el = mono_us() - t0;
    ps_sample_self(&b);
    close(fd);
    free(buf);
    double fps = (double)flushes / ((double)el / 1e6);
    double cpu = flushes ? (double)(b.cpu_ns - a.cpu_ns) / 1000.0 / (double)flushes : 0;
    if (o.json)
        printf("{\"bench\":\"floor-disk\",\"batch\":%d,\"record_bytes\":%d,\"seconds\":%.2f,\"flushes\":%lld,"
               "\"flushes_per_sec\":%.1f,\"msgs_per_sec\":%.1f,\"p50_us\":%lld,\"p99_us\":%lld,\"cpu_us_per_"
               "flush\":%.2f}\n",
               o.batch, o.size, (double)el / 1e6, (long long)flushes, fps, fps * o.batch,
               (long long)hdr_quantile(&h, 0.5), (long long)hdr_quantile(&h, 0.99), cpu);
    else
        printf("floor-disk: batch %d x %d B: %.1f write+fdatasync/s (%.1f msg/s), p50 %lld us, p99 %lld us, "
               "CPU %.2f us per flush\n",
               o.batch, o.size, fps, fps * o.batch, (long long)hdr_quantile(&h, 0.5),
               (long long)hdr_quantile(&h, 0.99), cpu);
    return 0;
}
