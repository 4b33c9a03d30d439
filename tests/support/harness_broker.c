/* harness_broker.c - mqbroker process helper and request builders for the
 * broker integration suites. Runs on the test's main thread. */
#include "harness_broker.h"

#include <stdio.h>
#include <string.h>

#include "rmq_admin_req.h"
#include "rmq_buf.h"
#include "rmq_codes.h"
#include "rmq_time.h"

static bool spawn(th_proc_t *p)
{
    char exe[512];
    th_bin("mqbroker", exe, sizeof(exe));
    char *argv[] = {exe, "-c", p->conf, NULL};
    return th_proc_spawn(p, exe, argv, "boot success", 20000);
}

bool th_broker_start(th_proc_t *p, int ns_port, const char *extra_conf)
{
    memset(p, 0, sizeof(*p));
    if (!th_tmpdir(p->dir, sizeof(p->dir), "bk"))
        return false;
    snprintf(p->conf, sizeof(p->conf), "%s/broker.conf", p->dir);
    /* The only retry: the chosen port was taken between the check and the
     * bind (by a test running beside this one); said aloud. */
    for (int attempt = 0; attempt < 3; attempt++) {
        p->port = th_free_port();
        FILE *f = fopen(p->conf, "w");
        if (!f)
            return false;
        fprintf(f,
                "brokerClusterName=TestCluster\nbrokerName=broker-t\nbrokerId=0\nlistenPort=%d\n"
                "brokerIP1=127.0.0.1\nlistenAddress=127.0.0.1\nstorePathRootDir=%s/store\n"
                "mappedFileSizeCommitLog=4194304\nmappedFileSizeConsumeQueue=60000\nmaxHashSlotNum=1000\n"
                "maxIndexNum=4000\nregisterNameServerPeriod=1000\npullHoldCheckInterval=200\n"
                "flushConsumerOffsetInterval=200\nclientHousekeepingInterval=200\nlogLevel=INFO\n",
                p->port, p->dir);
        if (ns_port > 0)
            fprintf(f, "namesrvAddr=127.0.0.1:%d\n", ns_port);
        if (extra_conf)
            fprintf(f, "%s\n", extra_conf);
        fclose(f);
        if (spawn(p))
            return true;
        if (!th_log_contains(p, "Address already in use", 0))
            return false;
        fprintf(stderr, "harness: port %d was taken before mqbroker bound it; another port\n", p->port);
    }
    return false;
}

bool th_broker_restart(th_proc_t *p)
{
    return spawn(p);
}

void th_req_create_topic(rmq_cmd_t *req, const char *topic, int queues)
{
    rmq_cmd_init_request(req, 17);
    rmq_cmd_set_ext(req, "topic", topic);
    rmq_cmd_set_ext(req, "defaultTopic", "TBW102");
    rmq_cmd_set_ext_i64(req, "readQueueNums", queues);
    rmq_cmd_set_ext_i64(req, "writeQueueNums", queues);
    rmq_cmd_set_ext_i64(req, "perm", 6);
    rmq_cmd_set_ext(req, "topicFilterType", "SINGLE_TAG");
    rmq_cmd_set_ext(req, "order", "false");
}

static void prop(rmq_buf_t *b, const char *k, const char *v)
{
    if (!k || !v)
        return;
    rmq_buf_puts(b, k);
    rmq_buf_putc(b, 1);
    rmq_buf_puts(b, v);
    rmq_buf_putc(b, 2);
}

void th_req_send_v2(rmq_cmd_t *req, const char *group, const char *topic, int queue_id, const char *tags,
                    const char *keys, const char *prop_k, const char *prop_v, const void *body, size_t len)
{
    rmq_cmd_init_request(req, 310);
    rmq_cmd_set_ext(req, "a", group);
    rmq_cmd_set_ext(req, "b", topic);
    rmq_cmd_set_ext(req, "c", "TBW102");
    rmq_cmd_set_ext_i64(req, "d", 4);
    rmq_cmd_set_ext_i64(req, "e", queue_id);
    rmq_cmd_set_ext_i64(req, "f", 0);
    rmq_cmd_set_ext_i64(req, "g", rmq_now_ms());
    rmq_cmd_set_ext_i64(req, "h", 0);
    rmq_buf_t p;
    rmq_buf_init(&p);
    prop(&p, "TAGS", tags);
    prop(&p, "KEYS", keys);
    prop(&p, prop_k, prop_v);
    prop(&p, "WAIT", "true");
    rmq_cmd_set_ext(req, "i", rmq_buf_cstr(&p));
    rmq_buf_free(&p);
    rmq_cmd_set_ext_i64(req, "j", 0);
    rmq_cmd_set_ext(req, "k", "false");
    rmq_cmd_set_body(req, body, len);
}

void th_req_pull(rmq_cmd_t *req, const char *group, const char *topic, int queue_id, int64_t offset,
                 int max_msgs, int sys_flag, int64_t suspend_ms, const char *subscription)
{
    rmq_admin_req_queue(req, RMQ_REQ_PULL_MESSAGE, group, topic, queue_id);
    rmq_cmd_set_ext_i64(req, "queueOffset", offset);
    rmq_cmd_set_ext_i64(req, "maxMsgNums", max_msgs);
    rmq_cmd_set_ext_i64(req, "sysFlag", sys_flag);
    rmq_cmd_set_ext_i64(req, "commitOffset", 0);
    rmq_cmd_set_ext_i64(req, "suspendTimeoutMillis", suspend_ms);
    if (subscription)
        rmq_cmd_set_ext(req, "subscription", subscription);
    rmq_cmd_set_ext_i64(req, "subVersion", 0);
}

void th_req_heartbeat(rmq_cmd_t *req, const char *client_id, const char *group, const char *topic,
                      const char *sub_expr, const char *model)
{
    rmq_cmd_init_request(req, 34);
    char body[2048];
    snprintf(body, sizeof(body),
             "{\"clientID\":\"%s\",\"consumerDataSet\":[{\"consumeFromWhere\":\"CONSUME_FROM_FIRST_OFFSET\","
             "\"consumeType\":\"CONSUME_PASSIVELY\",\"groupName\":\"%s\",\"messageModel\":\"%s\","
             "\"subscriptionDataSet\":[{\"classFilterMode\":false,\"codeSet\":[],\"expressionType\":\"TAG\","
             "\"subString\":\"%s\",\"subVersion\":1,\"tagsSet\":[],\"topic\":\"%s\"}],\"unitMode\":false}],"
             "\"producerDataSet\":[]}",
             client_id, group, model ? model : "CLUSTERING", sub_expr ? sub_expr : "*", topic);
    rmq_cmd_set_body(req, body, strlen(body));
}
