/* ha_util.c - see ha_util.h. Test main thread, except the proxy's thread. */
#include "ha_util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_conf.h"
#include "rmq_json.h"

bool ha_start_broker(th_proc_t *p, int ns_port, const char *role, int id, const char *extra)
{
    char conf[2048];
    snprintf(conf, sizeof(conf), "%sbrokerRole=%s\nbrokerId=%d\n%s", HA_FAST, role, id, extra ? extra : "");
    return th_broker_start(p, ns_port, conf);
}

/* ------------------------------------------------------------ runtime info */

bool ha_info(int port, const char *key, char *out, size_t n)
{
    th_client_t c;
    if (!th_connect(&c, port))
        return false;
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, 28);
    bool ok = th_call(&c, &req, &resp, 5000) && resp.code == 0;
    rmq_cmd_deinit(&req);
    th_close(&c);
    if (!ok) {
        if (resp.body)
            rmq_cmd_deinit(&resp);
        return false;
    }
    char err[128];
    json_t *root = rmq_json_parse((const char *)resp.body, resp.body_len, err, sizeof(err));
    rmq_cmd_deinit(&resp);
    json_t *v = root ? json_object_get(json_object_get(root, "table"), key) : NULL;
    ok = v && json_is_string(v);
    if (ok)
        snprintf(out, n, "%s", json_string_value(v));
    json_decref(root);
    return ok;
}

int64_t ha_info_i64(int port, const char *key, int64_t def)
{
    char v[256];
    if (!ha_info(port, key, v, sizeof(v)))
        return def;
    return strtoll(v, NULL, 10);
}

bool ha_wait_in_sync(int master_port, int timeout_ms)
{
    return TH_WAIT_UNTIL(ha_info_i64(master_port, "haInSyncSlaves", 0) >= 1, timeout_ms);
}

static bool caught_up(int mp, int sp)
{
    int64_t m = ha_info_i64(mp, "commitLogMaxOffset", -1);
    int64_t s = ha_info_i64(sp, "commitLogMaxOffset", -2);
    return m == s && ha_info_i64(sp, "dispatchBehindBytes", 1) == 0;
}

bool ha_wait_caught_up(int master_port, int slave_port, int timeout_ms)
{
    return TH_WAIT_UNTIL(caught_up(master_port, slave_port), timeout_ms);
}

int ha_create_topic(int port, const char *topic, int queues)
{
    th_client_t c;
    if (!th_connect(&c, port))
        return -1;
    rmq_cmd_t req, resp;
    th_req_create_topic(&req, topic, queues);
    int code = th_call(&c, &req, &resp, 5000) ? resp.code : -1;
    if (code >= 0)
        rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&req);
    th_close(&c);
    return code;
}

/* ------------------------------------------------------------------- sends */

/* body "m-<i>", then spaces up to pad bytes (at most 4096) */
static void build_send(rmq_cmd_t *req, const char *topic, int qid, int i, size_t pad)
{
    char body[4096], keys[32];
    size_t bl = (size_t)snprintf(body, sizeof(body), "m-%d", i);
    if (pad > sizeof(body))
        pad = sizeof(body);
    if (pad > bl) {
        memset(body + bl, ' ', pad - bl);
        bl = pad;
    }
    snprintf(keys, sizeof(keys), "k-%d", i);
    th_req_send_v2(req, "HaProducer", topic, qid, "TagA", keys, NULL, NULL, body, bl);
}

int ha_send(int port, const char *topic, int queues, int first, int n, int window, ha_ack_t *acks,
            ha_stop_fn *stop, void *stop_arg, int timeout_ms)
{
    return ha_send_padded(port, topic, queues, first, n, window, 0, acks, stop, stop_arg, timeout_ms);
}

