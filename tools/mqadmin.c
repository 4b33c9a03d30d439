/* mqadmin.c - Comet's admin command line, with RocketMQ mqadmin's
 * sub-command names and options:
 *
 *   clusterList topicList topicRoute updateTopic deleteTopic topicStatus
 *   consumerProgress consumerConnection queryMsgById queryMsgByKey
 *   brokerStatus sendMessage consumeMessage queryDlq resendDlqMsg
 *   getSyncStateSet getBrokerEpoch
 *   (the DLQ commands live in mqadmin_dlq.c, the controller-mode ones in
 *   mqadmin_ctrl.c)
 *
 * Admin requests go over the shared blocking remoting client
 * (rmq_sync_client: one request at a time, single thread); sendMessage /
 * consumeMessage use libcomet. Exit codes: 0 success, 1 the operation
 * failed (the reason is printed), 2 usage error. -n or NAMESRV_ADDR selects
 * the name servers (tried in order). */
#include <comet/comet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rmq_admin_req.h"
#include "rmq_alloc.h"
#include "rmq_buf.h"
#include "rmq_cmd.h"
#include "rmq_codes.h"
#include "rmq_json.h"
#include "rmq_msg_codec.h"
#include "rmq_sync_client.h"
#include "mqadmin_dlq.h"
#include "mqadmin_ctrl.h"
#include "mqadmin_txn.h"
#include "tool_security.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2

static char *ns_list[16];
static int ns_count;
static int timeout_ms = 5000;

/* "mqadmin: <message>" on stderr */
static void complain(const char *fmt, va_list ap)
{
    fprintf(stderr, "mqadmin: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
}

static void die_usage(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    complain(fmt, ap);
    va_end(ap);
    exit(EXIT_USAGE);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    complain(fmt, ap);
    va_end(ap);
    return EXIT_FAIL;
}

/* One request/response to addr over the shared blocking client
 * (rmq_sync_client), signed and over TLS as tool_security says. 0 ok (resp
 * filled), else prints why unless quiet. */
static int call(const char *addr, rmq_cmd_t *req, rmq_cmd_t *resp, bool quiet)
{
    rmq_sync_client_t c;
    rmq_err_t e = rmq_sync_connect_secure(&c, addr, timeout_ms, tool_security());
    if (e == RMQ_OK)
        e = rmq_sync_call(&c, req, resp, timeout_ms);
    if (e != RMQ_OK && !quiet)
        fprintf(stderr, "mqadmin: %s\n", c.err);
    rmq_sync_close(&c);
    return e == RMQ_OK ? 0 : -1;
}

/* Name-server request with failover over -n's list. */
static int ns_call(rmq_cmd_t *req, rmq_cmd_t *resp)
{
    for (int i = 0; i < ns_count; i++)
        if (call(ns_list[i], req, resp, i + 1 < ns_count) == 0)
            return 0;
    return -1;
}

static int check_code(const rmq_cmd_t *resp, const char *what)
{
    if (resp->code == 0)
        return 0;
    fprintf(stderr, "mqadmin: %s: %s (%d)%s%s\n", what, rmq_err2name(resp->code), resp->code,
            resp->remark ? ": " : "", resp->remark ? resp->remark : "");
    return -1;
}

static json_t *body_json(const rmq_cmd_t *resp, const char *what)
{
    char err[256];
    json_t *j = rmq_json_parse((const char *)resp->body, resp->body_len, err, sizeof(err));
    if (!j)
        fprintf(stderr, "mqadmin: %s: bad body: %s\n", what, err);
    return j;
}

/* ---------------- cluster / route helpers ---------------- */

static json_t *cluster_info(void)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, RMQ_REQ_GET_BROKER_CLUSTER_INFO);
    json_t *j = NULL;
    if (ns_call(&req, &resp) == 0) {
        if (check_code(&resp, "cluster info") == 0)
            j = body_json(&resp, "cluster info");
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_deinit(&req);
    return j;
}

static json_t *topic_route(const char *topic, bool quiet)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC);
    rmq_cmd_set_ext(&req, "topic", topic);
    json_t *j = NULL;
    if (ns_call(&req, &resp) == 0) {
        if (resp.code == 0)
            j = body_json(&resp, "route");
        else if (!quiet)
            check_code(&resp, "topic route");
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_deinit(&req);
    return j;
}

static const char *master_of(json_t *broker_data)
{
    json_t *addrs = json_object_get(broker_data, "brokerAddrs");
    json_t *m = json_object_get(addrs, "0");
    return json_is_string(m) ? json_string_value(m) : NULL;
}

/* Masters of a cluster (or every master when cluster is NULL). */
static int cluster_masters(const char *cluster, char ***out)
{
    *out = NULL;
    json_t *ci = cluster_info();
    if (!ci)
        return -1;
    json_t *bat = json_object_get(ci, "brokerAddrTable");
    json_t *cat = json_object_get(ci, "clusterAddrTable");
    int n = 0;
    *out = calloc(64, sizeof(char *));
    const char *bname;
    json_t *bd;
    json_object_foreach(bat, bname, bd)
    {
        if (cluster) {
            json_t *names = json_object_get(cat, cluster);
            bool in = false;
            for (size_t i = 0; json_is_array(names) && i < json_array_size(names); i++)
                in = in || (json_is_string(json_array_get(names, i)) &&
                            strcmp(json_string_value(json_array_get(names, i)), bname) == 0);
            if (!in)
                continue;
        }
        const char *m = master_of(bd);
        if (m && n < 63)
            (*out)[n++] = strdup(m);
    }
    json_decref(ci);
    return n;
}

