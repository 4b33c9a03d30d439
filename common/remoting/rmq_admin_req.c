/* rmq_admin_req.c - the requests mqadmin and mqconsole build alike
 * (rmq_admin_req.h). Any thread: no state. */
#include "rmq_admin_req.h"

#include "rmq_codes.h"

#define SUB_FLAG_SUBSCRIPTION 0x4 /* PullSysFlag: the subscription travels in the request */

void rmq_admin_req_queue(rmq_cmd_t *req, int32_t code, const char *group, const char *topic, int32_t queue_id)
{
    rmq_cmd_init_request(req, code);
    if (group)
        rmq_cmd_set_ext(req, "consumerGroup", group);
    rmq_cmd_set_ext(req, "topic", topic);
    rmq_cmd_set_ext_i64(req, "queueId", queue_id);
}

void rmq_admin_req_browse(rmq_cmd_t *req, const char *group, const char *topic, int32_t queue_id,
                          int64_t offset, int32_t max_msgs)
{
    rmq_admin_req_queue(req, RMQ_REQ_PULL_MESSAGE, group, topic, queue_id);
    rmq_cmd_set_ext_i64(req, "queueOffset", offset);
    rmq_cmd_set_ext_i64(req, "maxMsgNums", max_msgs);
    rmq_cmd_set_ext_i64(req, "sysFlag", SUB_FLAG_SUBSCRIPTION);
    rmq_cmd_set_ext_i64(req, "commitOffset", 0);
    rmq_cmd_set_ext_i64(req, "suspendTimeoutMillis", 0);
    rmq_cmd_set_ext(req, "subscription", "*");
    rmq_cmd_set_ext_i64(req, "subVersion", 0);
}
