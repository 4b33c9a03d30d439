/* read_addr.c - which address of a broker group a consumer reads from
 * (pulls, offset queries and commits): the broker id a pull answer suggested
 * (suggestWhichBrokerId), else the master, else a slave - Java's
 * findBrokerAddressInSubscribe - and, beyond Java, an address that failed in
 * the last few seconds is passed over while the group has another one, so
 * consumers keep reading from a slave while the master is down instead of
 * waiting for the next route refresh. Never used for sends (producers only
 * talk to masters).
 *
 * Owns: a process-wide table of addresses that recently failed (an address
 * is a fact about the network, shared by every handle), under one mutex.
 * Runs: on any libcomet thread. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "comet_int.h"
#include "rmq_time.h"

#define DOWN_SLOTS 32
#define DOWN_MS 5000

static pthread_mutex_t down_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char addr[128];
    int64_t until;
} down[DOWN_SLOTS];

void cm_addr_failed(const char *addr)
{
    if (!addr || !*addr)
        return;
    int64_t now = rmq_mono_ms();
    pthread_mutex_lock(&down_mu);
    int slot = -1;
    for (int i = 0; i < DOWN_SLOTS; i++) {
        if (strcmp(down[i].addr, addr) == 0) {
            slot = i;
            break;
        }
        if (slot < 0 && down[i].until <= now)
            slot = i;
    }
    if (slot >= 0) {
        snprintf(down[slot].addr, sizeof(down[slot].addr), "%s", addr);
        down[slot].until = now + DOWN_MS;
    }
    pthread_mutex_unlock(&down_mu);
}

void cm_addr_ok(const char *addr)
{
    pthread_mutex_lock(&down_mu);
    for (int i = 0; i < DOWN_SLOTS; i++)
        if (down[i].until && strcmp(down[i].addr, addr) == 0)
            down[i].until = 0;
    pthread_mutex_unlock(&down_mu);
}

static bool is_down(const char *addr, int64_t now)
{
    bool d = false;
    pthread_mutex_lock(&down_mu);
    for (int i = 0; i < DOWN_SLOTS && !d; i++)
        d = down[i].until > now && strcmp(down[i].addr, addr) == 0;
    pthread_mutex_unlock(&down_mu);
    return d;
}

bool cm_read_addr(cm_instance_t *inst, const char *broker, int64_t want_id, char *out, size_t n, bool *slave)
{
    cm_broker_addr_t *a = NULL;
    size_t na = 0;
    if (!cm_broker_addrs(inst, broker, &a, &na) || na == 0) {
        free(a);
        return false;
    }
    int64_t now = rmq_mono_ms();
    const cm_broker_addr_t *pick = NULL, *any_up = NULL, *master = NULL, *wanted = NULL;
    for (size_t i = 0; i < na; i++) {
        bool up = !is_down(a[i].addr, now);
        if (a[i].id == want_id && up)
            wanted = &a[i];
        if (a[i].id == 0 && up)
            master = &a[i];
        if (up && (!any_up || a[i].id < any_up->id))
            any_up = &a[i];
    }
    pick = wanted ? wanted : master ? master : any_up ? any_up : &a[0];
    snprintf(out, n, "%s", pick->addr);
    if (slave)
        *slave = pick->id != 0;
    for (size_t i = 0; i < na; i++)
        free(a[i].addr);
    free(a);
    return true;
}
