/* test_acl.c - the plain ACL without sockets: RocketMQ's white-address
 * patterns, plain_acl.yml loading (YAML 1.1 scalars as SnakeYAML reads
 * them, invalid files refused with a reason), the permission matrix of
 * PlainPermissionManager with Java's exact refusal remarks, and
 * java.util.HashMap's iteration order against a JDK-generated table. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acl_addr.h"
#include "acl_check.h"
#include "acl_rules.h"
#include "rmq_acl_sign.h"
#include "rmq_cmd.h"
#include "rmq_codes.h"
#include "rmq_conf.h"

#define ACLDATA COMET_TEST_DATA "/acl"
#define EXC "org.apache.rocketmq.acl.common.AclException: "
#define AT_V "org.apache.rocketmq.acl.plain.PlainPermissionManager.validate(PlainPermissionManager.java:"
#define AT_C "org.apache.rocketmq.acl.plain.PlainPermissionManager.checkPerm(PlainPermissionManager.java:"

/* ---------- address patterns ---------- */

static bool m(const char *pattern, const char *ip)
{
    rmq_acl_addr_t a;
    char err[256];
    cr_assert_eq(rmq_acl_addr_parse(&a, pattern, err, sizeof(err)), RMQ_OK, "%s: %s", pattern, err);
    bool r = rmq_acl_addr_match(&a, ip);
    rmq_acl_addr_free(&a);
    return r;
}

static void bad_pattern(const char *pattern)
{
    rmq_acl_addr_t a;
    char err[256] = "";
    cr_expect_neq(rmq_acl_addr_parse(&a, pattern, err, sizeof(err)), RMQ_OK, "%s accepted", pattern);
    cr_expect(err[0], "%s: no reason given", pattern);
}

/* Each line fails if the pattern matches differently from RocketMQ's
 * strategy for it. */
Test(acl_addr, patterns_match_like_rocketmq)
{
    cr_expect(!m(NULL, "1.2.3.4"));
    cr_expect(!m("  ", "1.2.3.4"));
    cr_expect(m("*", "1.2.3.4"));
    cr_expect(m("*.*.*.*", "10.0.0.1"));
    cr_expect(m("*:*:*:*:*:*:*:*", "::1"));
    cr_expect(m("192.168.0.1", "192.168.0.1"));
    cr_expect(!m("192.168.0.1", "192.168.0.10"));
    cr_expect(m("192.168.1.*", "192.168.1.200"));
    cr_expect(!m("192.168.1.*", "192.168.10.2"));
    cr_expect(!m("192.168.1.*", "192.168.2.1"));
    cr_expect(m("192.168.1.1-10", "192.168.1.1"));
    cr_expect(m("192.168.1.1-10", "192.168.1.10"));
    cr_expect(!m("192.168.1.1-10", "192.168.1.11"));
    cr_expect(m("192.168.*.*", "192.168.77.3"));
    /* as coded: a range in the third octet ignores the fourth */
    cr_expect(m("192.168.1-5.7", "192.168.3.99"));
    cr_expect(!m("192.168.1-5.7", "192.168.6.7"));
    cr_expect(m("10.*.*.*", "10.9.8.7"));
    cr_expect(m("192.168.1.{1,2}", "192.168.1.2"));
    cr_expect(!m("192.168.1.{1,2}", "192.168.1.3"));
    cr_expect(m("1.1.1.1,2.2.2.2", "2.2.2.2"));
    cr_expect(!m("1.1.1.1,2.2.2.2", "3.3.3.3"));
    /* IPv6: expanded, case-insensitive */
    cr_expect(m("::1", "0:0:0:0:0:0:0:1"));
    cr_expect(m("0:0:0:0:0:0:0:1", "::1"));
    cr_expect(m("1050:0000:0000:0000:0005:0600:300c:*", "1050::5:600:300C:1"));
    cr_expect(!m("1050:0000:0000:0000:0005:0600:300c:*", "1050::5:600:300d:1"));
    cr_expect(m("1050::5:600:300c:1-200", "1050::5:600:300c:1ff"));
    cr_expect(!m("1050::5:600:300c:1-200", "1050::5:600:300c:201"));
    cr_expect(m("1050:0000:0000:0000:0005:0600:300c:{1,2}", "1050::5:600:300c:2"));
    cr_expect(m("::1,::2", "::2"));
    /* IPv4 patterns never match IPv6 peers and the reverse */
    cr_expect(!m("192.168.1.*", "::1"));
    cr_expect(!m("::1", "127.0.0.1"));
}

