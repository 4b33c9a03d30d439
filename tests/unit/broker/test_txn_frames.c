/* test_txn_frames.c - CHECK_TRANSACTION_STATE as the broker writes it, byte
 * for byte against the frame Java 4.9.8's Broker2Client writes for the same
 * values (no capture of code 39 exists in tests/data; the Java frame is built
 * from its encoding rules: fastjson header with sorted top-level keys, flag 2
 * from invokeOneway, extFields in java.util.HashMap iteration order of
 * CheckTransactionStateRequestHeader's field names - commitLogOffset
 * (bucket 7), msgId (9), tranStateTableOffset and offsetMsgId (11, in
 * HashSet<Field> order), transactionId (14) - and a body in stored-record
 * format (MessageDecoder.encode). */
#include <criterion/criterion.h>
#include <string.h>

#include "rmq_msg_codec.h"
#include "transaction/transaction.h"

Test(txn_frames, check_transaction_state_like_java)
{
    rmq_cmd_t req;
    rmq_txn_check_cmd_init(&req, 8192, "7F0000010E2418B4AAC2A6E2E4C10000", 4,
                           "7F00000100002A9F0000000000002000");
    req.opaque = 5;
    const char *java =
        "{\"code\":39,\"extFields\":{\"commitLogOffset\":\"8192\","
        "\"msgId\":\"7F0000010E2418B4AAC2A6E2E4C10000\",\"tranStateTableOffset\":\"4\","
        "\"offsetMsgId\":\"7F00000100002A9F0000000000002000\","
        "\"transactionId\":\"7F0000010E2418B4AAC2A6E2E4C10000\"},\"flag\":2,\"language\":\"JAVA\","
        "\"opaque\":5,\"serializeTypeCurrentRPC\":\"JSON\",\"version\":409}";
    /* body: one stored record, as a client decodes it */
    rmq_msg_rec_t rec = {0};
    rec.magic = 0xDAA320A7u;
    rec.queue_id = 1;
    rec.queue_offset = 4;
    rec.commitlog_offset = 8192;
    rec.born_host.addr[0] = 127, rec.born_host.addr[3] = 1, rec.born_host.port = 5000;
    rec.store_host = rec.born_host;
    rec.body = (const uint8_t *)"hello";
    rec.body_len = 5;
    rec.body_crc = rmq_msg_body_crc("hello", 5);
    rec.topic = "RealTopic";
    rec.topic_len = 9;
    rec.props = "PGROUP\001pg\002TRAN_MSG\001true";
    rec.props_len = strlen(rec.props);
    size_t n = rmq_msg_rec_size(false, false, 5, 9, rec.props_len);
    uint8_t body[256];
    cr_assert_leq(n, sizeof(body));
    rmq_msg_encode(body, &rec);
    rmq_cmd_set_body(&req, body, n);

    rmq_buf_t ours, want;
    rmq_buf_init(&ours);
    rmq_buf_init(&want);
    rmq_cmd_encode(&req, &ours);
    size_t hl = strlen(java);
    rmq_buf_put_u32(&want, (uint32_t)(4 + hl + n));
    rmq_buf_put_u32(&want, (uint32_t)hl);
    rmq_buf_put(&want, java, hl);
    rmq_buf_put(&want, body, n);
    cr_expect(ours.len == want.len && memcmp(ours.data, want.data, want.len) == 0, "ours:\n%.*s\njava:\n%s",
              (int)(ours.len - 8 - n), ours.data + 8, java);
    /* and the body reads back as the record (the client's decoder) */
    rmq_msg_rec_t back;
    size_t used;
    cr_assert_eq(rmq_msg_decode_lenient(ours.data + 8 + hl, n, true, &back, &used), RMQ_OK);
    cr_expect_eq(used, n);
    cr_expect_eq(back.commitlog_offset, 8192);
    rmq_buf_free(&ours);
    rmq_buf_free(&want);
    rmq_cmd_deinit(&req);
}

Test(txn_frames, check_without_uniq_key_omits_msg_id)
{
    rmq_cmd_t req;
    rmq_txn_check_cmd_init(&req, 1, NULL, 2, "ID");
    cr_expect_null(rmq_cmd_ext(&req, "msgId"));
    cr_expect_null(rmq_cmd_ext(&req, "transactionId"));
    cr_expect_eq(req.ext_n, 3);
    rmq_cmd_deinit(&req);
}
