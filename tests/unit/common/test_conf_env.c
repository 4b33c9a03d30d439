/* test_conf_env.c - settings without editing a file: ${VAR} expansion of
 * settings-file values (rmq_conf_expand_env, rmq_props_parse_env through
 * rmq_conf_load_file) and -o key=value splitting (rmq_conf_split_override). */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"
#include "rmq_conf.h"

static char *expand(const char *in, rmq_err_t want, char *err, size_t n)
{
    char *out = NULL;
    rmq_err_t r = rmq_conf_expand_env(in, &out, err, n);
    cr_assert_eq(r, want, "expand(\"%s\") = %d (%s)", in, r, err);
    return out;
}

static void expect_expand(const char *in, const char *want)
{
    char err[256] = "";
    char *out = expand(in, RMQ_OK, err, sizeof(err));
    cr_expect_str_eq(out, want, "expand(\"%s\")", in);
    free(out);
}

static void expect_error(const char *in, const char *needle)
{
    char err[256] = "";
    char *out = expand(in, RMQ_ERR__INVALID_ARG, err, sizeof(err));
    cr_expect_null(out, "no output on error");
    cr_expect_not_null(strstr(err, needle), "expand(\"%s\") error \"%s\" lacks \"%s\"", in, err, needle);
}

TestSuite(conf_env, .timeout = 10);

Test(conf_env, expands_set_variables)
{
    setenv("COMET_T_HOST", "10.1.2.3", 1);
    setenv("COMET_T_PORT", "20911", 1);
    expect_expand("${COMET_T_HOST}", "10.1.2.3");
    expect_expand("${COMET_T_HOST}:${COMET_T_PORT}", "10.1.2.3:20911");
    expect_expand("ns-${COMET_T_PORT}-x", "ns-20911-x");
    /* a set variable wins over the default */
    expect_expand("${COMET_T_PORT:-10911}", "20911");
    unsetenv("COMET_T_HOST");
    unsetenv("COMET_T_PORT");
}

Test(conf_env, defaults_when_unset_or_empty)
{
    unsetenv("COMET_T_UNSET");
    setenv("COMET_T_EMPTY", "", 1);
    expect_expand("${COMET_T_UNSET:-broker-a}", "broker-a");
    expect_expand("${COMET_T_EMPTY:-x}", "x");
    expect_expand("${COMET_T_UNSET:-}", "");
    expect_expand("a;${COMET_T_UNSET:-h:9876;h2:9876}", "a;h:9876;h2:9876");
    unsetenv("COMET_T_EMPTY");
}

Test(conf_env, text_without_variables_is_unchanged)
{
    expect_expand("", "");
    expect_expand("plain", "plain");
    expect_expand("$HOME and $ and {x}", "$HOME and $ and {x}"); /* only ${ starts a variable */
    expect_expand("cost$", "cost$");
    expect_expand("$${NOT_A_VAR}", "${NOT_A_VAR}"); /* $${ is a literal ${ */
    expect_expand("a$$b", "a$$b");
}

Test(conf_env, errors_name_the_problem)
{
    unsetenv("COMET_T_UNSET");
    /* an unset variable without a default is an error, never an empty value */
    expect_error("${COMET_T_UNSET}", "COMET_T_UNSET is not set");
    expect_error("x${COMET_T_UNSET", "unterminated");
    expect_error("${}", "not an environment variable name");
    expect_error("${1ABC}", "not an environment variable name");
    expect_error("${A-B}", "not an environment variable name");
    expect_error("${A:=b}", "only ${NAME} and ${NAME:-default}");
    char longname[400];
    memset(longname, 'A', sizeof(longname));
    memcpy(longname, "${", 2);
    longname[sizeof(longname) - 2] = '}';
    longname[sizeof(longname) - 1] = '\0';
    expect_error(longname, "too long");
}

typedef struct {
    char *name;
    int32_t port;
} cfg_t;

static const rmq_conf_def_t tbl[] = {
    {"brokerName", RMQ_CONF_STR, offsetof(cfg_t, name), "broker-a", 0, -1, 0, "name", NULL},
    {"listenPort", RMQ_CONF_INT, offsetof(cfg_t, port), "10911", 1, 65535, 0, "port", NULL},
    RMQ_CONF_END,
};