static void free_strv(char **v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* ---------------- options ---------------- */

typedef struct args_s {
    const char *o[128];
} args_t;

static void parse_opts(int argc, char **argv, const char *allowed, args_t *a)
{
    memset(a, 0, sizeof(*a));
    for (int i = 0; i < argc; i++) {
        const char *s = argv[i];
        if (s[0] != '-' || !s[1] || s[2])
            die_usage("unexpected argument \"%s\"", s);
        char k = s[1];
        if (k == 'h')
            die_usage("see `mqadmin help`");
        if (!strchr(allowed, k) && k != 'n')
            die_usage("unknown option -%c", k);
        if (i + 1 >= argc)
            die_usage("option -%c needs a value", k);
        a->o[(unsigned char)k] = argv[++i];
    }
    const char *ns = a->o['n'] ? a->o['n'] : getenv("NAMESRV_ADDR");
    if (!ns || !*ns)
        die_usage("no name server: use -n host:port or set NAMESRV_ADDR");
    char *dup = strdup(ns), *save = NULL;
    for (char *t = strtok_r(dup, ";,", &save); t && ns_count < 16; t = strtok_r(NULL, ";,", &save))
        ns_list[ns_count++] = strdup(t);
    free(dup);
}

static const char *need(args_t *a, char k, const char *what)
{
    if (!a->o[(unsigned char)k] || !*a->o[(unsigned char)k])
        die_usage("-%c %s is required", k, what);
    return a->o[(unsigned char)k];
}

static int opt_int(args_t *a, char k, int def)
{
    const char *v = a->o[(unsigned char)k];
    if (!v)
        return def;
    char *end;
    long x = strtol(v, &end, 10);
    if (*end || end == v)
        die_usage("-%c wants a number, got \"%s\"", k, v);
    return (int)x;
}

/* ---------------- sub-commands ---------------- */

/* GET_BROKER_RUNTIME_INFO's table of one broker, or NULL (quiet). */
static json_t *runtime_table(const char *addr)
{
    return mqadmin_runtime_table(call, addr);
}

static const char *tval(json_t *t, const char *k)
{
    json_t *v = json_object_get(t, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Every broker of every cluster with its role and, for a slave, how many
 * commit-log bytes it is behind its master (from both runtime infos). */
static int cmd_cluster_list(args_t *a)
{
    json_t *ci = cluster_info();
    if (!ci)
        return EXIT_FAIL;
    printf("%-22s %-22s %-5s %-24s %-13s %s\n", "#Cluster Name", "#Broker Name", "#BID", "#Addr", "#Role",
           "#Behind(bytes)");
    json_t *cat = json_object_get(ci, "clusterAddrTable"), *bat = json_object_get(ci, "brokerAddrTable");
    const char *cname;
    json_t *names;
    json_object_foreach(cat, cname, names)
    {
        for (size_t i = 0; i < json_array_size(names); i++) {
            const char *bn = json_string_value(json_array_get(names, i));
            json_t *addrs = json_object_get(json_object_get(bat, bn ? bn : ""), "brokerAddrs");
            const char *maddr = master_of(json_object_get(bat, bn ? bn : ""));
            json_t *mt = maddr ? runtime_table(maddr) : NULL;
            const char *mmax = tval(mt, "commitLogMaxOffset");
            const char *id;
            json_t *addr;
            json_object_foreach(addrs, id, addr)
            {
                const char *ad = json_string_value(addr);
                json_t *t = ad && maddr && !strcmp(ad, maddr) ? json_incref(mt) : runtime_table(ad ? ad : "");
                const char *role = tval(t, "brokerRole");
                const char *smax = tval(t, "commitLogMaxOffset");
                char behind[32] = "-";
                if (strcmp(id, "0") != 0) {
                    if (mmax && smax) {
                        long long d = strtoll(mmax, NULL, 10) - strtoll(smax, NULL, 10);
                        snprintf(behind, sizeof(behind), "%lld", d > 0 ? d : 0);
                    } else {
                        snprintf(behind, sizeof(behind), "?");
                    }
                }
                printf("%-22s %-22s %-5s %-24s %-13s %s\n", cname, bn, id, ad ? ad : "", role ? role : "?",
                       behind);
                json_decref(t);
            }
            json_decref(mt);
        }
    }
    json_decref(ci);
    return 0;
}

/* Replication state of brokers: a master's slaves (acknowledged offset, lag,
 * in sync or not), a slave's master and lag. */
static int cmd_ha_status(args_t *a)
{
    char **addrs = NULL;
    int n = 0;
    if (a->o['b']) {
        addrs = calloc(2, sizeof(char *));
        addrs[0] = strdup(a->o['b']);
        n = 1;
    } else {
        json_t *ci = cluster_info();
        if (!ci)
            return EXIT_FAIL;
        json_t *cat = json_object_get(ci, "clusterAddrTable"), *bat = json_object_get(ci, "brokerAddrTable");
        addrs = calloc(256, sizeof(char *));
        const char *cname;
        json_t *names;
        json_object_foreach(cat, cname, names)
        {
            if (a->o['c'] && strcmp(a->o['c'], cname) != 0)
                continue;
            for (size_t i = 0; i < json_array_size(names); i++) {
                json_t *addrs_j = json_object_get(
                    json_object_get(bat, json_string_value(json_array_get(names, i))), "brokerAddrs");
                const char *id;
                json_t *ad;
                json_object_foreach(addrs_j, id, ad) if (json_is_string(ad) && n < 255) addrs[n++] =
                    strdup(json_string_value(ad));
            }
        }
        json_decref(ci);
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        json_t *t = runtime_table(addrs[i]);
        if (!t) {
            fprintf(stderr, "mqadmin: %s did not answer\n", addrs[i]);
            rc = EXIT_FAIL;
            continue;
        }
        const char *role = tval(t, "haRole");
        printf("%s %s epoch %s commitLogMaxOffset %s\n", addrs[i], role ? role : "?",
               tval(t, "haEpoch") ? tval(t, "haEpoch") : "?",
               tval(t, "commitLogMaxOffset") ? tval(t, "commitLogMaxOffset") : "?");
        if (role && !strcmp(role, "SLAVE")) {
            printf("  master %s connected %s behind %s bytes\n", tval(t, "haMasterAddress"),
                   tval(t, "haMasterConnected"), tval(t, "haLagBytes"));
        } else {
            printf("  slaves connected %s, in sync %s\n", tval(t, "haConnectedSlaves"),
                   tval(t, "haInSyncSlaves"));
            const char *k;
            json_t *v;
            json_object_foreach(t, k, v) if (!strncmp(k, "haSlave", 7))
                printf("  slave %s: %s\n", k + 7, json_string_value(v));
        }
        json_decref(t);
    }
    free_strv(addrs, n);
    return rc;
}

static int cmd_topic_list(args_t *a)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, RMQ_REQ_GET_ALL_TOPIC_LIST_FROM_NAMESERVER);
    int rc = EXIT_FAIL;
    if (ns_call(&req, &resp) == 0) {
        if (check_code(&resp, "topic list") == 0) {
            json_t *j = body_json(&resp, "topic list");
            json_t *l = json_object_get(j, "topicList");
            for (size_t i = 0; i < json_array_size(l); i++)
                printf("%s\n", json_string_value(json_array_get(l, i)));
            rc = j ? 0 : EXIT_FAIL;
            json_decref(j);
        }
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_deinit(&req);
    return rc;
}

static int cmd_topic_route(args_t *a)
{
    json_t *r = topic_route(need(a, 't', "topic"), false);
    if (!r)
        return EXIT_FAIL;
    char *s = json_dumps(r, JSON_INDENT(2) | JSON_SORT_KEYS);
    printf("%s\n", s);
    free(s);
    json_decref(r);
    return 0;
}

static int for_targets(args_t *a, char ***addrs)
{
    if (a->o['b']) {
        *addrs = calloc(2, sizeof(char *));
        (*addrs)[0] = strdup(a->o['b']);
        return 1;
    }
    if (!a->o['c'])
        die_usage("-b brokerAddr or -c clusterName is required");
    int n = cluster_masters(a->o['c'], addrs);
    if (n == 0)
        fprintf(stderr, "mqadmin: cluster %s has no master\n", a->o['c']);
    return n;
}

/* Send the request build() makes to every target broker (for_targets) and
 * hand each successful answer to answer(); EXIT_FAIL when a target failed
 * (the reason printed), -1 when there is no target. */
typedef struct {
    void (*build)(rmq_cmd_t *req, void *arg);
    void (*answer)(const char *addr, int ntargets, rmq_cmd_t *resp, void *arg);
    void *arg;
} per_target_t;

static int each_target(args_t *a, const per_target_t *t)
{
    char **addrs;
    int n = for_targets(a, &addrs);
    if (n <= 0)
        return -1;
    int rc = 0;
    for (int i = 0; i < n; i++) {
        rmq_cmd_t req, resp;
        t->build(&req, t->arg);
        if (call(addrs[i], &req, &resp, false) == 0) {
            if (check_code(&resp, addrs[i]) == 0)
                t->answer(addrs[i], n, &resp, t->arg);
            else
                rc = EXIT_FAIL;
            rmq_cmd_deinit(&resp);
        } else {
            rc = EXIT_FAIL;
        }
        rmq_cmd_deinit(&req);
    }
    free_strv(addrs, n);
    return rc;
}

typedef struct {
    const char *topic;
    int r, w, perm;
} topic_args_t;

static void build_update_topic(rmq_cmd_t *req, void *arg)
{
    const topic_args_t *t = arg;
    rmq_cmd_init_request(req, RMQ_REQ_UPDATE_AND_CREATE_TOPIC);
    rmq_cmd_set_ext(req, "topic", t->topic);
    rmq_cmd_set_ext(req, "defaultTopic", "TBW102");
    rmq_cmd_set_ext_i64(req, "readQueueNums", t->r);
    rmq_cmd_set_ext_i64(req, "writeQueueNums", t->w);
    rmq_cmd_set_ext_i64(req, "perm", t->perm);
    rmq_cmd_set_ext(req, "topicFilterType", "SINGLE_TAG");
    rmq_cmd_set_ext_i64(req, "topicSysFlag", 0);
    rmq_cmd_set_ext(req, "order", "false");
}

static void topic_created(const char *addr, int ntargets, rmq_cmd_t *resp, void *arg)
{
    (void)ntargets, (void)resp, (void)arg;
    printf("create topic to %s success.\n", addr);
}

static int cmd_update_topic(args_t *a)
{
    const char *topic = need(a, 't', "topic");
    int r = opt_int(a, 'r', 8), w = opt_int(a, 'w', 8), perm = opt_int(a, 'p', 6);
    if (r < 1 || w < 1 || r > 1024 || w > 1024)
        die_usage("-r / -w must be between 1 and 1024");
    if (perm != 2 && perm != 4 && perm != 6)
        die_usage("-p must be 2 (W), 4 (R) or 6 (RW)");
    topic_args_t t = {topic, r, w, perm};
    int rc = each_target(a, &(per_target_t){build_update_topic, topic_created, &t});
    if (rc < 0)
        return EXIT_FAIL;
    printf("TopicConfig [topicName=%s, readQueueNums=%d, writeQueueNums=%d, perm=%d]\n", topic, r, w, perm);
    return rc;
}

/* DELETE_TOPIC_IN_BROKER / DELETE_TOPIC_IN_NAMESRV to one address: 0 when done. */
static int delete_topic_at(const char *addr, int code, const char *topic)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, code);
    rmq_cmd_set_ext(&req, "topic", topic);
    int rc = EXIT_FAIL;
    if (call(addr, &req, &resp, false) == 0) {
        rc = check_code(&resp, addr) ? EXIT_FAIL : 0;
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_deinit(&req);
    return rc;
}

static int cmd_delete_topic(args_t *a)
{
    const char *topic = need(a, 't', "topic");
    need(a, 'c', "clusterName");
    char **addrs;
    int n = cluster_masters(a->o['c'], &addrs);
    if (n <= 0) {
        if (n == 0)
            free(addrs);
        return fail("cluster %s has no master", a->o['c']);
    }
    int rc = 0;
    for (int i = 0; i < n; i++)
        if (delete_topic_at(addrs[i], RMQ_REQ_DELETE_TOPIC_IN_BROKER, topic))
            rc = EXIT_FAIL;
    free_strv(addrs, n);
    for (int i = 0; i < ns_count; i++)
        if (delete_topic_at(ns_list[i], RMQ_REQ_DELETE_TOPIC_IN_NAMESRV, topic))
            rc = EXIT_FAIL;
    if (!rc)
        printf("delete topic [%s] from cluster [%s] success.\n", topic, a->o['c']);
    return rc;
}

static int queue_offset(const char *addr, int code, const char *topic, const char *bname, int qid,
                        const char *group, int64_t *out)
{
    rmq_cmd_t req, resp;
    rmq_admin_req_queue(&req, code, group, topic, qid);
    rmq_cmd_set_ext(&req, "bname", bname);
    int rc = -1;
    if (call(addr, &req, &resp, false) == 0) {
        if (resp.code == 0 && rmq_cmd_ext_i64(&resp, "offset", out) == RMQ_OK)
            rc = 0;
        else if (resp.code == RMQ_ERR_QUERY_NOT_FOUND) {
            *out = -1;
            rc = 0;
        } else
            check_code(&resp, "offset");
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_deinit(&req);
    return rc;
}

typedef void (*queue_fn)(const char *addr, const char *bname, int qid, void *arg);

static int for_each_queue(json_t *route, queue_fn fn, void *arg)
{
    json_t *qds = json_object_get(route, "queueDatas"), *bds = json_object_get(route, "brokerDatas");
    int n = 0;
    for (size_t i = 0; i < json_array_size(qds); i++) {
        json_t *q = json_array_get(qds, i);
        const char *bname = rmq_json_str(q, "brokerName");
        int64_t rq = 0;
        rmq_json_int(q, "readQueueNums", &rq);
        const char *addr = NULL;
        for (size_t k = 0; k < json_array_size(bds); k++) {
            const char *bn = rmq_json_str(json_array_get(bds, k), "brokerName");
            if (bn && bname && strcmp(bn, bname) == 0)
                addr = master_of(json_array_get(bds, k));
        }
        if (!addr || !bname) {
            fprintf(stderr, "mqadmin: broker %s has no master\n", bname ? bname : "?");
            continue;
        }
        for (int qid = 0; qid < rq; qid++) {
            fn(addr, bname, qid, arg);
            n++;
        }
    }
    return n;
}

typedef struct status_ctx_s {
    const char *topic;
    const char *group;
    int errors;
    int64_t total_diff;
} status_ctx_t;

static void status_one(const char *addr, const char *bname, int qid, void *arg)
{
    status_ctx_t *c = arg;
    int64_t mn = 0, mx = 0;
    if (queue_offset(addr, RMQ_REQ_GET_MIN_OFFSET, c->topic, bname, qid, NULL, &mn) ||
        queue_offset(addr, RMQ_REQ_GET_MAX_OFFSET, c->topic, bname, qid, NULL, &mx)) {
        c->errors++;
        return;
    }
    printf("%-32s %-5d %-20lld %-20lld\n", bname, qid, (long long)mn, (long long)mx);
}

static int cmd_topic_status(args_t *a)
{
    status_ctx_t c = {need(a, 't', "topic"), NULL, 0, 0};
    json_t *r = topic_route(c.topic, false);
    if (!r)
        return EXIT_FAIL;
    printf("%-32s %-5s %-20s %-20s\n", "#Broker Name", "#QID", "#Min Offset", "#Max Offset");
    for_each_queue(r, status_one, &c);
    json_decref(r);
    return c.errors ? EXIT_FAIL : 0;
}

static void progress_one(const char *addr, const char *bname, int qid, void *arg)
{
    status_ctx_t *c = arg;
    int64_t mx = 0, co = -1;
    if (queue_offset(addr, RMQ_REQ_GET_MAX_OFFSET, c->topic, bname, qid, NULL, &mx) ||
        queue_offset(addr, RMQ_REQ_QUERY_CONSUMER_OFFSET, c->topic, bname, qid, c->group, &co)) {
        c->errors++;
        return;
    }
    int64_t diff = co >= 0 ? mx - co : mx;
    c->total_diff += diff;
    printf("%-32s %-24s %-5d %-18lld %-18lld %-12lld\n", c->topic, bname, qid, (long long)mx, (long long)co,
           (long long)diff);
}

static json_t *consumer_connection(const char *group, bool quiet)
{
    char **addrs;
    int n = cluster_masters(NULL, &addrs);
    for (int i = 0; i < n; i++) {
        rmq_cmd_t req, resp;
        rmq_cmd_init_request(&req, RMQ_REQ_GET_CONSUMER_CONNECTION_LIST);
        rmq_cmd_set_ext(&req, "consumerGroup", group);
        json_t *j = NULL;
        if (call(addrs[i], &req, &resp, true) == 0) {
            if (resp.code == 0)
                j = body_json(&resp, "consumer connection");
            else if (!quiet && i + 1 == n)
                check_code(&resp, "consumer connection");
            rmq_cmd_deinit(&resp);
        }
        rmq_cmd_deinit(&req);
        if (j) {
            free_strv(addrs, n);
            return j;
        }
    }
    if (n >= 0)
        free_strv(addrs, n);
    return NULL;
}

static int cmd_consumer_progress(args_t *a)
{
    const char *group = need(a, 'g', "consumerGroup");
    status_ctx_t c = {NULL, group, 0, 0};
    const char *topics[64];
    int nt = 0;
    json_t *conn = NULL;
    if (a->o['t']) {
        topics[nt++] = a->o['t'];
    } else {
        conn = consumer_connection(group, true);
        json_t *st = json_object_get(conn, "subscriptionTable");
        const char *t;
        json_t *v;
        json_object_foreach(st, t, v)
        {
            if (nt < 64)
                topics[nt++] = t;
        }
        if (nt == 0) {
            json_decref(conn);
            return fail("group %s is not online; name the topic with -t", group);
        }
    }
    printf("%-32s %-24s %-5s %-18s %-18s %-12s\n", "#Topic", "#Broker Name", "#QID", "#Broker Offset",
           "#Consumer Offset", "#Diff");
    for (int i = 0; i < nt; i++) {
        json_t *r = topic_route(topics[i], true);
        if (!r)
            continue;
        c.topic = topics[i];
        for_each_queue(r, progress_one, &c);
        json_decref(r);
    }
    printf("\nDiff Total: %lld\n", (long long)c.total_diff);
    json_decref(conn);
    return c.errors ? EXIT_FAIL : 0;
}

static int cmd_consumer_connection(args_t *a)
{
    const char *group = need(a, 'g', "consumerGroup");
    json_t *j = consumer_connection(group, false);
    if (!j)
        return fail("no connection information for group %s (offline?)", group);
    json_t *cs = json_object_get(j, "connectionSet");
    printf("%-4s %-48s %-24s %-10s %-8s\n", "#", "#ClientId", "#ClientAddr", "#Language", "#Version");
    for (size_t i = 0; i < json_array_size(cs); i++) {
        json_t *c = json_array_get(cs, i);
        int64_t v = 0;
        rmq_json_int(c, "version", &v);
        printf("%-4zu %-48s %-24s %-10s %-8lld\n", i + 1,
               rmq_json_str(c, "clientId") ? rmq_json_str(c, "clientId") : "",
               rmq_json_str(c, "clientAddr") ? rmq_json_str(c, "clientAddr") : "",
               rmq_json_str(c, "language") ? rmq_json_str(c, "language") : "", (long long)v);
    }
    printf("\nBelow is subscription:\n");
    json_t *st = json_object_get(j, "subscriptionTable");
    const char *t;
    json_t *v;
    int k = 1;
    json_object_foreach(st, t, v) printf("%03d  Topic: %-40s SubExpression: %s\n", k++, t,
                                         rmq_json_str(v, "subString") ? rmq_json_str(v, "subString") : "*");
    printf("\nConsumeType: %s\nMessageModel: %s\nConsumeFromWhere: %s\n",
           rmq_json_str(j, "consumeType") ? rmq_json_str(j, "consumeType") : "",
           rmq_json_str(j, "messageModel") ? rmq_json_str(j, "messageModel") : "",
           rmq_json_str(j, "consumeFromWhere") ? rmq_json_str(j, "consumeFromWhere") : "");
    json_decref(j);
    return 0;
}

static void print_record(const rmq_msg_rec_t *r, bool with_body)
{
    char id[RMQ_MSG_ID_MAX];
    rmq_msg_id_create(id, &r->store_host, r->commitlog_offset);
    rmq_msg_props_t p;
    rmq_msg_props_init(&p);
    rmq_msg_props_parse(&p, r->props, r->props_len);
    printf("%-20s %s\n", "OffsetID:", id);
    printf("%-20s %.*s\n", "Topic:", (int)r->topic_len, r->topic);
    printf("%-20s [%s]\n", "Tags:", rmq_msg_props_get(&p, "TAGS") ? rmq_msg_props_get(&p, "TAGS") : "");
    printf("%-20s [%s]\n", "Keys:", rmq_msg_props_get(&p, "KEYS") ? rmq_msg_props_get(&p, "KEYS") : "");
    printf("%-20s %s\n",
           "Msg ID:", rmq_msg_props_get(&p, "UNIQ_KEY") ? rmq_msg_props_get(&p, "UNIQ_KEY") : id);
    printf("%-20s %d\n", "Queue ID:", r->queue_id);
    printf("%-20s %lld\n", "Queue Offset:", (long long)r->queue_offset);
    printf("%-20s %lld\n", "CommitLog Offset:", (long long)r->commitlog_offset);
    printf("%-20s %d\n", "Reconsume Times:", r->reconsume_times);
    printf("%-20s %lld\n", "Born Timestamp:", (long long)r->born_timestamp);
    printf("%-20s %lld\n", "Store Timestamp:", (long long)r->store_timestamp);
    printf("%-20s %d\n", "System Flag:", r->sys_flag);
    printf("%-20s {", "Properties:");
    for (size_t i = 0; i < p.n; i++)
        printf("%s%s=%s", i ? ", " : "", p.items[i].key, p.items[i].value);
    printf("}\n");
    if (with_body) {
        if (r->sys_flag & RMQ_SYSFLAG_COMPRESSED) {
            rmq_buf_t out;
            rmq_buf_init(&out);
            if (rmq_msg_inflate(r->body, (size_t)r->body_len, &out, 0) == RMQ_OK)
                printf("%-20s %.*s\n", "Message Body:", (int)out.len, (const char *)out.data);
            rmq_buf_free(&out);
        } else {
            printf("%-20s %.*s\n", "Message Body:", r->body_len, (const char *)r->body);
        }
    }
    rmq_msg_props_free(&p);
}

/* QUERY_MESSAGE for the messages of topic with key (uniq: with that UNIQ_KEY). */
static void query_message_request(rmq_cmd_t *req, const char *topic, const char *key, bool uniq)
{
    rmq_cmd_init_request(req, RMQ_REQ_QUERY_MESSAGE);
    rmq_cmd_set_ext(req, "topic", topic);
    rmq_cmd_set_ext(req, "key", key);
    rmq_cmd_set_ext_i64(req, "maxNum", 64);
    rmq_cmd_set_ext_i64(req, "beginTimestamp", 0);
    rmq_cmd_set_ext_i64(req, "endTimestamp", INT64_MAX);
    rmq_cmd_set_ext(req, "_UNIQUE_KEY_QUERY", uniq ? "true" : "false");
}

/* Whether a record QUERY_MESSAGE answered is of topic and has key (its
 * UNIQ_KEY when uniq, else one of its space-separated KEYS). */
static bool record_matches(const rmq_msg_rec_t *rec, const char *topic, const char *key, bool uniq)
{
    const char *v;
    size_t vl;
    bool match = false;
    if (uniq) {
        match = rmq_msg_props_find(rec->props, rec->props_len, "UNIQ_KEY", &v, &vl) && vl == strlen(key) &&
                memcmp(v, key, vl) == 0;
    } else if (rmq_msg_props_find(rec->props, rec->props_len, "KEYS", &v, &vl)) {
        char *keys = strndup(v, vl), *save = NULL;
        for (char *t = strtok_r(keys, " ", &save); t && !match; t = strtok_r(NULL, " ", &save))
            match = strcmp(t, key) == 0;
        free(keys);
    }
    return match && rec->topic_len == strlen(topic) && memcmp(rec->topic, topic, rec->topic_len) == 0;
}

static int query_by_key(const char *topic, const char *key, bool uniq)
{
    json_t *r = topic_route(topic, false);
    if (!r)
        return EXIT_FAIL;
    json_t *bds = json_object_get(r, "brokerDatas");
    int found = 0;
    for (size_t i = 0; i < json_array_size(bds); i++) {
        const char *addr = master_of(json_array_get(bds, i));
        if (!addr)
            continue;
        rmq_cmd_t req, resp;
        query_message_request(&req, topic, key, uniq);
        if (call(addr, &req, &resp, false) == 0) {
            if (resp.code == 0 && resp.body_len) {
                rmq_msg_rec_t *recs;
                size_t n;
                if (rmq_msg_decode_all(resp.body, resp.body_len, false, &recs, &n) == RMQ_OK) {
                    for (size_t k = 0; k < n; k++) {
                        if (!record_matches(&recs[k], topic, key, uniq))
                            continue;
                        if (found++)
                            printf("\n");
                        print_record(&recs[k], uniq);
                    }
                    free(recs);
                }
            }
            rmq_cmd_deinit(&resp);
        }
        rmq_cmd_deinit(&req);
    }
    json_decref(r);
    if (!found)
        return fail("no message with %s %s in topic %s", uniq ? "id" : "key", key, topic);
    return 0;
}

static int cmd_query_by_id(args_t *a)
{
    const char *id = need(a, 'i', "msgId");
    rmq_msg_host_t host;
    int64_t off;
    if (strlen(id) == 32 && rmq_msg_id_parse(id, strlen(id), &host, &off) == RMQ_OK && !host.v6) {
        char addr[64];
        snprintf(addr, sizeof(addr), "%u.%u.%u.%u:%d", host.addr[0], host.addr[1], host.addr[2], host.addr[3],
                 host.port);
        rmq_cmd_t req, resp;
        rmq_cmd_init_request(&req, RMQ_REQ_VIEW_MESSAGE_BY_ID);
        rmq_cmd_set_ext_i64(&req, "offset", off);
        int rc = EXIT_FAIL;
        if (call(addr, &req, &resp, a->o['t'] != NULL) == 0) {
            rmq_msg_rec_t rec;
            if (resp.code == 0 && rmq_msg_decode(resp.body, resp.body_len, false, &rec) == RMQ_OK) {
                print_record(&rec, true);
                rc = 0;
            } else if (!a->o['t']) {
                check_code(&resp, "view message");
            }
            rmq_cmd_deinit(&resp);
        }
        rmq_cmd_deinit(&req);
        if (rc == 0 || !a->o['t'])
            return rc;
    }
    if (!a->o['t'])
        return fail("%s is not an offset message id; give the topic with -t to look it up as a UNIQ_KEY", id);
    return query_by_key(a->o['t'], id, true);
}

static int cmd_query_by_key(args_t *a)
{
    return query_by_key(need(a, 't', "topic"), need(a, 'k', "key"), false);
}

static void build_runtime_info(rmq_cmd_t *req, void *arg)
{
    (void)arg;
    rmq_cmd_init_request(req, RMQ_REQ_GET_BROKER_RUNTIME_INFO);
}

/* the runtime table, sorted; each line prefixed with the address when there are several */
static void print_runtime_info(const char *addr, int ntargets, rmq_cmd_t *resp, void *arg)
{
    (void)arg;
    json_t *j = body_json(resp, "runtime info");
    json_t *t = json_object_get(j, "table");
    size_t m;
    const char **keys = rmq_json_sorted_keys(t, &m);
    for (size_t x = 0; x < m; x++) {
        json_t *val = json_object_get(t, keys[x]);
        printf("%s%-32s: %s\n", ntargets > 1 ? addr : "", keys[x],
               json_is_string(val) ? json_string_value(val) : "");
    }
    free(keys);
    json_decref(j);
}

static int cmd_broker_status(args_t *a)
{
    int rc = each_target(a, &(per_target_t){build_runtime_info, print_runtime_info, NULL});
    return rc < 0 ? EXIT_FAIL : rc;
}

static int64_t parse_when(const char *s)
{
    if (strcmp(s, "now") == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    struct tm tm = {0};
    int ms = 0;
    if (sscanf(s, "%4d-%2d-%2d#%2d:%2d:%2d:%3d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &ms) == 7) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        tm.tm_isdst = -1;
        return (int64_t)mktime(&tm) * 1000 + ms;
    }
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end || end == s)
        die_usage("-s wants now, milliseconds or yyyy-MM-dd#HH:mm:ss:SSS, got \"%s\"", s);
    return v;
}

static int cmd_reset_offset_by_time(args_t *a)
{
    const char *group = need(a, 'g', "consumerGroup"), *topic = need(a, 't', "topic");
    int64_t ts = parse_when(need(a, 's', "timestamp"));
    const char *force = a->o['f'] ? a->o['f'] : "true";
    if (strcmp(force, "true") && strcmp(force, "false"))
        die_usage("-f wants true or false");
    json_t *r = topic_route(topic, false);
    if (!r)
        return EXIT_FAIL;
    json_t *bds = json_object_get(r, "brokerDatas");
    int rc = 0, done = 0;
    for (size_t i = 0; i < json_array_size(bds); i++) {
        const char *addr = master_of(json_array_get(bds, i));
        const char *bn = rmq_json_str(json_array_get(bds, i), "brokerName");
        if (!addr)
            continue;
        rmq_cmd_t req, resp;
        rmq_cmd_init_request(&req, RMQ_REQ_INVOKE_BROKER_TO_RESET_OFFSET);
        rmq_cmd_set_ext(&req, "topic", topic);
        rmq_cmd_set_ext(&req, "group", group);
        rmq_cmd_set_ext_i64(&req, "timestamp", ts);
        rmq_cmd_set_ext(&req, "isForce", force);
        if (call(addr, &req, &resp, false) == 0) {
            if (check_code(&resp, bn ? bn : addr) == 0) {
                printf("reset offset of group %s on %s (%s) to %lld: OK\n", group, bn ? bn : "?", addr,
                       (long long)ts);
                done++;
            } else {
                rc = EXIT_FAIL;
            }
            rmq_cmd_deinit(&resp);
        } else {
            rc = EXIT_FAIL;
        }
        rmq_cmd_deinit(&req);
    }
    json_decref(r);
    return done ? rc : EXIT_FAIL;
}

static comet_conf_t *client_conf(const char *group_key, const char *group)
{
    comet_conf_t *conf = comet_conf_new();
    char err[256], ns[1024] = "";
    for (int i = 0; i < ns_count; i++)
        snprintf(ns + strlen(ns), sizeof(ns) - strlen(ns), "%s%s", i ? ";" : "", ns_list[i]);
    comet_conf_set(conf, "namesrvAddr", ns, err, sizeof(err));
    comet_conf_set(conf, group_key, group, err, sizeof(err));
    const char *lvl = getenv("MQADMIN_LOG_LEVEL");
    comet_conf_set(conf, "logLevel", lvl && *lvl ? lvl : "ERROR", err, sizeof(err));
    if (!tool_security_conf(conf, err, sizeof(err)))
        fprintf(stderr, "mqadmin: %s\n", err);
    return conf;
}

static int cmd_send_message(args_t *a)
{
    const char *topic = need(a, 't', "topic"), *body = need(a, 'p', "body");
    char err[512];
    comet_producer_t *p =
        comet_producer_new(client_conf("producerGroup", "TOOLS_PRODUCER"), err, sizeof(err));
    if (!p || comet_producer_start(p, err, sizeof(err)))
        return fail("%s", err);
    comet_message_t *m = comet_message_new(topic, body, strlen(body), COMET_MSG_F_COPY);
    if (a->o['c'])
        comet_message_set_tags(m, a->o['c']);
    if (a->o['k'])
        comet_message_set_keys(m, a->o['k']);
    comet_send_result_t res;
    comet_err_t e;
    if (a->o['b']) {
        comet_message_queue_t mq = {0};
        snprintf(mq.topic, sizeof(mq.topic), "%s", topic);
        snprintf(mq.broker_name, sizeof(mq.broker_name), "%s", a->o['b']);
        mq.queue_id = opt_int(a, 'i', 0);
        e = comet_producer_send_to_queue(p, m, &mq, &res, -1);
    } else {
        e = comet_producer_send(p, m, &res, -1);
    }
    comet_message_destroy(m);
    int rc = 0;
    if (e) {
        rc = fail("send failed: %s (%s)", comet_err2str(e), res.errstr);
    } else {
        printf("%-32s %-4s %-20s %s\n", "#Broker Name", "#QID", "#Send Result", "#MsgId");
        printf("%-32s %-4d %-20s %s\n", res.queue.broker_name, res.queue.queue_id,
               comet_send_status_name(res.status), res.msg_id);
    }
    comet_producer_destroy(p);
    return rc;
}

/* consumeMessage reads each queue from its start up to the end it had when
 * the command began, as Java's ConsumeMessageCommand reads each queue up to
 * its max offset: a broker slow to answer is waited for, not taken for an
 * empty queue. Where an end could not be read, three idle seconds end the
 * read, as before. */
typedef struct consume_span_s {
    const char *topic;
    const comet_message_queue_t *mqs;
    size_t n;
    int64_t *next; /* the offset still to read, per queue */
    int64_t *end;  /* the max offset at start; -1 where unknown */
} consume_span_t;

static void span_one(const char *addr, const char *bname, int qid, void *arg)
{
    consume_span_t *c = arg;
    for (size_t i = 0; i < c->n; i++) {
        if (c->mqs[i].queue_id != qid || strcmp(c->mqs[i].broker_name, bname) != 0)
            continue;
        int64_t mn = 0, mx = 0;
        if (queue_offset(addr, RMQ_REQ_GET_MIN_OFFSET, c->topic, bname, qid, NULL, &mn) == 0 &&
            queue_offset(addr, RMQ_REQ_GET_MAX_OFFSET, c->topic, bname, qid, NULL, &mx) == 0) {
            c->end[i] = mx;
            if (c->next[i] < mn)
                c->next[i] = mn;
        }
    }
}

static bool span_done(const consume_span_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->end[i] < 0 || c->next[i] < c->end[i])
            return false;
    return true;
}

static void span_advance(consume_span_t *c, const comet_message_ext_t *m)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->mqs[i].queue_id == comet_message_ext_queue_id(m) &&
            strcmp(c->mqs[i].broker_name, comet_message_ext_broker_name(m)) == 0 &&
            comet_message_ext_queue_offset(m) >= c->next[i])
            c->next[i] = comet_message_ext_queue_offset(m) + 1;
}

