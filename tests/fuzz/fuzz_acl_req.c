/* fuzz_acl_req.c - libFuzzer target for what the broker does with the ACL
 * fields of an untrusted request: decode the frame (rmq_cmd), build the
 * signed content (Java's UTF-8 round trip and UTF-16 key order), compute
 * and compare the signature, derive the needed resources (HEART_BEAT bodies
 * included) and check them against fixed rules. Checks: no crash, leak or
 * hang; the content is the same twice; a request re-signed with the right
 * key is accepted unless refused for a reason other than its signature. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl_check.h"
#include "acl_rules.h"
#include "rmq_acl_sign.h"
#include "rmq_cmd.h"
#include "rmq_log.h"

static rmq_acl_rules_t *rules;

static const char RULES[] = "globalWhiteRemoteAddresses: [10.9.9.*]\n"
                            "accounts:\n"
                            "  - accessKey: fuzz_user\n"
                            "    secretKey: fuzz_secret\n"
                            "    defaultTopicPerm: SUB\n"
                            "    defaultGroupPerm: SUB\n"
                            "    topicPerms: [TopicTest=PUB|SUB, denied=DENY]\n"
                            "    groupPerms: [g=DENY]\n"
                            "  - accessKey: fuzz_admin\n"
                            "    secretKey: fuzz_secret\n"
                            "    admin: true\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!rules) {
        rmq_log_level = -1;
        rules = rmq_acl_rules_new();
        char err[256];
        if (rmq_acl_rules_add_yaml(rules, RULES, sizeof(RULES) - 1, "rules", err, sizeof(err)) != RMQ_OK)
            abort();
    }
    /* the raw bytes through Java's UTF-8 round trip: the output is valid
     * UTF-8 and the round trip is idempotent */
    rmq_buf_t a, b;
    rmq_buf_init(&a);
    rmq_buf_init(&b);
    rmq_acl_java_utf8(data, size, &a);
    rmq_acl_java_utf8(a.data, a.len, &b);
    if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
        abort();
    rmq_buf_free(&a);
    rmq_buf_free(&b);

    rmq_cmd_t cmd;
    char err[160];
    if (rmq_cmd_decode(&cmd, data, size, err, sizeof(err)) != RMQ_OK)
        return 0;
    rmq_buf_t c1, c2;
    rmq_buf_init(&c1);
    rmq_buf_init(&c2);
    rmq_acl_content(&cmd, RMQ_ACL_SIDE_BROKER, &c1);
    rmq_acl_content(&cmd, RMQ_ACL_SIDE_BROKER, &c2);
    if (c1.len != c2.len || (c1.len && memcmp(c1.data, c2.data, c1.len) != 0))
        abort();
    rmq_buf_free(&c1);
    rmq_buf_free(&c2);
    char remark[700];
    rmq_acl_check(rules, &cmd, "127.0.0.1", remark, sizeof(remark));
    rmq_acl_check(rules, &cmd, "10.9.9.1", remark, sizeof(remark));
    /* signed properly, the signature can no longer be the reason */
    rmq_acl_sign(&cmd, "fuzz_user", "fuzz_secret", NULL, RMQ_ACL_SIDE_BROKER);
    if (rmq_acl_check(rules, &cmd, "127.0.0.1", remark, sizeof(remark)) == RMQ_ACL_REFUSED_SIGNATURE) {
        /* only possible when a key or value has bytes the broker's view
         * normalises differently from the signer's: both use the same code */
        abort();
    }
    rmq_cmd_deinit(&cmd);
    return 0;
}
