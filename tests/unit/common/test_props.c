/* test_props.c - the Java .properties parser (rmq_props_parse). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rmq_conf.h"

#define MAXP 32
typedef struct {
    int n;
    char *key[MAXP], *val[MAXP];
    int line[MAXP];
    int stop_at; /* return non-zero from the callback at this pair (1-based) */
} pairs_t;

static int collect(void *opaque, const char *key, const char *value, int line)
{
    pairs_t *p = opaque;
    cr_assert_lt(p->n, MAXP);
    p->key[p->n] = strdup(key);
    p->val[p->n] = strdup(value);
    p->line[p->n] = line;
    p->n++;
    return p->stop_at == p->n ? 7 : 0;
}

static void pairs_free(pairs_t *p)
{
    for (int i = 0; i < p->n; i++) {
        free(p->key[i]);
        free(p->val[i]);
    }
    memset(p, 0, sizeof(*p));
}

static void parse(pairs_t *p, const char *text)
{
    memset(p, 0, sizeof(*p));
    cr_assert_eq(rmq_props_parse(text, strlen(text), collect, p), RMQ_OK);
}

#define expect_pair(p, i, k, v)                                                                              \
    do {                                                                                                     \
        cr_assert_gt((p)->n, (i), "only %d pairs", (p)->n);                                                  \
        cr_expect_str_eq((p)->key[i], (k), "pair %d key", (i));                                              \
        cr_expect_str_eq((p)->val[i], (v), "pair %d (%s) value \"%s\" want \"%s\"", (i), (p)->key[i],        \
                         (p)->val[i], (v));                                                                  \
    } while (0)

TestSuite(props, .timeout = 10);

Test(props, separators)
{
    pairs_t p;
    parse(&p, "a=1\nb:2\nc 3\nd = 4\ne : 5\nf\t6\ng   =   7\nh=x=y\ni:a:b\nj  k l\n");
    cr_expect_eq(p.n, 10);
    expect_pair(&p, 0, "a", "1");
    expect_pair(&p, 1, "b", "2");
    expect_pair(&p, 2, "c", "3");
    expect_pair(&p, 3, "d", "4");
    expect_pair(&p, 4, "e", "5");
    expect_pair(&p, 5, "f", "6");
    expect_pair(&p, 6, "g", "7");
    expect_pair(&p, 7, "h", "x=y");
    expect_pair(&p, 8, "i", "a:b");
    expect_pair(&p, 9, "j", "k l");
    pairs_free(&p);
}

Test(props, comments_and_blank_lines)
{
    pairs_t p;
    parse(&p, "# comment\n! bang comment\n   # indented comment\n\n   \n\t\nk=v # not a comment\n#k2=v2\n");
    cr_expect_eq(p.n, 1);
    expect_pair(&p, 0, "k", "v # not a comment");
    cr_expect_eq(p.line[0], 7);
    pairs_free(&p);
}

Test(props, empty_values)
{
    pairs_t p;
    parse(&p, "a=\nb\nc:\nd =   \ne");
    cr_expect_eq(p.n, 5);
    expect_pair(&p, 0, "a", "");
    expect_pair(&p, 1, "b", "");
    expect_pair(&p, 2, "c", "");
    expect_pair(&p, 3, "d", "");
    expect_pair(&p, 4, "e", "");
    pairs_free(&p);
}

Test(props, trimming)
{
    pairs_t p;
    parse(&p, "   key1 = value with spaces   \n\tkey2=v\t\t\nkey3=  lead\n");
    expect_pair(&p, 0, "key1", "value with spaces");
    expect_pair(&p, 1, "key2", "v");
    expect_pair(&p, 2, "key3", "lead");
    pairs_free(&p);
}

Test(props, continuation_lines)
{
    pairs_t p;
    parse(&p, "list=a,\\\n    b,\\\n\tc\nnext=1\nodd=x\\\\\nafter=2\nthree=x\\\\\\\n  y\n");
    expect_pair(&p, 0, "list", "a,b,c");
    expect_pair(&p, 1, "next", "1");
    cr_expect_eq(p.line[1], 4);
    expect_pair(&p, 2, "odd", "x\\"); /* even backslashes: no continuation */
    expect_pair(&p, 3, "after", "2");
    expect_pair(&p, 4, "three", "x\\y");
    cr_expect_eq(p.n, 5);
    pairs_free(&p);
    /* a continuation line starting with # is not a comment */
    parse(&p, "k=a\\\n#b\n");
    cr_expect_eq(p.n, 1);
    expect_pair(&p, 0, "k", "a#b");
    pairs_free(&p);
    /* backslash at end of file */
    parse(&p, "k=a\\");
    cr_expect_eq(p.n, 1);
    expect_pair(&p, 0, "k", "a");
    pairs_free(&p);
    /* continuation into a blank line ends the value */
    parse(&p, "k=a\\\n\nj=b");
    expect_pair(&p, 0, "k", "a");
    expect_pair(&p, 1, "j", "b");
    pairs_free(&p);
}