static char *write_tmp(char *dir, const char *text)
{
    cr_assert(th_tmpdir(dir, 512, "conf-env"));
    char *path = malloc(strlen(dir) + 16);
    sprintf(path, "%s/x.conf", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void rm_tmp(const char *dir, char *path)
{
    unlink(path);
    rmdir(dir);
    free(path);
}

Test(conf_env, load_file_expands_values)
{
    char dir[512], err[256] = "";
    cfg_t cfg;
    rmq_conf_defaults(tbl, &cfg);
    setenv("COMET_T_NAME", "broker-z", 1);
    unsetenv("COMET_T_PORT");
    char *path = write_tmp(dir, "brokerName=${COMET_T_NAME}\nlistenPort=${COMET_T_PORT:-20911}\n");
    cr_expect_eq(rmq_conf_load_file(tbl, &cfg, path, "test", err, sizeof(err)), RMQ_OK, "%s", err);
    cr_expect_str_eq(cfg.name, "broker-z");
    cr_expect_eq(cfg.port, 20911);
    /* the expanded text is validated like any value */
    setenv("COMET_T_PORT", "99999", 1);
    cr_expect_eq(rmq_conf_load_file(tbl, &cfg, path, "test", err, sizeof(err)), RMQ_ERR__INVALID_ARG);
    cr_expect_not_null(strstr(err, "99999"), "%s", err);
    unsetenv("COMET_T_PORT");
    unsetenv("COMET_T_NAME");
    rm_tmp(dir, path);
    rmq_conf_free(tbl, &cfg);
}

Test(conf_env, load_file_reports_file_line_and_key)
{
    char dir[512], err[256] = "";
    cfg_t cfg;
    rmq_conf_defaults(tbl, &cfg);
    unsetenv("COMET_T_UNSET");
    char *path = write_tmp(dir, "# c\nbrokerName=b\nlistenPort=${COMET_T_UNSET}\n");
    cr_expect_eq(rmq_conf_load_file(tbl, &cfg, path, "test", err, sizeof(err)), RMQ_ERR__INVALID_ARG);
    char want[128];
    snprintf(want, sizeof(want), "%s:3: listenPort: environment variable COMET_T_UNSET is not set", path);
    cr_expect_not_null(strstr(err, want), "\"%s\" lacks \"%s\"", err, want);
    cr_expect_str_eq(cfg.name, "b", "lines before the bad one were applied");
    cr_expect_eq(cfg.port, 10911, "the bad line was not");
    rm_tmp(dir, path);
    rmq_conf_free(tbl, &cfg);
}

Test(conf_env, split_override)
{
    char key[16], err[128] = "";
    const char *val = NULL;
    cr_expect_eq(rmq_conf_split_override("listenPort=20911", key, sizeof(key), &val, err, sizeof(err)),
                 RMQ_OK);
    cr_expect_str_eq(key, "listenPort");
    cr_expect_str_eq(val, "20911");
    /* the value keeps any further '=' and may be empty */
    cr_expect_eq(rmq_conf_split_override("a=b=c", key, sizeof(key), &val, err, sizeof(err)), RMQ_OK);
    cr_expect_str_eq(key, "a");
    cr_expect_str_eq(val, "b=c");
    cr_expect_eq(rmq_conf_split_override("brokerIP2=", key, sizeof(key), &val, err, sizeof(err)), RMQ_OK);
    cr_expect_str_eq(val, "");
    cr_expect_eq(rmq_conf_split_override("listenPort", key, sizeof(key), &val, err, sizeof(err)),
                 RMQ_ERR__INVALID_ARG);
    cr_expect_not_null(strstr(err, "expected key=value"), "%s", err);
    cr_expect_eq(rmq_conf_split_override("=1", key, sizeof(key), &val, err, sizeof(err)),
                 RMQ_ERR__INVALID_ARG);
    cr_expect_eq(rmq_conf_split_override("aVeryLongSettingName=1", key, sizeof(key), &val, err, sizeof(err)),
                 RMQ_ERR__INVALID_ARG);
    cr_expect_not_null(strstr(err, "too long"), "%s", err);
}
