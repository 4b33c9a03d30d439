/* test_conf.c - table-driven configuration binding (rmq_conf_*). */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"
#include "rmq_conf.h"
#include "rmq_log.h"

typedef enum { ROLE_ASYNC_MASTER, ROLE_SYNC_MASTER, ROLE_SLAVE } role_t;

typedef struct {
    char *name;
    role_t role;
    int32_t port;
    int32_t any;
    int64_t size;
    int64_t big;
    bool flag;
    bool other;
} cfg_t;

static const char *const roles[] = {
    [ROLE_ASYNC_MASTER] = "ASYNC_MASTER", [ROLE_SYNC_MASTER] = "SYNC_MASTER", [ROLE_SLAVE] = "SLAVE", NULL};

static const rmq_conf_def_t tbl[] = {
    {"brokerName", RMQ_CONF_STR, offsetof(cfg_t, name), "broker-a", 0, -1, RMQ_CONF_IMPORTANT, "name", NULL},
    {"brokerRole", RMQ_CONF_ENUM, offsetof(cfg_t, role), "ASYNC_MASTER", 0, -1, 0, "role", roles},
    {"listenPort", RMQ_CONF_INT, offsetof(cfg_t, port), "10911", 1, 65535, RMQ_CONF_IMPORTANT, "port", NULL},
    {"anyInt", RMQ_CONF_INT, offsetof(cfg_t, any), NULL, 1, 0, 0, "unbounded int", NULL},
    {"mappedFileSize", RMQ_CONF_LONG, offsetof(cfg_t, size), "1073741824", 4096, INT64_MAX, 0, "size", NULL},
    {"bigLong", RMQ_CONF_LONG, offsetof(cfg_t, big), "-5", 1, 0, 0, "unbounded long", NULL},
    {"autoCreate", RMQ_CONF_BOOL, offsetof(cfg_t, flag), "true", 0, 0, 0, "flag", NULL},
    {"otherFlag", RMQ_CONF_BOOL, offsetof(cfg_t, other), NULL, 0, 0, 0, NULL, NULL},
    RMQ_CONF_END,
};

static cfg_t cfg;

static void setup(void)
{
    memset(&cfg, 0, sizeof(cfg));
    rmq_conf_defaults(tbl, &cfg);
}

static void teardown(void)
{
    rmq_conf_free(tbl, &cfg);
}

TestSuite(conf, .init = setup, .fini = teardown, .timeout = 10);

Test(conf, defaults)
{
    cr_expect_str_eq(cfg.name, "broker-a");
    cr_expect_eq(cfg.role, ROLE_ASYNC_MASTER);
    cr_expect_eq(cfg.port, 10911);
    cr_expect_eq(cfg.any, 0);
    cr_expect_eq(cfg.size, 1073741824LL);
    cr_expect_eq(cfg.big, -5);
    cr_expect(cfg.flag);
    cr_expect_not(cfg.other);
    cr_expect_eq(rmq_conf_find(tbl, "listenPort"), &tbl[2]);
    cr_expect_null(rmq_conf_find(tbl, "listenport"), "keys are case-sensitive");
}

static rmq_err_t set(const char *k, const char *v, char *err)
{
    err[0] = '\0';
    return rmq_conf_set(tbl, &cfg, k, v, err, 256);
}

Test(conf, set_values)
{
    char err[256];
    cr_expect_eq(set("brokerName", "b2", err), RMQ_OK);
    cr_expect_str_eq(cfg.name, "b2");
    cr_expect_eq(set("brokerName", "", err), RMQ_OK);
    cr_expect_str_eq(cfg.name, "");
    cr_expect_eq(set("brokerName", NULL, err), RMQ_OK, "NULL value means empty");
    cr_expect_str_eq(cfg.name, "");
    cr_expect_eq(set("listenPort", "1", err), RMQ_OK);
    cr_expect_eq(cfg.port, 1);
    cr_expect_eq(set("listenPort", "65535", err), RMQ_OK);
    cr_expect_eq(cfg.port, 65535);
    cr_expect_eq(set("listenPort", " 20911 ", err), RMQ_OK, "surrounding blanks: %s", err);
    cr_expect_eq(cfg.port, 20911);
    cr_expect_eq(set("anyInt", "-2147483648", err), RMQ_OK);
    cr_expect_eq(cfg.any, INT32_MIN);
    cr_expect_eq(set("mappedFileSize", "4096", err), RMQ_OK);
    cr_expect_eq(cfg.size, 4096);
    cr_expect_eq(set("bigLong", "-9223372036854775808", err), RMQ_OK);
    cr_expect_eq(cfg.big, INT64_MIN);
    cr_expect_eq(set("bigLong", "9223372036854775807", err), RMQ_OK);
    cr_expect_eq(cfg.big, INT64_MAX);
    static const char *const truthy[] = {"true", "TRUE", "True", "1", "yes", "on"};
    static const char *const falsy[] = {"false", "FALSE", "0", "no", "off", "Off"};
    for (size_t i = 0; i < 6; i++) {
        cr_expect_eq(set("otherFlag", truthy[i], err), RMQ_OK, "%s", truthy[i]);
        cr_expect(cfg.other, "%s", truthy[i]);
        cr_expect_eq(set("otherFlag", falsy[i], err), RMQ_OK, "%s", falsy[i]);
        cr_expect_not(cfg.other, "%s", falsy[i]);
    }
    cr_expect_eq(set("brokerRole", "SLAVE", err), RMQ_OK);
    cr_expect_eq(cfg.role, ROLE_SLAVE);
    cr_expect_eq(set("brokerRole", "SYNC_MASTER", err), RMQ_OK);
    cr_expect_eq(cfg.role, ROLE_SYNC_MASTER);
}