int ha_send_padded(int port, const char *topic, int queues, int first, int n, int window, size_t pad,
                   ha_ack_t *acks, ha_stop_fn *stop, void *stop_arg, int timeout_ms)
{
    for (int i = 0; i < n; i++)
        acks[i] = (ha_ack_t){-1, -1, -1};
    th_client_t c;
    if (!th_connect(&c, port))
        return 0;
    int sent = 0, answered = 0, inflight = 0;
    bool stopping = false;
    while (answered < n) {
        while (!stopping && sent < n && inflight < window) {
            rmq_cmd_t req;
            build_send(&req, topic, (first + sent) % queues, first + sent, pad);
            req.opaque = sent + 1;
            rmq_err_t e = rmq_sync_send(&c, &req);
            rmq_cmd_deinit(&req);
            if (e != RMQ_OK) {
                stopping = true;
                break;
            }
            sent++;
            inflight++;
        }
        if (inflight == 0)
            break;
        rmq_cmd_t resp;
        if (rmq_sync_read(&c, &resp, timeout_ms) != RMQ_OK)
            break;
        int idx = resp.opaque - 1;
        if (idx >= 0 && idx < sent && acks[idx].code < 0) {
            int64_t v = -1;
            acks[idx].code = resp.code;
            if (rmq_cmd_ext_i64(&resp, "queueId", &v) == RMQ_OK)
                acks[idx].qid = (int32_t)v;
            if (rmq_cmd_ext_i64(&resp, "queueOffset", &v) == RMQ_OK)
                acks[idx].qoff = v;
            answered++;
            inflight--;
            if (!stopping && stop && stop(answered, stop_arg))
                stopping = true;
        }
        rmq_cmd_deinit(&resp);
    }
    th_close(&c);
    return answered;
}

int ha_send_one(int port, const char *topic, int qid, int i)
{
    th_client_t c;
    if (!th_connect(&c, port))
        return -1;
    rmq_cmd_t req, resp;
    build_send(&req, topic, qid, i, 0);
    int code = th_call(&c, &req, &resp, 15000) ? resp.code : -1;
    if (code >= 0)
        rmq_cmd_deinit(&resp);
    rmq_cmd_deinit(&req);
    th_close(&c);
    return code;
}

/* ------------------------------------------------------------------- pulls */

int ha_pull_all(int port, const char *group, const char *topic, int qid, ha_rec_fn *cb, void *arg)
{
    th_client_t c;
    if (!th_connect(&c, port))
        return -1;
    int64_t off = 0;
    int got = 0;
    for (int rounds = 0; rounds < 100000; rounds++) {
        rmq_cmd_t req, resp;
        th_req_pull(&req, group, topic, qid, off, 32, 0x4, 0, "*");
        bool ok = th_call(&c, &req, &resp, 10000);
        rmq_cmd_deinit(&req);
        if (!ok) {
            got = -1;
            break;
        }
        int64_t next = off;
        rmq_cmd_ext_i64(&resp, "nextBeginOffset", &next);
        if (resp.code == 0) {
            rmq_msg_rec_t *recs = NULL;
            size_t nr = 0;
            if (rmq_msg_decode_all(resp.body, resp.body_len, true, &recs, &nr) == RMQ_OK) {
                for (size_t i = 0; i < nr; i++)
                    cb(arg, &recs[i]);
                got += (int)nr;
            }
            free(recs);
        }
        int code = resp.code;
        rmq_cmd_deinit(&resp);
        if (code != 0 && code != 20)
            break; /* PULL_NOT_FOUND / OFFSET_MOVED: the end */
        if (next <= off && code == 0)
            break;
        off = next;
    }
    th_close(&c);
    return got;
}

static int64_t offset_call(int port, int code, const char *group, const char *topic, int qid, int64_t commit)
{
    th_client_t c;
    if (!th_connect(&c, port))
        return -2;
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, code);
    if (group)
        rmq_cmd_set_ext(&req, "consumerGroup", group);
    rmq_cmd_set_ext(&req, "topic", topic);
    rmq_cmd_set_ext_i64(&req, "queueId", qid);
    if (commit >= 0)
        rmq_cmd_set_ext_i64(&req, "commitOffset", commit);
    int64_t v = -2;
    if (th_call(&c, &req, &resp, 5000)) {
        if (resp.code == 0 && commit < 0 && rmq_cmd_ext_i64(&resp, "offset", &v) != RMQ_OK)
            v = -2;
        else if (resp.code == 0 && commit >= 0)
            v = 0;
        else if (resp.code != 0)
            v = -1;
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_deinit(&req);
    th_close(&c);
    return v;
}

