/* rmq_conf.h - Java .properties files bound to a struct through one table.
 *
 * Each process describes its settings once (rmq_conf_def_t[]): Java's
 * camelCase name, type, field offset, default, bounds, description. The same
 * table applies defaults, parses files and -c/-n options, validates, prints
 * -p / -m output and generates CONFIGURATION.md (Redis static_configs[],
 * librdkafka rd_kafka_properties[]). Not thread-safe: configure, then start. */
#ifndef RMQ_CONF_H
#define RMQ_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "rmq_err.h"
#include "rmq_file.h" /* rmq_file_read_all, which the loaders use */

typedef enum {
    RMQ_CONF_STR,  /* char * (owned, heap) */
    RMQ_CONF_INT,  /* int32_t */
    RMQ_CONF_LONG, /* int64_t */
    RMQ_CONF_BOOL, /* bool */
    RMQ_CONF_ENUM, /* an int-sized C enum: the index of the value in `choices` */
} rmq_conf_type_t;

#define RMQ_CONF_IMPORTANT 0x1 /* shown by -m */

typedef struct rmq_conf_def_s {
    const char *name;
    rmq_conf_type_t type;
    size_t offset;
    const char *def;  /* default as text; NULL = empty string / 0 */
    int64_t min, max; /* numeric bounds (ignored when min > max) */
    int flags;
    const char *desc;
    /* ENUM: the names of the values, indexed by value, NULL-terminated
     * (write it with designated initializers: [RMQ_FLUSH_SYNC] = "SYNC_FLUSH").
     * A name outside the list is an error that lists the choices. */
    const char *const *choices;
} rmq_conf_def_t;

#define RMQ_CONF_END                                                                                         \
    {                                                                                                        \
        NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL                                                                \
    }

/* Set every field to its default. String fields are overwritten without
 * being freed (the struct may be uninitialised); call rmq_conf_free first to
 * reset a used struct. */
void rmq_conf_defaults(const rmq_conf_def_t *tbl, void *obj);
/* Free owned strings. */
void rmq_conf_free(const rmq_conf_def_t *tbl, void *obj);
/* dst = a deep copy of src (size bytes; strings duplicated). dst's old
 * strings are not freed. */
void rmq_conf_copy(const rmq_conf_def_t *tbl, void *dst, const void *src, size_t size);
/* Set one key. RMQ_ERR__NOENT for an unknown key, RMQ_ERR__INVALID_ARG for a
 * bad value (errstr says why). */
rmq_err_t rmq_conf_set(const rmq_conf_def_t *tbl, void *obj, const char *key, const char *val, char *errstr,
                       size_t errstr_size);
/* Load a properties file: unknown keys are logged as warnings (facility
 * `what`), bad values fail. */
rmq_err_t rmq_conf_load_file(const rmq_conf_def_t *tbl, void *obj, const char *path, const char *what,
                             char *errstr, size_t errstr_size);
/* Sets one key of obj, with rmq_conf_set's answers (RMQ_ERR__NOENT: unknown
 * key; RMQ_ERR__INVALID_ARG: bad value, errstr says why). */
typedef rmq_err_t rmq_conf_set_fn(void *obj, const char *key, const char *val, char *errstr,
                                  size_t errstr_size);
/* The settings-file loader behind every program's: read path (a failure is
 * errstr "cannot read <path>: <why>" and rmq_file_read_all's code), expand
 * ${VAR} in values (rmq_props_parse_env), give each pair to set(obj, ...);
 * an unknown key is a warning (facility `what`), the first bad value stops
 * the load with errstr "path:line: why" (RMQ_ERR__INVALID_ARG). */
rmq_err_t rmq_conf_load_with(const char *path, rmq_conf_set_fn *set, void *obj, const char *what,
                             char *errstr, size_t errstr_size);
/* The value of key as text (ENUM: its name). RMQ_ERR__NOENT for an unknown
 * key, RMQ_ERR__TOO_LARGE when it does not fit in out. */
rmq_err_t rmq_conf_get(const rmq_conf_def_t *tbl, const void *obj, const char *key, char *out, size_t n);
/* Print "key=value" lines (all, or only RMQ_CONF_IMPORTANT ones). */
void rmq_conf_print(const rmq_conf_def_t *tbl, const void *obj, FILE *out, bool important_only);
/* Print a Markdown table of the settings (for CONFIGURATION.md). */
void rmq_conf_print_markdown(const rmq_conf_def_t *tbl, const char *title, FILE *out);
const rmq_conf_def_t *rmq_conf_find(const rmq_conf_def_t *tbl, const char *key);

/* A program's settings made of several tables (its own, TLS, connection
 * limits...), each filling the part of one struct at `offset`, searched in
 * order for a key; `title` heads the table's section of CONFIGURATION.md. */
typedef struct rmq_conf_part_s {
    const rmq_conf_def_t *tbl;
    size_t offset;
    const char *title;
} rmq_conf_part_t;
void rmq_conf_parts_defaults(const rmq_conf_part_t *parts, size_t n, void *obj);
void rmq_conf_parts_free(const rmq_conf_part_t *parts, size_t n, void *obj);
/* rmq_conf_set on the first table that knows key (RMQ_ERR__NOENT: none). */
rmq_err_t rmq_conf_parts_set(const rmq_conf_part_t *parts, size_t n, void *obj, const char *key,
                             const char *val, char *errstr, size_t errstr_size);
void rmq_conf_parts_print(const rmq_conf_part_t *parts, size_t n, const void *obj, FILE *out,
                          bool important_only);
void rmq_conf_parts_print_markdown(const rmq_conf_part_t *parts, size_t n, FILE *out);

/* Java .properties parser: `#`/`!` comments, `=`/`:`/space separators,
 * trimming, trailing-backslash continuation, \t \n \uXXXX escapes.
 * Calls cb for every pair; stops and returns its non-zero value. */
typedef int (*rmq_props_cb_t)(void *opaque, const char *key, const char *value, int line);
rmq_err_t rmq_props_parse(const char *text, size_t len, rmq_props_cb_t cb, void *opaque);

/* ---- settings from the environment and the command line ---- */

/* Replace ${NAME} and ${NAME:-default} in a settings value with the
 * environment variable NAME, or with `default` when NAME is unset or empty
 * (the shell's rule); `$${` stands for a literal `${`, any other `$` is kept.
 * *out is a new heap string. An unset variable without a default, a name
 * that is not [A-Za-z_][A-Za-z0-9_]*, or a missing `}` is
 * RMQ_ERR__INVALID_ARG with errstr saying which: a value is never silently
 * left empty. */
rmq_err_t rmq_conf_expand_env(const char *in, char **out, char *errstr, size_t errstr_size);
/* rmq_props_parse with every value passed through rmq_conf_expand_env before
 * cb sees it. An expansion error stops the parse with errstr
 * "<path>:<line>: <why>"; a non-zero cb return leaves errstr to cb. */
rmq_err_t rmq_props_parse_env(const char *text, size_t len, const char *path, rmq_props_cb_t cb, void *opaque,
                              char *errstr, size_t errstr_size);
/* Split a command-line override `key=value` (the -o option of mqnamesrv and
 * mqbroker): the key is copied into key[key_size], *val points into arg just
 * after the first '='. RMQ_ERR__INVALID_ARG when there is no '=', the key is
 * empty or longer than key_size-1. */
rmq_err_t rmq_conf_split_override(const char *arg, char *key, size_t key_size, const char **val, char *errstr,
                                  size_t errstr_size);

#endif
