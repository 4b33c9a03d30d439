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

typedef enum {
    RMQ_CONF_STR,  /* char * (owned, heap) */
    RMQ_CONF_INT,  /* int32_t */
    RMQ_CONF_LONG, /* int64_t */
    RMQ_CONF_BOOL, /* bool */
} rmq_conf_type_t;

#define RMQ_CONF_IMPORTANT 0x1 /* shown by -m */

typedef struct rmq_conf_def_s {
    const char *name;
    rmq_conf_type_t type;
    size_t offset;
    const char *def;                 /* default as text; NULL = empty string / 0 */
    int64_t min, max;                /* numeric bounds (ignored when min > max) */
    int flags;
    const char *desc;
    const char *const *choices;      /* STR: NULL-terminated list of allowed values, or NULL */
} rmq_conf_def_t;

#define RMQ_CONF_END {NULL, 0, 0, NULL, 0, 0, 0, NULL, NULL}

/* Set every field to its default. String fields are overwritten without
 * being freed (the struct may be uninitialised); call rmq_conf_free first to
 * reset a used struct. */
void rmq_conf_defaults(const rmq_conf_def_t *tbl, void *obj);
/* Free owned strings. */
void rmq_conf_free(const rmq_conf_def_t *tbl, void *obj);
/* Set one key. RMQ_ERR__NOENT for an unknown key, RMQ_ERR__INVALID_ARG for a
 * bad value (errstr says why). */
rmq_err_t rmq_conf_set(const rmq_conf_def_t *tbl, void *obj, const char *key, const char *val, char *errstr,
                       size_t errstr_size);
/* Load a properties file: unknown keys are logged as warnings (facility
 * `what`), bad values fail. */
rmq_err_t rmq_conf_load_file(const rmq_conf_def_t *tbl, void *obj, const char *path, const char *what,
                             char *errstr, size_t errstr_size);
/* Print "key=value" lines (all, or only RMQ_CONF_IMPORTANT ones). */
void rmq_conf_print(const rmq_conf_def_t *tbl, const void *obj, FILE *out, bool important_only);
/* Print a Markdown table of the settings (for CONFIGURATION.md). */
void rmq_conf_print_markdown(const rmq_conf_def_t *tbl, const char *title, FILE *out);
const rmq_conf_def_t *rmq_conf_find(const rmq_conf_def_t *tbl, const char *key);

/* Java .properties parser: `#`/`!` comments, `=`/`:`/space separators,
 * trimming, trailing-backslash continuation, \t \n \uXXXX escapes.
 * Calls cb for every pair; stops and returns its non-zero value. */
typedef int (*rmq_props_cb_t)(void *opaque, const char *key, const char *value, int line);
rmq_err_t rmq_props_parse(const char *text, size_t len, rmq_props_cb_t cb, void *opaque);
/* Read a whole file into a NUL-terminated heap buffer. */
rmq_err_t rmq_file_read_all(const char *path, char **data, size_t *len);

#endif
