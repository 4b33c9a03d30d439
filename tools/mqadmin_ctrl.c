/* mqadmin_ctrl.c - mqadmin getSyncStateSet and getBrokerEpoch for groups in
 * controller mode: every broker of a group is asked for its runtime info;
 * the master's answer gives the epoch, the in-sync set and each replica's
 * acknowledged offset and lag (its own replication view), each broker's
 * answer its epoch list (epoch -> first commit-log offset). Read-only. Runs
 * on mqadmin's single thread. */
#include "mqadmin_ctrl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_codes.h"

typedef struct {
    char addr[128];
    json_t *t; /* runtime table, NULL when it did not answer */
} member_t;

json_t *mqadmin_runtime_table(mqadmin_call_fn *call, const char *addr)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, RMQ_REQ_GET_BROKER_RUNTIME_INFO);
    json_t *t = NULL;
    if (call(addr, &req, &resp, true) == 0) {
        if (resp.code == 0 && resp.body) {
            json_error_t je;
            json_t *j = json_loadb((const char *)resp.body, resp.body_len, 0, &je);
            t = json_incref(json_object_get(j, "table"));
            json_decref(j);
        }
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_deinit(&req);
    return t;
}

static const char *tv(json_t *t, const char *k)
{
    json_t *v = t ? json_object_get(t, k) : NULL;
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static const char *or_q(const char *s)
{
    return s ? s : "?";
}

/* Every broker address of a group, asked for its runtime info. */
static size_t members(mqadmin_call_fn *call, json_t *bat, const char *name, member_t *m, size_t max)
{
    json_t *addrs = json_object_get(json_object_get(bat, name), "brokerAddrs");
    size_t n = 0;
    const char *id;
    json_t *a;
    json_object_foreach(addrs, id, a)
    {
        if (!json_is_string(a) || n == max)
            continue;
        snprintf(m[n].addr, sizeof(m[n].addr), "%s", json_string_value(a));
        m[n].t = mqadmin_runtime_table(call, m[n].addr);
        n++;
    }
    return n;
}

typedef void group_fn(mqadmin_call_fn *call, const char *cluster, const char *name, member_t *m, size_t n,
                      int *rc);

static int each_group(mqadmin_call_fn *call, json_t *ci, const char *cluster, const char *broker_name,
                      group_fn *fn)
{
    json_t *cat = json_object_get(ci, "clusterAddrTable"), *bat = json_object_get(ci, "brokerAddrTable");
    int rc = 0, groups = 0;
    const char *cname;
    json_t *names;
    json_object_foreach(cat, cname, names)
    {
        if (cluster && strcmp(cluster, cname) != 0)
            continue;
        for (size_t i = 0; i < json_array_size(names); i++) {
            const char *name = json_string_value(json_array_get(names, i));
            if (!name || (broker_name && strcmp(broker_name, name) != 0))
                continue;
            member_t m[16];
            size_t n = members(call, bat, name, m, 16);
            groups++;
            fn(call, cname, name, m, n, &rc);
            for (size_t k = 0; k < n; k++)
                json_decref(m[k].t);
        }
    }
    if (!groups) {
        fprintf(stderr, "mqadmin: no broker group%s%s%s%s known to the name servers\n",
                broker_name ? " " : "", broker_name ? broker_name : "", cluster ? " in cluster " : "",
                cluster ? cluster : "");
        return 1;
    }
    return rc;
}

/* ------------------------------------------------------ getSyncStateSet */

static bool in_set(const char *set, long id)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", set ? set : "");
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        if (atol(t) == id)
            return true;
    return false;
}

static int set_count(const char *set)
{
    int n = set && *set ? 1 : 0;
    for (const char *p = set; p && *p; p++)
        n += *p == ',';
    return n;
}

static void print_replica(json_t *master, member_t *m, size_t n, long id, const char *set)
{
    /* the replica's own answer, if it gave one */
    const char *addr = NULL;
    bool online = false;
    for (size_t k = 0; k < n; k++) {
        const char *rid = tv(m[k].t, "controllerReplicaId");
        if (rid && atol(rid) == id) {
            addr = m[k].addr;
            online = true;
        }
    }
    char key[32];
    snprintf(key, sizeof(key), "haSlave%ld", id);
    const char *ha = tv(master, key); /* "addr=... ackOffset=... lagBytes=..." */
    const char *mid = tv(master, "controllerReplicaId");
    bool is_master = mid && atol(mid) == id;
    const char *ack = ha ? strstr(ha, "ackOffset=") : NULL;
    const char *lag = ha ? strstr(ha, "lagBytes=") : NULL;
    char where[160] = "";
    if (is_master)
        snprintf(where, sizeof(where), "master, commitLogMaxOffset=%s",
                 or_q(tv(master, "commitLogMaxOffset")));
    else if (ack && lag)
        snprintf(where, sizeof(where), "ackOffset=%lld lagBytes=%lld", atoll(ack + 10), atoll(lag + 9));
    else
        snprintf(where, sizeof(where), "not replicating from the master");
    printf(" %s:\tReplicaIdentity{brokerId=%ld, brokerAddress='%s'}\t%s\t%s\n",
           in_set(set, id) ? "InSyncReplica" : "NotInSyncReplica", id, addr ? addr : "?",
           online ? "online" : "offline", where);
}

