/* kv_config.c - KV config tables (name server thread) and their persistence
 * through the kit's file writer (a "kv-writer" thread: temp file, fsync,
 * rename, directory fsync). The loop only renders the JSON and submits it;
 * it never touches the disk. */
#include "kv_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"
#include "rmq_file.h"
#include "rmq_file_writer.h"
#include "rmq_json.h"
#include "rmq_log.h"

struct ns_kv_s {
    rmq_map_t spaces; /* ns -> rmq_map_t* (key -> char*) */
    char *path;
    rmq_file_writer_t *writer;
};

static void free_space(void *p)
{
    rmq_map_deinit(p);
    free(p);
}

/* m as a JSON object, keys sorted; write_val writes each value. */
static void write_sorted(rmq_jw_t *w, const rmq_map_t *m, void (*write_val)(rmq_jw_t *w, const void *val))
{
    rmq_jw_obj_begin(w);
    size_t n;
    const char **keys = rmq_map_sorted_keys(m, &n);
    for (size_t i = 0; i < n; i++) {
        rmq_jw_key(w, keys[i]);
        write_val(w, rmq_map_get(m, keys[i]));
    }
    free(keys);
    rmq_jw_obj_end(w);
}

static void write_value(rmq_jw_t *w, const void *value)
{
    rmq_jw_str(w, value);
}

/* One namespace as a JSON object {"key":"value",...}, keys sorted. */
static void write_space(rmq_jw_t *w, const void *space)
{
    write_sorted(w, space, write_value);
}

static void render(const ns_kv_t *kv, rmq_buf_t *b)
{
    rmq_jw_t w;
    rmq_jw_init_obj(&w, b);
    rmq_jw_key(&w, "configTable");
    write_sorted(&w, &kv->spaces, write_space);
    rmq_jw_obj_end(&w);
}

static void persist(ns_kv_t *kv)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    render(kv, &b);
    size_t len = b.len;
    rmq_file_writer_submit(kv->writer, kv->path, rmq_buf_detach(&b, NULL), len);
}

static rmq_map_t *space(ns_kv_t *kv, const char *ns, bool create)
{
    rmq_map_t *m = rmq_map_get(&kv->spaces, ns);
    if (!m && create) {
        m = rmq_malloc(sizeof(*m));
        rmq_map_init(m, free);
        rmq_map_put(&kv->spaces, ns, m);
    }
    return m;
}

/* Read the KV file at path into kv; a missing file is an empty table. */
static bool load(ns_kv_t *kv, const char *path, char *errstr, size_t errstr_size)
{
    char *text;
    size_t len;
    rmq_err_t r = rmq_file_read_all(path, &text, &len);
    if (r == RMQ_ERR__NOENT)
        return true;
    if (r != RMQ_OK) {
        snprintf(errstr, errstr_size, "cannot read %s: %s", path, strerror(errno));
        return false;
    }
    json_t *j = len ? rmq_json_parse(text, len, errstr, errstr_size) : json_object();
    free(text);
    if (!j)
        return false;
    json_t *tbl = json_object_get(j, "configTable");
    const char *ns;
    json_t *obj;
    json_object_foreach(tbl, ns, obj)
    {
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v)
        {
            if (json_is_string(v))
                rmq_map_put(space(kv, ns, true), k, rmq_strdup(json_string_value(v)));
        }
    }
    json_decref(j);
    return true;
}

ns_kv_t *ns_kv_open(const char *path, char *errstr, size_t errstr_size)
{
    ns_kv_t *kv = rmq_calloc(1, sizeof(*kv));
    rmq_map_init(&kv->spaces, free_space);
    kv->path = rmq_strdup(path);
    char *dir = rmq_strdup(path), *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (rmq_mkdirs(dir) != 0)
            rmq_log_errno(RMQ_LOG_WARN, "kvconfig", errno, "cannot create %s", dir);
    }
    free(dir);
    if (!load(kv, path, errstr, errstr_size))
        goto fail;
    kv->writer = rmq_file_writer_start("kv-writer", NULL);
    if (kv->writer)
        return kv;
    snprintf(errstr, errstr_size, "cannot start the kv writer thread");
fail:
    ns_kv_close(kv);
    return NULL;
}

void ns_kv_close(ns_kv_t *kv)
{
    if (!kv)
        return;
    rmq_file_writer_stop(kv->writer);
    rmq_map_deinit(&kv->spaces);
    free(kv->path);
    free(kv);
}

void ns_kv_put(ns_kv_t *kv, const char *ns, const char *key, const char *value)
{
    rmq_map_put(space(kv, ns, true), key, rmq_strdup(value));
    persist(kv);
}

const char *ns_kv_get(const ns_kv_t *kv, const char *ns, const char *key)
{
    rmq_map_t *m = rmq_map_get(&kv->spaces, ns);
    return m ? rmq_map_get(m, key) : NULL;
}

bool ns_kv_delete(ns_kv_t *kv, const char *ns, const char *key)
{
    rmq_map_t *m = space(kv, ns, false);
    if (!m || !rmq_map_del(m, key))
        return false;
    if (rmq_map_count(m) == 0)
        rmq_map_del(&kv->spaces, ns);
    persist(kv);
    return true;
}

bool ns_kv_list(const ns_kv_t *kv, const char *ns, rmq_buf_t *out)
{
    rmq_map_t *m = rmq_map_get(&kv->spaces, ns);
    if (!m || rmq_map_count(m) == 0)
        return false;
    rmq_jw_t w;
    rmq_jw_init_obj(&w, out);
    rmq_jw_key(&w, "table");
    write_space(&w, m);
    rmq_jw_obj_end(&w);
    return true;
}

rmq_err_t ns_kv_sync(ns_kv_t *kv)
{
    return rmq_file_writer_sync(kv->writer);
}