static void expect_bad(const char *k, const char *v)
{
    char err[256];
    cr_expect_eq(set(k, v, err), RMQ_ERR__INVALID_ARG, "%s=%s accepted", k, v);
    cr_expect_neq(err[0], '\0', "%s=%s: no error text", k, v);
    cr_expect_not_null(strstr(err, k), "%s=%s: error text \"%s\" does not name the key", k, v, err);
}

Test(conf, bounds)
{
    expect_bad("listenPort", "0");
    expect_bad("listenPort", "65536");
    expect_bad("listenPort", "-1");
    expect_bad("mappedFileSize", "4095");
    expect_bad("anyInt", "2147483648");
    expect_bad("anyInt", "-2147483649");
    expect_bad("bigLong", "9223372036854775808");
    expect_bad("bigLong", "-9223372036854775809");
    cr_expect_eq(cfg.port, 10911, "failed sets leave the value alone");
    cr_expect_eq(cfg.size, 1073741824LL);
}

Test(conf, bad_ints_and_bools)
{
    static const char *const ints[] = {"", "abc", "12abc", "1.5", "0x10", "1e3", "--1", " ", "1 2"};
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        expect_bad("listenPort", ints[i]);
        expect_bad("bigLong", ints[i]);
    }
    static const char *const bools[] = {"", "tru", "2", "yes please", "t", "nope"};
    for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++)
        expect_bad("autoCreate", bools[i]);
    cr_expect(cfg.flag);
}

Test(conf, enum_choices)
{
    /* names are Java's enum constants: exact, case-sensitive, never empty */
    expect_bad("brokerRole", "MASTER");
    expect_bad("brokerRole", "slave");
    expect_bad("brokerRole", "");
    expect_bad("brokerRole", "SLAVE ");
    cr_expect_eq(cfg.role, ROLE_ASYNC_MASTER, "failed sets leave the value alone");
    char err[256];
    set("brokerRole", "BOSS", err);
    cr_expect_not_null(strstr(err, "one of ASYNC_MASTER, SYNC_MASTER, SLAVE"),
                       "the error lists the choices: %s", err);
}

Test(conf, get)
{
    char v[32];
    cr_expect_eq(rmq_conf_get(tbl, &cfg, "brokerRole", v, sizeof(v)), RMQ_OK);
    cr_expect_str_eq(v, "ASYNC_MASTER", "an enum reads back as its name");
    cfg.role = ROLE_SLAVE;
    cr_expect_eq(rmq_conf_get(tbl, &cfg, "brokerRole", v, sizeof(v)), RMQ_OK);
    cr_expect_str_eq(v, "SLAVE");
    cr_expect_eq(rmq_conf_get(tbl, &cfg, "listenPort", v, sizeof(v)), RMQ_OK);
    cr_expect_str_eq(v, "10911");
    cr_expect_eq(rmq_conf_get(tbl, &cfg, "autoCreate", v, sizeof(v)), RMQ_OK);
    cr_expect_str_eq(v, "true");
    cr_expect_eq(rmq_conf_get(tbl, &cfg, "noSuchKey", v, sizeof(v)), RMQ_ERR__NOENT);
    cr_expect_eq(rmq_conf_get(tbl, &cfg, "brokerName", v, 3), RMQ_ERR__TOO_LARGE, "does not fit");
}

Test(conf, copy)
{
    cfg_t c2;
    cfg.role = ROLE_SLAVE;
    rmq_conf_copy(tbl, &c2, &cfg, sizeof(c2));
    cr_expect_str_eq(c2.name, "broker-a");
    cr_expect_neq(c2.name, cfg.name, "strings are duplicated");
    cr_expect_eq(c2.role, ROLE_SLAVE);
    cr_expect_eq(c2.size, cfg.size);
    rmq_conf_free(tbl, &c2);
}

Test(conf, unknown_key)
{
    char err[256];
    cr_expect_eq(set("noSuchKey", "1", err), RMQ_ERR__NOENT);
    cr_expect_not_null(strstr(err, "noSuchKey"));
    cr_expect_eq(set("", "1", err), RMQ_ERR__NOENT);
}

