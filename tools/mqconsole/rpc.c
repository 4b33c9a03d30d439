/* rpc.c - mqconsole's remoting calls over the shared blocking client
 * (rmq_sync_client): a connection cache per address, name-server failover,
 * JSON bodies parsed leniently (fastjson's unquoted integer keys).
 * Thread: the mc_rpc_t's owner only. */
#include "rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fjson.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_json.h"
#include "rmq_sync_client.h"

static void conn_free(void *p)
{
    rmq_sync_client_t *c = p;
    rmq_sync_close(c);
    free(c);
}

void mc_rpc_init(mc_rpc_t *r, const char *namesrv_addr, int timeout_ms)
{
    memset(r, 0, sizeof(*r));
    r->timeout_ms = timeout_ms;
    rmq_map_init(&r->conns, conn_free);
    char *copy = rmq_strdup(namesrv_addr ? namesrv_addr : "");
    char *save = NULL;
    for (char *t = strtok_r(copy, ";, ", &save); t; t = strtok_r(NULL, ";, ", &save)) {
        r->ns = rmq_realloc(r->ns, (size_t)(r->nns + 1) * sizeof(char *));
        r->ns[r->nns++] = rmq_strdup(t);
    }
    free(copy);
}

void mc_rpc_set_credentials(mc_rpc_t *r, const char *access_key, const char *secret_key)
{
    free((char *)r->sec.access_key);
    if (r->sec.secret_key) /* wipe, not just free */
        memset((char *)r->sec.secret_key, 0, strlen(r->sec.secret_key));
    free((char *)r->sec.secret_key);
    r->sec.access_key = access_key && *access_key ? rmq_strdup(access_key) : NULL;
    r->sec.secret_key = r->sec.access_key && secret_key ? rmq_strdup(secret_key) : NULL;
}

void mc_rpc_deinit(mc_rpc_t *r)
{
    rmq_map_deinit(&r->conns);
    mc_rpc_set_credentials(r, NULL, NULL);
    for (int i = 0; i < r->nns; i++)
        free(r->ns[i]);
    free(r->ns);
}

static rmq_sync_client_t *conn_for(mc_rpc_t *r, const char *addr)
{
    rmq_sync_client_t *c = rmq_map_get(&r->conns, addr);
    if (c && c->fd >= 0)
        return c;
    if (!c) {
        c = rmq_calloc(1, sizeof(*c));
        c->fd = -1;
        rmq_map_put(&r->conns, addr, c);
    }
    rmq_err_t e = r->sec.access_key ? rmq_sync_connect_secure(c, addr, r->timeout_ms, &r->sec)
                                    : rmq_sync_connect(c, addr, r->timeout_ms);
    if (e != RMQ_OK) {
        snprintf(r->err, sizeof(r->err), "%s: %s", addr, c->err);
        return NULL;
    }
    return c;
}

int mc_rpc_call(mc_rpc_t *r, const char *addr, rmq_cmd_t *req, rmq_cmd_t *resp)
{
    rmq_cmd_init(resp);
    rmq_sync_client_t *c = conn_for(r, addr);
    if (!c) {
        rmq_cmd_deinit(req);
        return -1;
    }
    rmq_err_t e = rmq_sync_call(c, req, resp, r->timeout_ms);
    if (e != RMQ_OK) {
        /* a timed-out or broken connection is dropped: the next call reconnects */
        snprintf(r->err, sizeof(r->err), "%s: %s (request %s)", addr, c->err[0] ? c->err : rmq_err2str(e),
                 rmq_req_name(req->code) ? rmq_req_name(req->code) : "?");
        rmq_sync_close(c);
    }
    rmq_cmd_deinit(req);
    return e == RMQ_OK ? 0 : -1;
}

