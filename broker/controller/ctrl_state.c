/* ctrl_state.c - controller mode's etcd keys and values (JSON), the view of a
 * group read from one range answer, and the pure decisions: who may stand
 * for election, and how the master changes the in-sync set.
 *
 * Owns: nothing (pure functions).
 * Runs: on the "Controller" thread; unit tests call it directly.
 * Never: lets a replica outside the in-sync set stand while a member of the
 * set is alive, or adds a replica to the set before it holds everything
 * acknowledged. */
#include "controller/ctrl_state.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_alloc.h"

static bool name_ok(const char *what, const char *s, char *errstr, size_t n)
{
    if (!s || !*s) {
        snprintf(errstr, n, "enableControllerMode: %s is empty", what);
        return false;
    }
    if (strchr(s, '/')) {
        snprintf(errstr, n, "enableControllerMode: %s '%s' has a '/' (it is part of the etcd keys)", what, s);
        return false;
    }
    return true;
}

bool rmq_ctrl_keys_init(rmq_ctrl_keys_t *k, const char *key_prefix, const char *cluster, const char *group,
                        int64_t my_id, char *errstr, size_t n)
{
    memset(k, 0, sizeof(*k));
    if (!key_prefix || key_prefix[0] != '/') {
        snprintf(errstr, n, "etcdKeyPrefix '%s' must start with '/'", key_prefix ? key_prefix : "");
        return false;
    }
    if (!name_ok("brokerClusterName", cluster, errstr, n) || !name_ok("brokerName", group, errstr, n))
        return false;
    size_t pl = strlen(key_prefix);
    while (pl > 1 && key_prefix[pl - 1] == '/')
        pl--;
    int w = snprintf(k->prefix, sizeof(k->prefix), "%.*s/%s/%s/", (int)pl, key_prefix, cluster, group);
    if (w < 0 || (size_t)w >= sizeof(k->prefix)) {
        snprintf(errstr, n, "etcdKeyPrefix, cluster and broker name are too long for a key");
        return false;
    }
    if (pl == 1) /* prefix "/": no double slash */
        snprintf(k->prefix, sizeof(k->prefix), "/%s/%s/", cluster, group);
    snprintf(k->leader, sizeof(k->leader), "%sleader", k->prefix);
    snprintf(k->state, sizeof(k->state), "%sstate", k->prefix);
    snprintf(k->members, sizeof(k->members), "%smembers/", k->prefix);
    snprintf(k->member, sizeof(k->member), "%s%lld", k->members, (long long)my_id);
    return true;
}

/* ------------------------------------------------------------- values */

static char *dump(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s ? s : rmq_strdup("{}");
}

char *rmq_ctrl_leader_json(int64_t epoch, int64_t id, const char *addr, const char *ha_addr)
{
    return dump(json_pack("{s:I,s:I,s:s,s:s}", "epoch", (json_int_t)epoch, "brokerId", (json_int_t)id, "addr",
                          addr, "haAddr", ha_addr));
}

char *rmq_ctrl_state_json(int64_t epoch, int64_t master_id, uint64_t isr, int64_t isr_epoch)
{
    json_t *set = json_array();
    for (int id = 0; id <= RMQ_CTRL_MAX_ID; id++)
        if (isr & RMQ_CTRL_BIT(id))
            json_array_append_new(set, json_integer(id));
    return dump(json_pack("{s:I,s:I,s:o,s:I}", "epoch", (json_int_t)epoch, "masterId", (json_int_t)master_id,
                          "syncStateSet", set, "syncStateSetEpoch", (json_int_t)isr_epoch));
}

char *rmq_ctrl_member_json(int64_t id, const char *addr, const char *ha_addr, int64_t epoch,
                           int64_t end_offset, int64_t started_at)
{
    return dump(json_pack("{s:I,s:s,s:s,s:I,s:I,s:I}", "brokerId", (json_int_t)id, "addr", addr, "haAddr",
                          ha_addr, "epoch", (json_int_t)epoch, "endOffset", (json_int_t)end_offset,
                          "startedAt", (json_int_t)started_at));
}

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = text ? json_loads(text, 0, &e) : NULL;
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static bool get_i64(json_t *o, const char *k, int64_t *out)
{
    json_t *v = json_object_get(o, k);
    if (!json_is_integer(v))
        return false;
    *out = (int64_t)json_integer_value(v);
    return true;
}