static char *write_tmp(char *dir, const char *text)
{
    cr_assert(th_tmpdir(dir, 512, "conf"));
    char *path = malloc(strlen(dir) + 16);
    sprintf(path, "%s/broker.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void rm_tmp(char *dir, char *path)
{
    unlink(path);
    rmdir(dir);
    free(path);
}

static char last_warning[512];
static void log_cb(void *opaque, int level, const char *facility, const char *msg)
{
    if (level == RMQ_LOG_WARN)
        snprintf(last_warning, sizeof(last_warning), "%s: %s", facility, msg);
}

Test(conf, load_file)
{
    char dir[512], err[256] = "";
    rmq_log_set_callback(log_cb, NULL);
    char *path = write_tmp(dir, "# broker\nbrokerName = broker-b\nlistenPort=20911\nunknownSetting=1\n"
                                "autoCreate:false\nbrokerRole SLAVE\n");
    cr_expect_eq(rmq_conf_load_file(tbl, &cfg, path, "test", err, sizeof(err)), RMQ_OK, "%s", err);
    cr_expect_str_eq(cfg.name, "broker-b");
    cr_expect_eq(cfg.port, 20911);
    cr_expect_not(cfg.flag);
    cr_expect_eq(cfg.role, ROLE_SLAVE);
    /* unknown keys are a warning, not a failure */
    cr_expect_not_null(strstr(last_warning, "unknownSetting"), "warning: %s", last_warning);
    cr_expect_not_null(strstr(last_warning, ":4:"), "warning names the line: %s", last_warning);
    rmq_log_set_callback(NULL, NULL);
    rm_tmp(dir, path);
}

Test(conf, load_file_bad_value)
{
    char dir[512], err[256] = "";
    char *path = write_tmp(dir, "brokerName=x\n\nlistenPort=99999\nautoCreate=false\n");
    cr_expect_eq(rmq_conf_load_file(tbl, &cfg, path, "test", err, sizeof(err)), RMQ_ERR__INVALID_ARG);
    cr_expect_not_null(strstr(err, ":3:"), "error names the line: %s", err);
    cr_expect_not_null(strstr(err, "listenPort"), "%s", err);
    cr_expect(cfg.flag, "parsing stops at the bad line");
    rm_tmp(dir, path);
}

Test(conf, load_file_missing)
{
    char err[256] = "";
    cr_expect_eq(rmq_conf_load_file(tbl, &cfg, "/nonexistent/comet/broker.conf", "test", err, sizeof(err)),
                 RMQ_ERR__NOENT);
    cr_expect_neq(err[0], '\0');
}

Test(conf, read_all)
{
    char dir[512];
    char *path = write_tmp(dir, "abc");
    char *data = NULL;
    size_t len = 0;
    cr_assert_eq(rmq_file_read_all(path, &data, &len), RMQ_OK);
    cr_expect_eq(len, 3);
    cr_expect_str_eq(data, "abc");
    free(data);
    rm_tmp(dir, path);
}

static char *capture(void (*fn)(FILE *))
{
    char *buf = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&buf, &n);
    cr_assert_not_null(f);
    fn(f);
    fclose(f);
    return buf;
}

static void print_all(FILE *f)
{
    rmq_conf_print(tbl, &cfg, f, false);
}
static void print_important(FILE *f)
{
    rmq_conf_print(tbl, &cfg, f, true);
}
static void print_md(FILE *f)
{
    rmq_conf_print_markdown(tbl, "Broker", f);
}

Test(conf, print)
{
    char *s = capture(print_all);
    cr_expect_str_eq(s, "brokerName=broker-a\nbrokerRole=ASYNC_MASTER\nlistenPort=10911\nanyInt=0\n"
                        "mappedFileSize=1073741824\nbigLong=-5\nautoCreate=true\notherFlag=false\n");
    free(s);
    s = capture(print_important);
    cr_expect_str_eq(s, "brokerName=broker-a\nlistenPort=10911\n");
    free(s);
}

Test(conf, print_markdown)
{
    char *s = capture(print_md);
    cr_expect_eq(strncmp(s, "## Broker\n\n| key | type | default |", 33), 0, "%s", s);
    cr_expect_not_null(strstr(s, "| `listenPort` | int | `10911` | 1 .. 65535 | yes | port |"), "%s", s);
    cr_expect_not_null(
        strstr(s, "| `brokerRole` | enum | `ASYNC_MASTER` | ASYNC_MASTER, SYNC_MASTER, SLAVE |"), "%s", s);
    cr_expect_not_null(strstr(s, "| `anyInt` | int | `` |  |  | unbounded int |"), "%s", s);
    cr_expect_not_null(strstr(s, "| `otherFlag` | bool | `` |  |  |  |"), "%s", s);
    /* one row per setting */
    int rows = 0;
    for (const char *p = s; (p = strstr(p, "\n| `")) != NULL; p++)
        rows++;
    cr_expect_eq(rows, 8);
    free(s);
}
