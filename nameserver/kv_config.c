/* kv_config.c - KV config tables (name server thread) and their persistence
 * (a "kv-writer" thread: write temp file, fsync, rename). The loop only
 * renders a snapshot string and signals the writer; it never touches disk. */
#include "kv_config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rmq_alloc.h"
#include "rmq_conf.h"
#include "rmq_json.h"
#include "rmq_log.h"

struct ns_kv_s {
    rmq_map_t spaces; /* ns -> rmq_map_t* (key -> char*) */
    char *path;
    pthread_t writer;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *pending;    /* snapshot waiting to be written (owned) */
    uint64_t gen_requested, gen_written;
    rmq_err_t last_err;
    bool stop;
};

static void free_space(void *p)
{
    rmq_map_deinit(p);
    free(p);
}

static rmq_err_t write_atomically(const char *path, const char *text)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rmq_log_errno(RMQ_LOG_ERROR, "kvconfig", errno, "open(%s) failed", tmp);
        return RMQ_ERR__IO;
    }
    size_t len = strlen(text), off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rmq_log_errno(RMQ_LOG_ERROR, "kvconfig", errno, "write(%s) failed", tmp);
            close(fd);
            unlink(tmp);
            return RMQ_ERR__IO;
        }
        off += (size_t)w;
    }
    if (fsync(fd) != 0) {
        rmq_log_errno(RMQ_LOG_ERROR, "kvconfig", errno, "fsync(%s) failed", tmp);
        close(fd);
        unlink(tmp);
        return RMQ_ERR__IO;
    }
    close(fd);
    if (rename(tmp, path) != 0) {
        rmq_log_errno(RMQ_LOG_ERROR, "kvconfig", errno, "rename(%s) failed", tmp);
        unlink(tmp);
        return RMQ_ERR__IO;
    }
    return RMQ_OK;
}

static void *writer_main(void *arg)
{
    ns_kv_t *kv = arg;
    rmq_log_set_thread_name("kv-writer");
    pthread_mutex_lock(&kv->mu);
    for (;;) {
        while (!kv->pending && !kv->stop)
            pthread_cond_wait(&kv->cv, &kv->mu);
        if (!kv->pending && kv->stop)
            break;
        char *text = kv->pending;
        uint64_t gen = kv->gen_requested;
        kv->pending = NULL;
        pthread_mutex_unlock(&kv->mu);
        rmq_err_t r = write_atomically(kv->path, text);
        free(text);
        pthread_mutex_lock(&kv->mu);
        kv->last_err = r;
        kv->gen_written = gen;
        pthread_cond_broadcast(&kv->cv);
    }
    pthread_mutex_unlock(&kv->mu);
    return NULL;
}

static void render(const ns_kv_t *kv, rmq_buf_t *b)
{
    rmq_jw_t w;
    rmq_jw_init(&w, b);
    rmq_jw_obj_begin(&w);
    rmq_jw_key(&w, "configTable");
    rmq_jw_obj_begin(&w);
    size_t n;
    const char **spaces = rmq_map_sorted_keys(&kv->spaces, &n);
    for (size_t i = 0; i < n; i++) {
        rmq_map_t *m = rmq_map_get(&kv->spaces, spaces[i]);
        rmq_jw_key(&w, spaces[i]);
        rmq_jw_obj_begin(&w);
        size_t k;
        const char **keys = rmq_map_sorted_keys(m, &k);
        for (size_t j = 0; j < k; j++)
            rmq_jw_kstr(&w, keys[j], rmq_map_get(m, keys[j]));
        free(keys);
        rmq_jw_obj_end(&w);
    }
    free(spaces);
    rmq_jw_obj_end(&w);
    rmq_jw_obj_end(&w);
}

static void persist(ns_kv_t *kv)
{
    rmq_buf_t b;
    rmq_buf_init(&b);
    render(kv, &b);
    rmq_buf_cstr(&b);
    pthread_mutex_lock(&kv->mu);
    free(kv->pending);
    kv->pending = (char *)rmq_buf_detach(&b, NULL);
    kv->gen_requested++;
    pthread_cond_broadcast(&kv->cv);
    pthread_mutex_unlock(&kv->mu);
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

ns_kv_t *ns_kv_open(const char *path, char *errstr, size_t errstr_size)
{
    ns_kv_t *kv = rmq_calloc(1, sizeof(*kv));
    rmq_map_init(&kv->spaces, free_space);
    kv->path = rmq_strdup(path);
    pthread_mutex_init(&kv->mu, NULL);
    pthread_cond_init(&kv->cv, NULL);
    char *text;
    size_t len;
    rmq_err_t r = rmq_file_read_all(path, &text, &len);
    if (r == RMQ_OK) {
        json_t *j = len ? rmq_json_parse(text, len, errstr, errstr_size) : json_object();
        free(text);
        if (!j) {
            ns_kv_close(kv);
            return NULL;
        }
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
    } else if (r != RMQ_ERR__NOENT) {
        snprintf(errstr, errstr_size, "cannot read %s: %s", path, strerror(errno));
        ns_kv_close(kv);
        return NULL;
    }
    if (pthread_create(&kv->writer, NULL, writer_main, kv) != 0) {
        snprintf(errstr, errstr_size, "cannot start the kv writer thread");
        kv->writer = 0;
        ns_kv_close(kv);
        return NULL;
    }
    return kv;
}

void ns_kv_close(ns_kv_t *kv)
{
    if (!kv)
        return;
    if (kv->writer) {
        pthread_mutex_lock(&kv->mu);
        kv->stop = true;
        pthread_cond_broadcast(&kv->cv);
        pthread_mutex_unlock(&kv->mu);
        pthread_join(kv->writer, NULL);
    }
    free(kv->pending);
    rmq_map_deinit(&kv->spaces);
    pthread_mutex_destroy(&kv->mu);
    pthread_cond_destroy(&kv->cv);
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
    rmq_jw_init(&w, out);
    rmq_jw_obj_begin(&w);
    rmq_jw_key(&w, "table");
    rmq_jw_obj_begin(&w);
    size_t n;
    const char **keys = rmq_map_sorted_keys(m, &n);
    for (size_t i = 0; i < n; i++)
        rmq_jw_kstr(&w, keys[i], rmq_map_get(m, keys[i]));
    free(keys);
    rmq_jw_obj_end(&w);
    rmq_jw_obj_end(&w);
    return true;
}

rmq_err_t ns_kv_sync(ns_kv_t *kv)
{
    pthread_mutex_lock(&kv->mu);
    while (kv->gen_written < kv->gen_requested)
        pthread_cond_wait(&kv->cv, &kv->mu);
    rmq_err_t r = kv->last_err;
    pthread_mutex_unlock(&kv->mu);
    return r;
}