static void print_consumed(const comet_message_ext_t *m)
{
    size_t len;
    const char *body = comet_message_ext_body(m, &len);
    const char *tags = comet_message_ext_tags(m);
    printf("MSGID: %s %s/%d offset %lld tags [%s] BODY: %.*s\n", comet_message_ext_msg_id(m),
           comet_message_ext_broker_name(m), comet_message_ext_queue_id(m),
           (long long)comet_message_ext_queue_offset(m), tags ? tags : "", (int)len, body);
}

static int cmd_consume_message(args_t *a)
{
    const char *topic = need(a, 't', "topic");
    int count = opt_int(a, 'c', 128);
    char err[512];
    comet_pull_consumer_t *c = comet_pull_consumer_new(
        client_conf("consumerGroup", a->o['g'] ? a->o['g'] : "TOOLS_CONSUMER"), err, sizeof(err));
    if (!c || comet_pull_consumer_start(c, err, sizeof(err)))
        return fail("%s", err);
    comet_message_queue_t *mqs;
    size_t n;
    comet_err_t e = comet_pull_consumer_fetch_queues(c, topic, &mqs, &n);
    if (e) {
        comet_pull_consumer_destroy(c);
        return fail("topic %s: %s", topic, comet_err2str(e));
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (a->o['b'] && strcmp(mqs[i].broker_name, a->o['b']) != 0)
            continue;
        if (a->o['i'] && mqs[i].queue_id != opt_int(a, 'i', 0))
            continue;
        mqs[k++] = mqs[i];
    }
    int64_t start = a->o['o'] ? atoll(a->o['o']) : COMET_OFFSET_BEGINNING;
    consume_span_t span = {topic, mqs, k, rmq_calloc(k + 1, sizeof(int64_t)),
                           rmq_calloc(k + 1, sizeof(int64_t))};
    for (size_t i = 0; i < k; i++) {
        span.next[i] = start < 0 ? 0 : start;
        span.end[i] = -1;
    }
    json_t *route = topic_route(topic, true);
    if (route)
        for_each_queue(route, span_one, &span);
    json_decref(route);
    comet_pull_consumer_assign(c, mqs, k);
    for (size_t i = 0; i < k; i++) {
        /* where the start is known, seek there: no second query that could fail */
        comet_err_t se = comet_pull_consumer_seek(c, &mqs[i], span.end[i] >= 0 ? span.next[i] : start);
        if (se)
            fprintf(stderr, "mqadmin: %s/%d: cannot seek (%s); the group's own position is read\n",
                    mqs[i].broker_name, mqs[i].queue_id, comet_err2str(se));
    }
    int got = 0, idle = 0;
    bool ends_known = true;
    for (size_t i = 0; i < k; i++)
        ends_known = ends_known && span.end[i] >= 0;
    /* with every end known, only a broker silent for 30 s stops the read early */
    int idle_limit = ends_known ? 30 : 3;
    while (got < count && idle < idle_limit && !(ends_known && span_done(&span))) {
        comet_message_ext_t *m[32];
        size_t cnt = 0;
        comet_pull_consumer_poll(c, 1000, m, 32, &cnt);
        idle = cnt ? 0 : idle + 1;
        for (size_t i = 0; i < cnt; i++) {
            if (got < count)
                print_consumed(m[i]);
            got++;
            span_advance(&span, m[i]);
            comet_message_ext_destroy(m[i]);
        }
    }
    comet_pull_consumer_destroy(c); /* nothing committed: a read-only look */
    free(span.next);
    free(span.end);
    free(mqs);
    printf("Consumed %d message(s)\n", got < count ? got : count);
    return 0;
}

