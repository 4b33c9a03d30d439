/* acl_check.c - PlainAccessValidator + PlainPermissionManager.validate (see
 * acl_check.h): resources per request code, signature, permissions, and
 * Java's refusal remarks.
 * Thread: the broker's I/O thread (pure; also driven by the fuzzer). */
#include "acl_check.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_acl_sign.h"
#include "rmq_alloc.h"
#include "rmq_codes.h"
#include "rmq_json.h"

#define EXC "org.apache.rocketmq.acl.common.AclException"
#define AT_PARSE "org.apache.rocketmq.acl.plain.PlainAccessValidator.parse(PlainAccessValidator.java:134)"
#define AT_VALIDATE                                                                                          \
    "org.apache.rocketmq.acl.plain.PlainPermissionManager.validate(PlainPermissionManager.java:%d)"
#define AT_CHECK                                                                                             \
    "org.apache.rocketmq.acl.plain.PlainPermissionManager.checkPerm(PlainPermissionManager.java:%d)"
#define TRACE_TOPIC "RMQ_SYS_TRACE_TOPIC"

bool rmq_acl_admin_code(int code)
{
    return code == RMQ_REQ_UPDATE_AND_CREATE_TOPIC || code == RMQ_REQ_UPDATE_BROKER_CONFIG ||
           code == RMQ_REQ_DELETE_TOPIC_IN_BROKER || code == RMQ_REQ_UPDATE_AND_CREATE_SUBSCRIPTIONGROUP ||
           code == RMQ_REQ_DELETE_SUBSCRIPTIONGROUP;
}

/* ---------- needed resources (a Java HashMap<String, Byte>) ---------- */

typedef struct {
    char *res;
    uint8_t perm;
    size_t seq;      /* insertion order */
    uint32_t bucket; /* Java HashMap bucket at the final capacity */
} need_t;

typedef struct {
    need_t *v;
    size_t n, cap;
} needs_t;

static void need_add(needs_t *ns, const char *res, uint8_t perm)
{
    if (!res)
        return; /* addResourceAndPerm(null, ...) is a no-op */
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i].res, res)) {
            ns->v[i].perm = perm;
            return;
        }
    if (ns->n == ns->cap) {
        ns->cap = ns->cap ? ns->cap * 2 : 8;
        ns->v = rmq_realloc(ns->v, ns->cap * sizeof(*ns->v));
    }
    ns->v[ns->n].res = rmq_strdup(res);
    ns->v[ns->n].perm = perm;
    ns->v[ns->n].seq = ns->n;
    ns->n++;
}

static void need_add_retry(needs_t *ns, const char *group, uint8_t perm)
{
    if (!group)
        return;
    char *r = rmq_asprintf("%s%s", RMQ_ACL_RETRY_PREFIX, group);
    need_add(ns, r, perm);
    free(r);
}

static void needs_free(needs_t *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i].res);
    free(ns->v);
}

static int need_cmp(const void *a, const void *b)
{
    const need_t *x = a, *y = b;
    if (x->bucket != y->bucket)
        return x->bucket < y->bucket ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* java.util.HashMap's table size for n entries: 16, doubled while
 * n > 0.75 * capacity; and a key's bucket: (h ^ h>>>16) & (capacity-1). */
static uint32_t java_capacity(size_t n)
{
    uint32_t cap = 16;
    while ((uint64_t)n * 4 > (uint64_t)cap * 3)
        cap *= 2;
    return cap;
}

static uint32_t java_bucket(const char *key, uint32_t cap)
{
    uint32_t h = (uint32_t)rmq_java_hash(key, strlen(key));
    return (h ^ (h >> 16)) & (cap - 1);
}

/* Order the entries as java.util.HashMap iterates them: by bucket,
 * insertion order inside a bucket. Decides which resource a refusal names
 * when several fail. */
static void needs_java_order(needs_t *ns)
{
    uint32_t cap = java_capacity(ns->n);
    for (size_t i = 0; i < ns->n; i++)
        ns->v[i].bucket = java_bucket(ns->v[i].res, cap);
    qsort(ns->v, ns->n, sizeof(*ns->v), need_cmp);
}

void rmq_acl_java_hashmap_order(const char **keys, size_t n)
{
    needs_t ns = {0};
    for (size_t i = 0; i < n; i++)
        need_add(&ns, keys[i], 0);
    needs_java_order(&ns);
    const char **orig = rmq_malloc((n ? n : 1) * sizeof(*orig));
    memcpy(orig, keys, n * sizeof(*orig));
    for (size_t i = 0; i < ns.n; i++)
        keys[i] = orig[ns.v[i].seq]; /* keys are distinct: seq is the input index */
    free(orig);
    needs_free(&ns);
}

static const need_t *need_get(const needs_t *ns, const char *res)
{
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i].res, res))
            return &ns->v[i];
    return NULL;
}

