/* request.h - helpers shared by the request processors (processor/, client/):
 * response shells, error replies, header decoding through the request-header
 * table, the topic-name rule,
 * the born host of a connection. Depends on the remoting layer only.
 * Thread: the broker's I/O thread. */
#ifndef RMQ_BROKER_REQUEST_H
#define RMQ_BROKER_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rmq_cmd.h"
#include "rmq_conn.h"
#include "rmq_hdr_fields.h"
#include "rmq_msg_codec.h"

/* Response helpers: a response shell for req (JSON or binary as the
 * request), version 409, language JAVA. */
void rmq_broker_resp(rmq_cmd_t *resp, const rmq_cmd_t *req, int code, const char *remark);
/* Reply SUCCESS with no ext/body. */
void rmq_broker_reply_ok(rmq_conn_t *conn, const rmq_cmd_t *req);
/* Reply with code + remark and free the response. */
void rmq_broker_reply_err(rmq_conn_t *conn, const rmq_cmd_t *req, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Header decoding through the request-header table (rmq_hdr_fields.h).
 * rmq_req_decode decodes req's extFields as header id, answers SYSTEM_ERROR
 * where Java would (an unparsable number of a FastCodesHeader; with
 * check_needed, also a missing RMQ_HF_NEED field) and then returns false.
 * rmq_req_need does the same for one field a processor needs on its path. */
bool rmq_req_decode(rmq_conn_t *conn, const rmq_cmd_t *req, rmq_hdr_id_t id, bool check_needed, rmq_hdr_t *h);
bool rmq_req_need(rmq_conn_t *conn, const rmq_cmd_t *req, const rmq_hdr_t *h, int field);

/* Born host from a connection's peer (IPv4-mapped IPv6 => IPv4). */
void rmq_broker_peer_host(const rmq_conn_t *conn, rmq_msg_host_t *h);

#endif