static void sync_state_group(mqadmin_call_fn *call, const char *cluster, const char *name, member_t *m,
                             size_t n, int *rc)
{
    json_t *master = NULL, *any = NULL;
    for (size_t k = 0; k < n; k++) {
        const char *mode = tv(m[k].t, "controllerMode");
        if (!mode || strcmp(mode, "true") != 0)
            continue;
        any = any ? any : m[k].t;
        const char *role = tv(m[k].t, "controllerRole");
        if (role && !strcmp(role, "MASTER"))
            master = m[k].t;
    }
    printf("\n#clusterName\t%s\n#brokerName\t%s\n", cluster, name);
    if (!any) {
        printf("#ControllerMode\tfalse (no broker of this group answered in controller mode)\n");
        return;
    }
    json_t *view = master ? master : any;
    const char *set = tv(view, "syncStateSet");
    printf("#MasterAddr\t%s\n#MasterBrokerId\t%s\n#MasterEpoch\t%s\n#SyncStateSetEpoch\t%s\n#"
           "SyncStateSetNums\t%d\n",
           tv(view, "controllerMasterAddr") && *tv(view, "controllerMasterAddr")
               ? tv(view, "controllerMasterAddr")
               : "(none)",
           or_q(tv(view, "controllerMasterId")), or_q(tv(view, "controllerEpoch")),
           or_q(tv(view, "syncStateSetEpoch")), set_count(set));
    if (!master) {
        printf("#Note\tno master answered: the in-sync set is as replica %s last read it from etcd\n",
               or_q(tv(any, "controllerReplicaId")));
        *rc = 1;
    } else if (!strcmp(or_q(tv(master, "controllerFenced")), "true")) {
        printf("#Note\tthe master is FENCED: it cannot renew its etcd lease and refuses writes\n");
    }
    /* every replica id anybody knows of: the set, the live members, those answering */
    long ids[64];
    int ni = 0;
    char pool[600];
    snprintf(pool, sizeof(pool), "%s,%s", set ? set : "", or_q(tv(view, "controllerAliveReplicas")));
    for (size_t k = 0; k < n; k++) {
        const char *rid = tv(m[k].t, "controllerReplicaId");
        if (rid) {
            size_t l = strlen(pool);
            snprintf(pool + l, sizeof(pool) - l, ",%s", rid);
        }
    }
    char *save = NULL;
    for (char *t = strtok_r(pool, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        long id = atol(t);
        bool dup = id <= 0;
        for (int i = 0; i < ni && !dup; i++)
            dup = ids[i] == id;
        if (!dup && ni < 64)
            ids[ni++] = id;
    }
    for (int i = 0; i < ni; i++)
        print_replica(view, m, n, ids[i], set);
    (void)call;
}

int mqadmin_sync_state_set(mqadmin_call_fn *call, json_t *ci, const char *cluster, const char *broker_name)
{
    return each_group(call, ci, cluster, broker_name, sync_state_group);
}

/* ------------------------------------------------------- getBrokerEpoch */

static void epoch_group(mqadmin_call_fn *call, const char *cluster, const char *name, member_t *m, size_t n,
                        int *rc)
{
    for (size_t k = 0; k < n; k++) {
        json_t *t = m[k].t;
        printf("\n#clusterName\t%s\n#brokerName\t%s\n#brokerAddr\t%s\n", cluster, name, m[k].addr);
        if (!t) {
            printf("#Error\tdid not answer\n");
            *rc = 1;
            continue;
        }
        printf("#brokerId\t%s\n#role\t%s\n", or_q(tv(t, "controllerReplicaId")), or_q(tv(t, "brokerRole")));
        const char *list = tv(t, "controllerEpochList");
        if (!list) {
            printf("#Epoch\t%s (not in controller mode)\n", or_q(tv(t, "haEpoch")));
            continue;
        }
        const char *end = or_q(tv(t, "commitLogMaxOffset"));
        char buf[4096];
        snprintf(buf, sizeof(buf), "%s", list);
        char *save = NULL;
        char *cur = strtok_r(buf, " ", &save);
        while (cur) {
            char *next = strtok_r(NULL, " ", &save);
            char *at = strchr(cur, '@');
            if (at) {
                *at = 0;
                const char *next_start = next && strchr(next, '@') ? strchr(next, '@') + 1 : end;
                printf("#Epoch: EpochEntry{epoch=%s, startOffset=%s, endOffset=%.*s}\n", cur, at + 1,
                       (int)strcspn(next_start, " "), next_start);
            }
            cur = next;
        }
    }
    (void)call;
}

int mqadmin_broker_epoch(mqadmin_call_fn *call, json_t *ci, const char *cluster, const char *broker_name)
{
    return each_group(call, ci, cluster, broker_name, epoch_group);
}
