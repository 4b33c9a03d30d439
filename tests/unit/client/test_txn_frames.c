/* test_txn_frames.c - END_TRANSACTION as libcomet writes it, byte for byte
 * against the frame Java 4.9.8's client writes for the same values. No
 * capture of code 37 exists in tests/data, so the Java frames are built here
 * from Java's encoding rules: RemotingCommand's fastjson header (top-level
 * keys sorted, nulls omitted) and extFields in the iteration order of the
 * java.util.HashMap that makeCustomHeaderToNet fills (bucket index
 * (h ^ h>>>16) & 15 of String.hashCode of each field name:
 * producerGroup 2, bname 5, commitLogOffset 7, msgId 9,
 * tranStateTableOffset 11, commitOrRollback 11 (after it: HashSet<Field>
 * order), transactionId 14, fromTransactionCheck 15). A field whose value
 * is null (bname from a check-back, transactionId from
 * sendMessageInTransaction) is not sent. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "comet_int.h"
#include "rmq_json.h"

/* The whole frame Java writes for this header JSON (no body). */
static void java_frame(const char *header, rmq_buf_t *out)
{
    size_t hl = strlen(header);
    rmq_buf_put_u32(out, (uint32_t)(4 + hl));
    rmq_buf_put_u32(out, (uint32_t)hl); /* serialize type 0 (JSON) << 24 | length */
    rmq_buf_put(out, header, hl);
}

static void same_bytes(const char *java_header, rmq_cmd_t *got, int32_t opaque)
{
    got->opaque = opaque;
    got->flag |= RMQ_FLAG_ONEWAY; /* Java: invokeOneway marks it; cm_oneway does the same */
    rmq_buf_t a, b;
    rmq_buf_init(&a);
    rmq_buf_init(&b);
    java_frame(java_header, &a);
    rmq_cmd_encode(got, &b);
    cr_expect(a.len == b.len && memcmp(a.data, b.data, a.len) == 0, "ours:\n%.*s\njava:\n%.*s",
              (int)b.len - 8, b.data + 8, (int)a.len - 8, a.data + 8);
    rmq_buf_free(&a);
    rmq_buf_free(&b);
}

Test(txn_frames, end_transaction_after_local_execute_like_java)
{
    /* DefaultMQProducerImpl.endTransaction: bname set, transactionId null,
     * fromTransactionCheck false (its default), remark null */
    rmq_cmd_t *got = cm_end_txn_cmd_new("golden_pg", "broker-a", 4096, "7F0000010E2418B4AAC2A6E2E4C10000", 3,
                                        8, NULL, false, NULL);
    same_bytes(
        "{\"code\":37,\"extFields\":{\"producerGroup\":\"golden_pg\",\"bname\":\"broker-a\","
        "\"commitLogOffset\":\"4096\",\"msgId\":\"7F0000010E2418B4AAC2A6E2E4C10000\","
        "\"tranStateTableOffset\":\"3\",\"commitOrRollback\":\"8\",\"fromTransactionCheck\":\"false\"},"
        "\"flag\":2,\"language\":\"JAVA\",\"opaque\":21,\"serializeTypeCurrentRPC\":\"JSON\",\"version\":"
        "409}",
        got, 21);
    rmq_cmd_destroy(got);
}

Test(txn_frames, end_transaction_rollback_and_unknown_like_java)
{
    rmq_cmd_t *got = cm_end_txn_cmd_new("pg", "b", 0, "U", 0, 12, NULL, false, NULL);
    same_bytes(
        "{\"code\":37,\"extFields\":{\"producerGroup\":\"pg\",\"bname\":\"b\",\"commitLogOffset\":\"0\","
        "\"msgId\":\"U\",\"tranStateTableOffset\":\"0\",\"commitOrRollback\":\"12\","
        "\"fromTransactionCheck\":\"false\"},\"flag\":2,\"language\":\"JAVA\",\"opaque\":1,"
        "\"serializeTypeCurrentRPC\":\"JSON\",\"version\":409}",
        got, 1);
    rmq_cmd_destroy(got);
    got = cm_end_txn_cmd_new("pg", "b", 0, "U", 0, 0, NULL, false, NULL);
    cr_expect_str_eq(rmq_cmd_ext(got, "commitOrRollback"), "0");
    rmq_cmd_destroy(got);
}

Test(txn_frames, end_transaction_answering_a_check_like_java)
{
    /* checkTransactionState's processTransactionState: bname from the check
     * header (null from a broker), transactionId from the check header,
     * fromTransactionCheck true, msgId = UNIQ_KEY */
    rmq_cmd_t *got = cm_end_txn_cmd_new("golden_pg", NULL, 1234567, "UNIQ1", 17, 8, "UNIQ1", true, NULL);
    same_bytes(
        "{\"code\":37,\"extFields\":{\"producerGroup\":\"golden_pg\",\"commitLogOffset\":\"1234567\","
        "\"msgId\":\"UNIQ1\",\"tranStateTableOffset\":\"17\",\"commitOrRollback\":\"8\","
        "\"transactionId\":\"UNIQ1\",\"fromTransactionCheck\":\"true\"},\"flag\":2,\"language\":\"JAVA\","
        "\"opaque\":99,\"serializeTypeCurrentRPC\":\"JSON\",\"version\":409}",
        got, 99);
    rmq_cmd_destroy(got);
}

Test(txn_frames, end_transaction_decoded_like_java_reads_it)
{
    /* our encoder's output read back: every field Java's
     * EndTransactionRequestHeader needs, with its text */
    rmq_cmd_t *got = cm_end_txn_cmd_new("pg", "b", 42, "M", 7, 12, "T", true, "why");
    rmq_buf_t b;
    rmq_buf_init(&b);
    rmq_cmd_encode(got, &b);
    rmq_cmd_t d;
    char err[128];
    cr_assert_eq(rmq_cmd_decode(&d, b.data + 4, b.len - 4, err, sizeof(err)), RMQ_OK, "%s", err);
    cr_expect_str_eq(rmq_cmd_ext(&d, "producerGroup"), "pg");
    cr_expect_str_eq(rmq_cmd_ext(&d, "commitLogOffset"), "42");
    cr_expect_str_eq(rmq_cmd_ext(&d, "tranStateTableOffset"), "7");
    cr_expect_str_eq(rmq_cmd_ext(&d, "commitOrRollback"), "12");
    cr_expect_str_eq(rmq_cmd_ext(&d, "fromTransactionCheck"), "true");
    cr_expect_str_eq(d.remark, "why");
    rmq_cmd_deinit(&d);
    rmq_buf_free(&b);
    rmq_cmd_destroy(got);
}