Test(acl_addr, bad_patterns_are_refused)
{
    bad_pattern("192.168.1.256");
    bad_pattern("192.168.01.1");     /* commons-validator: no leading zeros */
    bad_pattern("1.1.1.1, 2.2.2.2"); /* items are not trimmed */
    bad_pattern("192.168.1.10-1");
    bad_pattern("192.168.1.-5");
    bad_pattern("192.168.1.1-300");
    bad_pattern("192.168.{1,2}");
    bad_pattern("192.168.*"); /* four parts are required */
    bad_pattern("*.1.2.3");   /* Java accepts it and then fails on every IPv4 peer */
    bad_pattern("host.example.com");
    bad_pattern("a.b.*.*");
    bad_pattern("1050::5:600:*:1"); /* '*' must be last */
}

Test(acl_addr, expand_ip)
{
    char *e = rmq_acl_expand_ip("::1", 8);
    cr_expect_str_eq(e, "0000:0000:0000:0000:0000:0000:0000:0001");
    free(e);
    e = rmq_acl_expand_ip("fe80::a:B", 8);
    cr_expect_str_eq(e, "FE80:0000:0000:0000:0000:0000:000A:000B");
    free(e);
    e = rmq_acl_expand_ip("10.1.2.3", 8);
    cr_expect_str_eq(e, "10.1.2.3");
    free(e);
}

/* ---------- plain_acl.yml ---------- */

static rmq_acl_rules_t *load(const char *yaml, char *err, size_t n)
{
    rmq_acl_rules_t *r = rmq_acl_rules_new();
    if (rmq_acl_rules_add_yaml(r, yaml, strlen(yaml), "test.yml", err, n) != RMQ_OK) {
        rmq_acl_rules_free(r);
        return NULL;
    }
    return r;
}

static rmq_acl_rules_t *load_ok(const char *yaml)
{
    char err[512] = "";
    rmq_acl_rules_t *r = load(yaml, err, sizeof(err));
    cr_assert_not_null(r, "does not load: %s", err);
    return r;
}

static void load_bad(const char *yaml, const char *want_in_error)
{
    char err[512] = "";
    rmq_acl_rules_t *r = load(yaml, err, sizeof(err));
    cr_expect_null(r, "loaded: %s", yaml);
    rmq_acl_rules_free(r);
    cr_expect(strstr(err, want_in_error) != NULL, "error \"%s\" does not mention \"%s\"", err, want_in_error);
}

static const rmq_acl_account_t *acct(const rmq_acl_rules_t *r, const char *ak)
{
    const rmq_acl_account_t *a = rmq_map_get(&r->accounts, ak);
    cr_assert_not_null(a, "no account %s", ak);
    return a;
}

static uint8_t perm_of(const rmq_acl_account_t *a, const char *res)
{
    cr_assert(rmq_map_has(&a->perms, res), "no perm for %s", res);
    return (uint8_t)(uintptr_t)rmq_map_get(&a->perms, res);
}

static const char *SAMPLE = "globalWhiteRemoteAddresses:\n"
                            "  - 10.10.103.*\n"
                            "  - 192.168.0.*\n"
                            "\n"
                            "accounts:\n"
                            "  - accessKey: RocketMQ\n"
                            "    secretKey: 12345678\n"
                            "    whiteRemoteAddress:\n"
                            "    admin: false\n"
                            "    defaultTopicPerm: DENY\n"
                            "    defaultGroupPerm: SUB\n"
                            "    topicPerms:\n"
                            "      - topicA=DENY\n"
                            "      - topicB=PUB|SUB\n"
                            "      - topicC=SUB\n"
                            "    groupPerms:\n"
                            "      # the group becomes its retry topic\n"
                            "      - groupA=DENY\n"
                            "      - groupB=PUB|SUB\n"
                            "      - groupC=SUB\n"
                            "  - accessKey: rocketmq2\n"
                            "    secretKey: 12345678\n"
                            "    whiteRemoteAddress: 192.168.1.*\n"
                            "    admin: true\n";