Test(props, escapes)
{
    pairs_t p;
    parse(&p, "tab=a\\tb\nnl=a\\nb\ncr=a\\rb\nff=a\\fb\nuni=\\u00e9\\u4E2D\\u0041\nother=\\q\\\\\n"
              "key\\ with\\=sep\\:s=v\nsp=\\ lead\n");
    expect_pair(&p, 0, "tab", "a\tb");
    expect_pair(&p, 1, "nl", "a\nb");
    expect_pair(&p, 2, "cr", "a\rb");
    expect_pair(&p, 3, "ff", "a\fb");
    expect_pair(&p, 4, "uni",
                "\xC3\xA9\xE4\xB8\xAD"
                "A");
    expect_pair(&p, 5, "other", "q\\");
    expect_pair(&p, 6, "key with=sep:s", "v");
    expect_pair(&p, 7, "sp", " lead");
    pairs_free(&p);
}

/* \u escapes are UTF-16 code units: a surrogate pair is one code point. */
Test(props, unicode_surrogate_pairs)
{
    pairs_t p;
    parse(&p, "emoji=\\ud83d\\ude00!\nupper=\\uD83D\\uDE00\nlone=\\ud83dx\nshort=\\u41z\n");
    expect_pair(&p, 0, "emoji", "\xF0\x9F\x98\x80!");
    expect_pair(&p, 1, "upper", "\xF0\x9F\x98\x80");
    expect_pair(&p, 2, "lone", "\xED\xA0\xBDx"); /* kept as is (CESU-8), not merged with "x" */
    expect_pair(&p, 3, "short", "Az");           /* fewer than 4 hex digits */
    pairs_free(&p);
}

/* An escaped trailing space is part of the value in Java; RocketMQ then
 * trims the value, so it ends up as "v" - never as "v\". */
Test(props, escaped_trailing_space)
{
    pairs_t p;
    parse(&p, "k=v\\ \n");
    expect_pair(&p, 0, "k", "v");
    pairs_free(&p);
}

Test(props, crlf_and_cr)
{
    pairs_t p;
    parse(&p, "a=1\r\nb=2\r\n# c\r\nc=3\rd=4\r\n\r\ne=x\\\r\n  y\r\n");
    cr_expect_eq(p.n, 5);
    expect_pair(&p, 0, "a", "1");
    expect_pair(&p, 1, "b", "2");
    expect_pair(&p, 2, "c", "3");
    expect_pair(&p, 3, "d", "4");
    expect_pair(&p, 4, "e", "xy");
    pairs_free(&p);
}

Test(props, no_trailing_newline_and_empty_input)
{
    pairs_t p;
    parse(&p, "k=v");
    cr_expect_eq(p.n, 1);
    expect_pair(&p, 0, "k", "v");
    pairs_free(&p);
    parse(&p, "");
    cr_expect_eq(p.n, 0);
    parse(&p, "\n\n# only comments\n");
    cr_expect_eq(p.n, 0);
}

Test(props, length_bounded_input)
{
    pairs_t p;
    memset(&p, 0, sizeof(p));
    const char *t = "a=1\nb=2";
    cr_assert_eq(rmq_props_parse(t, 3, collect, &p), RMQ_OK);
    cr_expect_eq(p.n, 1);
    expect_pair(&p, 0, "a", "1");
    pairs_free(&p);
}

Test(props, callback_stops)
{
    pairs_t p;
    memset(&p, 0, sizeof(p));
    p.stop_at = 2;
    const char *t = "a=1\nb=2\nc=3\n";
    cr_expect_neq(rmq_props_parse(t, strlen(t), collect, &p), RMQ_OK);
    cr_expect_eq(p.n, 2);
    pairs_free(&p);
}

/* The stock broker.conf of RocketMQ 4.9.x. */
Test(props, stock_broker_conf)
{
    pairs_t p;
    parse(&p,
          "# Licensed to the Apache Software Foundation (ASF) under one or more\n"
          "#  contributor license agreements.\n\n"
          "brokerClusterName = DefaultCluster\nbrokerName = broker-a\nbrokerId = 0\n"
          "deleteWhen = 04\nfileReservedTime = 48\nbrokerRole = ASYNC_MASTER\nflushDiskType = ASYNC_FLUSH\n");
    cr_expect_eq(p.n, 7);
    expect_pair(&p, 0, "brokerClusterName", "DefaultCluster");
    expect_pair(&p, 3, "deleteWhen", "04");
    expect_pair(&p, 6, "flushDiskType", "ASYNC_FLUSH");
    pairs_free(&p);
}