/* mqadmin_dlq.c borrows the blocking helpers */
static const mqadmin_ops_t dlq_ops = {call, topic_route, master_of, print_record};

static int cmd_query_dlq(args_t *a)
{
    return mqadmin_query_dlq(&dlq_ops, need(a, 'g', "group"), opt_int(a, 'c', 128));
}

static int cmd_resend_dlq_msg(args_t *a)
{
    return mqadmin_resend_dlq_msg(&dlq_ops, need(a, 'g', "group"), need(a, 'i', "msgId"));
}

/* A controller-mode report (mqadmin_ctrl.h) over the cluster the name
 * servers describe, filtered by -c cluster and -b broker name. */
static int ctrl_report(args_t *a, int (*report)(mqadmin_call_fn *, json_t *, const char *, const char *))
{
    json_t *ci = cluster_info();
    if (!ci)
        return EXIT_FAIL;
    int rc = report(call, ci, a->o[(unsigned char)'c'], a->o[(unsigned char)'b']);
    json_decref(ci);
    return rc;
}

static int cmd_get_sync_state_set(args_t *a)
{
    return ctrl_report(a, mqadmin_sync_state_set);
}

static int cmd_get_broker_epoch(args_t *a)
{
    return ctrl_report(a, mqadmin_broker_epoch);
}

