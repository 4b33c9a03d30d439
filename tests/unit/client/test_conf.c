/* test_conf.c - the public configuration object: Java property names and
 * defaults, errors for unknown keys and bad values, get, dup, file loading,
 * error names; messages and their properties. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "test_support.h"
#include "comet/comet.h"

Test(conf, defaults_set_get_dup)
{
    comet_conf_t *c = comet_conf_new();
    char v[256], err[256];
    cr_assert_eq(comet_conf_get(c, "sendMsgTimeout", v, sizeof(v)), COMET_CONF_OK);
    cr_expect_str_eq(v, "3000");
    cr_assert_eq(comet_conf_get(c, "retryTimesWhenSendFailed", v, sizeof(v)), COMET_CONF_OK);
    cr_expect_str_eq(v, "2");
    cr_assert_eq(comet_conf_get(c, "messageModel", v, sizeof(v)), COMET_CONF_OK);
    cr_expect_str_eq(v, "CLUSTERING");
    cr_assert_eq(comet_conf_get(c, "consumeThreadMin", v, sizeof(v)), COMET_CONF_OK);
    cr_expect_str_eq(v, "20");
    cr_expect_eq(comet_conf_set(c, "noSuchProperty", "1", err, sizeof(err)), COMET_CONF_UNKNOWN);
    cr_expect(strstr(err, "noSuchProperty"), "%s", err);
    cr_expect_eq(comet_conf_set(c, "sendMsgTimeout", "abc", err, sizeof(err)), COMET_CONF_INVALID);
    cr_expect_eq(comet_conf_set(c, "messageModel", "SOMETIMES", err, sizeof(err)), COMET_CONF_INVALID);
    cr_expect_eq(comet_conf_set(c, "sendLatencyFaultEnable", "maybe", err, sizeof(err)), COMET_CONF_INVALID);
    cr_expect_eq(comet_conf_set(c, "messageModel", "BROADCASTING", err, sizeof(err)), COMET_CONF_OK);
    cr_expect_eq(comet_conf_set(c, "sendMsgTimeout", "1234", err, sizeof(err)), COMET_CONF_OK);
    comet_conf_t *d = comet_conf_dup(c);
    cr_assert_eq(comet_conf_get(d, "messageModel", v, sizeof(v)), COMET_CONF_OK);
    cr_expect_str_eq(v, "BROADCASTING");
    cr_assert_eq(comet_conf_get(d, "sendMsgTimeout", v, sizeof(v)), COMET_CONF_OK);
    cr_expect_str_eq(v, "1234");
    char tiny[2];
    cr_expect_eq(comet_conf_get(d, "sendMsgTimeout", tiny, sizeof(tiny)), COMET_CONF_INVALID);
    comet_conf_destroy(c);
    comet_conf_destroy(d);
    comet_conf_destroy(NULL);
}

Test(conf, load_properties_file)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/client-XXXXXX", th_test_dir());
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    const char *text = "# a client.properties\nnamesrvAddr=10.0.0.1:9876;10.0.0.2:9876\nproducerGroup = PG\n"
                       "unknownKey=ignored\nretryTimesWhenSendFailed: 5\n";
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    comet_conf_t *c = comet_conf_new();
    char v[256], err[256];
    cr_assert_eq(comet_conf_load_file(c, path, err, sizeof(err)), COMET_ERR_NO_ERROR, "%s", err);
    cr_assert_eq(comet_conf_get(c, "namesrvAddr", v, sizeof(v)), COMET_CONF_OK);
    cr_expect_str_eq(v, "10.0.0.1:9876;10.0.0.2:9876");
    cr_assert_eq(comet_conf_get(c, "retryTimesWhenSendFailed", v, sizeof(v)), COMET_CONF_OK);
    cr_expect_str_eq(v, "5");
    cr_expect_neq(comet_conf_load_file(c, "/nonexistent/x.properties", err, sizeof(err)), COMET_ERR_NO_ERROR);
    comet_conf_destroy(c);
    unlink(path);
}

Test(conf, errors_have_names)
{
    cr_expect_str_eq(comet_err2name(COMET_ERR__TIMED_OUT), "_TIMED_OUT");
    cr_expect_str_eq(comet_err2name(COMET_ERR_TOPIC_NOT_EXIST), "TOPIC_NOT_EXIST");
    cr_expect_not_null(comet_err2str((comet_err_t)12345));
    cr_expect_str_eq(comet_send_status_name(COMET_SEND_FLUSH_DISK_TIMEOUT), "FLUSH_DISK_TIMEOUT");
}

Test(message, properties_and_ownership)
{
    cr_expect_null(comet_message_new("", "x", 1, 0));
    cr_expect_null(comet_message_new(NULL, "x", 1, 0));
    char *body = strdup("owned body");
    comet_message_t *m = comet_message_new("T", body, strlen(body), COMET_MSG_F_FREE);
    cr_assert_not_null(m);
    cr_expect_eq(comet_message_set_tags(m, "TagA"), COMET_ERR_NO_ERROR);
    cr_expect_eq(comet_message_set_keys(m, "k1 k2"), COMET_ERR_NO_ERROR);
    cr_expect_eq(comet_message_set_property(m, "bad\001name", "v"), COMET_ERR__INVALID_ARG);
    cr_expect_eq(comet_message_set_delay_level(m, 19), COMET_ERR__INVALID_ARG);
    cr_expect_eq(comet_message_set_delay_level(m, 3), COMET_ERR_NO_ERROR);
    cr_expect_str_eq(comet_message_property(m, "TAGS"), "TagA");
    cr_expect_str_eq(comet_message_property(m, "KEYS"), "k1 k2");
    cr_expect_str_eq(comet_message_property(m, "DELAY"), "3");
    cr_expect_str_eq(comet_message_property(m, "WAIT"), "true");
    size_t len;
    cr_expect_eq(comet_message_body(m, &len), body);
    cr_expect_eq(len, strlen("owned body"));
    comet_message_destroy(m); /* frees body (F_FREE) */
    char stack[] = "copied";
    m = comet_message_new("T", stack, sizeof(stack), COMET_MSG_F_COPY);
    cr_expect_neq(comet_message_body(m, NULL), stack);
    comet_message_destroy(m);
}
