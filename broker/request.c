/* request.c - helpers every request processor shares: response shells in the
 * request's serialization, error replies with Java's remarks, header decoding
 * through the request-header table (answering SYSTEM_ERROR where Java does),
 * the topic-name rule and the born host of a connection.
 * Thread: the broker's I/O thread (they write to connections). */
#include "request.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rmq_log.h"

void rmq_broker_resp(rmq_cmd_t *resp, const rmq_cmd_t *req, int code, const char *remark)
{
    rmq_cmd_init_response(resp, req, code, NULL);
    if (remark)
        rmq_cmd_set_remark(resp, "%s", remark);
    resp->version = RMQ_VERSION_CURRENT;
    resp->language = RMQ_LANG_JAVA;
}

void rmq_broker_reply_ok(rmq_conn_t *conn, const rmq_cmd_t *req)
{
    rmq_cmd_t resp;
    rmq_broker_resp(&resp, req, RMQ_OK, NULL);
    rmq_conn_reply(conn, req, &resp);
    rmq_cmd_deinit(&resp);
}

void rmq_broker_reply_err(rmq_conn_t *conn, const rmq_cmd_t *req, int code, const char *fmt, ...)
{
    char remark[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(remark, sizeof(remark), fmt, ap);
    va_end(ap);
    if (code != RMQ_OK)
        rmq_log(RMQ_LOG_DEBUG, "broker", "%s: request %d answered %s: %s", rmq_conn_peer(conn), req->code,
                rmq_err2name(code), remark);
    rmq_cmd_t resp;
    rmq_broker_resp(&resp, req, code, remark);
    rmq_conn_reply(conn, req, &resp);
    rmq_cmd_deinit(&resp);
}

bool rmq_req_decode(rmq_conn_t *conn, const rmq_cmd_t *req, rmq_hdr_id_t id, bool check_needed, rmq_hdr_t *h)
{
    char remark[512];
    if (rmq_hdr_decode(h, id, req, remark, sizeof(remark)) &&
        (!check_needed || rmq_hdr_check_needed(h, remark, sizeof(remark))))
        return true;
    rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "%s", remark);
    return false;
}

bool rmq_req_need(rmq_conn_t *conn, const rmq_cmd_t *req, const rmq_hdr_t *h, int field)
{
    char remark[512];
    if (rmq_hdr_need(h, field, remark, sizeof(remark)))
        return true;
    rmq_broker_reply_err(conn, req, RMQ_ERR_SYSTEM_ERROR, "%s", remark);
    return false;
}

void rmq_broker_peer_host(const rmq_conn_t *conn, rmq_msg_host_t *h)
{
    memset(h, 0, sizeof(*h));
    const struct sockaddr_storage *ss = rmq_conn_peer_addr(conn);
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
        memcpy(h->addr, &s->sin_addr, 4);
        h->port = ntohs(s->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
            memcpy(h->addr, &s->sin6_addr.s6_addr[12], 4);
        } else {
            h->v6 = 1;
            memcpy(h->addr, &s->sin6_addr, 16);
        }
        h->port = ntohs(s->sin6_port);
    } else {
        h->addr[0] = 127;
        h->addr[3] = 1;
    }
}