static bool is_retry(const char *s)
{
    return s && !strncmp(s, RMQ_ACL_RETRY_PREFIX, strlen(RMQ_ACL_RETRY_PREFIX));
}

/* A JSON scalar as fastjson would hand it to a String field. */
static const char *json_text(json_t *v, char *buf, size_t n)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_true(v) || json_is_false(v))
        return json_is_true(v) ? "true" : "false";
    return NULL;
}

/* Whether v has the type the body needs (is); when not, *msg says what
 * (what) unless v is JSON null (Java: an NPE without a message). */
static bool json_expect(json_t *v, bool is, const char *what, char *msg, size_t msg_size, bool *has_msg)
{
    if (!is && !json_is_null(v)) {
        snprintf(msg, msg_size, "%s", what);
        *has_msg = true;
    }
    return is;
}

/* Every consumer data of a heartbeat's consumerDataSet: its group's retry
 * topic and each subscribed topic need SUB. False (an exception in Java,
 * without a message) when an entry is not of the right type. */
static bool consumer_data_needs(json_t *cds, needs_t *ns)
{
    size_t i;
    json_t *cd;
    json_array_foreach(cds, i, cd)
    {
        if (!json_is_object(cd))
            return false;
        char b1[32], b2[32];
        need_add_retry(ns, json_text(json_object_get(cd, "groupName"), b1, sizeof(b1)), RMQ_ACL_SUB);
        json_t *subs = json_object_get(cd, "subscriptionDataSet");
        if (subs && !json_is_array(subs))
            return false;
        size_t j;
        json_t *sd;
        json_array_foreach(subs, j, sd) /* none when subs is absent */
        {
            if (!json_is_object(sd))
                return false;
            need_add(ns, json_text(json_object_get(sd, "topic"), b2, sizeof(b2)), RMQ_ACL_SUB);
        }
    }
    return true;
}

/* HEART_BEAT: every consumer group's retry topic and every subscribed topic
 * need SUB. Returns false with *msg (NULL = Java's message-less
 * NullPointerException) when the body does not decode. */
static bool heartbeat_needs(const rmq_cmd_t *req, needs_t *ns, char *msg, size_t msg_size, bool *has_msg)
{
    *has_msg = false;
    if (!req->body_len)
        return false; /* new String(null) in Java: an NPE without a message */
    char err[200];
    json_t *root = rmq_json_parse((const char *)req->body, req->body_len, err, sizeof(err));
    if (!root) {
        snprintf(msg, msg_size, "heartbeat body does not parse: %s", err);
        *has_msg = true;
        return false;
    }
    /* JSON null or not an object: an NPE / cast error in Java */
    bool ok = json_expect(root, json_is_object(root), "heartbeat body is not a JSON object", msg, msg_size,
                          has_msg);
    json_t *cds = ok ? json_object_get(root, "consumerDataSet") : NULL; /* absent: an empty set */
    if (cds)
        ok =
            json_expect(cds, json_is_array(cds), "consumerDataSet is not an array", msg, msg_size, has_msg) &&
            consumer_data_needs(cds, ns);
    json_decref(root);
    return ok;
}

/* A send: PUB on its topic, or SUB on its group's retry topic when the
 * topic is a retry topic (the header fields named per request version). */
static void send_needs(const rmq_cmd_t *req, needs_t *ns, const char *topic_field, const char *group_field)
{
    const char *t = rmq_cmd_ext(req, topic_field);
    if (is_retry(t))
        need_add_retry(ns, rmq_cmd_ext(req, group_field), RMQ_ACL_SUB);
    else
        need_add(ns, t, RMQ_ACL_PUB);
}

/* The requests that need SUB on the topic in a header field (retry false)
 * or on the retry topic of the group in one (retry true), in Java's order;
 * field NULL: no second one. */
static const struct {
    int32_t code;
    struct {
        const char *field;
        bool retry;
    } need[2];
} sub_needs[] = {
    {RMQ_REQ_CONSUMER_SEND_MSG_BACK, {{"group", true}}},
    {RMQ_REQ_PULL_MESSAGE, {{"topic", false}, {"consumerGroup", true}}},
    {RMQ_REQ_QUERY_MESSAGE, {{"topic", false}}},
    {RMQ_REQ_UNREGISTER_CLIENT, {{"consumerGroup", true}}},
    {RMQ_REQ_GET_CONSUMER_LIST_BY_GROUP, {{"consumerGroup", true}}},
    {RMQ_REQ_UPDATE_CONSUMER_OFFSET, {{"consumerGroup", true}, {"topic", false}}},
};

