/* ha_probe.c - before a master starts serving, it makes sure no other master
 * of its broker group is running: it asks a name server which address holds
 * brokerId 0 of its brokerName and, when that is another live broker, says
 * Hello as a master on that broker's HA port. The running master refuses the
 * second one (and logs it), and this one refuses to start with the reason:
 * two masters of one group would each take writes the other never sees.
 *
 * Runs: once, on the main thread during start-up, before the broker listens
 * or registers (blocking calls with short time-outs are fine there).
 * Never: refuses to start because a name server or the old master's address
 * does not answer (a master that died leaves its address behind for a while). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "ha/ha_int.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_json.h"
#include "rmq_log.h"
#include "rmq_sync_client.h"

#define PROBE_TIMEOUT_MS 1500

static json_t *call_json(const char *addr, int code, const char *what)
{
    rmq_sync_client_t c;
    rmq_cmd_t req, resp;
    json_t *j = NULL;
    if (rmq_sync_connect(&c, addr, PROBE_TIMEOUT_MS) != RMQ_OK)
        return NULL;
    rmq_cmd_init_request(&req, code);
    if (rmq_sync_call(&c, &req, &resp, PROBE_TIMEOUT_MS) == RMQ_OK) {
        if (resp.code == 0 && resp.body) {
            char err[128];
            j = rmq_json_parse((const char *)resp.body, resp.body_len, err,
                               sizeof(err)); /* fastjson int keys */
            if (!j)
                rmq_log(RMQ_LOG_DEBUG, "ha", "%s from %s does not parse", what, addr);
        }
        rmq_cmd_deinit(&resp);
    }
    rmq_cmd_deinit(&req);
    rmq_sync_close(&c);
    return j;
}

/* brokerId 0 of our brokerName according to the first name server that answers. */
static char *registered_master(rmq_ha_t *ha)
{
    const char *list = ha->b->conf.namesrvAddr ? ha->b->conf.namesrvAddr : "";
    char *dup = rmq_strdup(list), *save = NULL, *found = NULL;
    for (char *ns = strtok_r(dup, ";, ", &save); ns && !found; ns = strtok_r(NULL, ";, ", &save)) {
        json_t *ci = call_json(ns, RMQ_REQ_GET_BROKER_CLUSTER_INFO, "cluster info");
        if (!ci)
            continue;
        json_t *addrs = json_object_get(
            json_object_get(json_object_get(ci, "brokerAddrTable"), ha->broker_name), "brokerAddrs");
        json_t *m = json_object_get(addrs, "0");
        found = rmq_strdup(json_is_string(m) ? json_string_value(m) : "");
        json_decref(ci);
    }
    free(dup);
    return found;
}

/* Hello as a master on the other master's HA port; its Refusal's message. */
static bool hello_as_master(rmq_ha_t *ha, const char *ha_addr, char *msg, size_t n)
{
    struct sockaddr_storage ss;
    int len;
    if (rmq_ha_parse_addr(ha_addr, &ss, &len) != RMQ_OK)
        return false;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = false;
    if (connect(fd, (struct sockaddr *)&ss, (socklen_t)len) == 0) {
        Comet__Ha__Hello h;
        rmq_ha_hello_init(ha, &h, COMET__HA__ROLE__ROLE_MASTER, 0);
        rmq_ha_frame_t f = COMET__HA__FRAME__INIT;
        f.msg_case = COMET__HA__FRAME__MSG_HELLO;
        f.hello = &h;
        rmq_buf_t out;
        rmq_buf_init(&out);
        rmq_ha_frame_encode(&f, &out);
        ssize_t w = write(fd, out.data, out.len);
        rmq_buf_free(&out);
        rmq_buf_t in;
        rmq_buf_init(&in);
        int64_t deadline = rmq_ha_mono_ms() + PROBE_TIMEOUT_MS;
        while (w > 0 && !ok && rmq_ha_mono_ms() < deadline) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, 100) <= 0)
                continue;
            uint8_t buf[4096];
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r <= 0)
                break;
            rmq_buf_put(&in, buf, (size_t)r);
            size_t total;
            char why[128];
            if (rmq_ha_frame_peek(in.data, in.len, RMQ_HA_MAX_FRAME, &total, why, sizeof(why)) !=
                RMQ_HA_FRAME_OK)
                continue;
            rmq_ha_frame_t *rf = rmq_ha_frame_decode(in.data + 4, total - 4, why, sizeof(why));
            if (rf && rf->msg_case == COMET__HA__FRAME__MSG_REFUSAL) {
                snprintf(msg, n, "%s", rf->refusal->message);
                ok = true;
            }
            rmq_ha_frame_free(rf);
            break;
        }
        rmq_buf_free(&in);
    }
    close(fd);
    return ok;
}

rmq_err_t rmq_ha_probe_other_master(rmq_ha_t *ha, char *errstr, size_t n)
{
    if (!ha->master)
        return RMQ_OK;
    char *other = registered_master(ha);
    if (!other || !*other || strcmp(other, ha->broker_addr) == 0) {
        free(other);
        return RMQ_OK;
    }
    json_t *info = call_json(other, RMQ_REQ_GET_BROKER_RUNTIME_INFO, "runtime info");
    json_t *t = json_object_get(info, "table");
    const char *role = json_string_value(json_object_get(t, "brokerRole"));
    const char *ha_addr = json_string_value(json_object_get(t, "haServerAddr"));
    rmq_err_t r = RMQ_OK;
    if (!info) {
        rmq_log(RMQ_LOG_INFO, "ha", "the name servers still list %s as master of %s, but it does not answer",
                other, ha->broker_name);
    } else if (role && strcmp(role, "SLAVE") != 0) {
        char msg[512] = "";
        bool told = ha_addr && hello_as_master(ha, ha_addr, msg, sizeof(msg));
        snprintf(errstr, n,
                 "another master of broker %s is running at %s (%s); a group has one master: stop it first, "
                 "or start "
                 "this broker as its slave (brokerRole=SLAVE, brokerId >= 1)%s%s",
                 ha->broker_name, other, role, told ? ". It refused this one: " : "", told ? msg : "");
        r = RMQ_ERR__STATE;
    }
    json_decref(info);
    free(other);
    return r;
}