Test(acl_rules, rocketmq_sample_format)
{
    rmq_acl_rules_t *r = load_ok(SAMPLE);
    cr_expect_eq(r->nglobal, 2);
    cr_expect_eq(rmq_map_count(&r->accounts), 2);
    const rmq_acl_account_t *a = acct(r, "RocketMQ");
    cr_expect_str_eq(a->secret_key, "12345678"); /* an integer in YAML */
    cr_expect(!a->admin);
    cr_expect_eq(a->white.kind, RMQ_ACL_ADDR_BLANK);
    cr_expect_eq(a->default_topic_perm, RMQ_ACL_DENY);
    cr_expect_eq(a->default_group_perm, RMQ_ACL_SUB);
    cr_expect_eq(perm_of(a, "topicA"), RMQ_ACL_DENY);
    cr_expect_eq(perm_of(a, "topicB"), RMQ_ACL_PUB | RMQ_ACL_SUB);
    cr_expect_eq(perm_of(a, "%RETRY%groupC"), RMQ_ACL_SUB);
    const rmq_acl_account_t *b = acct(r, "rocketmq2");
    cr_expect(b->admin);
    cr_expect(rmq_acl_addr_match(&b->white, "192.168.1.9"));
    cr_expect_eq(b->default_topic_perm, RMQ_ACL_DENY); /* absent = DENY */
    rmq_acl_rules_free(r);
}

/* Scalars are read as YAML 1.1 (SnakeYAML) and then turned into text as
 * fastjson does. */
Test(acl_rules, yaml_scalars_as_java_reads_them)
{
    rmq_acl_rules_t *r = load_ok("accounts:\n"
                                 "  - {accessKey: hex_key_1, secretKey: 0x1F2E3D4C}\n"
                                 "  - {accessKey: oct_key_1, secretKey: 0123456701}\n"
                                 "  - {accessKey: und_key_1, secretKey: 1_000_000}\n"
                                 "  - {accessKey: big_key_1, secretKey: 123456789012345678901234567890}\n"
                                 "  - {accessKey: sex_key_1, secretKey: '190:20:30'}\n"
                                 "  - {accessKey: sexa_key1, secretKey: 1190:20:30}\n"
                                 "  - {accessKey: bool_key1, secretKey: !!str yes_sir, admin: yes}\n"
                                 "  - {accessKey: \"quoted01\", secretKey: \"0x1000000\", admin: 'true'}\n"
                                 "  - {accessKey: 12345678, secretKey: +0123456712, admin: 1}\n"
                                 "  - {accessKey: neg_key_1, secretKey: -1234567}\n"
                                 "  - {accessKey: bin_key_1, secretKey: 0b11111111111111111111111}\n");
    cr_expect_str_eq(acct(r, "hex_key_1")->secret_key, "523124044");
    cr_expect_str_eq(acct(r, "oct_key_1")->secret_key, "21913025");
    cr_expect_str_eq(acct(r, "und_key_1")->secret_key, "1000000");
    cr_expect_str_eq(acct(r, "big_key_1")->secret_key, "123456789012345678901234567890");
    cr_expect_str_eq(acct(r, "sex_key_1")->secret_key, "190:20:30");
    cr_expect_str_eq(acct(r, "sexa_key1")->secret_key, "4285230");
    cr_expect_str_eq(acct(r, "bool_key1")->secret_key, "yes_sir");
    cr_expect(acct(r, "bool_key1")->admin);
    cr_expect_str_eq(acct(r, "quoted01")->secret_key, "0x1000000");
    cr_expect(acct(r, "quoted01")->admin);
    cr_expect_str_eq(acct(r, "12345678")->secret_key, "21913034"); /* signed octal */
    cr_expect(acct(r, "12345678")->admin);
    cr_expect_str_eq(acct(r, "neg_key_1")->secret_key, "-1234567");
    cr_expect_str_eq(acct(r, "bin_key_1")->secret_key, "8388607");
    rmq_acl_rules_free(r);
}

Test(acl_rules, anchors_aliases_merge_keys)
{
    rmq_acl_rules_t *r = load_ok("defaults: &d\n"
                                 "  secretKey: shared-secret\n"
                                 "  defaultTopicPerm: PUB\n"
                                 "  topicPerms: [t1=SUB]\n"
                                 "accounts:\n"
                                 "  - <<: *d\n"
                                 "    accessKey: merged_one\n"
                                 "  - <<: *d\n"
                                 "    accessKey: merged_two\n"
                                 "    defaultTopicPerm: SUB\n");
    const rmq_acl_account_t *a = acct(r, "merged_one"), *b = acct(r, "merged_two");
    cr_expect_str_eq(a->secret_key, "shared-secret");
    cr_expect_eq(a->default_topic_perm, RMQ_ACL_PUB);
    cr_expect_eq(b->default_topic_perm, RMQ_ACL_SUB); /* explicit keys win over merged ones */
    cr_expect_eq(perm_of(b, "t1"), RMQ_ACL_SUB);
    rmq_acl_rules_free(r);
}