/* PlainAccessValidator.parse's switch. */
static bool request_needs(const rmq_cmd_t *req, needs_t *ns, char *msg, size_t msg_size, bool *has_msg)
{
    switch (req->code) {
    case RMQ_REQ_SEND_MESSAGE:
        send_needs(req, ns, "topic", "group"); /* as coded: V1 has no "group" */
        return true;
    case RMQ_REQ_SEND_MESSAGE_V2:
        send_needs(req, ns, "b", "a");
        return true;
    case RMQ_REQ_HEART_BEAT:
        return heartbeat_needs(req, ns, msg, msg_size, has_msg);
    default:
        break;
    }
    for (size_t i = 0; i < sizeof(sub_needs) / sizeof(sub_needs[0]); i++) {
        if (sub_needs[i].code != req->code)
            continue;
        for (int k = 0; k < 2 && sub_needs[i].need[k].field; k++) {
            const char *v = rmq_cmd_ext(req, sub_needs[i].need[k].field);
            if (sub_needs[i].need[k].retry)
                need_add_retry(ns, v, RMQ_ACL_SUB);
            else
                need_add(ns, v, RMQ_ACL_SUB);
        }
    }
    return true;
}

static bool white_match(const rmq_acl_addr_t *v, size_t n, const char *ip)
{
    for (size_t i = 0; i < n; i++)
        if (rmq_acl_addr_match(&v[i], ip))
            return true;
    return false;
}

/* "group:<name>" for %RETRY% resources, "topic:<name>" otherwise. */
static void print_res(const char *res, char *out, size_t n)
{
    if (is_retry(res))
        snprintf(out, n, "group:%s", res + strlen(RMQ_ACL_RETRY_PREFIX));
    else
        snprintf(out, n, "topic:%s", res);
}

rmq_acl_verdict_t rmq_acl_check(const rmq_acl_rules_t *rules, const rmq_cmd_t *req, const char *peer_ip,
                                char *remark, size_t rs)
{
    needs_t ns = {0};
    rmq_acl_verdict_t v = RMQ_ACL_ALLOWED;
    const char *ak = NULL;
    if (req->has_ext) {
        ak = rmq_cmd_ext(req, RMQ_ACL_ACCESS_KEY);
        char msg[300];
        bool has_msg;
        if (!request_needs(req, &ns, msg, sizeof(msg), &has_msg)) {
            if (has_msg)
                snprintf(remark, rs, EXC ": %s, " AT_PARSE, msg);
            else
                snprintf(remark, rs, EXC ", " AT_PARSE);
            v = RMQ_ACL_REFUSED_PARSE;
            goto out;
        }
    }
    if (white_match(rules->global_white, rules->nglobal, peer_ip))
        goto out;
    if (!ak) {
        snprintf(remark, rs, EXC ": No accessKey is configured, " AT_VALIDATE, 664);
        v = RMQ_ACL_REFUSED_NO_KEY;
        goto out;
    }
    const rmq_acl_account_t *acc = rmq_map_get(&rules->accounts, ak);
    if (!acc) {
        snprintf(remark, rs, EXC ": No acl config for %s, " AT_VALIDATE, ak, 668);
        v = RMQ_ACL_REFUSED_UNKNOWN;
        goto out;
    }
    if (rmq_acl_addr_match(&acc->white, peer_ip))
        goto out;
    char sig[RMQ_ACL_SIG_LEN + 1];
    if (!rmq_acl_signature(req, RMQ_ACL_SIDE_BROKER, acc->secret_key, sig) ||
        !rmq_acl_sig_equal(sig, rmq_cmd_ext(req, RMQ_ACL_SIGNATURE))) {
        snprintf(remark, rs, EXC ": Check signature failed for accessKey=%s, " AT_VALIDATE, ak, 684);
        v = RMQ_ACL_REFUSED_SIGNATURE;
        goto out;
    }
    const need_t *trace = need_get(&ns, TRACE_TOPIC);
    if (trace && trace->perm == RMQ_ACL_PUB)
        goto out;
    /* checkPerm */
    if (rmq_acl_admin_code(req->code) && !acc->admin) {
        snprintf(remark, rs,
                 EXC ": Need admin permission for request code=%d, but accessKey=%s is not, " AT_CHECK,
                 req->code, ak, 581);
        v = RMQ_ACL_REFUSED_ADMIN;
        goto out;
    }
    if (!ns.n)
        goto out;
    bool owned_map = rmq_map_count(&acc->perms) > 0;
    if (!owned_map && acc->admin)
        goto out;
    needs_java_order(&ns);
    for (size_t i = 0; i < ns.n; i++) {
        const char *res = ns.v[i].res;
        bool group = is_retry(res);
        bool explicit_perm = owned_map && rmq_map_has(&acc->perms, res);
        uint8_t owned = explicit_perm ? (uint8_t)(uintptr_t)rmq_map_get(&acc->perms, res)
                                      : (group ? acc->default_group_perm : acc->default_topic_perm);
        if (!rmq_acl_perm_ok(ns.v[i].perm, owned)) {
            char pr[300];
            print_res(res, pr, sizeof(pr));
            snprintf(remark, rs, EXC ": No default permission for %s, " AT_CHECK, pr,
                     explicit_perm ? 611 : 606);
            v = RMQ_ACL_REFUSED_PERM;
            goto out;
        }
    }
out:
    needs_free(&ns);
    return v;
}