int mc_rpc_call_ns(mc_rpc_t *r, rmq_cmd_t *req, rmq_cmd_t *resp)
{
    if (r->nns == 0) {
        snprintf(r->err, sizeof(r->err), "no name server configured (namesrvAddr)");
        rmq_cmd_init(resp);
        rmq_cmd_deinit(req);
        return -1;
    }
    for (int i = 0; i < r->nns; i++) {
        rmq_cmd_t copy;
        rmq_cmd_init(&copy);
        /* keep req for the next name server: send a copy */
        copy.code = req->code;
        copy.serialize = req->serialize;
        for (size_t k = 0; k < req->ext_n; k++)
            rmq_cmd_set_ext(&copy, req->ext[k].key, req->ext[k].val);
        if (req->body_len)
            rmq_cmd_set_body(&copy, req->body, req->body_len);
        if (mc_rpc_call(r, r->ns[i], &copy, resp) == 0) {
            rmq_cmd_deinit(req);
            return 0;
        }
    }
    rmq_cmd_deinit(req);
    return -1;
}

static json_t *body_json(mc_rpc_t *r, rmq_cmd_t *resp, int *code_out)
{
    if (code_out)
        *code_out = resp->code;
    if (resp->code != 0) {
        snprintf(r->err, sizeof(r->err), "%s: %s", rmq_err2name(resp->code),
                 resp->remark ? resp->remark : "");
        return NULL;
    }
    if (!resp->body_len) {
        snprintf(r->err, sizeof(r->err), "empty answer");
        return NULL;
    }
    char err[256];
    json_t *j = rmq_json_parse((const char *)resp->body, resp->body_len, err, sizeof(err));
    if (!j)
        snprintf(r->err, sizeof(r->err), "answer is not JSON: %s", err);
    return j;
}

json_t *mc_rpc_json(mc_rpc_t *r, const char *addr, rmq_cmd_t *req, int *code_out)
{
    rmq_cmd_t resp;
    if (code_out)
        *code_out = -1;
    if (mc_rpc_call(r, addr, req, &resp) != 0)
        return NULL;
    json_t *j = body_json(r, &resp, code_out);
    rmq_cmd_deinit(&resp);
    return j;
}

json_t *mc_rpc_offset_rows(mc_rpc_t *r, const char *addr, int code, const char *group, const char *topic)
{
    rmq_cmd_t req, resp;
    rmq_cmd_init_request(&req, code);
    if (group)
        rmq_cmd_set_ext(&req, "consumerGroup", group);
    if (topic)
        rmq_cmd_set_ext(&req, "topic", topic);
    json_t *rows = NULL;
    if (mc_rpc_call(r, addr, &req, &resp) == 0 && resp.code == 0)
        rows = mc_fjson_mq_table((const char *)resp.body, resp.body_len, "offsetTable");
    rmq_cmd_deinit(&resp);
    return rows;
}

json_t *mc_rpc_json_ns(mc_rpc_t *r, rmq_cmd_t *req, int *code_out)
{
    rmq_cmd_t resp;
    if (code_out)
        *code_out = -1;
    if (mc_rpc_call_ns(r, req, &resp) != 0)
        return NULL;
    json_t *j = body_json(r, &resp, code_out);
    rmq_cmd_deinit(&resp);
    return j;
}

json_t *mc_cluster_info(mc_rpc_t *r)
{
    rmq_cmd_t req;
    rmq_cmd_init_request(&req, RMQ_REQ_GET_BROKER_CLUSTER_INFO);
    return mc_rpc_json_ns(r, &req, NULL);
}

json_t *mc_topic_route(mc_rpc_t *r, const char *topic)
{
    rmq_cmd_t req;
    rmq_cmd_init_request(&req, RMQ_REQ_GET_ROUTEINFO_BY_TOPIC);
    rmq_cmd_set_ext(&req, "topic", topic);
    return mc_rpc_json_ns(r, &req, NULL);
}

const char *mc_master_of(json_t *bd)
{
    json_t *addrs = json_object_get(bd, "brokerAddrs");
    json_t *m = json_object_get(addrs, "0");
    return json_is_string(m) ? json_string_value(m) : NULL;
}