Test(acl_rules, duplicate_key_first_wins_and_empty_file)
{
    rmq_acl_rules_t *r = load_ok("accounts:\n"
                                 "  - {accessKey: twice_key, secretKey: first_secret}\n"
                                 "  - {accessKey: twice_key, secretKey: second_secret}\n");
    cr_expect_str_eq(acct(r, "twice_key")->secret_key, "first_secret");
    /* a second file cannot redefine it either */
    char err[256];
    cr_expect_eq(rmq_acl_rules_add_yaml(r, "accounts: [{accessKey: twice_key, secretKey: third_secret}]", 59,
                                        "other.yml", err, sizeof(err)),
                 RMQ_OK);
    cr_expect_str_eq(acct(r, "twice_key")->secret_key, "first_secret");
    rmq_acl_rules_free(r);
    r = load_ok("");
    cr_expect_eq(rmq_map_count(&r->accounts), 0);
    rmq_acl_rules_free(r);
    r = load_ok("# only a comment\n");
    rmq_acl_rules_free(r);
}

Test(acl_rules, invalid_files_are_refused_with_a_reason)
{
    load_bad("accounts:\n  - accessKey: short\n    secretKey: 12345678\n",
             "The accessKey=short and secretKey=(hidden) cannot be null and length should longer than 6");
    load_bad("accounts:\n  - accessKey: longenough\n    secretKey: 123456\n", "length should longer than 6");
    load_bad("accounts:\n  - secretKey: 12345678\n", "accessKey=null");
    load_bad("accounts:\n  - {accessKey: longenough, secretKey: 12345678, topicPerms: [topicA]}\n",
             "Parse resource permission failed for topic:topicA");
    load_bad("accounts:\n  - {accessKey: longenough, secretKey: 12345678, groupPerms: [a=b=c]}\n",
             "Parse resource permission failed for group:a=b=c");
    load_bad("accounts:\n  - {accessKey: longenough, secretKey: 12345678, whiteRemoteAddress: 1.2.3.999}\n",
             "Netaddress examine Exception netaddress is 1.2.3.999");
    load_bad("globalWhiteRemoteAddresses: [10.10.1.1-2000]\n", "globalWhiteRemoteAddresses");
    load_bad("globalWhiteRemoteAddresses: 10.10.103.*\n", "must be a list");
    load_bad("accounts: {accessKey: longenough}\n", "accounts must be a list");
    load_bad("accounts:\n  - just a string\n", "must be a mapping");
    load_bad("accounts:\n  - {accessKey: longenough, secretKey: 1234.5678}\n", "quote it");
    load_bad("accounts:\n  - {accessKey: longenough, secretKey: 2024-01-02}\n", "quote it");
    load_bad("accounts:\n  - {accessKey: longenough, secretKey: 12345678, admin: maybe}\n",
             "can not cast to boolean");
    load_bad("accounts:\n  - accessKey: [unclosed\n", "YAML error");
    load_bad("- a\n- b\n", "top level must be a mapping");
    load_bad("a: 1\n---\nb: 2\n", "more than one YAML document");
    load_bad("accounts: *nowhere\n", "unknown alias");
}

/* ---------- the permission matrix ---------- */

static const char *MATRIX = "globalWhiteRemoteAddresses: [10.9.9.*]\n"
                            "accounts:\n"
                            "  - accessKey: user_key\n"
                            "    secretKey: user_secret\n"
                            "    defaultTopicPerm: DENY\n"
                            "    defaultGroupPerm: SUB\n"
                            "    topicPerms: [pubOnly=PUB, subOnly=SUB, both=PUB|SUB, denied=DENY]\n"
                            "    groupPerms: [deniedGroup=DENY, okGroup=SUB]\n"
                            "  - accessKey: admin_key\n"
                            "    secretKey: admin_secret\n"
                            "    admin: true\n"
                            "  - accessKey: admin_limited\n"
                            "    secretKey: admin_secret\n"
                            "    admin: true\n"
                            "    topicPerms: [only=PUB]\n"
                            "  - accessKey: white_key\n"
                            "    secretKey: white_secret\n"
                            "    whiteRemoteAddress: 172.16.0.1-9\n";