static int cmd_pending_transactions(args_t *a)
{
    const char *b = a->o[(unsigned char)'b'];
    json_t *ci = b ? NULL : cluster_info();
    if (!b && !ci)
        return 1;
    int rc = mqadmin_pending_transactions(call, ci, b, a->o[(unsigned char)'g']);
    json_decref(ci);
    return rc;
}

typedef struct sub_s {
    const char *name;
    const char *opts;
    int (*fn)(args_t *);
    const char *help;
} sub_t;

static const sub_t subs[] = {
    {"clusterList", "", cmd_cluster_list,
     "List clusters and brokers: address, role, and how many bytes a slave is behind its master"},
    {"topicList", "", cmd_topic_list, "List all topics"},
    {"topicRoute", "t", cmd_topic_route, "-t topic: print the route (TopicRouteData)"},
    {"updateTopic", "tbcrwp", cmd_update_topic,
     "-t topic (-b brokerAddr | -c cluster) [-r readQueueNums=8] [-w writeQueueNums=8] [-p perm=6]"},
    {"deleteTopic", "tc", cmd_delete_topic, "-t topic -c cluster: delete from the brokers and name servers"},
    {"topicStatus", "t", cmd_topic_status, "-t topic: min / max offset of every queue"},
    {"consumerProgress", "gt", cmd_consumer_progress,
     "-g group [-t topic]: broker offset, consumer offset, diff"},
    {"consumerConnection", "g", cmd_consumer_connection, "-g group: connected clients and subscriptions"},
    {"queryMsgById", "it", cmd_query_by_id, "-i msgId [-t topic]: offset id, or UNIQ_KEY with -t"},
    {"queryMsgByKey", "tk", cmd_query_by_key, "-t topic -k key: messages with that key"},
    {"resetOffsetByTime", "gtsf", cmd_reset_offset_by_time,
     "-g group -t topic -s (now | ms | yyyy-MM-dd#HH:mm:ss:SSS) [-f force=true]: move the group's offsets; "
     "online consumers follow"},
    {"brokerStatus", "bc", cmd_broker_status, "(-b brokerAddr | -c cluster): broker runtime information"},
    {"haStatus", "bc", cmd_ha_status,
     "[-b brokerAddr | -c cluster]: replication: each master's slaves (acknowledged offset, lag, in sync), "
     "each "
     "slave's master"},
    {"sendMessage", "tpkcbi", cmd_send_message,
     "-t topic -p body [-k keys] [-c tags] [-b brokerName -i queueId]"},
    {"consumeMessage", "tbiocg", cmd_consume_message,
     "-t topic [-b brokerName] [-i queueId] [-o offset] [-c count=128] [-g group]: print messages (no "
     "commit)"},
    {"queryDlq", "gc", cmd_query_dlq,
     "-g group [-c count=128]: messages in %DLQ%group, with their original topic"},
    {"resendDlqMsg", "gi", cmd_resend_dlq_msg,
     "-g group -i msgId: send a dead-lettered message back to its original topic"},
    {"pendingTransactions", "gb", cmd_pending_transactions,
     "[-g producerGroup] [-b brokerAddr]: half messages waiting for END_TRANSACTION (count, oldest age)"},
    {"getSyncStateSet", "cb", cmd_get_sync_state_set,
     "[-c cluster] [-b brokerName]: controller mode: per group the master, its epoch, the in-sync set and "
     "each "
     "replica's acknowledged offset and lag"},
    {"getBrokerEpoch", "cb", cmd_get_broker_epoch,
     "[-c cluster] [-b brokerName]: controller mode: each broker's epochs (start and end commit-log "
     "offsets)"},
    {NULL, NULL, NULL, NULL},
};