int64_t ha_max_offset(int port, const char *topic, int qid)
{
    return offset_call(port, 30, NULL, topic, qid, -1);
}

int64_t ha_query_offset(int port, const char *group, const char *topic, int qid)
{
    return offset_call(port, 14, group, topic, qid, -1);
}

int ha_commit_offset(int port, const char *group, const char *topic, int qid, int64_t off)
{
    return (int)offset_call(port, 15, group, topic, qid, off);
}

/* ------------------------------------------------------------- comparison */

static uint8_t *slurp(const char *path, size_t *len)
{
    char *d = NULL;
    if (rmq_file_read_all(path, &d, len) != RMQ_OK)
        return NULL;
    return (uint8_t *)d;
}

bool ha_same_commitlog(const char *a, const char *b, int64_t end, char *why, size_t n)
{
    int64_t seg = 4194304; /* the harness's mappedFileSizeCommitLog */
    for (int64_t from = 0; from < end; from += seg) {
        char pa[600], pb[600];
        snprintf(pa, sizeof(pa), "%s/commitlog/%020lld", a, (long long)from);
        snprintf(pb, sizeof(pb), "%s/commitlog/%020lld", b, (long long)from);
        size_t la = 0, lb = 0;
        uint8_t *da = slurp(pa, &la), *db = slurp(pb, &lb);
        size_t cmp = (size_t)(end - from < seg ? end - from : seg);
        bool ok = da && db && la >= cmp && lb >= cmp;
        size_t at = 0;
        if (ok) {
            while (at < cmp && da[at] == db[at])
                at++;
            ok = at == cmp;
        }
        if (!ok)
            snprintf(why, n, "segment %lld differs at byte %zu (%s %zu bytes, %s %zu bytes)", (long long)from,
                     at, pa, la, pb, lb);
        free(da);
        free(db);
        if (!ok)
            return false;
    }
    return true;
}