static rmq_acl_rules_t *R;
static void matrix_init(void)
{
    R = load_ok(MATRIX);
}
static void matrix_fini(void)
{
    rmq_acl_rules_free(R);
}
TestSuite(acl_check, .init = matrix_init, .fini = matrix_fini);

typedef struct {
    rmq_cmd_t c;
} req_t;

static void req_new(rmq_cmd_t *c, int code, const char *k1, const char *v1, const char *k2, const char *v2)
{
    rmq_cmd_init_request(c, code);
    if (k1)
        rmq_cmd_set_ext(c, k1, v1);
    if (k2)
        rmq_cmd_set_ext(c, k2, v2);
}

/* Verdict of req signed with ak/sk (NULL: unsigned) from ip; the remark is
 * copied to out. */
static rmq_acl_verdict_t run(rmq_cmd_t *c, const char *ak, const char *sk, const char *ip, char *out,
                             size_t n)
{
    if (ak)
        rmq_acl_sign(c, ak, sk, NULL, RMQ_ACL_SIDE_BROKER);
    out[0] = '\0';
    rmq_acl_verdict_t v = rmq_acl_check(R, c, ip, out, n);
    rmq_cmd_deinit(c);
    return v;
}

#define IP "127.0.0.1"

Test(acl_check, refusals_carry_javas_remarks)
{
    char rm[700];
    rmq_cmd_t c;
    req_new(&c, RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", "b", "both");
    cr_expect_eq(run(&c, NULL, NULL, IP, rm, sizeof(rm)), RMQ_ACL_REFUSED_NO_KEY);
    cr_expect_str_eq(rm, EXC "No accessKey is configured, " AT_V "664)");

    req_new(&c, RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", "b", "both");
    cr_expect_eq(run(&c, "nobody_key", "whatever", IP, rm, sizeof(rm)), RMQ_ACL_REFUSED_UNKNOWN);
    cr_expect_str_eq(rm, EXC "No acl config for nobody_key, " AT_V "668)");

    req_new(&c, RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", "b", "both");
    cr_expect_eq(run(&c, "user_key", "wrong_secret", IP, rm, sizeof(rm)), RMQ_ACL_REFUSED_SIGNATURE);
    cr_expect_str_eq(rm, EXC "Check signature failed for accessKey=user_key, " AT_V "684)");

    /* AccessKey without Signature */
    req_new(&c, RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", RMQ_ACL_ACCESS_KEY, "user_key");
    cr_expect_eq(run(&c, NULL, NULL, IP, rm, sizeof(rm)), RMQ_ACL_REFUSED_SIGNATURE);

    /* tampered body after signing */
    req_new(&c, RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", "b", "both");
    rmq_cmd_set_body(&c, "hello", 5);
    rmq_acl_sign(&c, "user_key", "user_secret", NULL, RMQ_ACL_SIDE_BROKER);
    c.body[0] = 'j';
    cr_expect_eq(rmq_acl_check(R, &c, IP, rm, sizeof(rm)), RMQ_ACL_REFUSED_SIGNATURE);
    rmq_cmd_deinit(&c);

    req_new(&c, RMQ_REQ_UPDATE_AND_CREATE_TOPIC, "topic", "x", NULL, NULL);
    cr_expect_eq(run(&c, "user_key", "user_secret", IP, rm, sizeof(rm)), RMQ_ACL_REFUSED_ADMIN);
    cr_expect_str_eq(rm, EXC "Need admin permission for request code=17, but accessKey=user_key is not, " AT_C
                             "581)");

    req_new(&c, RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", "b", "denied");
    cr_expect_eq(run(&c, "user_key", "user_secret", IP, rm, sizeof(rm)), RMQ_ACL_REFUSED_PERM);
    cr_expect_str_eq(rm, EXC "No default permission for topic:denied, " AT_C "611)");

    req_new(&c, RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", "b", "unlisted");
    cr_expect_eq(run(&c, "user_key", "user_secret", IP, rm, sizeof(rm)), RMQ_ACL_REFUSED_PERM);
    cr_expect_str_eq(rm, EXC "No default permission for topic:unlisted, " AT_C "606)");

    req_new(&c, RMQ_REQ_GET_CONSUMER_LIST_BY_GROUP, "consumerGroup", "deniedGroup", NULL, NULL);
    cr_expect_eq(run(&c, "user_key", "user_secret", IP, rm, sizeof(rm)), RMQ_ACL_REFUSED_PERM);
    cr_expect_str_eq(rm, EXC "No default permission for group:deniedGroup, " AT_C "611)");

    /* a heartbeat whose body is not JSON is refused before anything else */
    req_new(&c, RMQ_REQ_HEART_BEAT, "x", "y", NULL, NULL);
    rmq_cmd_set_body(&c, "{not json", 9);
    cr_expect_eq(run(&c, NULL, NULL, "10.9.9.9", rm, sizeof(rm)), RMQ_ACL_REFUSED_PARSE);
    cr_expect(strstr(rm, "PlainAccessValidator.parse(PlainAccessValidator.java:134)") != NULL, "%s", rm);
    req_new(&c, RMQ_REQ_HEART_BEAT, "x", "y", NULL, NULL); /* no body: Java's message-less NPE */
    cr_expect_eq(run(&c, NULL, NULL, "10.9.9.9", rm, sizeof(rm)), RMQ_ACL_REFUSED_PARSE);
    cr_expect_str_eq(
        rm, "org.apache.rocketmq.acl.common.AclException, "
            "org.apache.rocketmq.acl.plain.PlainAccessValidator.parse(PlainAccessValidator.java:134)");
}

Test(acl_check, permission_matrix)
{
    char rm[700];
    rmq_cmd_t c;
    struct {
        int code;
        const char *k1, *v1, *k2, *v2;
        const char *ak, *sk;
        rmq_acl_verdict_t want;
    } t[] = {
        /* topics by request kind */
        {RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", "b", "pubOnly", "user_key", "user_secret", RMQ_ACL_ALLOWED},
        {RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", "b", "subOnly", "user_key", "user_secret", RMQ_ACL_REFUSED_PERM},
        {RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", "b", "both", "user_key", "user_secret", RMQ_ACL_ALLOWED},
        {RMQ_REQ_SEND_MESSAGE, "producerGroup", "PG", "topic", "pubOnly", "user_key", "user_secret",
         RMQ_ACL_ALLOWED},
        {RMQ_REQ_SEND_MESSAGE, "producerGroup", "PG", "topic", "denied", "user_key", "user_secret",
         RMQ_ACL_REFUSED_PERM},
        {RMQ_REQ_PULL_MESSAGE, "consumerGroup", "okGroup", "topic", "subOnly", "user_key", "user_secret",
         RMQ_ACL_ALLOWED},
        {RMQ_REQ_PULL_MESSAGE, "consumerGroup", "okGroup", "topic", "pubOnly", "user_key", "user_secret",
         RMQ_ACL_REFUSED_PERM},
        {RMQ_REQ_PULL_MESSAGE, "consumerGroup", "deniedGroup", "topic", "subOnly", "user_key", "user_secret",
         RMQ_ACL_REFUSED_PERM},
        /* a group without an entry takes defaultGroupPerm (SUB) */
        {RMQ_REQ_PULL_MESSAGE, "consumerGroup", "anyGroup", "topic", "both", "user_key", "user_secret",
         RMQ_ACL_ALLOWED},
        {RMQ_REQ_QUERY_MESSAGE, "topic", "subOnly", NULL, NULL, "user_key", "user_secret", RMQ_ACL_ALLOWED},
        {RMQ_REQ_QUERY_MESSAGE, "topic", "pubOnly", NULL, NULL, "user_key", "user_secret",
         RMQ_ACL_REFUSED_PERM},
        {RMQ_REQ_UPDATE_CONSUMER_OFFSET, "consumerGroup", "okGroup", "topic", "subOnly", "user_key",
         "user_secret", RMQ_ACL_ALLOWED},
        {RMQ_REQ_UPDATE_CONSUMER_OFFSET, "consumerGroup", "okGroup", "topic", "denied", "user_key",
         "user_secret", RMQ_ACL_REFUSED_PERM},
        {RMQ_REQ_CONSUMER_SEND_MSG_BACK, "group", "deniedGroup", NULL, NULL, "user_key", "user_secret",
         RMQ_ACL_REFUSED_PERM},
        {RMQ_REQ_UNREGISTER_CLIENT, "clientID", "c", "consumerGroup", "okGroup", "user_key", "user_secret",
         RMQ_ACL_ALLOWED},
        /* a retry send needs SUB on the producer group's retry topic (as coded) */
        {RMQ_REQ_SEND_MESSAGE_V2, "a", "deniedGroup", "b", "%RETRY%x", "user_key", "user_secret",
         RMQ_ACL_REFUSED_PERM},
        {RMQ_REQ_SEND_MESSAGE_V2, "a", "okGroup", "b", "%RETRY%x", "user_key", "user_secret",
         RMQ_ACL_ALLOWED},
        /* V1 has no "group": no resource is checked (as coded) */
        {RMQ_REQ_SEND_MESSAGE, "producerGroup", "deniedGroup", "topic", "%RETRY%x", "user_key", "user_secret",
         RMQ_ACL_ALLOWED},
        /* message traces always pass */
        {RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", "b", "RMQ_SYS_TRACE_TOPIC", "user_key", "user_secret",
         RMQ_ACL_ALLOWED},
        /* batches are not in Java's switch: no resource check */
        {RMQ_REQ_SEND_BATCH_MESSAGE, "a", "PG", "b", "denied", "user_key", "user_secret", RMQ_ACL_ALLOWED},
        /* codes without resources need only a valid signature */
        {RMQ_REQ_GET_MAX_OFFSET, "topic", "denied", "queueId", "0", "user_key", "user_secret",
         RMQ_ACL_ALLOWED},
        /* admin-only codes */
        {RMQ_REQ_UPDATE_AND_CREATE_TOPIC, "topic", "t", NULL, NULL, "admin_key", "admin_secret",
         RMQ_ACL_ALLOWED},
        {RMQ_REQ_DELETE_TOPIC_IN_BROKER, "topic", "t", NULL, NULL, "user_key", "user_secret",
         RMQ_ACL_REFUSED_ADMIN},
        {RMQ_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP, NULL, NULL, NULL, NULL, "user_key", "user_secret",
         RMQ_ACL_REFUSED_ADMIN},
        {RMQ_REQ_DELETE_SUBSCRIPTIONGROUP, "groupName", "g", NULL, NULL, "user_key", "user_secret",
         RMQ_ACL_REFUSED_ADMIN},
        {RMQ_REQ_UPDATE_BROKER_CONFIG, NULL, NULL, NULL, NULL, "user_key", "user_secret",
         RMQ_ACL_REFUSED_ADMIN},
        /* an admin without any perms passes everything; with perms the
         * defaults (absent = DENY) apply to the rest */
        {RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", "b", "anything", "admin_key", "admin_secret", RMQ_ACL_ALLOWED},
        {RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", "b", "only", "admin_limited", "admin_secret", RMQ_ACL_ALLOWED},
        {RMQ_REQ_SEND_MESSAGE_V2, "a", "PG", "b", "anything", "admin_limited", "admin_secret",
         RMQ_ACL_REFUSED_PERM},
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        req_new(&c, t[i].code, t[i].k1, t[i].v1, t[i].k2, t[i].v2);
        rmq_acl_verdict_t v = run(&c, t[i].ak, t[i].sk, IP, rm, sizeof(rm));
        cr_expect_eq(v, t[i].want, "case %zu (code %d, %s=%s): verdict %d, want %d (%s)", i, t[i].code,
                     t[i].k2 ? t[i].k2 : t[i].k1, t[i].k2 ? t[i].v2 : t[i].v1, v, t[i].want, rm);
    }
}

Test(acl_check, white_addresses)
{
    char rm[700];
    rmq_cmd_t c;
    /* global white: no key or signature needed, any resource */
    req_new(&c, RMQ_REQ_DELETE_TOPIC_IN_BROKER, "topic", "t", NULL, NULL);
    cr_expect_eq(run(&c, NULL, NULL, "10.9.9.200", rm, sizeof(rm)), RMQ_ACL_ALLOWED);
    req_new(&c, RMQ_REQ_DELETE_TOPIC_IN_BROKER, "topic", "t", NULL, NULL);
    cr_expect_eq(run(&c, NULL, NULL, "10.9.8.200", rm, sizeof(rm)), RMQ_ACL_REFUSED_NO_KEY);
    /* account white: the key must be known, the signature is not checked */
    req_new(&c, RMQ_REQ_SEND_MESSAGE_V2, "b", "denied", RMQ_ACL_ACCESS_KEY, "white_key");
    cr_expect_eq(run(&c, NULL, NULL, "172.16.0.5", rm, sizeof(rm)), RMQ_ACL_ALLOWED);
    req_new(&c, RMQ_REQ_SEND_MESSAGE_V2, "b", "denied", RMQ_ACL_ACCESS_KEY, "white_key");
    cr_expect_eq(run(&c, NULL, NULL, "172.16.0.10", rm, sizeof(rm)), RMQ_ACL_REFUSED_SIGNATURE);
    /* no extFields at all: only a white address lets it through */
    rmq_cmd_init_request(&c, RMQ_REQ_GET_BROKER_RUNTIME_INFO);
    cr_expect_eq(run(&c, NULL, NULL, "10.9.9.1", rm, sizeof(rm)), RMQ_ACL_ALLOWED);
    rmq_cmd_init_request(&c, RMQ_REQ_GET_BROKER_RUNTIME_INFO);
    cr_expect_eq(run(&c, NULL, NULL, IP, rm, sizeof(rm)), RMQ_ACL_REFUSED_NO_KEY);
}

Test(acl_check, heartbeat_resources)
{
    char rm[700];
    rmq_cmd_t c;
    const char *ok =
        "{\"clientID\":\"c\",\"consumerDataSet\":[{\"groupName\":\"okGroup\",\"subscriptionDataSet\":"
        "[{\"topic\":\"subOnly\"},{\"topic\":\"%RETRY%okGroup\"}]}],\"producerDataSet\":[]}";
    const char *bad =
        "{\"clientID\":\"c\",\"consumerDataSet\":[{\"groupName\":\"okGroup\",\"subscriptionDataSet\":"
        "[{\"topic\":\"pubOnly\"}]}]}";
    const char *producer_only = "{\"clientID\":\"c\",\"producerDataSet\":[{\"groupName\":\"whatever\"}]}";
    rmq_cmd_init_request(&c, RMQ_REQ_HEART_BEAT);
    rmq_cmd_set_body(&c, ok, strlen(ok));
    cr_expect_eq(run(&c, "user_key", "user_secret", IP, rm, sizeof(rm)), RMQ_ACL_ALLOWED, "%s", rm);
    rmq_cmd_init_request(&c, RMQ_REQ_HEART_BEAT);
    rmq_cmd_set_body(&c, bad, strlen(bad));
    cr_expect_eq(run(&c, "user_key", "user_secret", IP, rm, sizeof(rm)), RMQ_ACL_REFUSED_PERM);
    cr_expect_str_eq(rm, EXC "No default permission for topic:pubOnly, " AT_C "611)");
    rmq_cmd_init_request(&c, RMQ_REQ_HEART_BEAT);
    rmq_cmd_set_body(&c, producer_only, strlen(producer_only));
    cr_expect_eq(run(&c, "user_key", "user_secret", IP, rm, sizeof(rm)), RMQ_ACL_ALLOWED, "%s", rm);
}

/* ---------- java.util.HashMap order ---------- */

static char *unhex(const char *h)
{
    size_t n = strlen(h) / 2;
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(h + 2 * i, "%2x", &v);
        s[i] = (char)v;
    }
    s[n] = '\0';
    return s;
}

Test(acl_order, jdk_hashmap_iteration_order)
{
    char *text = NULL;
    size_t len = 0;
    cr_assert_eq(rmq_file_read_all(ACLDATA "/hashmap_order.txt", &text, &len), RMQ_OK);
    int lines = 0;
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *bar = strchr(line, '|');
        cr_assert_not_null(bar);
        *bar = '\0';
        const char *in[64], *want[64];
        size_t n = 0, w = 0;
        char *s2 = NULL;
        for (char *t = strtok_r(line, " ", &s2); t; t = strtok_r(NULL, " ", &s2))
            in[n++] = unhex(t);
        for (char *t = strtok_r(bar + 1, " ", &s2); t; t = strtok_r(NULL, " ", &s2))
            want[w++] = unhex(t);
        /* distinct keys only (the JDK table may repeat one: drop repeats) */
        size_t d = 0;
        for (size_t i = 0; i < n; i++) {
            bool dup = false;
            for (size_t j = 0; j < d && !dup; j++)
                dup = !strcmp(in[j], in[i]);
            if (dup)
                free((void *)in[i]);
            else
                in[d++] = in[i];
        }
        cr_assert_eq(d, w);
        const char *got[64];
        memcpy(got, in, d * sizeof(*got));
        rmq_acl_java_hashmap_order(got, d);
        for (size_t i = 0; i < d; i++)
            cr_expect_str_eq(got[i], want[i], "line %d, position %zu", lines + 1, i);
        for (size_t i = 0; i < d; i++)
            free((void *)in[i]);
        for (size_t i = 0; i < w; i++)
            free((void *)want[i]);
        lines++;
    }
    free(text);
    cr_assert_geq(lines, 40);
}
