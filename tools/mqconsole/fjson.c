/* fjson.c - reads fastjson's MessageQueue-keyed maps (see fjson.h): a
 * scanner that finds each {key}:value pair by bracket depth, honouring
 * strings and escapes, and parses keys and values separately.
 * Thread: any. */
#include "fjson.h"

#include <string.h>

#include "rmq_json.h"

/* End (index past) of the JSON value starting at p[i] (object, array,
 * string or scalar), or 0 when it does not end within n. */
static size_t value_end(const char *p, size_t n, size_t i)
{
    if (i >= n)
        return 0;
    if (p[i] == '"') {
        for (size_t k = i + 1; k < n; k++) {
            if (p[k] == '\\')
                k++;
            else if (p[k] == '"')
                return k + 1;
        }
        return 0;
    }
    if (p[i] == '{' || p[i] == '[') {
        int depth = 0;
        for (size_t k = i; k < n; k++) {
            char c = p[k];
            if (c == '"') {
                size_t e = value_end(p, n, k);
                if (!e)
                    return 0;
                k = e - 1;
            } else if (c == '{' || c == '[') {
                if (++depth > 64)
                    return 0;
            } else if (c == '}' || c == ']') {
                if (--depth == 0)
                    return k + 1;
            }
        }
        return 0;
    }
    size_t k = i;
    while (k < n && p[k] != ',' && p[k] != '}' && p[k] != ']' && p[k] != ' ' && p[k] != '\n')
        k++;
    return k > i ? k : 0;
}

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\n' || p[i] == '\r' || p[i] == '\t'))
        i++;
    return i;
}

json_t *mc_fjson_mq_table(const char *p, size_t n, const char *field)
{
    char pat[128];
    snprintf(pat, sizeof(pat), "\"%s\"", field);
    const char *f = memmem(p, n, pat, strlen(pat));
    json_t *arr = json_array();
    if (!f)
        return arr;
    size_t i = (size_t)(f - p) + strlen(pat);
    i = skip_ws(p, n, i);
    if (i >= n || p[i] != ':')
        goto bad;
    i = skip_ws(p, n, i + 1);
    if (i >= n || p[i] != '{')
        goto bad;
    i = skip_ws(p, n, i + 1);
    while (i < n && p[i] != '}') {
        if (p[i] != '{')
            goto bad;
        size_t ke = value_end(p, n, i);
        if (!ke)
            goto bad;
        char err[128];
        json_t *key = rmq_json_parse(p + i, ke - i, err, sizeof(err));
        i = skip_ws(p, n, ke);
        if (!key || i >= n || p[i] != ':') {
            json_decref(key);
            goto bad;
        }
        i = skip_ws(p, n, i + 1);
        size_t ve = value_end(p, n, i);
        json_t *val = ve ? rmq_json_parse(p + i, ve - i, err, sizeof(err)) : NULL;
        if (!val) {
            json_decref(key);
            goto bad;
        }
        json_t *row = json_object();
        json_object_set(row, "brokerName", json_object_get(key, "brokerName"));
        json_object_set(row, "queueId", json_object_get(key, "queueId"));
        json_object_set(row, "topic", json_object_get(key, "topic"));
        json_object_set_new(row, "value", val);
        json_array_append_new(arr, row);
        json_decref(key);
        i = skip_ws(p, n, ve);
        if (i < n && p[i] == ',')
            i = skip_ws(p, n, i + 1);
    }
    if (i >= n)
        goto bad;
    return arr;
bad:
    json_decref(arr);
    return NULL;
}