static void help(FILE *out)
{
    fprintf(out, "usage: mqadmin <command> [-n namesrvAddr] [options]\n\nCommands:\n");
    for (const sub_t *s = subs; s->name; s++)
        fprintf(out, "  %-20s %s\n", s->name, s->help);
    fprintf(out, "\n-n host:port[;host:port] or env NAMESRV_ADDR. Exit status: 0 ok, 1 failed, 2 usage.\n"
                 "ACL: accessKey/secretKey from $ROCKETMQ_HOME/conf/tools.yml or MQADMIN_ACCESS_KEY / "
                 "MQADMIN_SECRET_KEY.\nTLS: MQADMIN_TLS_CA=ca.pem (verified), MQADMIN_TLS=1 (system CAs), "
                 "MQADMIN_TLS_INSECURE=1.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        help(stderr);
        return EXIT_USAGE;
    }
    if (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        help(stdout);
        return 0;
    }
    const char *t = getenv("MQADMIN_TIMEOUT_MS");
    if (t && atoi(t) > 0)
        timeout_ms = atoi(t);
    tool_security_init();
    for (const sub_t *s = subs; s->name; s++) {
        if (strcmp(s->name, argv[1]) == 0) {
            args_t a;
            parse_opts(argc - 2, argv + 2, s->opts, &a);
            int rc = s->fn(&a);
            for (int i = 0; i < ns_count; i++)
                free(ns_list[i]);
            return rc;
        }
    }
    fprintf(stderr, "mqadmin: unknown command \"%s\"\n", argv[1]);
    help(stderr);
    return EXIT_USAGE;
}