static bool get_str(json_t *o, const char *k, char *out, size_t n)
{
    const char *s = json_string_value(json_object_get(o, k));
    if (!s || strlen(s) >= n)
        return false;
    snprintf(out, n, "%s", s);
    return true;
}

bool rmq_ctrl_leader_parse(const char *text, rmq_ctrl_leader_t *l)
{
    json_t *j = load(text);
    bool ok = j && get_i64(j, "epoch", &l->epoch) && get_i64(j, "brokerId", &l->broker_id) &&
              get_str(j, "addr", l->addr, sizeof(l->addr)) &&
              get_str(j, "haAddr", l->ha_addr, sizeof(l->ha_addr)) && l->epoch > 0 && l->broker_id >= 1 &&
              l->broker_id <= RMQ_CTRL_MAX_ID;
    json_decref(j);
    return ok;
}

bool rmq_ctrl_state_parse(const char *text, rmq_ctrl_sstate_t *s)
{
    json_t *j = load(text);
    bool ok = j && get_i64(j, "epoch", &s->epoch) && get_i64(j, "masterId", &s->master_id) &&
              get_i64(j, "syncStateSetEpoch", &s->isr_epoch) && s->epoch >= 0;
    json_t *set = j ? json_object_get(j, "syncStateSet") : NULL;
    s->isr = 0;
    if (ok && json_is_array(set)) {
        size_t i;
        json_t *v;
        json_array_foreach(set, i, v)
        {
            if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > RMQ_CTRL_MAX_ID) {
                ok = false;
                break;
            }
            s->isr |= RMQ_CTRL_BIT(json_integer_value(v));
        }
    } else {
        ok = false;
    }
    json_decref(j);
    return ok;
}

bool rmq_ctrl_member_parse(const char *text, rmq_ctrl_member_t *m)
{
    json_t *j = load(text);
    int64_t id;
    bool ok = j && get_i64(j, "brokerId", &id) && get_str(j, "addr", m->addr, sizeof(m->addr)) &&
              get_str(j, "haAddr", m->ha_addr, sizeof(m->ha_addr)) && get_i64(j, "epoch", &m->epoch) &&
              get_i64(j, "endOffset", &m->end_offset) && get_i64(j, "startedAt", &m->started_at);
    json_decref(j);
    return ok;
}

void rmq_ctrl_set_str(uint64_t set, char *out, size_t n)
{
    size_t o = 0;
    out[0] = 0;
    for (int id = 0; id <= RMQ_CTRL_MAX_ID && o < n; id++)
        if (set & RMQ_CTRL_BIT(id)) {
            int w = snprintf(out + o, n - o, "%s%d", o ? "," : "", id);
            if (w < 0)
                break;
            o += (size_t)w;
        }
}

int rmq_ctrl_set_count(uint64_t set)
{
    return __builtin_popcountll(set);
}

/* --------------------------------------------------------------- view */

void rmq_ctrl_view_parse(const rmq_ctrl_keys_t *k, const rmq_etcd_kv_t *kvs, size_t n, int64_t revision,
                         rmq_ctrl_view_t *v, bool *state_corrupt)
{
    memset(v, 0, sizeof(*v));
    v->revision = revision;
    *state_corrupt = false;
    size_t ml = strlen(k->members);
    for (size_t i = 0; i < n; i++) {
        const rmq_etcd_kv_t *kv = &kvs[i];
        if (!strcmp(kv->key, k->leader)) {
            rmq_ctrl_leader_t l = {0};
            if (rmq_ctrl_leader_parse(kv->value, &l)) {
                l.present = true;
                l.lease = kv->lease;
                l.create_rev = kv->create_revision;
                l.mod_rev = kv->mod_revision;
                v->leader = l;
            } else {
                v->bad_values++;
            }
        } else if (!strcmp(kv->key, k->state)) {
            rmq_ctrl_sstate_t s = {0};
            if (rmq_ctrl_state_parse(kv->value, &s)) {
                s.present = true;
                s.mod_rev = kv->mod_revision;
                v->state = s;
            } else {
                v->bad_values++;
                *state_corrupt = true;
                v->state.mod_rev = kv->mod_revision;
            }
        } else if (!strncmp(kv->key, k->members, ml)) {
            char *end;
            long id = strtol(kv->key + ml, &end, 10);
            rmq_ctrl_member_t m = {0};
            if (*end || id < 1 || id > RMQ_CTRL_MAX_ID || !rmq_ctrl_member_parse(kv->value, &m)) {
                v->bad_values++;
                continue;
            }
            m.present = true;
            m.lease = kv->lease;
            m.mod_rev = kv->mod_revision;
            v->members[id] = m;
            v->alive |= RMQ_CTRL_BIT(id);
        }
    }
}

