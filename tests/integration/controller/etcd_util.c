/* etcd_util.c - starting and stopping real etcd members for the controller
 * suites (see etcd_util.h). Test main thread. */
#include "etcd_util.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "rmq_time.h"

const char *tc_etcd_bin(void)
{
    static char path[512];
    const char *env = getenv("COMET_ETCD");
    if (env && *env)
        return access(env, X_OK) == 0 ? env : NULL;
    const char *dirs[] = {"/usr/bin", "/usr/local/bin", "/bin"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(path, sizeof(path), "%s/etcd", dirs[i]);
        if (access(path, X_OK) == 0)
            return path;
    }
    return NULL;
}

static bool spawn(tc_etcd_t *m, bool fresh)
{
    const char *exe = tc_etcd_bin();
    if (!exe) {
        fprintf(stderr, "etcd_util: no etcd binary (install Debian's etcd-server: scripts/deps.sh --test)\n");
        return false;
    }
    char data[512], client[64], peer[64], cluster_arg[1100];
    snprintf(data, sizeof(data), "%s/data", m->proc.dir);
    snprintf(client, sizeof(client), "http://127.0.0.1:%d", m->proc.port);
    snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", m->peer_port);
    snprintf(cluster_arg, sizeof(cluster_arg), "%s", m->cluster);
    /* etcd's defaults for the raft timers (the minimum lease TTL is 1.5 x
     * the election timeout: 1.5 s) */
    char *argv[] = {(char *)exe,
                    "--name",
                    m->name,
                    "--data-dir",
                    data,
                    "--listen-client-urls",
                    client,
                    "--advertise-client-urls",
                    client,
                    "--listen-peer-urls",
                    peer,
                    "--initial-advertise-peer-urls",
                    peer,
                    "--initial-cluster",
                    cluster_arg,
                    "--initial-cluster-state",
                    fresh ? "new" : "existing",
                    "--initial-cluster-token",
                    "comet-test",
                    "--heartbeat-interval",
                    "100",
                    "--election-timeout",
                    "1000",
                    NULL};
    /* the process is up when it logs its version; it serves once it joined */
    return th_proc_spawn(&m->proc, exe, argv, "etcd Version", 20000);
}

static bool wait_ready(tc_etcd_t *m)
{
    if (th_log_contains(&m->proc, "ready to serve client requests", 30000))
        return true;
    fprintf(stderr, "etcd_util: %s did not become ready (log %s)\n", m->name, m->proc.log);
    return false;
}

bool tc_etcd_cluster_init(tc_etcd_t *m, int n)
{
    char cluster[1024] = "";
    for (int i = 0; i < n; i++) {
        memset(&m[i], 0, sizeof(m[i]));
        if (!th_tmpdir(m[i].proc.dir, sizeof(m[i].proc.dir), "etcd"))
            return false;
        m[i].proc.port = th_free_port();
        m[i].peer_port = th_free_port();
        snprintf(m[i].name, sizeof(m[i].name), "e%d", i);
        size_t l = strlen(cluster);
        snprintf(cluster + l, sizeof(cluster) - l, "%s%s=http://127.0.0.1:%d", i ? "," : "", m[i].name,
                 m[i].peer_port);
    }
    for (int i = 0; i < n; i++)
        snprintf(m[i].cluster, sizeof(m[i].cluster), "%s", cluster);
    return true;
}

bool tc_etcd_cluster_spawn(tc_etcd_t *m, int n)
{
    for (int i = 0; i < n; i++)
        if (!spawn(&m[i], true))
            return false;
    for (int i = 0; i < n; i++)
        if (!wait_ready(&m[i]))
            return false;
    return true;
}

bool tc_etcd_cluster_start(tc_etcd_t *m, int n)
{
    return tc_etcd_cluster_init(m, n) && tc_etcd_cluster_spawn(m, n);
}

bool tc_etcd_restart(tc_etcd_t *m)
{
    return spawn(m, false) && wait_ready(m);
}

