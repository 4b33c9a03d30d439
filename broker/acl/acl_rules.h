/* acl_rules.h - the plain ACL rules (RocketMQ 4.9 PlainPermissionManager's
 * tables) loaded from plain_acl.yml files with libyaml.
 *
 * Files: the default file (rocketmq.acl.plain.file, conf/plain_acl.yml under
 * the broker's home) plus every *.yml / *.yaml under <home>/conf/acl
 * (recursively), as 4.9.8 does; directory files first (sorted by path), then
 * the default file. An access key defined twice keeps its first definition.
 * A missing default file contributes nothing (Java creates it empty).
 *
 * YAML values are read as SnakeYAML + fastjson read them: an unquoted 12345678
 * is the integer 12345678 and its text "12345678", 0x1F is "31", 017 is
 * "15", yes/no/on/off are booleans ("true"/"false"), ~ and null are null.
 * A key or secret that YAML would read as a float or a date is refused
 * (quote it) rather than guessing Java's Double/Date text.
 *
 * Invalid files (YAML syntax, a key or secret of 6 characters or fewer, a
 * permission entry without "name=PERM", a bad address pattern, wrong types)
 * fail the whole load with a message naming the file and line: the caller
 * keeps its previous rules.
 *
 * Loading is pure work on the calling thread (the ACL watcher); a loaded
 * rules object is immutable and read by the broker's I/O thread only. */
#ifndef RMQ_ACL_RULES_H
#define RMQ_ACL_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acl_addr.h"
#include "rmq_err.h"
#include "rmq_map.h"

/* Permission bits (RocketMQ's acl Permission). */
#define RMQ_ACL_DENY 1
#define RMQ_ACL_ANY 2
#define RMQ_ACL_PUB 4
#define RMQ_ACL_SUB 8

#define RMQ_ACL_RETRY_PREFIX "%RETRY%"

typedef struct rmq_acl_account_s {
    char *access_key;
    char *secret_key;
    rmq_acl_addr_t white;
    bool admin;
    uint8_t default_topic_perm;
    uint8_t default_group_perm;
    rmq_map_t perms; /* resource (topic, or %RETRY%<group>) -> (uintptr_t)perm; empty = Java's null map */
    const char *file;
} rmq_acl_account_t;

typedef struct rmq_acl_rules_s {
    rmq_acl_addr_t *global_white;
    size_t nglobal;
    rmq_map_t accounts; /* access key -> rmq_acl_account_t* */
    char **files;       /* the files that were read */
    size_t nfiles;
} rmq_acl_rules_t;

/* Parse one file's text and add it to r (the loader calls this per file).
 * `name` is used in messages. */
rmq_err_t rmq_acl_rules_add_yaml(rmq_acl_rules_t *r, const char *text, size_t len, const char *name,
                                 char *errstr, size_t errstr_size);

rmq_acl_rules_t *rmq_acl_rules_new(void);
void rmq_acl_rules_free(rmq_acl_rules_t *r);

/* The files to read now: every .yml or .yaml file under dir (sorted), then
 * default_file if it exists and is not already listed. */
typedef struct rmq_acl_stamp_s {
    char *path;
    int64_t mtime_ns, ctime_ns, size;
    uint64_t ino;
} rmq_acl_stamp_t;

typedef struct rmq_acl_stamps_s {
    rmq_acl_stamp_t *v;
    size_t n;
} rmq_acl_stamps_t;

void rmq_acl_scan(const char *default_file, const char *dir, rmq_acl_stamps_t *out);
bool rmq_acl_stamps_equal(const rmq_acl_stamps_t *a, const rmq_acl_stamps_t *b);
void rmq_acl_stamps_free(rmq_acl_stamps_t *s);

/* Read and parse the scanned files (NULL on error, with errstr). */
rmq_acl_rules_t *rmq_acl_rules_load(const rmq_acl_stamps_t *files, char *errstr, size_t errstr_size);

/* Parse a permission word as RocketMQ does ("PUB", "SUB", "PUB|SUB",
 * "SUB|PUB", "DENY"; anything else or NULL is DENY). */
uint8_t rmq_acl_perm_parse(const char *s, bool *known);
/* Permission.checkPermission. */
bool rmq_acl_perm_ok(uint8_t needed, uint8_t owned);

#endif