/* ----------------------------------------------------------- decisions */

bool rmq_ctrl_electable(const rmq_ctrl_view_t *v, int64_t my_id, int64_t my_epoch, int64_t my_end,
                        bool unclean, bool *is_unclean, char *why, size_t n)
{
    *is_unclean = false;
    uint64_t me = RMQ_CTRL_BIT(my_id);
    if (v->state.present) {
        char set[200];
        rmq_ctrl_set_str(v->state.isr, set, sizeof(set));
        if (v->state.isr & me) {
            snprintf(why, n, "in the in-sync set {%s} of epoch %lld", set, (long long)v->state.epoch);
            return true;
        }
        uint64_t live_isr = v->state.isr & v->alive & ~me;
        if (!unclean) {
            snprintf(why, n, "not in the in-sync set {%s} (enableElectUncleanMaster=false)", set);
            return false;
        }
        if (live_isr) {
            char live[200];
            rmq_ctrl_set_str(live_isr, live, sizeof(live));
            snprintf(why, n, "not in the in-sync set {%s} and its members {%s} are alive", set, live);
            return false;
        }
        *is_unclean = true;
        snprintf(why, n, "UNCLEAN: outside the in-sync set {%s}, none of whose members is alive", set);
        return true;
    }
    /* the group's first election: the replica with the most data */
    for (int id = 1; id <= RMQ_CTRL_MAX_ID; id++) {
        if (id == my_id || !(v->alive & RMQ_CTRL_BIT(id)))
            continue;
        const rmq_ctrl_member_t *m = &v->members[id];
        bool better = m->epoch > my_epoch || (m->epoch == my_epoch && m->end_offset > my_end) ||
                      (m->epoch == my_epoch && m->end_offset == my_end && id < my_id);
        if (better) {
            snprintf(why, n, "first election: replica %d has epoch %lld, log end %lld (this one %lld, %lld)",
                     id, (long long)m->epoch, (long long)m->end_offset, (long long)my_epoch,
                     (long long)my_end);
            return false;
        }
    }
    snprintf(why, n,
             "first election of the group: the newest log among the live replicas (epoch %lld, end %lld)",
             (long long)my_epoch, (long long)my_end);
    return true;
}

void rmq_ctrl_isr_plan(uint64_t isr, uint64_t pending, const rmq_ctrl_replica_t *r, size_t nr, int64_t my_id,
                       int64_t end, int64_t fallbehind, rmq_ctrl_isr_plan_t *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t streaming = 0;
    for (size_t i = 0; i < nr; i++)
        if (r[i].streaming && r[i].id >= 1 && r[i].id <= RMQ_CTRL_MAX_ID && r[i].id != my_id)
            streaming |= RMQ_CTRL_BIT(r[i].id);
    uint64_t others = isr & ~RMQ_CTRL_BIT(my_id);
    out->remove = others & ~streaming;
    for (size_t i = 0; i < nr; i++) /* a member that fell too far behind leaves too */
        if (r[i].streaming && r[i].id >= 1 && r[i].id <= RMQ_CTRL_MAX_ID &&
            (others & RMQ_CTRL_BIT(r[i].id)) && end - r[i].acked > fallbehind)
            out->remove |= RMQ_CTRL_BIT(r[i].id);
    /* a pending replica that stopped streaming is dropped from pending */
    out->pending = pending & streaming & ~isr;
    for (size_t i = 0; i < nr; i++) {
        const rmq_ctrl_replica_t *x = &r[i];
        if (!x->streaming || x->id < 1 || x->id > RMQ_CTRL_MAX_ID || x->id == my_id)
            continue;
        uint64_t bit = RMQ_CTRL_BIT(x->id);
        if (isr & bit)
            continue;
        if (out->pending & bit) {
            if (x->add_hw >= 0 && x->acked >= x->add_hw)
                out->add |= bit;
        } else if (end - x->acked <= fallbehind) {
            out->pending |= bit;
        }
    }
    if (out->remove)
        out->add = 0; /* one change at a time: removals first */
}