bool tc_etcd_kill(tc_etcd_t *m)
{
    return th_proc_stop(&m->proc, SIGKILL);
}

void tc_etcd_endpoints(const tc_etcd_t *m, int n, char *out, size_t size)
{
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t l = strlen(out);
        snprintf(out + l, size - l, "%shttp://127.0.0.1:%d", i ? "," : "", m[i].proc.port);
    }
}

/* ------------------------------------------- the members' own view of raft */

/* One blocking POST of body to member m's JSON gateway (Connection: close,
 * 5 s socket timeouts); the answer's JSON, or NULL. */
static json_t *post(const tc_etcd_t *m, const char *path, const char *body)
{
    if (m->proc.pid <= 0)
        return NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return NULL;
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)m->proc.port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    json_t *j = NULL;
    char req[1024], resp[16384];
    int rl = snprintf(req, sizeof(req),
                      "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                      "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                      path, strlen(body), body);
    size_t got = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && write(fd, req, (size_t)rl) == rl) {
        for (int i = 0; i < 64 && got < sizeof(resp) - 1; i++) { /* bounded: 64 reads */
            ssize_t k = read(fd, resp + got, sizeof(resp) - 1 - got);
            if (k <= 0)
                break;
            got += (size_t)k;
        }
    }
    close(fd);
    resp[got] = 0;
    const char *start = strstr(resp, "\r\n\r\n");
    if (!strncmp(resp, "HTTP/1.1 200", 12) && start)
        j = json_loads(start + 4, 0, NULL);
    return j;
}

/* The member id a status answer names under key ("leader", or the
 * header's "member_id"): 64-bit numbers come as strings. */
static unsigned long long status_id(json_t *st, const char *key)
{
    json_t *v = !strcmp(key, "member_id") ? json_object_get(json_object_get(st, "header"), key)
                                          : json_object_get(st, key);
    return json_is_string(v) ? strtoull(json_string_value(v), NULL, 10) : 0;
}

/* ids[i]: member i's id (0 when it does not answer); *leader: the leader
 * they all name (0 when they disagree or none answers). */
static void raft_view(const tc_etcd_t *m, int n, unsigned long long *ids, unsigned long long *leader)
{
    *leader = 0;
    bool agree = true;
    for (int i = 0; i < n; i++) {
        json_t *st = post(&m[i], "/v3/maintenance/status", "{}");
        ids[i] = st ? status_id(st, "member_id") : 0;
        unsigned long long l = st ? status_id(st, "leader") : 0;
        if (st && (l == 0 || (*leader && l != *leader)))
            agree = false;
        if (st && l)
            *leader = l;
        json_decref(st);
    }
    if (!agree)
        *leader = 0;
}

int tc_etcd_leader(const tc_etcd_t *m, int n)
{
    unsigned long long ids[8] = {0}, leader;
    if (n > 8)
        return -1;
    raft_view(m, n, ids, &leader);
    for (int i = 0; i < n && leader; i++)
        if (ids[i] == leader)
            return i;
    return -1;
}

bool tc_etcd_move_leader(const tc_etcd_t *m, int n, int to)
{
    unsigned long long ids[8] = {0}, leader = 0;
    if (n > 8 || to < 0 || to >= n)
        return false;
    int64_t deadline = rmq_mono_ms() + 30000;
    for (int round = 0; round < 300 && rmq_mono_ms() < deadline; round++) { /* bounded: 30 s */
        raft_view(m, n, ids, &leader);
        if (leader && leader == ids[to])
            return true;
        for (int i = 0; i < n && leader && ids[to]; i++)
            if (ids[i] == leader) {
                char body[96];
                snprintf(body, sizeof(body), "{\"targetID\":\"%llu\"}", ids[to]);
                json_decref(post(&m[i], "/v3/maintenance/transfer-leadership", body));
            }
        th_pace_ms(100, "until the members name the new leader");
    }
    fprintf(stderr, "etcd_util: %s did not become the raft leader within 30 s\n", m[to].name);
    return false;
}