bool ha_same_consume_queues(const char *a, const char *b, const char *topic, int queues, char *why, size_t n)
{
    for (int q = 0; q < queues; q++) {
        char da[600];
        snprintf(da, sizeof(da), "%s/consumequeue/%s/%d", a, topic, q);
        DIR *d = opendir(da);
        if (!d) {
            snprintf(why, n, "no %s", da);
            return false;
        }
        struct dirent *de;
        int files = 0;
        bool ok = true;
        while (ok && (de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char pa[900], pb[900];
            snprintf(pa, sizeof(pa), "%s/%s", da, de->d_name);
            snprintf(pb, sizeof(pb), "%s/consumequeue/%s/%d/%s", b, topic, q, de->d_name);
            size_t la = 0, lb = 0;
            uint8_t *xa = slurp(pa, &la), *xb = slurp(pb, &lb);
            ok = xa && xb && la == lb && memcmp(xa, xb, la) == 0;
            if (!ok)
                snprintf(why, n, "%s and %s differ (%zu / %zu bytes)", pa, pb, la, lb);
            free(xa);
            free(xb);
            files++;
        }
        closedir(d);
        if (!ok)
            return false;
        if (files == 0) {
            snprintf(why, n, "%s is empty", da);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------ proxy */

#define PROXY_MAX 16

struct ha_proxy_s {
    int lfd, port, target;
    int wake[2];
    pthread_t thr;
    _Atomic bool cut, stop;
    _Atomic unsigned cut_gen, seen_gen; /* ha_proxy_cut waits until the thread saw its change */
    int a[PROXY_MAX], b[PROXY_MAX];     /* client side, target side; -1 = free */
};

static int connect_to(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

static void pair_close(ha_proxy_t *p, int i)
{
    if (p->a[i] >= 0)
        close(p->a[i]);
    if (p->b[i] >= 0)
        close(p->b[i]);
    p->a[i] = p->b[i] = -1;
}

static bool copy_once(int from, int to)
{
    char buf[65536];
    ssize_t r = read(from, buf, sizeof(buf));
    if (r <= 0)
        return false;
    for (ssize_t off = 0; off < r;) {
        ssize_t w = write(to, buf + off, (size_t)(r - off));
        if (w <= 0) {
            if (w < 0 && errno == EINTR)
                continue;
            return false;
        }
        off += w;
    }
    return true;
}

static void *proxy_main(void *arg)
{
    ha_proxy_t *p = arg;
    while (!atomic_load(&p->stop)) {
        struct pollfd fds[2 + 2 * PROXY_MAX];
        int idx[2 + 2 * PROXY_MAX];
        int nf = 0;
        fds[nf++] = (struct pollfd){.fd = p->wake[0], .events = POLLIN};
        fds[nf++] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
        unsigned gen = atomic_load(&p->cut_gen);
        bool cut = atomic_load(&p->cut);
        atomic_store(&p->seen_gen, gen); /* every copy of an earlier round is done */
        for (int i = 0; i < PROXY_MAX; i++) {
            if (p->a[i] < 0)
                continue;
            idx[nf] = i;
            fds[nf++] = (struct pollfd){.fd = p->a[i], .events = cut ? 0 : POLLIN};
            idx[nf] = i;
            fds[nf++] = (struct pollfd){.fd = p->b[i], .events = cut ? 0 : POLLIN};
        }
        if (poll(fds, (nfds_t)nf, 200) <= 0)
            continue;
        if (fds[0].revents) {
            char c[16];
            if (read(p->wake[0], c, sizeof(c)) < 0)
                continue;
        }
        if (fds[1].revents & POLLIN) {
            int cfd = accept(p->lfd, NULL, NULL);
            int tfd = cfd >= 0 ? connect_to(p->target) : -1;
            int slot = -1;
            for (int i = 0; i < PROXY_MAX && slot < 0; i++)
                if (p->a[i] < 0)
                    slot = i;
            if (cfd >= 0 && tfd >= 0 && slot >= 0) {
                int one = 1;
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                p->a[slot] = cfd;
                p->b[slot] = tfd;
            } else {
                if (cfd >= 0)
                    close(cfd);
                if (tfd >= 0)
                    close(tfd);
            }
        }
        for (int k = 2; k < nf; k++) {
            int i = idx[k];
            if (p->a[i] < 0 || !(fds[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            bool from_a = fds[k].fd == p->a[i];
            if (!copy_once(fds[k].fd, from_a ? p->b[i] : p->a[i]))
                pair_close(p, i);
        }
    }
    for (int i = 0; i < PROXY_MAX; i++)
        pair_close(p, i);
    return NULL;
}

ha_proxy_t *ha_proxy_start(int target_port)
{
    ha_proxy_t *p = rmq_calloc(1, sizeof(*p));
    for (int i = 0; i < PROXY_MAX; i++)
        p->a[i] = p->b[i] = -1;
    p->target = target_port;
    p->lfd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(p->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    for (int attempt = 0; attempt < 20; attempt++) {
        struct sockaddr_in sa = {0};
        sa.sin_family = AF_INET;
        p->port = th_free_port();
        sa.sin_port = htons((uint16_t)p->port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
            break;
        p->port = -1;
    }
    cr_assert_gt(p->port, 0, "proxy: no free port");
    cr_assert_eq(listen(p->lfd, 16), 0);
    cr_assert_eq(pipe(p->wake), 0);
    cr_assert_eq(pthread_create(&p->thr, NULL, proxy_main, p), 0);
    return p;
}

int ha_proxy_port(const ha_proxy_t *p)
{
    return p->port;
}

void ha_proxy_cut(ha_proxy_t *p, bool cut)
{
    atomic_store(&p->cut, cut);
    unsigned gen = atomic_fetch_add(&p->cut_gen, 1) + 1;
    if (write(p->wake[1], "x", 1) < 0)
        perror("proxy wake");
    /* synchronous: once this returns nothing more crosses a cut link (a
     * round that polled before the cut could still copy) */
    cr_assert(TH_WAIT_UNTIL(atomic_load(&p->seen_gen) - gen < 0x80000000u, 5000),
              "proxy did not see the cut");
}

void ha_proxy_stop(ha_proxy_t *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, true);
    if (write(p->wake[1], "x", 1) < 0)
        perror("proxy wake");
    pthread_join(p->thr, NULL);
    close(p->lfd);
    close(p->wake[0]);
    close(p->wake[1]);
    free(p);
}
