/* mqadmin_txn.c - mqadmin pendingTransactions [-g group] [-b brokerAddr]:
 * sends Comet's COMET_GET_PENDING_TRANSACTIONS (4037) to each master and
 * prints how many half messages of the group still wait for their
 * END_TRANSACTION and how old the oldest is. Read-only. Runs on mqadmin's
 * single thread. */
#include "mqadmin_txn.h"

#include <stdio.h>
#include <string.h>

#include "rmq_codes.h"

static int one(mqadmin_call_fn *call, const char *name, const char *addr, const char *group, int64_t *total)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, RMQ_REQ_COMET_GET_PENDING_TRANSACTIONS);
    if (group)
        rmq_cmd_set_ext(&req, "producerGroup", group);
    int rc = call(addr, &req, &resp, false);
    rmq_cmd_deinit(&req);
    if (rc != 0)
        return 1;
    if (resp.code != 0) {
        fprintf(stderr, "mqadmin: %s (%s): code %d %s%s\n", name, addr, resp.code,
                resp.remark ? resp.remark : "",
                resp.code == RMQ_ERR_REQUEST_CODE_NOT_SUPPORTED ? " (not a Comet broker?)" : "");
        rmq_cmd_deinit(&resp);
        return 1;
    }
    json_t *j = json_loadb((const char *)resp.body, resp.body_len, 0, NULL);
    rmq_cmd_deinit(&resp);
    if (!j) {
        fprintf(stderr, "mqadmin: %s (%s): undecodable answer\n", name, addr);
        return 1;
    }
    long long count = (long long)json_integer_value(json_object_get(j, "count"));
    long long age = (long long)json_integer_value(json_object_get(j, "oldestAgeMillis"));
    char agebuf[32];
    if (age < 0)
        snprintf(agebuf, sizeof(agebuf), "-");
    else
        snprintf(agebuf, sizeof(agebuf), "%.1fs", (double)age / 1000.0);
    long long checks = (long long)json_integer_value(json_object_get(j, "checksSent"));
    long long us = (long long)json_integer_value(json_object_get(j, "checkMicros"));
    printf("%-20s %-22s %-24s %8lld %12s %10lld %10lld %12.1f\n", name, addr, group ? group : "(all)", count,
           agebuf, checks, (long long)json_integer_value(json_object_get(j, "discarded")),
           (double)us / 1000.0);
    *total += count;
    json_decref(j);
    return 0;
}

int mqadmin_pending_transactions(mqadmin_call_fn *call, json_t *cluster_info, const char *broker_addr,
                                 const char *group)
{
    printf("%-20s %-22s %-24s %8s %12s %10s %10s %12s\n", "#Broker", "#Addr", "#ProducerGroup", "#Pending",
           "#OldestAge", "#Checks", "#Discarded", "#CheckCpuMs");
    int64_t total = 0;
    int fails = 0, asked = 0;
    if (broker_addr) {
        asked++;
        fails += one(call, broker_addr, broker_addr, group, &total);
    } else {
        json_t *bt = json_object_get(cluster_info, "brokerAddrTable");
        const char *name;
        json_t *bd;
        json_object_foreach(bt, name, bd)
        {
            json_t *m = json_object_get(json_object_get(bd, "brokerAddrs"), "0");
            if (!json_is_string(m))
                continue;
            asked++;
            fails += one(call, name, json_string_value(m), group, &total);
        }
    }
    if (!asked) {
        fprintf(stderr, "mqadmin: no master broker found\n");
        return 1;
    }
    return fails ? 1 : 0;
}
