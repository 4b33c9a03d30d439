/* fuzz_acl_yaml.c - libFuzzer target for the plain_acl.yml loader
 * (broker/acl/acl_rules.c over libyaml) and the white-address patterns it
 * builds: any input must either load or be refused with a message, never
 * crash, leak or hang; every loaded pattern is matched against a few
 * addresses; every loaded account's permissions are walked. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acl_addr.h"
#include "acl_rules.h"
#include "rmq_log.h"

static const char *const IPS[] = {"127.0.0.1", "10.10.103.7", "192.168.1.200", "::1", "1050::5:600:300c:1"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        rmq_log_level = -1; /* the loader logs warnings; keep the fuzzer's output readable */
        quiet = 1;
    }
    rmq_acl_rules_t *r = rmq_acl_rules_new();
    char err[512];
    err[0] = '\0';
    if (rmq_acl_rules_add_yaml(r, (const char *)data, size, "fuzz.yml", err, sizeof(err)) != RMQ_OK) {
        if (!err[0])
            abort(); /* a refusal must say why */
    }
    for (size_t i = 0; i < r->nglobal; i++)
        for (size_t k = 0; k < sizeof(IPS) / sizeof(IPS[0]); k++)
            rmq_acl_addr_match(&r->global_white[i], IPS[k]);
    const char *key;
    void *val;
    for (size_t it = 0; rmq_map_next(&r->accounts, &it, &key, &val);) {
        const rmq_acl_account_t *a = val;
        if (!a->access_key || !a->secret_key || strcmp(key, a->access_key) != 0)
            abort();
        for (size_t k = 0; k < sizeof(IPS) / sizeof(IPS[0]); k++)
            rmq_acl_addr_match(&a->white, IPS[k]);
    }
    rmq_acl_rules_free(r);
    /* the input as one address pattern */
    if (size < 256) {
        char pat[256];
        memcpy(pat, data, size);
        pat[size] = '\0';
        rmq_acl_addr_t a;
        if (rmq_acl_addr_parse(&a, pat, err, sizeof(err)) == RMQ_OK) {
            for (size_t k = 0; k < sizeof(IPS) / sizeof(IPS[0]); k++)
                rmq_acl_addr_match(&a, IPS[k]);
            rmq_acl_addr_match(&a, pat);
            rmq_acl_addr_free(&a);
        }
    }
    return 0;
}
